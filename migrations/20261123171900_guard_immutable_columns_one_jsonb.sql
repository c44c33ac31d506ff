-- =============================================================================
-- private.guard_immutable_columns(): the old and new rows become jsonb once per
-- row instead of twice per guarded column. Same behaviour, same grants
-- (create or replace keeps them).
-- =============================================================================

create or replace function private.guard_immutable_columns()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  col text;
  old_row jsonb;
  new_row jsonb;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  old_row := to_jsonb(old);
  new_row := to_jsonb(new);
  foreach col in array tg_argv loop
    if (new_row -> col) is distinct from (old_row -> col) then
      raise exception '%.% cannot be changed', tg_table_name, col
        using errcode = '42501',
              hint = case when tg_table_name = 'projects' and col = 'owner_id'
                          then 'use rpc transfer_project_ownership'
                          else 'create a new row instead' end;
    end if;
  end loop;
  return new;
end;
$$;
