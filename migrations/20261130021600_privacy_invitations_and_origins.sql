-- =============================================================================
-- Privacy: invitations and audit origins are about a person too
--
--   1. export_user_data adds `project_invitations` (addressed to the person's id
--      or address, or sent by them) and `audit_log_origins` (the IPs and user
--      agents of what they did)
--   2. erasing a person also removes the invitations kept for their address
--      (those to their id already went with the profile)
-- audit_log_origins stays: the audit trail is append-only for everyone.
-- =============================================================================

create or replace function private.export_user_data(user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'exported_at', now(),
    'profile', (select to_jsonb(p) from public.profiles p where p.id = export_user_data.user_id),
    'platform_role', (select to_jsonb(r) from public.user_roles r where r.user_id = export_user_data.user_id),
    'project_memberships', coalesce((select jsonb_agg(to_jsonb(m)) from public.project_members m
                                      where m.user_id = export_user_data.user_id), '[]'),
    'project_invitations', coalesce((select jsonb_agg(to_jsonb(i)) from public.project_invitations i
                                      where i.invitee_id = export_user_data.user_id
                                         or i.invited_by = export_user_data.user_id
                                         or i.email = (select lower(p.email) from public.profiles p
                                                        where p.id = export_user_data.user_id)), '[]'),
    'projects_owned', coalesce((select jsonb_agg(to_jsonb(p)) from public.projects p
                                 where p.owner_id = export_user_data.user_id), '[]'),
    'tasks', coalesce((select jsonb_agg(to_jsonb(t)) from public.tasks t
                        where t.created_by = export_user_data.user_id
                           or t.assignee_id = export_user_data.user_id), '[]'),
    'conversations', coalesce((select jsonb_agg(to_jsonb(c)) from public.conversation_members c
                                where c.user_id = export_user_data.user_id), '[]'),
    'messages', coalesce((select jsonb_agg(to_jsonb(m) - 'search') from public.messages m
                           where m.author_id = export_user_data.user_id), '[]'),
    'files', coalesce((select jsonb_agg(to_jsonb(f)) from public.files f
                        where f.uploaded_by = export_user_data.user_id), '[]'),
    'notifications', coalesce((select jsonb_agg(to_jsonb(n)) from public.notifications n
                                where n.user_id = export_user_data.user_id), '[]'),
    'calendar_events', coalesce((select jsonb_agg(to_jsonb(e)) from public.calendar_events e
                                  where e.owner_id = export_user_data.user_id), '[]'),
    'calendar_invitations', coalesce((select jsonb_agg(to_jsonb(a)) from public.calendar_event_attendees a
                                       where a.user_id = export_user_data.user_id), '[]'),
    'document_versions', coalesce((select jsonb_agg(to_jsonb(v)) from public.document_versions v
                                    where v.author_id = export_user_data.user_id), '[]'),
    'integrations', coalesce((select jsonb_agg(to_jsonb(i)) from public.integrations i
                               where i.user_id = export_user_data.user_id), '[]'),
    'activity_events', coalesce((select jsonb_agg(to_jsonb(a)) from public.activity_events a
                                  where a.actor_id = export_user_data.user_id), '[]'),
    'dashboards', coalesce((select jsonb_agg(to_jsonb(d)) from public.dashboards d
                             where d.owner_id = export_user_data.user_id), '[]'),
    'privacy_requests', coalesce((select jsonb_agg(to_jsonb(r)) from public.privacy_requests r
                                   where r.user_id = export_user_data.user_id), '[]'),
    'audit_log_origins', coalesce((select jsonb_agg(to_jsonb(o)) from public.audit_log_origins o
                                    where o.actor_id = export_user_data.user_id), '[]')
  )
$$;

create or replace function private.delete_invitations_of_deleted_profile()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.project_invitations i
   where i.invitee_id = old.id or i.email = lower(old.email);
  return null;
end;
$$;
