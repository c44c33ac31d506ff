-- Tasks
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/tasks.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.task_status as enum (
    'todo',
    'in_progress',
    'done'
);

-- ======================================================================================
-- public.tasks
-- ======================================================================================

create table public.tasks (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    title text not null,
    description text,
    status public.task_status default 'todo'::public.task_status not null,
    assignee_id uuid,
    due_at timestamptz,
    created_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint tasks_description_length check ((char_length(description) <= 20000)),
    constraint tasks_title_length check (((char_length(btrim(title)) >= 1) and (char_length(btrim(title)) <= 500)))
);

alter table only public.tasks
    add constraint tasks_pkey primary key (id);

create index tasks_assignee_id_idx on public.tasks using btree (assignee_id, created_at desc);

create index tasks_created_by_idx on public.tasks using btree (created_by);

create index tasks_project_id_assignee_id_idx on public.tasks using btree (project_id, assignee_id);

create index tasks_project_id_created_at_idx on public.tasks using btree (project_id, created_at desc);

revoke all on table public.tasks from anon, authenticated;
grant select,insert,delete,update on table public.tasks to anon;
grant select,insert,delete,update on table public.tasks to authenticated;
grant all on table public.tasks to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.tasks
    add constraint tasks_assignee_is_project_member foreign key (project_id, assignee_id) references public.project_members(project_id, user_id) on delete set null (assignee_id);

alter table only public.tasks
    add constraint tasks_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.tasks
    add constraint tasks_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.notify_task_assigned() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if new.assignee_id is not null
     and new.assignee_id is distinct from (select auth.uid())
     and (tg_op = 'INSERT' or new.assignee_id is distinct from old.assignee_id) then
    insert into public.notifications (user_id, type, payload)
    values (new.assignee_id, 'task_assigned',
            jsonb_build_object('project_id', new.project_id, 'task_id', new.id,
                               'title', left(new.title, 140), 'assigned_by', (select auth.uid())));
  end if;
  return null;
end;
$$;

revoke all on function private.notify_task_assigned() from public;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger tasks_fresh_id_for_unseen_row before insert on public.tasks for each row execute function private.fresh_id_for_unseen_row();

create trigger tasks_guard_deleted_at before insert or update on public.tasks for each row execute function private.guard_deleted_at();

create trigger tasks_guard_immutable_columns before update on public.tasks for each row execute function private.guard_immutable_columns('id', 'project_id', 'created_by');

create trigger tasks_limit_bulk_insert after insert on public.tasks referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger tasks_notify_assignee after insert or update of assignee_id on public.tasks for each row execute function private.notify_task_assigned();

create trigger tasks_set_updated_at before insert or update on public.tasks for each row execute function private.set_updated_at();

create trigger tasks_soft_delete before delete on public.tasks for each row execute function private.soft_delete();
