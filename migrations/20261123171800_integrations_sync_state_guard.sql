-- =============================================================================
-- Integrations: the sync state is the service role's
--
-- guard_immutable_columns kept clients from changing last_synced_at and
-- last_error, but an owner could still PATCH status to connected, syncing or
-- error, and set last_synced_at / last_error when inserting. Now, for the
-- client roles (anon, authenticated):
--   insert: last_synced_at and last_error are emptied (status must be
--           'pending': the insert policy)
--   update: status changes only to 'revoked' (the user's own disconnect);
--           anything else is refused with 42501 (403)
-- The service role and definer code paths are unaffected.
-- =============================================================================

create function private.guard_integration_sync_state()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if tg_op = 'INSERT' then
    new.last_synced_at := null;
    new.last_error := null;
  elsif new.status is distinct from old.status and new.status <> 'revoked' then
    raise exception 'integrations.status can only be changed to revoked'
      using errcode = '42501',
            hint = 'the sync status is the integration service''s; set status to revoked to disconnect';
  end if;
  return new;
end;
$$;
revoke all on function private.guard_integration_sync_state() from public;

create trigger integrations_guard_sync_state
  before insert or update on public.integrations
  for each row execute function private.guard_integration_sync_state();
