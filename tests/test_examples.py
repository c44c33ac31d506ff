"""The scripts in examples/ run against the local stack as a frontend developer runs them,
knowing only API_URL and ANON_KEY, and end with the uploaded file listed as ready."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.support import Stack

EXAMPLES = {
    "supabase-js": lambda: [shutil.which("node") or "node", "examples/quickstart.mjs"],
    "supabase-py": lambda: [sys.executable, "examples/quickstart.py"],
}


@pytest.mark.parametrize("sdk", sorted(EXAMPLES))
def test_example_signs_up_creates_a_project_uploads_and_lists_a_file(
    stack: Stack, sdk: str
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SUPABASE_", "SERVICE_ROLE", "JWT_", "DB_URL"))
    }
    env.update(API_URL=stack.env["API_URL"], ANON_KEY=stack.env["ANON_KEY"])
    result = subprocess.run(
        EXAMPLES[sdk](),
        cwd=stack.cfg.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"signed up: example-[0-9a-f]{8}@example\.test", lines[0]), lines
    assert lines[1] == "project: Example project"
    assert lines[2:] == ["file: /notes/hello.txt 23 bytes ready"]


def test_example_without_the_settings_says_what_to_set(stack: Stack) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("API_URL", "ANON_KEY")}
    result = subprocess.run(
        EXAMPLES["supabase-py"](),
        cwd=stack.cfg.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "set API_URL and ANON_KEY" in result.stderr


def test_chat_example_two_people_see_each_others_typing_presence_and_messages(
    stack: Stack,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SUPABASE_", "SERVICE_ROLE", "JWT_", "DB_URL"))
    }
    env.update(API_URL=stack.env["API_URL"], ANON_KEY=stack.env["ANON_KEY"])
    result = subprocess.run(
        [shutil.which("node") or "node", "examples/chat.mjs"],
        cwd=stack.cfg.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "here: Ada, Ben",
        "Ben sees: Ada is typing",
        "Ben reads: Hi Ben, launch on Friday?",
        "Ada sees: Ben is typing",
        "Ada reads: Friday works.",
    ]
