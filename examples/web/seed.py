"""Two people to try the chat page with (examples/web/), against `make up`:

    eval "$(make -s status 2>/dev/null)"
    API_URL=$API_URL ANON_KEY=$ANON_KEY SERVICE_ROLE_KEY=$SERVICE_ROLE_KEY \\
        .venv/bin/python examples/web/seed.py

Ada and Ben get confirmed accounts (the admin API, as a dashboard would make them), Ada
invites Ben to her project, Ben accepts, Ada opens a group conversation with him: all
through the gateway (Auth, PostgREST and the RPCs, as each person). Signs in again when the
accounts exist already. Prints who to sign in as, or one JSON object with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

PASSWORD = "a-long-enough-passw0rd"  # LOCAL DEVELOPMENT ONLY


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        raise SystemExit(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def person(api: httpx.Client, service_key: str, name: str, suffix: str) -> dict[str, Any]:
    """A confirmed account (made once) and a signed-in session."""
    email = f"{name.lower()}{suffix}@example.test"
    made = api.post(
        "/auth/v1/admin/users",
        headers={"Authorization": f"Bearer {service_key}"},
        json={
            "email": email,
            "password": PASSWORD,
            "email_confirm": True,
            "user_metadata": {"full_name": name},
        },
    )
    if made.status_code != 422:  # 422 email_exists: made by an earlier run
        _ok(made)
    session = _ok(
        api.post(
            "/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": email, "password": PASSWORD},
        )
    )
    return {
        "name": name,
        "email": email,
        "password": PASSWORD,
        "id": session["user"]["id"],
        "token": session["access_token"],
    }


def seed(api_url: str, anon_key: str, service_key: str, suffix: str, title: str) -> dict:
    with httpx.Client(base_url=api_url, headers={"apikey": anon_key}, timeout=30) as api:
        ada = person(api, service_key, "Ada", suffix)
        ben = person(api, service_key, "Ben", suffix)

        def as_(who: dict[str, Any]) -> dict[str, str]:
            return {"Authorization": f"Bearer {who['token']}"}

        existing = _ok(
            api.get(
                "/rest/v1/conversations",
                params={"select": "id", "title": f"eq.{title}", "deleted_at": "is.null"},
                headers=as_(ada),
            )
        )
        if existing:
            conversation = existing[0]["id"]
        else:
            project = _ok(
                api.post(
                    "/rest/v1/projects",
                    json={"name": "Launch"},
                    headers={**as_(ada), "Prefer": "return=representation"},
                )
            )[0]
            invitation = _ok(
                api.post(
                    "/rest/v1/rpc/invite_project_member",
                    json={"project_id": project["id"], "role": "editor", "user_id": ben["id"]},
                    headers=as_(ada),
                )
            )
            _ok(
                api.post(
                    "/rest/v1/rpc/accept_project_invitation",
                    json={"invitation_id": invitation["id"]},
                    headers=as_(ben),
                )
            )
            conversation = _ok(
                api.post(
                    "/rest/v1/rpc/create_group_conversation",
                    json={"title": title, "member_ids": [ben["id"]], "project_id": project["id"]},
                    headers=as_(ada),
                )
            )
    people = [{k: p[k] for k in ("name", "email", "password", "id")} for p in (ada, ben)]
    return {"people": people, "conversation": conversation, "title": title}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suffix", default="", help="e-mails ada<suffix>@example.test, ...")
    parser.add_argument("--title", default="Launch chat", help="the conversation's title")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    missing = [n for n in ("API_URL", "ANON_KEY", "SERVICE_ROLE_KEY") if not os.environ.get(n)]
    if missing:
        print(f'set {", ".join(missing)} (eval "$(make -s status 2>/dev/null)")', file=sys.stderr)
        return 2
    result = seed(
        os.environ["API_URL"],
        os.environ["ANON_KEY"],
        os.environ["SERVICE_ROLE_KEY"],
        args.suffix,
        args.title,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for p in result["people"]:
            print(f"sign in as {p['email']} / {p['password']}")
        print(f"conversation: {result['title']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
