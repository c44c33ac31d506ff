-- =============================================================================
-- Soft delete: restore and purge
--
-- projects, tasks, files, messages and documents keep deleted rows for 30
-- days (DELETE through the API sets deleted_at; see private.soft_delete()).
--
--   1. restore_deleted(target_table, target_id): the owner brings a row back
--      within 30 days — a project's owner for projects; its owner and admins
--      for tasks, files and documents; the author for messages
--   2. purge_soft_deleted(): hard-deletes what was deleted more than 30 days
--      ago (the scheduled function calls it with the service role)
-- =============================================================================

-- files (functions platform) soft-deletes too
create trigger files_soft_delete
  before delete on public.files
  for each row execute function private.soft_delete();

-- -----------------------------------------------------------------------------
-- 1. restore
-- -----------------------------------------------------------------------------

-- Definer: a soft-deleted row is invisible to its owner's policies, so only a
-- function that checks ownership itself can bring it back.
create function private.restore_deleted(target_table text, target_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  me uuid := (select auth.uid());
  row_deleted_at timestamptz;
  row_project uuid;
  row_owner uuid;
  allowed boolean;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to restore' using errcode = '42501';
  end if;
  case target_table
    when 'projects' then
      select p.deleted_at, p.id, p.owner_id into row_deleted_at, row_project, row_owner
        from public.projects p where p.id = target_id;
      allowed := row_owner = me;
    when 'tasks' then
      select t.deleted_at, t.project_id into row_deleted_at, row_project
        from public.tasks t where t.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'files' then
      select f.deleted_at, f.project_id into row_deleted_at, row_project
        from public.files f where f.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'documents' then
      select d.deleted_at, d.project_id into row_deleted_at, row_project
        from public.documents d where d.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'messages' then
      select m.deleted_at, m.author_id into row_deleted_at, row_owner
        from public.messages m where m.id = target_id;
      allowed := row_owner = me and private.is_conversation_member(
        (select m.conversation_id from public.messages m where m.id = target_id));
    else
      raise exception 'cannot restore rows of %', target_table
        using errcode = '22023', hint = 'target_table is one of projects, tasks, files, documents, messages';
  end case;
  if not coalesce(allowed, false) then
    raise exception 'nothing of yours to restore in % with id %', target_table, target_id using errcode = '42501';
  end if;
  if row_deleted_at is null then
    raise exception '% % is not deleted', target_table, target_id using errcode = '22023';
  end if;
  if row_deleted_at < now() - interval '30 days' then
    raise exception '% % was deleted more than 30 days ago', target_table, target_id
      using errcode = '22023', hint = 'rows can be restored for 30 days';
  end if;
  execute format('update public.%I set deleted_at = null where id = $1', target_table) using target_id;
end;
$$;

create function public.restore_deleted(target_table text, target_id uuid)
returns void
language sql
security invoker
set search_path = ''
as $$
  select private.restore_deleted(target_table, target_id)
$$;
comment on function public.restore_deleted(text, uuid) is
  'Brings back a soft-deleted project, task, file, document or message within 30 days.';

revoke all on function private.restore_deleted(text, uuid) from public;
grant execute on function private.restore_deleted(text, uuid) to authenticated;
revoke all on function public.restore_deleted(text, uuid) from public, anon;
grant execute on function public.restore_deleted(text, uuid) to authenticated;

-- -----------------------------------------------------------------------------
-- 2. purge
-- -----------------------------------------------------------------------------

-- Invoker, service role only: it bypasses RLS and deletes rows already
-- soft-deleted, which the soft-delete trigger lets through as real deletes.
-- Returns how many rows went per table, and the S3 keys of purged files so the
-- caller can remove the objects.
create function public.purge_soft_deleted(older_than interval default interval '30 days')
returns table (table_name text, purged bigint, object_keys text[])
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cutoff timestamptz;
  n bigint;
  keys text[];
begin
  if older_than is null or older_than < interval '30 days' then
    raise exception 'older_than must be at least 30 days' using errcode = '22023';
  end if;
  cutoff := now() - older_than;

  delete from public.messages m where m.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'messages'; purged := n; object_keys := '{}'; return next;

  delete from public.tasks t where t.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'tasks'; purged := n; object_keys := '{}'; return next;

  with gone as (delete from public.files f where f.deleted_at < cutoff returning f.object_key)
  select count(*), coalesce(array_agg(object_key), '{}') into n, keys from gone;
  table_name := 'files'; purged := n; object_keys := keys; return next;

  delete from public.documents d where d.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'documents'; purged := n; object_keys := '{}'; return next;

  with gone as (
    select f.object_key from public.files f
      join public.projects p on p.id = f.project_id
     where p.deleted_at < cutoff
  ), dropped as (
    delete from public.projects p where p.deleted_at < cutoff returning p.id
  )
  select (select count(*) from dropped), coalesce((select array_agg(object_key) from gone), '{}') into n, keys;
  table_name := 'projects'; purged := n; object_keys := keys; return next;
end;
$$;
comment on function public.purge_soft_deleted(interval) is
  'Hard-deletes rows soft-deleted longer ago than older_than (>= 30 days); service role only.';

revoke all on function public.purge_soft_deleted(interval) from public, anon, authenticated;
grant execute on function public.purge_soft_deleted(interval) to service_role;
