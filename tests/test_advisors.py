"""Supabase's own linter (`supabase db advisors`) reports nothing on our schema beyond the
checked-in allowlist (supabase/advisors-allowlist.json), where each entry says why."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from typing import Any

from devstack import supabase_cli
from tests.support import Stack


def advisors(stack: Stack) -> list[dict[str, Any]]:
    db_url = stack.env["DB_URL"]
    args = ["db", "advisors", "--type", "all", "--level", "info", "--output-format", "json"]
    result = supabase_cli.run(stack.cfg, [*args, f"--remote={db_url}"], db_url)
    report = json.loads(result.stdout[result.stdout.index("{") :])
    return report["results"]


def allowlist(stack: Stack) -> list[dict[str, str]]:
    path = stack.cfg.root / "supabase" / "advisors-allowlist.json"
    return json.loads(path.read_text())["allow"]


def test_every_allowlist_entry_gives_a_reason(stack: Stack) -> None:
    for entry in allowlist(stack):
        assert entry.get("name") and entry.get("cache_key"), entry
        assert len(entry.get("reason", "")) > 20, f"say why {entry['name']} is accepted"


def test_supabase_advisors_find_nothing_outside_the_allowlist(stack: Stack) -> None:
    allowed = allowlist(stack)
    unexplained = [
        f"{finding['level']} {finding['name']}: {finding['detail']}"
        for finding in advisors(stack)
        if not any(
            finding["name"] == entry["name"]
            and fnmatch(finding.get("cacheKey", ""), entry["cache_key"])
            for entry in allowed
        )
    ]
    assert not unexplained, "supabase db advisors:\n" + "\n".join(unexplained)
