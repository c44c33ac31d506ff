"""The soak's traffic (locust): people reading and writing through the gateway.

Run by ``bench/soak.py`` (``make soak``), which prepares the people and passes them in
``SOAK_PEOPLE`` (a JSON file: token, project, conversation, files bucket form). Each locust
user is one person; the weights make a day's mix: mostly reads, some writes, chat, an
upload now and then, a document generation and a webhook delivery rarely.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

PEOPLE: list[dict[str, Any]] = json.loads(Path(os.environ["SOAK_PEOPLE"]).read_text())
_next = itertools.count()


class Person(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.me = PEOPLE[next(_next) % len(PEOPLE)]
        self.client.headers.update(
            {"apikey": self.me["anon_key"], "Authorization": f"Bearer {self.me['token']}"}
        )

    # -- PostgREST: reads ------------------------------------------------------------------
    @task(4)
    def my_projects(self) -> None:
        self.client.get("/rest/v1/projects?select=id,name,status", name="read: my projects")

    @task(4)
    def project_tasks(self) -> None:
        self.client.get(
            f"/rest/v1/tasks?project_id=eq.{self.me['project_id']}&select=id,title,status"
            "&order=created_at.desc&limit=50",
            name="read: a project's tasks",
        )

    @task(3)
    def conversation_messages(self) -> None:
        self.client.get(
            f"/rest/v1/messages?conversation_id=eq.{self.me['conversation_id']}"
            "&select=id,content,created_at&order=created_at.desc&limit=50",
            name="read: a conversation's messages",
        )

    @task(2)
    def notifications(self) -> None:
        self.client.get(
            "/rest/v1/notifications?select=id,type,read_at&order=created_at.desc&limit=20",
            name="read: my notifications",
        )

    # -- PostgREST: writes -----------------------------------------------------------------
    @task(2)
    def create_task(self) -> None:
        self.client.post(
            "/rest/v1/tasks",
            json={"project_id": self.me["project_id"], "title": f"soak {uuid.uuid4().hex[:8]}"},
            headers={"Prefer": "return=minimal"},
            name="write: create a task",
        )

    @task(2)
    def send_message(self) -> None:
        self.client.post(
            "/rest/v1/messages",
            json={"conversation_id": self.me["conversation_id"], "content": "soak message"},
            headers={"Prefer": "return=minimal"},
            name="write: send a chat message",
        )

    # -- functions -------------------------------------------------------------------------
    @task(1)
    def upload(self) -> None:
        data = f"soak {uuid.uuid4()}".encode()
        body = {
            "project_id": self.me["project_id"],
            "folder": "/soak",
            "name": "soak.txt",
            "content_type": "text/plain",
            "size_bytes": len(data),
            "checksum_sha256": hashlib.sha256(data).hexdigest(),
        }
        signed = self.client.post(
            "/functions/v1/files/uploads", json=body, name="function: sign an upload"
        )
        if signed.status_code != 201:
            return
        form = signed.json()["upload"]
        # straight to S3 with the presigned form (no gateway headers), timed all the same
        self.client.post(
            form["url"],
            data=form["fields"],
            files={"file": ("soak.txt", data, "text/plain")},
            headers={"apikey": None, "Authorization": None},
            name="s3: upload the object",
        )

    @task(1)
    def health(self) -> None:
        self.client.get("/functions/v1/health", name="function: health")

    @task(1)
    def generate_document(self) -> None:
        # rarely: each costs a worker run
        if random.random() > 0.2:
            return
        self.client.post(
            "/functions/v1/documents/generate",
            json={"project_id": self.me["project_id"], "document_type": "prd"},
            name="function: queue a document generation",
        )

    @task(1)
    def database_webhook(self) -> None:
        self.client.post(
            "/functions/v1/files/webhooks/database",
            json={"type": "INSERT", "table": "tasks", "schema": "public", "record": {}},
            headers={"x-webhook-secret": self.me["webhook_secret"]},
            name="function: a database webhook",
        )
