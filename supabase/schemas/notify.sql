-- Notify: preferences, and the e-mail (and push) deliveries of notifications and invitations
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/notify.sql. Edit here, then `make migration NAME=...` writes the migration.
--
-- A notification row (written by a trigger in the caller's transaction) gets, in the same
-- transaction, one delivery row per channel the person wants it on (`notification_deliveries`,
-- unique per (notification, channel): at most one e-mail per notification). The delivery rows
-- are jobs of the one pipeline (functions/core/jobs.py, functions/notify/): the dispatcher
-- sends them to the queue, the worker claims each, asks `notification_delivery_context` what it
-- may say and to whom, and sends.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.email_frequency as enum (
    'immediate',
    'daily_digest',
    'off'
);

create type public.delivery_channel as enum (
    'email',
    'push'
);

create type public.delivery_status as enum (
    'queued',
    'sending',
    'sent',
    'failed'
);

-- ======================================================================================
-- public.notification_preferences
-- ======================================================================================

-- No row = the defaults of private.default_email_frequency() and push on. In-app
-- notifications are always written; these say only which other channels carry them.
create table public.notification_preferences (
    type public.notification_type not null,
    user_id uuid default auth.uid() not null,
    email public.email_frequency not null,
    push boolean default true not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    id uuid default gen_random_uuid() not null
);

alter table only public.notification_preferences
    add constraint notification_preferences_pkey primary key (user_id, type);

-- a row's own handle for clients (PATCH ?id=eq...); (user_id, type) stays the key
alter table only public.notification_preferences
    add constraint notification_preferences_id_key unique (id);

comment on table public.notification_preferences is 'How a person wants each notification type outside the app: e-mail immediate / daily_digest / off, push on / off. No row: the defaults (docs/notify.md).';

revoke all on table public.notification_preferences from anon, authenticated;
grant select,insert,delete,update on table public.notification_preferences to anon;
grant select,insert,delete,update on table public.notification_preferences to authenticated;
grant all on table public.notification_preferences to service_role;

-- ======================================================================================
-- public.notification_deliveries
-- ======================================================================================

-- One message on one channel: of a notification (to its person), or of an invitation to an
-- address (to that address, carrying the link's token). A job of the pipeline.
create table public.notification_deliveries (
    id uuid default gen_random_uuid() not null,
    notification_id uuid,
    invitation_id uuid,
    user_id uuid,
    channel public.delivery_channel not null,
    status public.delivery_status default 'queued'::public.delivery_status not null,
    attempts integer default 0 not null,
    dispatched_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    skipped_reason text,
    provider_message_id text,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint notification_deliveries_attempts_not_negative check ((attempts >= 0)),
    constraint notification_deliveries_error_length check ((char_length(error) <= 2000)),
    constraint notification_deliveries_of_one_thing check (((notification_id is null) <> (invitation_id is null))),
    constraint notification_deliveries_notification_has_person check (((notification_id is null) or (user_id is not null)))
);

alter table only public.notification_deliveries
    add constraint notification_deliveries_pkey primary key (id);

comment on table public.notification_deliveries is 'E-mail / push deliveries of notifications and invitations (job rows of functions/notify); the person reads their own.';

comment on column public.notification_deliveries.skipped_reason is 'Set when the delivery was done without sending (preference off, address suppressed, no longer allowed to see it, ...).';

create unique index notification_deliveries_one_per_channel on public.notification_deliveries using btree (notification_id, channel) where (notification_id is not null);

create index notification_deliveries_invitation_id_idx on public.notification_deliveries using btree (invitation_id);

create index notification_deliveries_user_id_idx on public.notification_deliveries using btree (user_id, created_at desc);

create index notification_deliveries_status_idx on public.notification_deliveries using btree (status, created_at) where (status = any (array['queued'::public.delivery_status, 'sending'::public.delivery_status]));

revoke all on table public.notification_deliveries from anon, authenticated;
grant select on table public.notification_deliveries to anon;
grant select on table public.notification_deliveries to authenticated;
grant all on table public.notification_deliveries to service_role;

-- ======================================================================================
-- public.notification_digests
-- ======================================================================================

-- One daily e-mail per person with the notifications of their daily_digest types that no
-- e-mail carried, from the previous digest's `until` to this one's. Made by
-- rpc queue_due_digests at the person's digest_hour in their time_zone; a job of the pipeline.
create table public.notification_digests (
    id uuid default gen_random_uuid() not null,
    user_id uuid not null,
    digest_date date not null,
    since timestamptz not null,
    until timestamptz not null,
    status public.delivery_status default 'queued'::public.delivery_status not null,
    attempts integer default 0 not null,
    dispatched_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    skipped_reason text,
    provider_message_id text,
    item_count integer,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint notification_digests_attempts_not_negative check ((attempts >= 0)),
    constraint notification_digests_error_length check ((char_length(error) <= 2000)),
    constraint notification_digests_until_after_since check ((until > since))
);

alter table only public.notification_digests
    add constraint notification_digests_pkey primary key (id);

comment on table public.notification_digests is 'Daily e-mail digests (job rows of functions/notify); the person reads their own.';

create unique index notification_digests_one_per_day on public.notification_digests using btree (user_id, digest_date);

create index notification_digests_status_idx on public.notification_digests using btree (status, created_at) where (status = any (array['queued'::public.delivery_status, 'sending'::public.delivery_status]));

revoke all on table public.notification_digests from anon, authenticated;
grant select on table public.notification_digests to anon;
grant select on table public.notification_digests to authenticated;
grant all on table public.notification_digests to service_role;

-- ======================================================================================
-- public.push_subscriptions
-- ======================================================================================

-- A browser's Web Push subscription (PushSubscription.toJSON(): endpoint, keys.p256dh,
-- keys.auth), one per device; the notify worker sends to each (VAPID, RFC 8030/8291) and
-- deletes one its push service answers 404/410 for.
create table public.push_subscriptions (
    id uuid default gen_random_uuid() not null,
    endpoint text not null,
    p256dh text not null,
    auth text not null,
    user_agent text,
    last_used_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    user_id uuid default auth.uid() not null,
    constraint push_subscriptions_endpoint_is_http check (((endpoint ~ '^https?://[^[:space:]]+$'::text) and (char_length(endpoint) <= 2048))),
    constraint push_subscriptions_p256dh_is_base64url check ((p256dh ~ '^[A-Za-z0-9_-]{80,100}={0,2}$'::text)),
    constraint push_subscriptions_auth_is_base64url check ((auth ~ '^[A-Za-z0-9_-]{16,32}={0,2}$'::text)),
    constraint push_subscriptions_user_agent_length check ((char_length(user_agent) <= 500))
);

alter table only public.push_subscriptions
    add constraint push_subscriptions_pkey primary key (id);

comment on table public.push_subscriptions is 'Web Push subscriptions, one per device; the person''s own.';

create unique index push_subscriptions_user_id_endpoint_key on public.push_subscriptions using btree (user_id, endpoint);

revoke all on table public.push_subscriptions from anon, authenticated;
grant select,insert,delete,update on table public.push_subscriptions to anon;
grant select,insert,delete,update on table public.push_subscriptions to authenticated;
grant all on table public.push_subscriptions to service_role;

-- ======================================================================================
-- private tables: invitation tokens on their way to the mail, suppressed addresses
-- ======================================================================================

-- The plaintext token of an invitation mail, from the invite RPC to the mail job; only the
-- service role reads it (rpc notification_delivery_context), and it goes when the delivery
-- is finished (sent or failed) or the invitation closes.
create table private.invitation_mail_tokens (
    delivery_id uuid not null,
    token text not null,
    created_at timestamptz default now() not null
);

alter table only private.invitation_mail_tokens
    add constraint invitation_mail_tokens_pkey primary key (delivery_id);

comment on table private.invitation_mail_tokens is 'Plaintext token of an invitation mail not yet sent; deleted when the delivery finishes.';

revoke all on table private.invitation_mail_tokens from anon, authenticated;

-- Addresses mail must no longer go to: hard bounces and complaints (SES via SNS), and
-- invitees who unsubscribed from invitations.
create table private.email_suppressions (
    email text not null,
    reason text not null,
    detail jsonb default '{}'::jsonb not null,
    created_at timestamptz default now() not null,
    constraint email_suppressions_email_is_lower check ((email = lower(email))),
    constraint email_suppressions_reason check ((reason = any (array['bounce'::text, 'complaint'::text, 'unsubscribed'::text])))
);

alter table only private.email_suppressions
    add constraint email_suppressions_pkey primary key (email);

comment on table private.email_suppressions is 'Addresses no mail goes to (bounce, complaint, unsubscribed invitee).';

revoke all on table private.email_suppressions from anon, authenticated;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.notification_preferences
    add constraint notification_preferences_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.notification_deliveries
    add constraint notification_deliveries_notification_id_fkey foreign key (notification_id) references public.notifications(id) on delete cascade;

alter table only public.notification_deliveries
    add constraint notification_deliveries_invitation_id_fkey foreign key (invitation_id) references public.project_invitations(id) on delete cascade;

alter table only public.notification_digests
    add constraint notification_digests_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.push_subscriptions
    add constraint push_subscriptions_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.notification_deliveries
    add constraint notification_deliveries_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only private.invitation_mail_tokens
    add constraint invitation_mail_tokens_delivery_id_fkey foreign key (delivery_id) references public.notification_deliveries(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- The e-mail default of a type without a preference row: chat messages come in the daily
-- digest (they are many), everything else at once.
create function private.default_email_frequency(type public.notification_type) returns public.email_frequency
    language sql immutable
    set search_path to ''
    as $$
  select case when default_email_frequency.type = 'message'
              then 'daily_digest' else 'immediate' end::public.email_frequency
$$;

revoke all on function private.default_email_frequency(type public.notification_type) from public;
grant all on function private.default_email_frequency(type public.notification_type) to authenticated;
grant all on function private.default_email_frequency(type public.notification_type) to service_role;

-- A person's e-mail frequency for a type (their row, else the default).
create function private.email_frequency(user_id uuid, type public.notification_type) returns public.email_frequency
    language sql stable security definer
    set search_path to ''
    as $$
  select coalesce(
    (select np.email from public.notification_preferences np
      where np.user_id = email_frequency.user_id and np.type = email_frequency.type),
    private.default_email_frequency(email_frequency.type))
$$;

revoke all on function private.email_frequency(user_id uuid, type public.notification_type) from public;
grant all on function private.email_frequency(user_id uuid, type public.notification_type) to service_role;

-- The preferences a person gets without a row: the e-mail default of the type.
create function private.notification_preference_defaults() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if new.email is null then
    new.email := private.default_email_frequency(new.type);
  end if;
  return new;
end;
$$;

revoke all on function private.notification_preference_defaults() from public;

-- A person's push preference for a type (their row, else on).
create function private.push_enabled(user_id uuid, type public.notification_type) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select coalesce(
    (select np.push from public.notification_preferences np
      where np.user_id = push_enabled.user_id and np.type = push_enabled.type),
    true)
$$;

revoke all on function private.push_enabled(user_id uuid, type public.notification_type) from public;
grant all on function private.push_enabled(user_id uuid, type public.notification_type) to service_role;

-- The fan-out, in the transaction that wrote the notification: an e-mail delivery when the
-- person wants this type at once (daily-digest types wait for the digest), a push delivery
-- when they want it pushed and have a subscribed device.
create function private.fan_out_notification() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into public.notification_deliveries (notification_id, user_id, channel)
  select n.id, n.user_id, 'email'::public.delivery_channel
    from inserted n
   where private.email_frequency(n.user_id, n.type) = 'immediate'
  union all
  select n.id, n.user_id, 'push'::public.delivery_channel
    from inserted n
   where private.push_enabled(n.user_id, n.type)
     and exists (select 1 from public.push_subscriptions ps where ps.user_id = n.user_id)
  on conflict do nothing;
  return null;
end;
$$;

revoke all on function private.fan_out_notification() from public;

-- The invite RPC's mail: an invitation to an address is mailed with its new token (a new
-- token, a new mail; an older mail's token no longer works, so its delivery is skipped).
create function private.queue_invitation_mail(invitation_id uuid, token text) returns void
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  delivery uuid;
begin
  insert into public.notification_deliveries (invitation_id, channel)
  values (queue_invitation_mail.invitation_id, 'email')
  returning id into delivery;
  insert into private.invitation_mail_tokens (delivery_id, token)
  values (delivery, queue_invitation_mail.token);
end;
$$;

revoke all on function private.queue_invitation_mail(invitation_id uuid, token text) from public;

-- A finished delivery keeps no token.
create function private.forget_invitation_mail_token() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  delete from private.invitation_mail_tokens t where t.delivery_id = new.id;
  return null;
end;
$$;

revoke all on function private.forget_invitation_mail_token() from public;

-- Whether a person may still see what a notification is about: the project (live, still a
-- member), the conversation (still in it), the invitation (still open).
create function private.may_still_see(user_id uuid, payload jsonb) returns boolean
    language plpgsql stable security definer
    set search_path to ''
    as $_$
declare
  project uuid;
  conversation uuid;
  invitation uuid;
begin
  if payload ->> 'project_id' ~* '^[0-9a-f-]{36}$' then
    project := (payload ->> 'project_id')::uuid;
    if not exists (
      select 1 from public.project_members pm join public.projects p on p.id = pm.project_id
       where pm.project_id = project and pm.user_id = may_still_see.user_id
         and p.deleted_at is null
    ) then
      return false;
    end if;
  end if;
  if payload ->> 'conversation_id' ~* '^[0-9a-f-]{36}$' then
    conversation := (payload ->> 'conversation_id')::uuid;
    if not exists (
      select 1 from public.conversation_members cm
       where cm.conversation_id = conversation and cm.user_id = may_still_see.user_id
    ) then
      return false;
    end if;
  end if;
  if payload ->> 'invitation_id' ~* '^[0-9a-f-]{36}$' then
    invitation := (payload ->> 'invitation_id')::uuid;
    if not exists (
      select 1 from public.project_invitations i
       where i.id = invitation and i.invitee_id = may_still_see.user_id
         and i.status = 'pending' and i.expires_at > now()
    ) then
      return false;
    end if;
  end if;
  return true;
end;
$_$;

revoke all on function private.may_still_see(user_id uuid, payload jsonb) from public;

-- Everything the mail job needs about one delivery, decided here so the rules are in one
-- place: to whom, what it may say, or why it is skipped. Service role only: for an
-- invitation it carries the plaintext token of the link.
create function public.notification_delivery_context(delivery_id uuid) returns jsonb
    language plpgsql stable security definer
    set search_path to ''
    as $$
declare
  d public.notification_deliveries;
  n public.notifications;
  i public.project_invitations;
  person public.profiles;
  address text;
  skip text;
  token text;
  actor uuid;
  project uuid;
begin
  select * into d from public.notification_deliveries x where x.id = notification_delivery_context.delivery_id;
  if d.id is null then
    return null;
  end if;
  if d.notification_id is not null then
    select * into n from public.notifications x where x.id = d.notification_id;
    select * into person from public.profiles x where x.id = d.user_id;
    address := lower(person.email);
    if n.id is null then
      skip := 'the notification was deleted';
    elsif address is null then
      skip := 'the person has no e-mail address';
    elsif exists (select 1 from public.user_roles ur where ur.user_id = d.user_id and ur.disabled_at is not null) then
      skip := 'the account is disabled';
    elsif d.channel = 'email' and private.email_frequency(d.user_id, n.type) <> 'immediate' then
      skip := 'e-mail for this type is ' || private.email_frequency(d.user_id, n.type)::text;
    elsif d.channel = 'push' and not private.push_enabled(d.user_id, n.type) then
      skip := 'push for this type is off';
    elsif d.channel = 'push' and not exists (select 1 from public.push_subscriptions ps where ps.user_id = d.user_id) then
      skip := 'no subscribed device';
    elsif not private.may_still_see(d.user_id, n.payload) then
      skip := 'the person may no longer see what it is about';
    end if;
    actor := coalesce(n.payload ->> 'assigned_by', n.payload ->> 'invited_by', n.payload ->> 'author_id')::uuid;
    project := (n.payload ->> 'project_id')::uuid;
  else
    select * into i from public.project_invitations x where x.id = d.invitation_id;
    address := i.email;
    select t.token into token from private.invitation_mail_tokens t where t.delivery_id = d.id;
    if i.status <> 'pending' or i.expires_at <= now() then
      skip := 'the invitation is ' || case when i.status = 'pending' then 'expired' else i.status::text end;
    elsif token is null or not exists (
      select 1 from private.project_invitation_tokens pt
       where pt.invitation_id = i.id and pt.token_hash = sha256(convert_to(token, 'UTF8'))
    ) then
      skip := 'the invitation was sent again with a new link';
    end if;
    actor := i.invited_by;
    project := i.project_id;
  end if;
  -- a bounce or complaint stops all mail to the address; an invitee's unsubscribe only
  -- invitations (once they have an account, their preferences speak)
  if skip is null and d.channel = 'email' then
    select 'the address is suppressed (' || s.reason || ')' into skip
      from private.email_suppressions s
     where s.email = address and (s.reason <> 'unsubscribed' or d.invitation_id is not null);
  end if;
  return jsonb_build_object(
    'delivery_id', d.id,
    'channel', d.channel,
    'skip', skip,
    'email', case when skip is null then address end,
    'token', case when skip is null then token end,
    'person', case when person.id is not null then jsonb_build_object(
        'id', person.id, 'full_name', person.full_name, 'time_zone', person.time_zone) end,
    'notification', case when n.id is not null and skip is null then jsonb_build_object(
        'id', n.id, 'type', n.type, 'payload', n.payload, 'created_at', n.created_at) end,
    'invitation', case when i.id is not null and skip is null then jsonb_build_object(
        'id', i.id, 'project_name', i.project_name, 'role', i.role, 'expires_at', i.expires_at) end,
    'project', (select jsonb_build_object('id', p.id, 'name', p.name)
                  from public.projects p where p.id = project and skip is null),
    'actor', (select jsonb_build_object('id', a.id, 'full_name', coalesce(a.full_name, a.username))
                from public.profiles a where a.id = actor and skip is null),
    'subscriptions', case when d.channel = 'push' and skip is null then (
        select coalesce(jsonb_agg(jsonb_build_object('id', ps.id, 'endpoint', ps.endpoint,
                                                     'p256dh', ps.p256dh, 'auth', ps.auth)
                                  order by ps.created_at), '[]'::jsonb)
          from public.push_subscriptions ps where ps.user_id = d.user_id) end
  );
end;
$$;

comment on function public.notification_delivery_context(delivery_id uuid) is 'The mail job''s view of one delivery: recipient, content, token, or why it is skipped. Service role only.';

revoke all on function public.notification_delivery_context(delivery_id uuid) from public;
revoke all on function public.notification_delivery_context(delivery_id uuid) from anon, authenticated;
grant all on function public.notification_delivery_context(delivery_id uuid) to service_role;

-- The digests due at `at`: for each person whose local hour (time_zone) is their
-- digest_hour, who has no digest for that local date yet and has something a digest would
-- carry, a digest from their previous digest's end (or a day back) to `at`. Service role
-- only (the notify schedule); returns the new digests' ids.
create function public.queue_due_digests("at" timestamptz default now()) returns setof uuid
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  return query
  insert into public.notification_digests (user_id, digest_date, since, until)
  select p.id, (queue_due_digests.at at time zone p.time_zone)::date,
         coalesce((select max(g.until) from public.notification_digests g where g.user_id = p.id),
                  queue_due_digests.at - interval '1 day'),
         queue_due_digests.at
    from public.profiles p
   where extract(hour from queue_due_digests.at at time zone p.time_zone) = p.digest_hour
     and exists (
       select 1 from public.notifications n
        where n.user_id = p.id
          and n.created_at > coalesce((select max(g.until) from public.notification_digests g where g.user_id = p.id),
                                      queue_due_digests.at - interval '1 day')
          and n.created_at <= queue_due_digests.at
          and private.email_frequency(p.id, n.type) = 'daily_digest'
          and not exists (select 1 from public.notification_deliveries d
                           where d.notification_id = n.id and d.channel = 'email'))
  on conflict (user_id, digest_date) do nothing
  returning id;
end;
$$;

comment on function public.queue_due_digests("at" timestamptz) is 'Queues the daily digests due at `at` (each person''s digest_hour in their time_zone). Service role only.';

revoke all on function public.queue_due_digests("at" timestamptz) from public;
revoke all on function public.queue_due_digests("at" timestamptz) from anon, authenticated;
grant all on function public.queue_due_digests("at" timestamptz) to service_role;

-- What one digest carries: the person, and the notifications of their daily_digest types in
-- (since, until] that no e-mail carried and that they may still see. Service role only.
create function public.notification_digest_context(digest_id uuid) returns jsonb
    language plpgsql stable security definer
    set search_path to ''
    as $$
declare
  g public.notification_digests;
  person public.profiles;
  skip text;
  items jsonb;
begin
  select * into g from public.notification_digests x where x.id = notification_digest_context.digest_id;
  if g.id is null then
    return null;
  end if;
  select * into person from public.profiles x where x.id = g.user_id;
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', n.id, 'type', n.type, 'payload', n.payload, 'created_at', n.created_at,
           'project', (select p.name from public.projects p where p.id::text = n.payload ->> 'project_id'),
           'actor', (select coalesce(a.full_name, a.username) from public.profiles a
                      where a.id::text = coalesce(n.payload ->> 'assigned_by', n.payload ->> 'invited_by', n.payload ->> 'author_id')))
           order by n.created_at), '[]'::jsonb)
    into items
    from public.notifications n
   where n.user_id = g.user_id and n.created_at > g.since and n.created_at <= g.until
     and private.email_frequency(g.user_id, n.type) = 'daily_digest'
     and not exists (select 1 from public.notification_deliveries d
                      where d.notification_id = n.id and d.channel = 'email')
     and private.may_still_see(g.user_id, n.payload);
  if person.email is null then
    skip := 'the person has no e-mail address';
  elsif exists (select 1 from public.user_roles ur where ur.user_id = g.user_id and ur.disabled_at is not null) then
    skip := 'the account is disabled';
  elsif exists (select 1 from private.email_suppressions s
                 where s.email = lower(person.email) and s.reason <> 'unsubscribed') then
    skip := 'the address is suppressed';
  elsif jsonb_array_length(items) = 0 then
    skip := 'nothing to send';
  end if;
  return jsonb_build_object(
    'digest_id', g.id, 'skip', skip,
    'email', case when skip is null then lower(person.email) end,
    'person', jsonb_build_object('id', person.id, 'full_name', person.full_name,
                                 'time_zone', person.time_zone),
    'digest_date', g.digest_date,
    'items', case when skip is null then items else '[]'::jsonb end);
end;
$$;

comment on function public.notification_digest_context(digest_id uuid) is 'The digest job''s view of one digest: recipient and items, or why it is skipped. Service role only.';

revoke all on function public.notification_digest_context(digest_id uuid) from public;
revoke all on function public.notification_digest_context(digest_id uuid) from anon, authenticated;
grant all on function public.notification_digest_context(digest_id uuid) to service_role;

-- Bounces and complaints (SES -> SNS -> SQS), and invitees unsubscribing: no more mail to
-- the address. Service role only.
create function public.suppress_email_address(email text, reason text, detail jsonb default '{}'::jsonb) returns void
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into private.email_suppressions (email, reason, detail)
  values (lower(btrim(suppress_email_address.email)), suppress_email_address.reason,
          coalesce(suppress_email_address.detail, '{}'::jsonb))
  on conflict on constraint email_suppressions_pkey
  do update set reason = excluded.reason, detail = excluded.detail;
end;
$$;

comment on function public.suppress_email_address(email text, reason text, detail jsonb) is 'No more mail to this address (bounce, complaint, unsubscribed). Service role only.';

revoke all on function public.suppress_email_address(email text, reason text, detail jsonb) from public;
revoke all on function public.suppress_email_address(email text, reason text, detail jsonb) from anon, authenticated;
grant all on function public.suppress_email_address(email text, reason text, detail jsonb) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger push_subscriptions_fresh_id_for_unseen_row before insert on public.push_subscriptions for each row execute function private.fresh_id_for_unseen_row();

create trigger push_subscriptions_guard_immutable_columns before update on public.push_subscriptions for each row execute function private.guard_immutable_columns('id', 'user_id', 'endpoint', 'p256dh', 'auth');

create trigger push_subscriptions_limit_bulk_insert after insert on public.push_subscriptions referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger push_subscriptions_set_updated_at before insert or update on public.push_subscriptions for each row execute function private.set_updated_at();

create trigger notifications_fan_out after insert on public.notifications referencing new table as inserted for each statement execute function private.fan_out_notification();

create trigger notification_preferences_defaults before insert on public.notification_preferences for each row execute function private.notification_preference_defaults();

create trigger notification_preferences_fresh_id_for_unseen_row before insert on public.notification_preferences for each row execute function private.fresh_id_for_unseen_row();

create trigger notification_preferences_guard_immutable_columns before update on public.notification_preferences for each row execute function private.guard_immutable_columns('id', 'user_id', 'type');

create trigger notification_preferences_limit_bulk_insert after insert on public.notification_preferences referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger notification_preferences_set_updated_at before insert or update on public.notification_preferences for each row execute function private.set_updated_at();

create trigger notification_deliveries_forget_token after update of status on public.notification_deliveries for each row when ((new.status = any (array['sent'::public.delivery_status, 'failed'::public.delivery_status]))) execute function private.forget_invitation_mail_token();

create trigger notification_deliveries_guard_worker_columns before insert or update on public.notification_deliveries for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'skipped_reason', 'provider_message_id');

create trigger notification_digests_guard_worker_columns before insert or update on public.notification_digests for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'skipped_reason', 'provider_message_id', 'item_count');

create trigger notification_digests_set_updated_at before insert or update on public.notification_digests for each row execute function private.set_updated_at();

create trigger notification_deliveries_set_updated_at before insert or update on public.notification_deliveries for each row execute function private.set_updated_at();
