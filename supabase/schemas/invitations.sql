-- Invitations: membership is consent
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/invitations.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.invitation_status as enum (
    'pending',
    'accepted',
    'declined',
    'revoked',
    'expired'
);

-- ======================================================================================
-- public.project_invitations
-- ======================================================================================

create table public.project_invitations (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    project_name text not null,
    role public.project_role default 'viewer'::public.project_role not null,
    invitee_id uuid,
    email text,
    invited_by uuid,
    status public.invitation_status default 'pending'::public.invitation_status not null,
    expires_at timestamptz default (now() + '14 days'::interval) not null,
    responded_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint project_invitations_email_format check (((email = lower(email)) and (char_length(email) <= 320) and (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'::text))),
    constraint project_invitations_invitee_or_email check (((invitee_id is not null) or (email is not null))),
    constraint project_invitations_role_below_owner check ((role <> 'owner'::public.project_role))
);

alter table only public.project_invitations
    add constraint project_invitations_pkey primary key (id);

comment on table public.project_invitations is 'An invitation to join a project; made, answered and revoked through the invitation RPCs.';

create index project_invitations_email_idx on public.project_invitations using btree (email);

create index project_invitations_invited_by_idx on public.project_invitations using btree (invited_by);

create index project_invitations_invitee_id_idx on public.project_invitations using btree (invitee_id);

create unique index project_invitations_one_pending_per_email on public.project_invitations using btree (project_id, email) where (status = 'pending'::public.invitation_status);

create unique index project_invitations_one_pending_per_invitee on public.project_invitations using btree (project_id, invitee_id) where ((status = 'pending'::public.invitation_status) and (email is null));

create index project_invitations_project_id_idx on public.project_invitations using btree (project_id, created_at desc);

revoke all on table public.project_invitations from anon, authenticated;
grant select on table public.project_invitations to anon;
grant select on table public.project_invitations to authenticated;
grant all on table public.project_invitations to service_role;

-- ======================================================================================
-- private.project_invitation_tokens
-- ======================================================================================

-- An invitation to an address is answered only with the secret token of its link: the
-- token is returned once, to the inviter, and only its sha256 is kept, out of PostgREST's
-- reach (the private schema is not exposed and no client role has a grant on it).
create table private.project_invitation_tokens (
    invitation_id uuid not null,
    token_hash bytea not null,
    created_at timestamptz default now() not null,
    constraint project_invitation_tokens_hash_is_sha256 check ((octet_length(token_hash) = 32))
);

alter table only private.project_invitation_tokens
    add constraint project_invitation_tokens_pkey primary key (invitation_id);

comment on table private.project_invitation_tokens is 'sha256 of the secret token of each open invitation to an address; deleted once the invitation is answered.';

revoke all on table private.project_invitation_tokens from anon, authenticated;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only private.project_invitation_tokens
    add constraint project_invitation_tokens_invitation_id_fkey foreign key (invitation_id) references public.project_invitations(id) on delete cascade;

alter table only public.project_invitations
    add constraint project_invitations_invited_by_fkey foreign key (invited_by) references public.profiles(id) on delete set null;

alter table only public.project_invitations
    add constraint project_invitations_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Definer: the invitation is written by no policy, and whether the invitee exists is
-- looked up across RLS without telling the caller. An invitation to an address gets a new
-- secret token (returned here once, for the inviter to pass on as the invitation's link).
create function private.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) returns jsonb
    language plpgsql security definer
    set search_path to ''
    as $_$
declare
  me uuid := (select auth.uid());
  address text := lower(btrim(invite_project_member.email));
  my_role public.project_role;
  project_title text;
  invitation public.project_invitations;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to invite members' using errcode = '42501';
  end if;
  select pm.role, p.name into my_role, project_title
    from public.project_members pm
    join public.projects p on p.id = pm.project_id
   where pm.project_id = invite_project_member.project_id and pm.user_id = me
     and p.deleted_at is null;
  -- the same answer for a project that does not exist and one the caller does not manage
  if my_role is null or my_role < 'admin' then
    raise exception 'only the project''s owner and admins invite members' using errcode = '42501';
  end if;
  if invite_project_member.role is null then
    raise exception 'role is required' using errcode = '22023', hint = 'one of viewer, editor, admin';
  end if;
  if invite_project_member.role = 'owner' or invite_project_member.role > my_role then
    raise exception 'you can invite members up to your own role, never as owner' using errcode = '42501',
      hint = 'ownership moves with rpc transfer_project_ownership';
  end if;
  if (user_id is null) = (address is null) then
    raise exception 'give exactly one of user_id and email' using errcode = '22023';
  end if;
  if address is not null
     and (char_length(address) > 320 or address !~ '^[^@[:space:]]+@[^@[:space:]]+$') then
    raise exception 'email is not an address' using errcode = '22023';
  end if;
  if user_id = me or address = private.my_confirmed_email() then
    raise exception 'you are already a member of this project' using errcode = '23505';
  end if;
  -- members are visible to the admin already, so saying so tells them nothing new
  if exists (
    select 1 from public.project_members pm
      join public.profiles pr on pr.id = pm.user_id
     where pm.project_id = invite_project_member.project_id
       and (pm.user_id = invite_project_member.user_id or lower(pr.email) = address)
  ) then
    raise exception 'already a member of this project' using errcode = '23505';
  end if;

  -- lazy expiry: an open invitation past its date no longer counts
  update public.project_invitations i set status = 'expired'
   where i.project_id = invite_project_member.project_id and i.status = 'pending'
     and i.expires_at <= now()
     and (i.invitee_id = invite_project_member.user_id or i.email = address);

  if exists (
    select 1 from public.project_invitations i
     where i.project_id = invite_project_member.project_id and i.status = 'declined'
       and i.responded_at > now() - interval '30 days'
       and ((address is null and i.invitee_id = invite_project_member.user_id and i.email is null)
            or i.email = address)
  ) then
    raise exception 'they declined an invitation to this project in the last 30 days'
      using errcode = '42501', hint = 'a declined invitation cannot be repeated for 30 days';
  end if;

  -- inviting again while one is open changes its role and extends it (no new notification)
  update public.project_invitations i
     set role = invite_project_member.role, invited_by = me, expires_at = now() + interval '14 days'
   where i.project_id = invite_project_member.project_id and i.status = 'pending'
     and ((address is null and i.invitee_id = invite_project_member.user_id and i.email is null)
          or i.email = address)
  returning i.* into invitation;
  if invitation.id is not null then
    return private.with_invitation_token(invitation);
  end if;

  -- no endless notifications: a person is invited to a project at most 3 times a week
  -- (revoking and inviting again counts), and a project has at most 500 open invitations
  if (select count(*) from public.project_invitations i
       where i.project_id = invite_project_member.project_id
         and i.created_at > now() - interval '7 days'
         and ((address is null and i.invitee_id = invite_project_member.user_id and i.email is null)
              or i.email = address)) >= 3
     or (select count(*) from public.project_invitations i
          where i.project_id = invite_project_member.project_id and i.status = 'pending'
            and i.expires_at > now()) >= 500 then
    raise sqlstate 'PGRST'
      using message = json_build_object(
              'code', 'too_many_invitations',
              'message', 'a person is invited to a project at most 3 times a week, '
                         'and a project has at most 500 open invitations',
              'hint', 'wait for the invitations to be answered, or try again next week')::text,
            detail = json_build_object('status', 429, 'headers', json_build_object())::text;
  end if;

  insert into public.project_invitations (project_id, project_name, role, invitee_id, email, invited_by)
  values (invite_project_member.project_id, project_title, invite_project_member.role,
          case when address is null then invite_project_member.user_id end, address, me)
  returning * into invitation;
  perform private.notify_project_invitation(invitation);
  return private.with_invitation_token(invitation);
end;
$_$;

-- The invitation as the inviter sees it, plus (for an invitation to an address) a new
-- secret token; any earlier token of the invitation stops working.
create function private.with_invitation_token(invitation public.project_invitations) returns jsonb
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  token text;
begin
  if invitation.email is not null then
    token := translate(encode(extensions.gen_random_bytes(32), 'base64'), '+/=', '-_');
    insert into private.project_invitation_tokens (invitation_id, token_hash)
    values (invitation.id, sha256(convert_to(token, 'UTF8')))
    on conflict (invitation_id) do update
      set token_hash = excluded.token_hash, created_at = now();
    -- the mail to the address carries the link (functions/notify); the token reaches the
    -- mail job through a private row, never a client
    perform private.queue_invitation_mail(invitation.id, token);
  end if;
  return to_jsonb(invitation) || jsonb_build_object('token', token);
end;
$$;

revoke all on function private.with_invitation_token(invitation public.project_invitations) from public;

revoke all on function private.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) from public;
grant all on function private.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) to authenticated;

create function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid default null::uuid, email text default null::text) returns jsonb
    language sql
    set search_path to ''
    as $$
  select private.invite_project_member(project_id, role, user_id, email)
$$;

comment on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) is 'A project admin invites a person (by user id or by email) in a role up to their own; returns the invitation, and for an email its secret token (shown once: the link''s proof). The invitee becomes a member only by accepting.';

revoke all on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) from public;
grant all on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) to authenticated;
grant all on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) to service_role;

create function public.accept_project_invitation(invitation_id uuid, token text default null::text) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.answer_project_invitation(invitation_id, token, true)
$$;

comment on function public.accept_project_invitation(invitation_id uuid, token text) is 'The invitee accepts (an invitation to an address: with the token of its link): they become a member in the invited role, atomically.';

revoke all on function public.accept_project_invitation(invitation_id uuid, token text) from public;
grant all on function public.accept_project_invitation(invitation_id uuid, token text) to authenticated;
grant all on function public.accept_project_invitation(invitation_id uuid, token text) to service_role;

create function public.decline_project_invitation(invitation_id uuid, token text default null::text) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.answer_project_invitation(invitation_id, token, false)
$$;

comment on function public.decline_project_invitation(invitation_id uuid, token text) is 'The invitee declines (an invitation to an address: with the token of its link); the project cannot invite them again for 30 days.';

revoke all on function public.decline_project_invitation(invitation_id uuid, token text) from public;
grant all on function public.decline_project_invitation(invitation_id uuid, token text) to authenticated;
grant all on function public.decline_project_invitation(invitation_id uuid, token text) to service_role;

-- Definer: no client policy updates invitations.
create function private.revoke_project_invitation(invitation_id uuid) returns public.project_invitations
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  invitation public.project_invitations;
begin
  if (select auth.uid()) is null or not private.can_write() then
    raise exception 'not allowed to revoke invitations' using errcode = '42501';
  end if;
  select i.* into invitation
    from public.project_invitations i
   where i.id = revoke_project_invitation.invitation_id
     and private.has_project_role(i.project_id, 'admin')
   for update;
  if invitation.id is null then
    raise exception 'no invitation % in a project you manage', invitation_id using errcode = '42501';
  end if;
  if invitation.status <> 'pending' then
    raise exception 'this invitation is %', invitation.status using errcode = '22023';
  end if;
  update public.project_invitations i set status = 'revoked', responded_at = now()
   where i.id = invitation.id
  returning i.* into invitation;
  return invitation;
end;
$$;

revoke all on function private.revoke_project_invitation(invitation_id uuid) from public;
grant all on function private.revoke_project_invitation(invitation_id uuid) to authenticated;

create function public.revoke_project_invitation(invitation_id uuid) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.revoke_project_invitation(invitation_id)
$$;

comment on function public.revoke_project_invitation(invitation_id uuid) is 'A project admin withdraws an invitation that has not been answered.';

revoke all on function public.revoke_project_invitation(invitation_id uuid) from public;
grant all on function public.revoke_project_invitation(invitation_id uuid) to authenticated;
grant all on function public.revoke_project_invitation(invitation_id uuid) to service_role;

-- Service role (a schedule, or by hand): marks every open invitation past its date expired.
-- Expiry does not wait for it: accepting an invitation past expires_at is refused anyway.
create function public.expire_project_invitations() returns bigint
    language plpgsql
    set search_path to ''
    as $$
declare
  n bigint;
begin
  update public.project_invitations i set status = 'expired'
   where i.status = 'pending' and i.expires_at <= now();
  get diagnostics n = row_count;
  return n;
end;
$$;

comment on function public.expire_project_invitations() is 'Marks open invitations past expires_at as expired; service role only.';

revoke all on function public.expire_project_invitations() from authenticated;
revoke all on function public.expire_project_invitations() from public;
grant all on function public.expire_project_invitations() to service_role;

-- Definer: the membership row is written by no client policy. The invitation row is
-- locked, so two accepts (or an accept and a revoke) cannot both succeed. An invitation
-- by user id is answered by that user; one to an address only by whoever holds the token
-- of its link (a matching address proves nothing: anyone can sign up with it).
create function private.answer_project_invitation(invitation_id uuid, token text, accept boolean) returns public.project_invitations
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  me uuid := (select auth.uid());
  invitation public.project_invitations;
begin
  if me is null or not private.is_active_user() then
    raise exception 'not allowed to answer invitations' using errcode = '42501';
  end if;
  -- an anonymous session joins no one's project: sign up first (docs/signin.md)
  if coalesce((select (auth.jwt() ->> 'is_anonymous')::boolean), false) then
    raise exception 'anonymous users cannot join projects' using errcode = '42501',
      hint = 'sign up (add an email address or link an identity) first';
  end if;
  select i.* into invitation
    from public.project_invitations i
   where i.id = answer_project_invitation.invitation_id
     and (i.invitee_id = me
          or exists (select 1 from private.project_invitation_tokens t
                      where t.invitation_id = i.id
                        and t.token_hash = sha256(convert_to(answer_project_invitation.token, 'UTF8'))))
   for update of i;
  -- an invitation to someone else, or a wrong or used token, answers like one that does not exist
  if invitation.id is null then
    raise exception 'no invitation % for you, or its token is wrong or already used', invitation_id
      using errcode = '42501',
            hint = 'an invitation sent to an email address is answered with the token from its link';
  end if;
  if invitation.status <> 'pending' then
    raise exception 'this invitation is %', invitation.status using errcode = '22023';
  end if;
  if invitation.expires_at <= now() then
    raise exception 'this invitation expired on %', invitation.expires_at using errcode = '22023',
      hint = 'ask a project admin to invite you again';
  end if;
  if accept then
    if not exists (select 1 from public.projects p where p.id = invitation.project_id and p.deleted_at is null) then
      raise exception 'the project no longer exists' using errcode = '22023';
    end if;
    -- whoever invited must still be allowed to: an admin demoted (or gone) since cannot
    -- bring people in, nor in a role above the one they have now
    if not exists (
      select 1 from public.project_members pm
       where pm.project_id = invitation.project_id and pm.user_id = invitation.invited_by
         and pm.role >= 'admin' and pm.role >= invitation.role
    ) then
      raise exception 'this invitation is no longer valid: whoever sent it no longer manages the project'
        using errcode = '22023', hint = 'ask a project admin to invite you again';
    end if;
    insert into public.project_members (project_id, user_id, role, invited_by)
    values (invitation.project_id, me, invitation.role, invitation.invited_by)
    on conflict (project_id, user_id) do nothing;
  end if;
  update public.project_invitations i
     set status = case when accept then 'accepted' else 'declined' end::public.invitation_status,
         responded_at = now(),
         invitee_id = me
   where i.id = invitation.id
  returning i.* into invitation;
  return invitation;
end;
$$;

revoke all on function private.answer_project_invitation(invitation_id uuid, token text, accept boolean) from public;
grant all on function private.answer_project_invitation(invitation_id uuid, token text, accept boolean) to authenticated;

-- invitations addressed to the caller by user id (or answered by them). An open invitation
-- to an address is visible to the project's admins only: a matching address proves nothing.
create function private.my_invitation_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select i.id from public.project_invitations i where i.invitee_id = (select auth.uid());
end;
$$;

revoke all on function private.my_invitation_ids() from public;
grant all on function private.my_invitation_ids() to authenticated;
grant all on function private.my_invitation_ids() to service_role;

-- The invitee's notification, for an invitation by user id (if the id is an account). An
-- invitation to an address notifies no account: it reaches the address through its link.
create function private.notify_project_invitation(invitation public.project_invitations) returns void
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into public.notifications (user_id, type, payload)
  select u.id, 'project_invitation',
         jsonb_build_object('invitation_id', invitation.id, 'project_id', invitation.project_id,
                            'project_name', invitation.project_name, 'role', invitation.role,
                            'invited_by', invitation.invited_by,
                            'invited_by_name', (select p.full_name from public.profiles p
                                                 where p.id = invitation.invited_by),
                            'expires_at', invitation.expires_at)
    from auth.users u
   where invitation.email is null and u.id = invitation.invitee_id;
end;
$$;

revoke all on function private.notify_project_invitation(invitation public.project_invitations) from public;

-- Single use: an invitation's token goes once it is no longer open (answered, revoked,
-- expired), whichever path closed it.
create function private.delete_token_of_closed_invitation() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  delete from private.project_invitation_tokens t where t.invitation_id = new.id;
  return null;
end;
$$;

revoke all on function private.delete_token_of_closed_invitation() from public;

create function private.delete_invitations_of_deleted_profile() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  delete from public.project_invitations i
   where i.invitee_id = old.id or i.email = lower(old.email);
  return null;
end;
$$;

revoke all on function private.delete_invitations_of_deleted_profile() from public;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger profiles_delete_invitations after delete on public.profiles for each row execute function private.delete_invitations_of_deleted_profile();

create trigger project_invitations_delete_closed_token after update of status on public.project_invitations for each row when ((new.status <> 'pending'::public.invitation_status)) execute function private.delete_token_of_closed_invitation();

create trigger project_invitations_set_updated_at before insert or update on public.project_invitations for each row execute function private.set_updated_at();
