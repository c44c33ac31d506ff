-- Accounts: one profile per auth user
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/accounts.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.persona as enum (
    'solo_entrepreneur',
    'team_collaborator',
    'project_admin'
);

-- A time zone the digest's `at time zone` understands, named the IANA way (Area/Location, or
-- UTC / GMT), so abbreviations (PST) and POSIX offset specs (UTC+3) are refused. The zone is
-- loaded, which PostgreSQL caches per connection; pg_timezone_names would read every zone
-- file (~35 ms) on each profile write. Immutable for the check's sake: zone names change
-- only with a server upgrade.
create function private.is_time_zone(name text) returns boolean
    language plpgsql immutable
    set search_path to ''
    as $$
begin
  if name is null
     or name !~ '^([A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2}|UTC|GMT)$' then
    return false;
  end if;
  perform pg_catalog.timezone(name, pg_catalog.now());
  return true;
exception
  when invalid_parameter_value then
    return false;
end;
$$;

revoke all on function private.is_time_zone(name text) from public;
grant all on function private.is_time_zone(name text) to authenticated;
grant all on function private.is_time_zone(name text) to service_role;

-- ======================================================================================
-- public.profiles
-- ======================================================================================

create table public.profiles (
    id uuid not null,
    email text,
    username text,
    full_name text,
    avatar_url text,
    persona public.persona,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    time_zone text default 'UTC'::text not null,
    digest_hour smallint default 8 not null,
    constraint profiles_avatar_url_is_http check (((avatar_url ~ '^https?://'::text) and (char_length(avatar_url) <= 2048))),
    constraint profiles_full_name_length check ((char_length(full_name) <= 200)),
    constraint profiles_username_format check ((username ~ '^[a-z0-9_]{3,32}$'::text)),
    constraint profiles_digest_hour_is_an_hour check (((digest_hour >= 0) and (digest_hour <= 23))),
    constraint profiles_time_zone_is_known check (private.is_time_zone(time_zone))
);

alter table only public.profiles
    add constraint profiles_pkey primary key (id);

comment on table public.profiles is 'One row per auth user, made by a trigger on auth.users.';

comment on column public.profiles.time_zone is 'IANA time zone name (pg_timezone_names), for the daily digest and dates in mail.';

comment on column public.profiles.digest_hour is 'Local hour (0-23, in time_zone) at which the daily e-mail digest is sent.';

create unique index profiles_username_key on public.profiles using btree (username);

revoke all on table public.profiles from anon, authenticated;
grant select,insert,delete,update on table public.profiles to anon;
grant select,insert,delete,update on table public.profiles to authenticated;
grant all on table public.profiles to service_role;

-- ======================================================================================
-- private.former_emails
-- ======================================================================================

-- The addresses a person signed in with before their current one: outside sources (code
-- hosts, CRMs) name people by address, so an erasure clears their old addresses from the
-- activity stream as well (private.erase_person). Goes with the account.
create table private.former_emails (
    user_id uuid not null,
    email text not null,
    replaced_at timestamptz default now() not null
);

alter table only private.former_emails
    add constraint former_emails_pkey primary key (user_id, email);

comment on table private.former_emails is 'Sign-in addresses a person had before their current one (lower case), for the erasure; deleted with the account.';

revoke all on table private.former_emails from anon, authenticated;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only private.former_emails
    add constraint former_emails_user_id_fkey foreign key (user_id) references auth.users(id) on delete cascade;

alter table only public.profiles
    add constraint profiles_id_fkey foreign key (id) references auth.users(id) on delete cascade;

alter table only public.user_roles
    add constraint user_roles_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.handle_new_user() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $_$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  -- sign-up's username, else a social login's handle (GitHub's user_name, '-' -> '_')
  wanted_username text := lower(nullif(btrim(coalesce(
    meta ->> 'username', replace(meta ->> 'user_name', '-', '_')
  )), ''));
  -- sign-up's full_name, else a provider's name / picture (Google's claims)
  given_name text := coalesce(meta ->> 'full_name', meta ->> 'name');
  given_avatar text := coalesce(meta ->> 'avatar_url', meta ->> 'picture');
  granted_username text;
  refused_because text;
  wanted_persona text := meta ->> 'persona';
  persona public.persona;
begin
  if wanted_username is not null then
    if wanted_username !~ '^[a-z0-9_]{3,32}$' then
      refused_because := 'invalid';
    elsif exists (select 1 from public.profiles p where p.username = wanted_username) then
      refused_because := 'taken';
    else
      granted_username := wanted_username;
    end if;
  end if;
  if wanted_persona = any (enum_range(null::public.persona)::text[]) then
    persona := wanted_persona::public.persona;
  end if;

  begin
    insert into public.profiles (id, email, username, full_name, avatar_url, persona)
    values (
      new.id,
      new.email,
      granted_username,
      left(given_name, 200),
      case when given_avatar ~ '^https?://' then left(given_avatar, 2048) end,
      persona
    );
  exception when unique_violation then
    -- another sign-up took the username between the check and the insert
    refused_because := 'taken';
    insert into public.profiles (id, email, username, full_name, avatar_url, persona)
    values (
      new.id,
      new.email,
      null,
      left(given_name, 200),
      case when given_avatar ~ '^https?://' then left(given_avatar, 2048) end,
      persona
    );
  end;
  insert into public.user_roles (user_id) values (new.id);

  if refused_because is not null then
    insert into public.notifications (user_id, type, payload)
    values (
      new.id,
      'system',
      jsonb_build_object(
        'kind', 'username_unavailable',
        'username', wanted_username,
        'reason', refused_because,
        'message', case refused_because
          when 'taken' then format('The username "%s" is taken: choose another in your profile.', wanted_username)
          else format('The username "%s" is not valid (3-32 of a-z, 0-9, _): choose another in your profile.', wanted_username)
        end
      )
    );
  end if;
  return new;
end;
$_$;

revoke all on function private.handle_new_user() from public;
grant all on function private.handle_new_user() to authenticated;
grant all on function private.handle_new_user() to service_role;

create function private.handle_user_email_change() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  update public.profiles set email = new.email where id = new.id;
  if old.email is not null and old.email <> '' then
    insert into private.former_emails (user_id, email) values (new.id, lower(old.email))
    on conflict on constraint former_emails_pkey do update set replaced_at = now();
  end if;
  return new;
end;
$$;

revoke all on function private.handle_user_email_change() from public;
grant all on function private.handle_user_email_change() to authenticated;
grant all on function private.handle_user_email_change() to service_role;

-- the caller's sign-in address, only once confirmed (used to refuse inviting oneself;
-- invitations to an address rest on their link's token, never on this)
create function private.my_confirmed_email() returns text
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return (
    select lower(u.email) from auth.users u
     where u.id = (select auth.uid()) and u.email_confirmed_at is not null
  );
end;
$$;

revoke all on function private.my_confirmed_email() from public;
grant all on function private.my_confirmed_email() to authenticated;
grant all on function private.my_confirmed_email() to service_role;

-- profile ids the caller may read: their own, their contacts', everyone's for
-- platform admins
create function private.visible_profile_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  if private.authorize('admin') then
    return query select p.id from public.profiles p;
  else
    return query
      select (select auth.uid())
      union
      select private.my_contact_ids();
  end if;
end;
$$;

revoke all on function private.visible_profile_ids() from public;
grant all on function private.visible_profile_ids() to authenticated;
grant all on function private.visible_profile_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger on_auth_user_created after insert on auth.users for each row execute function private.handle_new_user();

create trigger on_auth_user_email_changed after update of email on auth.users for each row when (((new.email)::text is distinct from (old.email)::text)) execute function private.handle_user_email_change();

create trigger profiles_guard_immutable_columns before update on public.profiles for each row execute function private.guard_immutable_columns('id', 'email');

create trigger profiles_limit_bulk_insert after insert on public.profiles referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger profiles_set_updated_at before insert or update on public.profiles for each row execute function private.set_updated_at();
