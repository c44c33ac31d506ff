// Drives supabase-js (pinned in package.json) through the local stack's Auth and PostgREST,
// as a frontend would, knowing only API_URL and ANON_KEY (SERVICE_ROLE_KEY for the admin
// step). Prints one JSON object of what each step answered; tests/auth/test_sdk_clients.py
// checks it. Node 20 has no global WebSocket: realtime gets the `ws` package.
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const { API_URL, ANON_KEY, SERVICE_ROLE_KEY, RUN_ID } = process.env;
const options = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: ws },
};
const client = () => createClient(API_URL, ANON_KEY, options);
const err = (error) =>
  error && { name: error.name, status: error.status, code: error.code, message: error.message,
             reasons: error.reasons };

const out = {};
const email = `js-${RUN_ID}@example.test`;
const password = "a-long-enough-password";
const username = `js_${RUN_ID}`;

const app = client();
const signUp = await app.auth.signUp({
  email, password,
  options: { data: { full_name: "Jay Script", username, persona: "project_admin" } },
});
out.signUp = { error: err(signUp.error), hasSession: !!signUp.data.session,
               userId: signUp.data.user?.id };

const profile = await app.from("profiles").select("id, username, full_name, persona");
out.profiles = { error: profile.error, rows: profile.data };

// a write RLS allows (own profile) and one it refuses (someone else's role)
const renamed = await app.from("profiles").update({ full_name: "Jay Renamed" })
  .eq("id", signUp.data.user.id).select("full_name");
out.updateOwnProfile = { error: renamed.error, rows: renamed.data };
const escalate = await app.from("user_roles").update({ role: "admin" })
  .eq("user_id", signUp.data.user.id).select();
out.escalate = { error: escalate.error && { code: escalate.error.code }, rows: escalate.data };

const other = client();
const signIn = await other.auth.signInWithPassword({ email, password });
out.signIn = { error: err(signIn.error), hasSession: !!signIn.data.session };
const before = signIn.data.session;
const refreshed = await other.auth.refreshSession();
out.refresh = { error: err(refreshed.error),
                rotated: refreshed.data.session?.refresh_token !== before?.refresh_token,
                sameUser: refreshed.data.user?.id === before?.user.id };
const user = await other.auth.getUser();
out.getUser = { error: err(user.error), email: user.data.user?.email };

const signOut = await other.auth.signOut();  // scope global: every session of the user
out.signOut = { error: err(signOut.error) };
const dead = await client().auth.refreshSession({
  refresh_token: refreshed.data.session.refresh_token,
});
out.refreshAfterSignOut = { error: err(dead.error), hasSession: !!dead.data.session };

const wrong = await client().auth.signInWithPassword({ email, password: "not-the-password" });
out.wrongPassword = { error: err(wrong.error) };
const duplicate = await client().auth.signUp({ email, password });
out.duplicateEmail = { error: err(duplicate.error) };
const weak = await client().auth.signUp({ email: `weak-${RUN_ID}@example.test`, password: "123" });
out.weakPassword = { error: err(weak.error) };

const admin = createClient(API_URL, SERVICE_ROLE_KEY, options).auth.admin;
const listed = await admin.listUsers({ page: 1, perPage: 1 });
out.adminList = { error: err(listed.error), users: listed.data.users?.length,
                  total: listed.data.total ?? null };
const deleted = await admin.deleteUser(signUp.data.user.id);
out.adminDelete = { error: err(deleted.error) };
const gone = await admin.getUserById(signUp.data.user.id);
out.adminGetDeleted = { error: err(gone.error) };

console.log(JSON.stringify(out));
process.exit(0);
