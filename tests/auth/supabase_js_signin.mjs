// Drives supabase-js (pinned in package.json) through local Auth's MFA and anonymous
// sign-ins as a frontend would: signInAnonymously, updateUser({email}) and the mail's code to keep the account,
// mfa.enroll / challenge / verify with a TOTP code computed here (RFC 6238, as an
// authenticator app does), getAuthenticatorAssuranceLevel before and after, listFactors,
// unenroll. Prints one JSON object; tests/auth/test_signin_sdk.py checks it.
import { createHmac } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const { API_URL, ANON_KEY, RUN_ID } = process.env;
// Node 20 has no global WebSocket: realtime gets the `ws` package
const options = { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
                  realtime: { transport: ws } };
const err = (error) => error && { name: error.name, status: error.status, code: error.code, message: error.message };

function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of text.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const digest = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0xf;
  const value = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, "0");
}

const out = {};
const app = createClient(API_URL, ANON_KEY, options);

const anon = await app.auth.signInAnonymously({ options: { data: { from: "js" } } });
out.anonymous = { error: err(anon.error), isAnonymous: anon.data.user?.is_anonymous,
                  claim: JSON.parse(Buffer.from(anon.data.session.access_token.split(".")[1], "base64url")).is_anonymous };
const email = `js-signin-${RUN_ID}@example.test`;
const asked = await app.auth.updateUser({ email });
// confirmations on: the address counts once the code of its mail (the local inbox) is given
const { MAILPIT_URL } = process.env;
const found = await (await fetch(`${MAILPIT_URL}/api/v1/search?query=${encodeURIComponent(`to:${email}`)}`)).json();
const mail = found.messages?.length
  ? await (await fetch(`${MAILPIT_URL}/api/v1/message/${found.messages[0].ID}`)).json() : { Text: "" };
const mailCode = (mail.Text.match(/\b(\d{6})\b/) || [])[1];
const confirmed = await app.auth.verifyOtp({ email, token: mailCode, type: "email_change" });
const kept = await app.auth.getUser();
out.keep = { error: err(asked.error || confirmed.error || kept.error),
             isAnonymous: kept.data.user?.is_anonymous, email: kept.data.user?.email };
const pw = await app.auth.updateUser({ password: "a-long-enough-passw0rd" });
out.password = { error: err(pw.error) };

const before = await app.auth.mfa.getAuthenticatorAssuranceLevel();
out.aalBefore = before.data && { current: before.data.currentLevel, next: before.data.nextLevel };
const enrolled = await app.auth.mfa.enroll({ factorType: "totp", friendlyName: "js phone" });
out.enroll = { error: err(enrolled.error), type: enrolled.data?.type,
               qrPrefix: enrolled.data?.totp.qr_code.slice(0, 30), uri: enrolled.data?.totp.uri };
const factorId = enrolled.data.id;
const challenge = await app.auth.mfa.challenge({ factorId });
out.challenge = { error: err(challenge.error), hasId: !!challenge.data?.id };
const wrong = await app.auth.mfa.verify({ factorId, challengeId: challenge.data.id,
  code: totp(enrolled.data.totp.secret) === "000000" ? "111111" : "000000" });
out.wrongCode = { error: err(wrong.error) };
const verified = await app.auth.mfa.verify({ factorId, challengeId: challenge.data.id,
                                             code: totp(enrolled.data.totp.secret) });
out.verify = { error: err(verified.error) };
const after = await app.auth.mfa.getAuthenticatorAssuranceLevel();
out.aalAfter = after.data && { current: after.data.currentLevel, next: after.data.nextLevel,
  methods: after.data.currentAuthenticationMethods.map((m) => m.method) };
const listed = await app.auth.mfa.listFactors();
out.factors = { error: err(listed.error), totp: listed.data?.totp.map((f) => f.status) };

// a fresh password sign-in is aal1 with aal2 next, and challengeAndVerify lifts it
const second = createClient(API_URL, ANON_KEY, options);
await second.auth.signInWithPassword({ email, password: "a-long-enough-passw0rd" });
const fresh = await second.auth.mfa.getAuthenticatorAssuranceLevel();
out.aalFresh = fresh.data && { current: fresh.data.currentLevel, next: fresh.data.nextLevel };
const cv = await second.auth.mfa.challengeAndVerify({ factorId, code: totp(enrolled.data.totp.secret) });
out.challengeAndVerify = { error: err(cv.error) };
const un = await second.auth.mfa.unenroll({ factorId });
out.unenroll = { error: err(un.error), id: un.data?.id === factorId };

// signInWithOAuth (PKCE) followed by hand through the redirects, then exchangeCodeForSession
const site = "http://127.0.0.1:3000";
const oauth = createClient(API_URL, ANON_KEY, { ...options, auth: { ...options.auth, flowType: "pkce" } });
const started = await oauth.auth.signInWithOAuth({ provider: "github", options: {
  redirectTo: `${site}/auth/callback`, skipBrowserRedirect: true, queryParams: { login: `js-${RUN_ID}` } } });
let url = started.data.url;
for (let hop = 0; hop < 5 && !url.startsWith(site); hop++) {
  const response = await fetch(url, { redirect: "manual", headers: { apikey: ANON_KEY } });
  url = response.headers.get("location");
}
const code = new URL(url).searchParams.get("code");
const exchanged = await oauth.auth.exchangeCodeForSession(code);
out.oauth = { error: err(exchanged.error), hasCode: !!code,
              provider: exchanged.data.user?.app_metadata.provider,
              identities: exchanged.data.user?.identities.map((i) => i.provider),
              providerToken: !!exchanged.data.session?.provider_token };
const replay = await oauth.auth.exchangeCodeForSession(code);
out.oauthReplay = { error: err(replay.error) };

console.log(JSON.stringify(out));
