// supabase-js against the local stack: sign up (confirming the address with the code of the
// confirmation mail, read from the local inbox), create a project, upload a file through the
// files function, list the project's files. Knows only API_URL, ANON_KEY and MAILPIT_URL:
//
//   eval "$(make -s status 2>/dev/null)"
//   API_URL=$API_URL ANON_KEY=$ANON_KEY MAILPIT_URL=$MAILPIT_URL node examples/quickstart.mjs
//
// (Node 20 has no global WebSocket, so Realtime gets the `ws` package as its transport.)
import { createHash, randomUUID } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import ws from "ws";

const { API_URL, ANON_KEY } = process.env;
if (!API_URL || !ANON_KEY) {
  console.error("set API_URL and ANON_KEY (eval \"$(make -s status 2>/dev/null)\")");
  process.exit(2);
}
const supabase = createClient(API_URL, ANON_KEY, {
  auth: { persistSession: false },
  realtime: { transport: ws },
});
const fail = (step, error) => {
  console.error(`${step} failed: ${error?.message ?? JSON.stringify(error)}`);
  process.exit(1);
};

// 1. sign up, then confirm the address with the code of the confirmation mail (read from the
//    local inbox through Mailpit's API, as a person reads their mail)
const id = randomUUID().slice(0, 8);
const email = `example-${id}@example.test`;
const { error: signUpError } = await supabase.auth.signUp({
  email,
  password: "example-passw0rd",
  options: { data: { full_name: "Example Person", username: `example_${id}`,
                     persona: "solo_entrepreneur" } },
});
if (signUpError) fail("sign-up", signUpError);
const mailpit = process.env.MAILPIT_URL ?? "http://127.0.0.1:54324";
let code;
for (let i = 0; i < 100 && !code; i++) {
  const found = await (await fetch(
    `${mailpit}/api/v1/search?query=${encodeURIComponent(`to:${email}`)}`)).json();
  if (found.messages_count) {
    const message = await (await fetch(`${mailpit}/api/v1/message/${found.messages[0].ID}`)).json();
    code = message.Text.match(/\b(\d{6})\b/)?.[1];
  }
  if (!code) await new Promise((resolve) => setTimeout(resolve, 200));
}
if (!code) fail("confirmation mail", { message: `no mail to ${email} at ${mailpit}` });
const { data: auth, error: confirmError } = await supabase.auth.verifyOtp({
  email, token: code, type: "signup",
});
if (confirmError) fail("confirm", confirmError);
console.log(`signed up: ${auth.user.email}`);

// 2. a project (the creator becomes its owner)
const { data: project, error: projectError } = await supabase
  .from("projects").insert({ name: "Example project" }).select().single();
if (projectError) fail("create project", projectError);
console.log(`project: ${project.name}`);

// 3. upload: the files function signs an S3 POST for exactly this file
const content = Buffer.from("hello from supabase-js\n");
const { data: signed, error: signError } = await supabase.functions.invoke("files/uploads", {
  body: { project_id: project.id, folder: "/notes", name: "hello.txt", content_type: "text/plain",
          size_bytes: content.length,
          checksum_sha256: createHash("sha256").update(content).digest("hex") },
});
if (signError) fail("sign upload", signError);
const form = new FormData();
Object.entries(signed.upload.fields).forEach(([k, v]) => form.append(k, v));
form.append("file", new Blob([content], { type: "text/plain" }), "hello.txt");  // last
const put = await fetch(signed.upload.url, { method: "POST", body: form });
if (!put.ok) fail("upload", { message: `S3 answered ${put.status}` });

// 4. the row turns ready once the object is checked (S3 event -> files function)
let status = "pending";
for (let i = 0; i < 120 && status === "pending"; i++) {
  await new Promise((r) => setTimeout(r, 250));
  const { data } = await supabase.from("files").select("status").eq("id", signed.file.id).single();
  status = data?.status ?? status;
}
const { data: files, error: listError } = await supabase
  .from("files").select("folder, name, size_bytes, status").eq("project_id", project.id);
if (listError) fail("list files", listError);
for (const f of files) console.log(`file: ${f.folder}/${f.name} ${f.size_bytes} bytes ${f.status}`);
process.exit(status === "ready" ? 0 : 1);
