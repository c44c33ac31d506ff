-- =============================================================================
-- Documents: "a version has an author or a generator" becomes a named check
-- constraint instead of an exception in the numbering trigger, so a refused
-- caller hears about the policy (401/403) before the data rule (400).
-- =============================================================================

create or replace function private.number_document_version()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  next_version int;
  doc_project uuid;
begin
  update public.documents d
     set current_version = d.current_version + 1
   where d.id = new.document_id and d.deleted_at is null
  returning d.current_version, d.project_id into next_version, doc_project;
  if next_version is null then
    raise exception 'document % does not exist', new.document_id using errcode = '23503';
  end if;
  new.version := next_version;
  new.project_id := doc_project;
  new.created_at := now();
  if (select auth.uid()) is not null then
    new.author_id := (select auth.uid());
    new.generated_by := null;
  end if;
  return new;
end;
$$;

alter table public.document_versions
  add constraint document_versions_has_author_or_generator
  check (author_id is not null or generated_by is not null);
