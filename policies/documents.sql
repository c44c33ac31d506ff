-- Documents: who may do what
--
-- The policies of supabase/schemas/documents.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.documents ----------------------------------------------------------------------
alter table public.documents enable row level security;

create policy "members read live documents"
  on public.documents for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "editors create documents"
  on public.documents for insert to authenticated
  with check (
    (select private.can_write())
    and created_by = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

create policy "editors rename documents"
  on public.documents for update to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete documents"
  on public.documents for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

-- public.document_versions --------------------------------------------------------------
alter table public.document_versions enable row level security;

-- a soft-deleted document's versions vanish with it (and come back when it is restored)
create policy "members read versions of live documents"
  on public.document_versions for select to authenticated
  using (
    (select private.is_active_user())
    and project_id = any (array(select private.my_project_ids()))
    and document_id <> all (array(select private.my_deleted_document_ids()))
  );

create policy "editors add versions as themselves"
  on public.document_versions for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

-- public.document_jobs ------------------------------------------------------------------
alter table public.document_jobs enable row level security;

create policy "members read their projects' generation jobs"
  on public.document_jobs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));
