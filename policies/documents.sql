-- Documents, versions and generation jobs
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.documents enable row level security;
alter table public.document_versions enable row level security;
alter table public.document_jobs enable row level security;

-- public.documents ----------------------------------------------------------
drop policy if exists "members read live documents" on public.documents;
create policy "members read live documents"
  on public.documents for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and project_id = any (array(select private.my_project_ids()))
  );

drop policy if exists "editors create documents" on public.documents;
create policy "editors create documents"
  on public.documents for insert to authenticated
  with check (
    (select private.can_write())
    and created_by = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

drop policy if exists "editors rename documents" on public.documents;
create policy "editors rename documents"
  on public.documents for update to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

drop policy if exists "editors delete documents" on public.documents;
create policy "editors delete documents"
  on public.documents for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

-- public.document_versions --------------------------------------------------
-- a soft-deleted document's versions vanish with it (and come back when it is restored)
drop policy if exists "members read document versions" on public.document_versions;
drop policy if exists "members read versions of live documents" on public.document_versions;
create policy "members read versions of live documents"
  on public.document_versions for select to authenticated
  using (
    (select private.is_active_user())
    and project_id = any (array(select private.my_project_ids()))
    and document_id <> all (array(select private.my_deleted_document_ids()))
  );

drop policy if exists "editors add versions as themselves" on public.document_versions;
create policy "editors add versions as themselves"
  on public.document_versions for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

-- public.document_jobs ------------------------------------------------------
drop policy if exists "members read their projects' generation jobs" on public.document_jobs;
create policy "members read their projects' generation jobs"
  on public.document_jobs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));
