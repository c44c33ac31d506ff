// Team chat in the browser on supabase-js: sign in, pick a conversation, send; the other
// people's messages (postgres_changes, RLS-checked per person), typing (broadcast) and who is
// here (presence) arrive live on the private channel `conversation:<id>`. The same code runs
// against a hosted project: only window.CHAT_CONFIG ({ url, anonKey }) changes.
// (one function scope: the bundle already owns the global name `supabase`)
(() => {
  "use strict";

  const { url, anonKey } = window.CHAT_CONFIG;
  const supabase = window.supabase.createClient(url, anonKey);
  const $ = (id) => document.getElementById(id);
  const TYPING_EVERY_MS = 2000; // at most one typing broadcast per 2 s while writing
  const TYPING_SHOWN_MS = 3000;

  const state = {
    user: null,
    conversation: null, // { id, title }
    channel: null,
    names: new Map(), // user id -> display name
    shown: new Set(), // message ids on screen
    lastTyping: 0,
    typingTimers: new Map(),
  };
  window.chat = { supabase, state }; // for the browser test and the console

  function show(el, visible) {
    el.hidden = !visible;
  }

  function setStatus(text, value) {
    $("status").textContent = text;
    $("status").dataset.state = value;
  }

  function nameOf(userId) {
    return state.names.get(userId) || "someone";
  }

  // -- sign in / out ------------------------------------------------------------------------

  $("sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    const { error } = await supabase.auth.signInWithPassword({
      email: $("email").value.trim(),
      password: $("password").value,
    });
    if (error) $("sign-in-error").textContent = error.message;
  });

  $("sign-out").addEventListener("click", async () => {
    await leaveConversation();
    await supabase.auth.signOut();
  });

  supabase.auth.onAuthStateChange((event, session) => {
    const user = session ? session.user : null;
    if ((user && user.id) === (state.user && state.user.id)) return; // a token refresh
    state.user = user;
    // work outside the auth callback (auth-js holds a lock while it runs)
    setTimeout(() => (user ? signedIn(user) : signedOut()), 0);
  });

  async function signedIn(user) {
    show($("sign-in"), false);
    show($("chat"), true);
    show($("sign-out"), true);
    $("me").textContent = user.email;
    await loadConversations();
  }

  function signedOut() {
    show($("sign-in"), true);
    show($("chat"), false);
    show($("sign-out"), false);
    $("me").textContent = "";
    $("conversations").replaceChildren();
  }

  // -- conversations ------------------------------------------------------------------------

  async function loadConversations() {
    const { data, error } = await supabase
      .from("conversations")
      .select("id, title, kind")
      .is("deleted_at", null)
      .order("updated_at", { ascending: false });
    if (error) {
      setStatus(error.message, "error");
      return;
    }
    $("conversations").replaceChildren(
      ...data.map((c) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = c.title || "Direct conversation";
        button.dataset.id = c.id;
        button.addEventListener("click", () => openConversation(c));
        item.append(button);
        return item;
      }),
    );
  }

  async function leaveConversation() {
    if (state.channel) await supabase.removeChannel(state.channel);
    state.channel = null;
    state.conversation = null;
  }

  async function openConversation(conversation) {
    await leaveConversation();
    state.conversation = conversation;
    state.shown.clear();
    $("title").textContent = conversation.title || "Direct conversation";
    $("messages").replaceChildren();
    $("here").textContent = "";
    $("typing").textContent = "";
    show($("composer"), true);
    setStatus("connecting…", "connecting");
    await loadNames(conversation.id);
    await loadMessages(conversation.id);
    subscribe(conversation.id);
  }

  async function loadNames(conversationId) {
    const { data: members } = await supabase
      .from("conversation_members")
      .select("user_id")
      .eq("conversation_id", conversationId);
    const ids = (members || []).map((m) => m.user_id);
    if (!ids.length) return;
    const { data: people } = await supabase
      .from("profiles")
      .select("id, full_name, username")
      .in("id", ids);
    for (const p of people || []) state.names.set(p.id, p.full_name || p.username || "someone");
  }

  async function loadMessages(conversationId) {
    const { data, error } = await supabase
      .from("messages")
      .select("id, author_id, content, created_at, edited_at")
      .eq("conversation_id", conversationId)
      .order("created_at", { ascending: false })
      .limit(50);
    if (error) {
      setStatus(error.message, "error");
      return;
    }
    for (const message of data.reverse()) render(message);
  }

  function render(message) {
    const existing = document.querySelector(`#messages li[data-id="${message.id}"]`);
    const item = existing || document.createElement("li");
    item.dataset.id = message.id;
    item.dataset.author = message.author_id;
    item.className = message.author_id === state.user.id ? "mine" : "theirs";
    const who = document.createElement("b");
    who.textContent = message.author_id === state.user.id ? "You" : nameOf(message.author_id);
    const text = document.createElement("span");
    text.className = "content";
    text.textContent = message.content + (message.edited_at ? " (edited)" : "");
    item.replaceChildren(who, text);
    if (!existing) $("messages").append(item);
    state.shown.add(message.id);
    item.scrollIntoView({ block: "end" });
  }

  // -- live: messages, typing, presence -------------------------------------------------------

  function subscribe(conversationId) {
    const me = state.user.id;
    const channel = supabase.channel(`conversation:${conversationId}`, {
      config: { private: true, presence: { key: me } },
    });
    const filter = `conversation_id=eq.${conversationId}`;
    channel
      .on("postgres_changes", { event: "INSERT", schema: "public", table: "messages", filter },
          ({ new: message }) => {
            stopTyping(message.author_id);
            render(message);
          })
      .on("postgres_changes", { event: "UPDATE", schema: "public", table: "messages", filter },
          ({ new: message }) => render(message))
      .on("broadcast", { event: "typing" }, ({ payload }) => {
        if (payload && payload.user_id !== me) startTyping(payload.user_id, payload.name);
      })
      .on("presence", { event: "sync" }, () => {
        const here = Object.entries(channel.presenceState()).map(
          ([id, metas]) => (id === me ? "you" : (metas[0] && metas[0].name) || nameOf(id)),
        );
        $("here").textContent = `Here: ${here.sort().join(", ")}`;
        $("here").dataset.count = String(here.length);
      })
      .on("system", {}, (message) => {
        // the server closes the channel with a system error (a token that lost the topic)
        if (message.status === "error") setStatus(message.message, "closed");
      })
      .subscribe(async (status, err) => {
        if (status === "SUBSCRIBED") {
          setStatus("live", "SUBSCRIBED");
          await channel.track({ name: nameOf(me), online_at: new Date().toISOString() });
        } else if ($("status").dataset.state !== "closed") {
          setStatus(err ? `${status}: ${err.message}` : status.toLowerCase(), status);
        }
      });
    state.channel = channel;
  }

  function startTyping(userId, name) {
    $("typing").textContent = `${name || nameOf(userId)} is typing…`;
    $("typing").dataset.user = userId;
    clearTimeout(state.typingTimers.get(userId));
    state.typingTimers.set(userId, setTimeout(() => stopTyping(userId), TYPING_SHOWN_MS));
  }

  function stopTyping(userId) {
    clearTimeout(state.typingTimers.get(userId));
    if ($("typing").dataset.user === userId) {
      $("typing").textContent = "";
      delete $("typing").dataset.user;
    }
  }

  $("text").addEventListener("input", () => {
    const now = Date.now();
    if (!state.channel || now - state.lastTyping < TYPING_EVERY_MS) return;
    state.lastTyping = now;
    state.channel.send({
      type: "broadcast",
      event: "typing",
      payload: { user_id: state.user.id, name: nameOf(state.user.id) },
    });
  });

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = $("text").value.trim();
    if (!content || !state.conversation) return;
    const { data, error } = await supabase
      .from("messages")
      .insert({ conversation_id: state.conversation.id, content })
      .select("id, author_id, content, created_at, edited_at")
      .single();
    if (error) {
      setStatus(error.message, "error");
      return;
    }
    $("text").value = "";
    state.lastTyping = 0;
    render(data);
  });
})();
