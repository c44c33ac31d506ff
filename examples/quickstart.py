"""supabase-py against the local stack: sign up (confirming the address with the code the
confirmation mail carries, read from the local inbox), create a project, upload a file through
the files function, list the project's files. Knows only API_URL, ANON_KEY and MAILPIT_URL:

    eval "$(make -s status 2>/dev/null)"
    API_URL=$API_URL ANON_KEY=$ANON_KEY MAILPIT_URL=$MAILPIT_URL \\
      .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import uuid

import httpx
from supabase import create_client


def mailed_code(mailpit_url: str, email: str) -> str:
    """The 6-digit code of the newest mail to ``email`` (Mailpit's API: the local inbox)."""
    for _ in range(100):
        found = httpx.get(f"{mailpit_url}/api/v1/search", params={"query": f"to:{email}"}).json()
        if found["messages_count"]:
            message = httpx.get(f"{mailpit_url}/api/v1/message/{found['messages'][0]['ID']}")
            match = re.search(r"\b(\d{6})\b", message.json()["Text"])
            if match:
                return match.group(1)
        time.sleep(0.2)
    raise RuntimeError(f"no confirmation mail to {email} at {mailpit_url}")


def main() -> int:
    api_url, anon_key = os.environ.get("API_URL"), os.environ.get("ANON_KEY")
    if not api_url or not anon_key:
        print('set API_URL and ANON_KEY (eval "$(make -s status 2>/dev/null)")', file=sys.stderr)
        return 2
    supabase = create_client(api_url, anon_key)

    # 1. sign up, then confirm the address with the code of the confirmation mail
    run = uuid.uuid4().hex[:8]
    email = f"example-{run}@example.test"
    supabase.auth.sign_up(
        {
            "email": email,
            "password": "example-passw0rd",
            "options": {"data": {"full_name": "Example Person", "username": f"example_{run}"}},
        }
    )
    mailpit_url = os.environ.get("MAILPIT_URL", "http://127.0.0.1:54324")
    code = mailed_code(mailpit_url, email)
    auth = supabase.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    print(f"signed up: {auth.user.email}")

    # 2. a project (the creator becomes its owner)
    project = supabase.table("projects").insert({"name": "Example project"}).execute().data[0]
    print(f"project: {project['name']}")

    # 3. upload: the files function signs an S3 POST for exactly this file
    content = b"hello from supabase-py\n"
    signed = json.loads(
        supabase.functions.invoke(
            "files/uploads",
            {
                "body": {
                    "project_id": project["id"],
                    "folder": "/notes",
                    "name": "hello.txt",
                    "content_type": "text/plain",
                    "size_bytes": len(content),
                    "checksum_sha256": hashlib.sha256(content).hexdigest(),
                }
            },
        )
    )
    upload = signed["upload"]
    posted = httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("hello.txt", content, "text/plain")}
    )
    posted.raise_for_status()

    # 4. the row turns ready once the object is checked (S3 event -> files function)
    status = "pending"
    for _ in range(120):
        row = supabase.table("files").select("status").eq("id", signed["file"]["id"]).execute()
        status = row.data[0]["status"]
        if status != "pending":
            break
        time.sleep(0.25)
    files = (
        supabase.table("files")
        .select("folder, name, size_bytes, status")
        .eq("project_id", project["id"])
        .execute()
        .data
    )
    for f in files:
        print(f"file: {f['folder']}/{f['name']} {f['size_bytes']} bytes {f['status']}")
    return 0 if status == "ready" else 1


if __name__ == "__main__":
    sys.exit(main())
