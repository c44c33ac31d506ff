-- =============================================================================
-- Sign-up fills the profile
--
--   private.handle_new_user() (redefined from the core migration): what a
--   person gives at sign-up (supabase.auth.signUp options.data: full_name,
--   username, persona, avatar_url) lands in their profile. A username that is
--   taken (also by a sign-up racing this one) or malformed is not given; the
--   sign-up still succeeds, the profile's username stays empty, and the person
--   is told by a notification (type 'system', payload kind
--   'username_unavailable', with the username, the reason and a message).
-- =============================================================================

create or replace function private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  wanted_username text := lower(nullif(btrim(meta ->> 'username'), ''));
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
      left(meta ->> 'full_name', 200),
      case when meta ->> 'avatar_url' ~ '^https?://' then left(meta ->> 'avatar_url', 2048) end,
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
      left(meta ->> 'full_name', 200),
      case when meta ->> 'avatar_url' ~ '^https?://' then left(meta ->> 'avatar_url', 2048) end,
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
$$;
