-- =============================================================================
-- Erasing a person who authored a document version
--
-- document_versions.author_id is `on delete set null`, but the append-only
-- trigger refused every update, so deleting the auth user (erase_user, or the
-- dashboard) failed as soon as the person had written a version; and a version
-- with neither author nor generator breaks document_versions_has_author_or_generator.
--
-- Versions stay append-only for everyone; the one update let through is the
-- foreign key's own: nested (pg_trigger_depth() > 1), author_id set to null,
-- the author's profile already gone, nothing else changed. generated_by then
-- says 'erased user', so the version keeps a named origin without the person.
-- =============================================================================

create or replace function private.forbid_version_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and pg_trigger_depth() > 1 then
    return old;
  end if;
  if tg_op = 'UPDATE' and pg_trigger_depth() > 1
     and old.author_id is not null and new.author_id is null
     and (to_jsonb(new) - 'author_id') = (to_jsonb(old) - 'author_id')
     and not exists (select 1 from public.profiles p where p.id = old.author_id) then
    new.generated_by := coalesce(old.generated_by, 'erased user');
    return new;
  end if;
  raise exception 'document versions are append-only'
    using errcode = '42501', hint = 'add a new version instead (restore_document_version restores an old one)';
end;
$$;
