-- Per-request cost of the list helpers, before and after
-- the helpers now in supabase/schemas/ and the request hook, measured in SQL (no HTTP,
-- no load tool): each iteration does what one list request does in Postgres before its
-- index scan. "before": is_active_user() + the old my_project_ids()/my_conversation_ids()
-- (copied into a scratch schema, rolled back); "after": the db-pre-request hook + the new
-- helper. Three rounds, microseconds per request. `.venv/bin/python -m bench.helper_cost`
-- runs it on the bench database (`make bench` builds it) as a member with many projects
-- and conversations (:'uid').

begin;
create schema scratch;
grant usage on schema scratch to authenticated;
create function scratch.old_my_project_ids() returns setof uuid language plpgsql stable security definer set search_path = '' as $$
begin return query select pm.project_id from public.project_members pm join public.projects p on p.id = pm.project_id where pm.user_id = (select auth.uid()) and p.deleted_at is null; end $$;
create function scratch.old_my_conversation_ids() returns setof uuid language plpgsql stable security definer set search_path = '' as $$
begin return query select cm.conversation_id from public.conversation_members cm where cm.user_id = (select auth.uid()); end $$;
grant execute on all functions in schema scratch to authenticated;
select set_config('request.jwt.claims', '{"iss":"http://127.0.0.1:55201/auth/v1","sub":"' || :'uid' || '","aud":"authenticated","exp":1999999999,"iat":1700000000,"email":"x@example.test","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp":1700000000}],"session_id":"3c8f64d3-23f6-46ac-859e-1aa840d62ffc","is_anonymous":false,"user_role":"user"}', true) is not null as claims;
set local role authenticated;
do $$
declare t0 timestamptz; n int := 5000; a boolean; b uuid[]; r int; results text := '';
begin
  for r in 1..3 loop
    perform set_config('request.jwt.claim.sub', '', true);
    t0 := clock_timestamp();
    for i in 1..n loop a := private.is_active_user(); b := array(select scratch.old_my_project_ids()); end loop;
    results := results || format(E'\nbefore, tasks: %s us', round(extract(epoch from clock_timestamp()-t0)*1e6/n, 1));
    t0 := clock_timestamp();
    for i in 1..n loop a := private.is_active_user(); b := array(select scratch.old_my_conversation_ids()); end loop;
    results := results || format(E'\nbefore, messages: %s us', round(extract(epoch from clock_timestamp()-t0)*1e6/n, 1));
    t0 := clock_timestamp();
    for i in 1..n loop perform private.limit_concurrent_requests(); b := array(select private.my_project_ids()); end loop;
    results := results || format(E'\nafter (hook + helper), tasks: %s us', round(extract(epoch from clock_timestamp()-t0)*1e6/n, 1));
    t0 := clock_timestamp();
    for i in 1..n loop perform private.limit_concurrent_requests(); b := array(select private.my_conversation_ids()); end loop;
    results := results || format(E'\nafter (hook + helper), messages: %s us', round(extract(epoch from clock_timestamp()-t0)*1e6/n, 1));
  end loop;
  raise notice '%', results;
end $$;
rollback;
