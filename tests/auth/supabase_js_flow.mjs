// Drives supabase-js (pinned in package.json) through the local stack's Auth and PostgREST,
// as a frontend would, knowing only API_URL and ANON_KEY (SERVICE_ROLE_KEY for the admin
// step, MAILPIT_URL to read the mail Auth sends, as a person reads their inbox). Prints one
// JSON object of what each step answered; tests/auth/test_sdk_clients.py checks it. Node 20
// has no global WebSocket: realtime gets the `ws` package.
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const { API_URL, ANON_KEY, SERVICE_ROLE_KEY, RUN_ID, MAILPIT_URL } = process.env;
const options = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: ws },
};
const client = () => createClient(API_URL, ANON_KEY, options);
const err = (error) =>
  error && { name: error.name, status: error.status, code: error.code, message: error.message,
             reasons: error.reasons };

// the newest `count`-th mail to `to` (Mailpit's API), with its link and 6-digit code
const mailTo = async (to, count = 1) => {
  for (let i = 0; i < 100; i++) {
    const found = await (await fetch(
      `${MAILPIT_URL}/api/v1/search?query=${encodeURIComponent(`to:${to}`)}`)).json();
    if (found.messages_count >= count) {
      const message = await (await fetch(
        `${MAILPIT_URL}/api/v1/message/${found.messages[0].ID}`)).json();
      const link = message.HTML.match(/href="([^"]+\/verify\?[^"]+)"/)[1].replaceAll("&amp;", "&");
      return { subject: message.Subject, link, code: message.Text.match(/\b(\d{6})\b/)[1] };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no mail to ${to}`);
};
const REDIRECT = "http://127.0.0.1:3000/welcome";

const out = {};
const email = `js-${RUN_ID}@example.test`;
const password = "a-long-enough-passw0rd";
const username = `js_${RUN_ID}`;

const app = client();
const signUp = await app.auth.signUp({
  email, password,
  options: { data: { full_name: "Jay Script", username, persona: "project_admin" },
             emailRedirectTo: REDIRECT },
});
out.signUp = { error: err(signUp.error), hasSession: !!signUp.data.session,
               userId: signUp.data.user?.id };
// the confirmation mail: its code proves the address and signs in
const confirmation = await mailTo(email);
const confirmed = await app.auth.verifyOtp({ email, token: confirmation.code, type: "signup" });
out.confirm = { error: err(confirmed.error), hasSession: !!confirmed.data.session,
                confirmed: !!confirmed.data.user?.email_confirmed_at,
                subject: confirmation.subject,
                redirectsTo: new URL(confirmation.link).searchParams.get("redirect_to") };

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
out.duplicateEmail = { error: err(duplicate.error), hasSession: !!duplicate.data.session,
                       identities: duplicate.data.user?.identities?.length };
const weak = await client().auth.signUp({ email: `weak-${RUN_ID}@example.test`, password: "123" });
out.weakPassword = { error: err(weak.error) };

const admin = createClient(API_URL, SERVICE_ROLE_KEY, options).auth.admin;

// magic link / e-mail code: signInWithOtp, then verifyOtp with the mail's code
const otpEmail = `js-otp-${RUN_ID}@example.test`;
await admin.createUser({ email: otpEmail, password, email_confirm: true });
const otpClient = client();
const otpSent = await otpClient.auth.signInWithOtp({ email: otpEmail,
                                                     options: { shouldCreateUser: false } });
const otpMail = await mailTo(otpEmail);
const otpVerified = await otpClient.auth.verifyOtp({ email: otpEmail, token: otpMail.code,
                                                     type: "email" });
out.otp = { sendError: err(otpSent.error), error: err(otpVerified.error),
            hasSession: !!otpVerified.data.session, subject: otpMail.subject };

// password recovery: resetPasswordForEmail, the mail's code, then updateUser({password})
const lostEmail = `js-lost-${RUN_ID}@example.test`;
await admin.createUser({ email: lostEmail, password, email_confirm: true });
const lost = client();
const reset = await lost.auth.resetPasswordForEmail(lostEmail, { redirectTo: REDIRECT });
const resetMail = await mailTo(lostEmail);
const recovered = await lost.auth.verifyOtp({ email: lostEmail, token: resetMail.code,
                                              type: "recovery" });
const newPassword = "a-new-passw0rd-after-reset";
const changed = await lost.auth.updateUser({ password: newPassword });
const withNew = await client().auth.signInWithPassword({ email: lostEmail, password: newPassword });
out.recovery = { sendError: err(reset.error), error: err(recovered.error),
                 hasSession: !!recovered.data.session, updateError: err(changed.error),
                 signInWithNew: !!withNew.data.session, subject: resetMail.subject };

// secure e-mail change: updateUser({email}) mails both addresses; nothing changes until both
// codes are in
const moverEmail = `js-move-${RUN_ID}@example.test`;
const movedEmail = `js-moved-${RUN_ID}@example.test`;
await admin.createUser({ email: moverEmail, password, email_confirm: true });
const mover = client();
await mover.auth.signInWithPassword({ email: moverEmail, password });
const asked = await mover.auth.updateUser({ email: movedEmail });
const toNew = await mailTo(movedEmail);
const toCurrent = await mailTo(moverEmail);
const stillOld = await mover.auth.getUser();
const first = await mover.auth.verifyOtp({ email: movedEmail, token: toNew.code,
                                           type: "email_change" });
const second = await mover.auth.verifyOtp({ email: moverEmail, token: toCurrent.code,
                                            type: "email_change" });
out.emailChange = { error: err(asked.error), newEmail: asked.data.user?.new_email,
                    emailBefore: stillOld.data.user?.email,
                    firstError: err(first.error), firstSession: !!first.data.session,
                    secondError: err(second.error), emailAfter: second.data.user?.email };

// PKCE: the mail's link redirects with ?code=, exchangeCodeForSession trades it
const pkceEmail = `js-pkce-${RUN_ID}@example.test`;
await admin.createUser({ email: pkceEmail, password, email_confirm: true });
const pkceClient = createClient(API_URL, ANON_KEY, { ...options,
                                auth: { ...options.auth, flowType: "pkce" } });
await pkceClient.auth.signInWithOtp({ email: pkceEmail,
                                      options: { emailRedirectTo: REDIRECT } });
const pkceMail = await mailTo(pkceEmail);
const followed = await fetch(pkceMail.link, { redirect: "manual" });
const location = new URL(followed.headers.get("location"));
const exchanged = await pkceClient.auth.exchangeCodeForSession(location.searchParams.get("code"));
out.pkce = { status: followed.status, redirect: `${location.origin}${location.pathname}`,
             linkIsPkce: new URL(pkceMail.link).searchParams.get("token").startsWith("pkce_"),
             error: err(exchanged.error), email: exchanged.data.user?.email };

const listed = await admin.listUsers({ page: 1, perPage: 1 });
out.adminList = { error: err(listed.error), users: listed.data.users?.length,
                  total: listed.data.total ?? null };
const deleted = await admin.deleteUser(signUp.data.user.id);
out.adminDelete = { error: err(deleted.error) };
const gone = await admin.getUserById(signUp.data.user.id);
out.adminGetDeleted = { error: err(gone.error) };

console.log(JSON.stringify(out));
process.exit(0);
