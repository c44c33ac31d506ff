// supabase-js (pinned in package.json) on the local Realtime server, as two members of a
// conversation and one outsider would use it. Tokens come from the test (env); prints one
// JSON object of what each person saw; tests/realtime/test_sdk_realtime.py checks it.
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const { API_URL, ANON_KEY, CONVERSATION, PROJECT } = process.env;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (cond, ms = 8000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
};

function person(token) {
  const p = { token };
  p.client = createClient(API_URL, ANON_KEY, {
    accessToken: async () => p.token,
    realtime: { transport: ws },
  });
  return p;
}

function watch(p, name, topic, opts = {}) {
  const seen = { status: [], broadcast: [], changes: [], presence: [], system: [] };
  const channel = p.client.channel(topic, {
    config: { private: true, broadcast: { self: false, ack: !!opts.ack }, presence: { key: name } },
  });
  channel
    .on("broadcast", { event: "*" }, (m) => seen.broadcast.push({ event: m.event, payload: m.payload }))
    .on("presence", { event: "sync" }, () => seen.presence.push(Object.keys(channel.presenceState()).sort()))
    .on("system", {}, (m) => seen.system.push(m));
  if (opts.changes) {
    channel
      .on("postgres_changes", { event: "*", schema: "public", table: "messages",
                                filter: `conversation_id=eq.${CONVERSATION}` },
          (c) => seen.changes.push({ table: c.table, type: c.eventType, content: c.new?.content }))
      .on("postgres_changes", { event: "UPDATE", schema: "public", table: "conversation_members",
                                filter: `conversation_id=eq.${CONVERSATION}` },
          (c) => seen.changes.push({ table: c.table, type: c.eventType,
                                     read: !!c.new?.last_read_at, user: c.new?.user_id }));
  }
  channel.subscribe((status, err) => seen.status.push(err ? `${status}: ${err.message}` : status));
  return { channel, seen };
}

const alice = person(process.env.ALICE_TOKEN);
const bob = person(process.env.BOB_TOKEN);
const outsider = person(process.env.OUTSIDER_TOKEN);
const topic = `conversation:${CONVERSATION}`;
const out = {};

// as the docs say: hand the token to Realtime before the first subscribe
for (const p of [alice, bob, outsider]) await p.client.realtime.setAuth();
const a = watch(alice, "alice", topic, { changes: true });
const b = watch(bob, "bob", topic, { changes: true });
const o = watch(outsider, "outsider", topic, { changes: true });
await until(() => a.seen.status.includes("SUBSCRIBED") && b.seen.status.includes("SUBSCRIBED"));
await until(() => o.seen.status.length > 0);
await until(() => a.seen.system.length > 0 && b.seen.system.length > 0);

// presence: bob is here, alice sees him
await b.channel.track({ online: true });
await a.channel.track({ online: true });
out.presenceSeenByAlice = await until(() => a.seen.presence.some((k) => k.includes("bob")));

// typing broadcast (binary frame over vsn 2.0.0)
await a.channel.send({ type: "broadcast", event: "typing", payload: { who: "alice" } });
await until(() => b.seen.broadcast.length > 0);

// a message, its edit, and bob's read receipt, through PostgREST as each person
const inserted = await alice.client.from("messages")
  .insert({ conversation_id: CONVERSATION, content: "hello bob" }).select("id").single();
out.insertError = inserted.error;
await until(() => b.seen.changes.some((c) => c.type === "INSERT"));
const edit = await alice.client.from("messages")
  .update({ content: "hello bob (edited)" })
  .eq("id", inserted.data.id);
out.editError = edit.error;
await until(() => b.seen.changes.some((c) => c.type === "UPDATE"));
const bobId = JSON.parse(Buffer.from(bob.token.split(".")[1], "base64url")).sub;
const read = await bob.client.from("conversation_members")
  .update({ last_read_at: new Date().toISOString() })
  .eq("conversation_id", CONVERSATION).eq("user_id", bobId);
out.readError = read.error;
await until(() => a.seen.changes.some((c) => c.table === "conversation_members"));

// the HTTP broadcast endpoint
out.httpSend = await a.channel.httpSend("note", { via: "http" });
await until(() => b.seen.broadcast.some((m) => m.event === "note"));

// a viewer joins the project channel (it may read) but cannot send on it
const pv = watch(bob, "bob", `project:${PROJECT}`, { ack: true });
const pa = watch(alice, "alice", `project:${PROJECT}`);
await until(() => pv.seen.status.includes("SUBSCRIBED") && pa.seen.status.includes("SUBSCRIBED"));
out.viewerProjectSend = await pv.channel.send({ type: "broadcast", event: "task_changed",
                                                  payload: { forged: true } });
await sleep(300);
out.projectBroadcastsSeen = pa.seen.broadcast.length;

// bob is removed from the conversation while subscribed
const removed = await alice.client.from("conversation_members").delete()
  .eq("conversation_id", CONVERSATION).eq("user_id", bobId);
out.removeError = removed.error;
const before = b.seen.changes.length;
await alice.client.from("messages").insert({ conversation_id: CONVERSATION, content: "after bob left" });
await until(() => a.seen.changes.filter((c) => c.type === "INSERT").length >= 2);
await sleep(800);
out.bobChangesAfterRemoval = b.seen.changes.slice(before);
// his next token refresh closes the channel with the hosted message
bob.token = process.env.BOB_TOKEN_2;
await bob.client.realtime.setAuth();
await until(() => b.seen.system.some((m) => m.status === "error"));
await sleep(200);
out.bobClosedWith = b.seen.system.filter((m) => m.status === "error").map((m) => m.message);
out.bobChannelState = b.channel.state;

out.alice = a.seen;
out.bob = b.seen;
out.outsider = o.seen;
for (const p of [alice, bob, outsider]) await p.client.removeAllChannels();
console.log(JSON.stringify(out));
process.exit(0);
