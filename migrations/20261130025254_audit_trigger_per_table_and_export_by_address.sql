-- =============================================================================
-- After 20261130024257 (privacy meets audit origins and invitations)
--
--   1. forbid_audit_changes() reads only the columns of the table it fires on:
--      PL/pgSQL resolves every field an expression names, so the combined
--      condition of 20261130024257 failed on audit_log_origins (no
--      subject_user_id) and every erasure stopped at the redaction. Same rules:
--      audit_logs: an update under collab.audit_redact may only empty the
--      person's ids; audit_log_origins: a delete under collab.audit_redact only
--      of the person's origins; both: deletes under the retention cutoff (at
--      least 30 days); nothing else, truncate included.
--   2. the export reads a table's rows about the person by their id columns and,
--      for the columns listed in private.person_email_columns(), by their
--      sign-in address once confirmed (as private.my_invitation_ids() does): an
--      invitation sent to their address is theirs too. Erasure already deletes
--      those invitations (private.delete_invitations_of_deleted_profile()).
-- =============================================================================

-- 1. ---------------------------------------------------------------------------
create or replace function private.forbid_audit_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  redact uuid := nullif(current_setting('collab.audit_redact', true), '')::uuid;
  cutoff timestamptz := nullif(current_setting('collab.audit_retention_cutoff', true), '')::timestamptz;
  ids text[] := array['actor_id', 'subject_user_id', 'target_id'];
begin
  if tg_level = 'ROW' and redact is not null then
    if tg_table_name = 'audit_logs' and tg_op = 'UPDATE' then
      if (to_jsonb(new) - ids) = (to_jsonb(old) - ids)
         and (new.actor_id is not distinct from old.actor_id
              or (new.actor_id is null and old.actor_id = redact))
         and (new.subject_user_id is not distinct from old.subject_user_id
              or (new.subject_user_id is null and old.subject_user_id = redact))
         and (new.target_id is not distinct from old.target_id
              or (new.target_id is null and old.target_id = redact)) then
        return new;
      end if;
    elsif tg_table_name = 'audit_log_origins' and tg_op = 'DELETE' then
      if old.actor_id = redact then
        return old;
      end if;
    end if;
  end if;
  if tg_level = 'ROW' and tg_op = 'DELETE' and cutoff is not null then
    if old.occurred_at < cutoff and old.occurred_at < now() - interval '30 days' then
      return old;
    end if;
  end if;
  raise exception '% is append-only', tg_table_name using errcode = '42501';
end;
$$;

-- 2. ---------------------------------------------------------------------------
-- Columns that hold a person's sign-in address (lower case) rather than their id.
create function private.person_email_columns()
returns table (table_schema text, table_name text, column_name text)
language sql
immutable
set search_path = ''
as $$
  values
    -- an invitation by address: the address until accepted (then invitee_id too)
    ('public', 'project_invitations', 'email')
$$;

-- As in 20261130013155, plus the rows whose listed address column is the person's
-- confirmed sign-in address ($5).
create or replace function private.privacy_export_page(
  user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  t record;
  filter text;
  keyset text := 'true';
  key_order text;
  key_order_desc text;
  key_object text;
  excluded text[];
  address text;
  result jsonb;
begin
  if page_size is null or page_size < 1 or page_size > 5000 then
    raise exception 'page_size must be between 1 and 5000' using errcode = '22023';
  end if;
  select * into t from private.person_export_tables() e
   where e.table_schema = privacy_export_page.table_schema and e.table_name = privacy_export_page.table_name;
  if not found then
    raise exception '%.% is not a table the export reads', table_schema, table_name using errcode = '22023';
  end if;
  if t.key_columns is null then
    raise exception '%.% has no primary key to page by', table_schema, table_name using errcode = '22023';
  end if;
  select string_agg(format('t.%I = $1', c), ' or ') into filter from unnest(t.person_columns) c;
  select filter || coalesce(string_agg(format(' or t.%I = $5', ec.column_name), ''), '') into filter
    from private.person_email_columns() ec
   where ec.table_schema = t.table_schema and ec.table_name = t.table_name;
  -- only an address they proved is theirs (an unconfirmed sign-up cannot read another's)
  select lower(u.email) into address from auth.users u
   where u.id = privacy_export_page.user_id and u.email_confirmed_at is not null;
  select string_agg(format('t.%I', c), ', '),
         string_agg(format('t.%I desc', c), ', '),
         string_agg(format('%L, t.%I', c, c), ', ')
    into key_order, key_order_desc, key_object
    from unnest(t.key_columns) c;
  if after_key is not null then
    select format('(%s) > (%s)', key_order,
                  string_agg(format('($2 ->> %L)::%s', c, format_type(a.atttypid, a.atttypmod)), ', ' order by k.ord))
      into keyset
      from unnest(t.key_columns) with ordinality k (c, ord)
      join pg_catalog.pg_attribute a
        on a.attrelid = format('%I.%I', t.table_schema, t.table_name)::regclass and a.attname = k.c;
  end if;
  select coalesce(array_agg(a.attname::text), '{}') into excluded
    from pg_catalog.pg_attribute a
   where a.attrelid = format('%I.%I', t.table_schema, t.table_name)::regclass
     and a.attnum > 0 and not a.attisdropped and a.attname <> all (t.exported_columns);
  execute format(
    'with page as (
       select to_jsonb(t) - $4 as row_data, jsonb_build_object(%s) as row_key, %s
         from %I.%I t
        where (%s) and %s
        order by %s
        limit $3
     )
     select jsonb_build_object(
       ''rows'', coalesce(jsonb_agg(p.row_data order by %s), ''[]''::jsonb),
       ''last_key'', (array_agg(p.row_key order by %s))[1]
     ) from page p',
    key_object, key_order, t.table_schema, t.table_name, filter, keyset, key_order,
    replace(key_order, 't.', 'p.'), replace(key_order_desc, 't.', 'p.')
  ) into result using privacy_export_page.user_id, after_key, page_size, excluded, address;
  return result;
end;
$$;

revoke all on function private.person_email_columns() from public, anon, authenticated;
grant execute on function private.person_email_columns() to service_role;
