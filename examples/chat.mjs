// Two people chatting live with supabase-js against the local stack: Ada and Ben sign up,
// Ada invites Ben to her project, Ben accepts, Ada opens a group conversation with him, and
// both join its private channel `conversation:<id>`: typing (broadcast), who is here
// (presence), messages (postgres_changes, RLS-checked per person). Knows only API_URL and
// ANON_KEY:
//
//   eval "$(make -s status 2>/dev/null)"
//   API_URL=$API_URL ANON_KEY=$ANON_KEY node examples/chat.mjs
import { randomUUID } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const { API_URL, ANON_KEY } = process.env;
if (!API_URL || !ANON_KEY) {
  console.error("set API_URL and ANON_KEY (eval \"$(make -s status 2>/dev/null)\")");
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const must = ({ data, error }) => {
  if (error) throw new Error(JSON.stringify(error));
  return data;
};

async function signUp(name) {
  const supabase = createClient(API_URL, ANON_KEY, {
    auth: { persistSession: false },
    realtime: { transport: ws },
  });
  const id = randomUUID().slice(0, 8);
  const { user } = must(await supabase.auth.signUp({
    email: `${name.toLowerCase()}-${id}@example.test`, password: "a-long-enough-password",
    options: { data: { full_name: name, username: `${name.toLowerCase()}_${id}`,
                       persona: "solo_entrepreneur" } },
  }));
  await supabase.realtime.setAuth(); // the session's token, before the first subscribe
  return { name, supabase, id: user.id };
}

const ada = await signUp("Ada");
const ben = await signUp("Ben");
const project = must(await ada.supabase.from("projects").insert({ name: "Launch" }).select().single());
const invitation = must(await ada.supabase.rpc("invite_project_member",
  { project_id: project.id, role: "editor", user_id: ben.id }));
must(await ben.supabase.rpc("accept_project_invitation", { invitation_id: invitation.id }));
const conversation = must(await ada.supabase.rpc("create_group_conversation",
  { title: "Launch chat", member_ids: [ben.id], project_id: project.id }));

const lines = [];
function join(person) {
  const channel = person.supabase.channel(`conversation:${conversation}`, {
    config: { private: true, presence: { key: person.name } },
  });
  const state = { ready: false, here: [] };
  channel
    .on("presence", { event: "sync" }, () => { state.here = Object.keys(channel.presenceState()).sort(); })
    .on("broadcast", { event: "typing" }, ({ payload }) => lines.push(`${person.name} sees: ${payload.name} is typing`))
    .on("postgres_changes", { event: "INSERT", schema: "public", table: "messages",
                              filter: `conversation_id=eq.${conversation}` },
        ({ new: m }) => {
          if (m.author_id !== person.id) lines.push(`${person.name} reads: ${m.content}`);
        })
    .subscribe(async (status, err) => {
      if (err) throw err;
      if (status === "SUBSCRIBED") { await channel.track({ online: true }); state.ready = true; }
    });
  return { channel, state };
}

const a = join(ada);
const b = join(ben);
const until = async (cond) => { for (let i = 0; i < 400 && !cond(); i++) await sleep(25); };
await until(() => a.state.ready && b.state.ready && a.state.here.length === 2 && b.state.here.length === 2);
console.log(`here: ${a.state.here.join(", ")}`);

async function say(person, channel, content, expect) {
  await channel.send({ type: "broadcast", event: "typing", payload: { name: person.name } });
  must(await person.supabase.from("messages").insert({ conversation_id: conversation, content }));
  await until(() => lines.length >= expect);
}
await say(ada, a.channel, "Hi Ben, launch on Friday?", 2);
await say(ben, b.channel, "Friday works.", 4);
for (const line of lines) console.log(line);
await ada.supabase.removeAllChannels();
await ben.supabase.removeAllChannels();
process.exit(0);
