"""Who may call what: the callable surface, one entry per function PostgREST exposes.

Every function in an exposed schema (PostgREST's ``db-schemas``) that ``anon`` or
``authenticated`` may execute is listed in ``RPCS`` under its identity
(``schema.name(argument types)``), with the arguments a call sends and the answer each role
of the world (``spec.py``) gets. ``test_rpc_surface.py`` fails when the catalog has a
callable function this file does not list (a new RPC, or a changed signature: decide who may
call it and add it here), and checks every (function, role) answer over HTTP.

The answers:

- ``NO_EXECUTE``: the role lacks EXECUTE (42501 "permission denied for function");
- ``refused(code)``: the function runs and refuses with that SQLSTATE (its own check);
- ``EMPTY``: it runs and finds nothing the caller may see (``[]`` or ``null``);
- ``OK``: it runs and does the work (``check`` then proves it in SQL, for void functions).

Branches that add RPCs add their entries here (one block per function, kept in name order).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.rls.spec import P_ADMINS, P_EDITORS, P_MEMBER_WRITERS, P_MEMBERS, ROLES, SIGNED_IN
from tests.rls.world import World

# PostgREST's db-schemas (devstack/postgrest.py), the schemas whose functions are callable
EXPOSED_SCHEMAS = ("public", "graphql_public")


@dataclass(frozen=True)
class Outcome:
    kind: str  # "no execute" | "refused" | "empty" | "ok"
    code: str | None = None

    def __str__(self) -> str:
        return f"refused {self.code}" if self.kind == "refused" else self.kind


NO_EXECUTE = Outcome("no execute", "42501")
EMPTY = Outcome("empty")
OK = Outcome("ok")


def refused(code: str = "42501") -> Outcome:
    return Outcome("refused", code)


Args = Callable[[World, str], dict[str, Any]]
# (world, role, args sent, response body) -> None; asserts the work was done
Check = Callable[[World, str, dict[str, Any], Any], None]


@dataclass(frozen=True)
class Rpc:
    args: Args
    answers: dict[str, Outcome]
    check: Check | None = field(default=None)


def answers(
    ok: frozenset[str] = frozenset(),
    otherwise: Outcome = NO_EXECUTE,
    anon: Outcome = NO_EXECUTE,
    **overrides: Outcome,
) -> dict[str, Outcome]:
    """Each role's answer: ``ok`` roles get OK, anon ``anon``, named roles their override,
    every other role ``otherwise``."""
    out = {role: (OK if role in ok else otherwise) for role in ROLES}
    out["anon"] = anon
    out.update(overrides)
    return out


# -- argument makers (fresh rows per call, so an allowed call always has work to do) ----------


def _deleted_task(w: World, _role: str) -> dict[str, Any]:
    task = w.task(w.project_p)
    w.sql("update public.tasks set deleted_at = now() where id = %s", (task,))
    return {"target_table": "tasks", "target_id": task}


def _restored(w: World, _role: str, args: dict[str, Any], _body: Any) -> None:
    assert w.one("select deleted_at from public.tasks where id = %s", (args["target_id"],)) is None


def _versioned_document(w: World, _role: str) -> dict[str, Any]:
    version = w.version(w.project_p)
    document = w.one("select document_id from public.document_versions where id = %s", (version,))
    return {"document_id": str(document), "version": 1}


def _own_project(w: World, _role: str) -> dict[str, Any]:
    return {"project_id": w.member_project(), "new_owner_id": w.uid("teammate")}


def _transferred(w: World, _role: str, args: dict[str, Any], _body: Any) -> None:
    owner = w.one("select owner_id::text from public.projects where id = %s", (args["project_id"],))
    assert owner == args["new_owner_id"]


def _project_with_activity(w: World, _role: str) -> dict[str, Any]:
    w.activity(w.project_p)
    return {"project_id": w.project_p, "weeks": 1}


def _searchable(w: World, role: str) -> dict[str, Any]:
    w.message(w.conversation_c, w.uid("teammate"))  # content 'hello'
    return {"query": "hello", "in_conversation": w.conversation_c}


def _invitee_into_my_project(w: World, _role: str) -> dict[str, Any]:
    return {"project_id": w.member_project(), "role": "viewer", "user_id": w.new_person()}


def _invited(w: World, _role: str, args: dict[str, Any], body: Any) -> None:
    assert body["invitee_id"] == args["user_id"], body
    status = w.one(
        "select status::text from public.project_invitations where project_id = %s"
        " and invitee_id = %s",
        (args["project_id"], args["user_id"]),
    )
    assert status == "pending"


def _invitation_to_me(w: World, role: str) -> dict[str, Any]:
    """A pending invitation to the caller, sent by the owner of a project they are not in."""
    return {"invitation_id": w.invitation(w.project(w.new_person()), invitee=w.uid(role))}


def _invitation_in_my_project(w: World, _role: str) -> dict[str, Any]:
    return {"invitation_id": w.invitation(w.member_project(), invitee=w.new_person())}


def _status(expected: str) -> Check:
    def check(w: World, _role: str, args: dict[str, Any], body: Any) -> None:
        assert body["status"] == expected, body
        status = w.one(
            "select status::text from public.project_invitations where id = %s",
            (args["invitation_id"],),
        )
        assert status == expected

    return check


def _accepted(w: World, role: str, args: dict[str, Any], body: Any) -> None:
    _status("accepted")(w, role, args, body)
    joined = w.one(
        "select count(*) from public.project_members pm join public.project_invitations i"
        " on i.project_id = pm.project_id where i.id = %s and pm.user_id = %s"
        " and pm.role = 'viewer'",
        (args["invitation_id"], w.uid(role)),
    )
    assert joined == 1


GROUP_WRITERS = P_MEMBER_WRITERS  # members of P who may write start conversations


def _owners_connected_integration(w: World, _role: str) -> dict[str, Any]:
    """A connected integration of P's owner, linked to P (made fresh for each call)."""
    integration_id = w.one(
        "insert into public.integrations (user_id, provider, external_account_id, project_id,"
        " status) values (%s, 'github', %s, %s, 'connected') returning id",
        (w.uid("owner"), uuid.uuid4().hex, w.project_p),
    )
    return {"integration_id": str(integration_id)}


def _owners_repository(w: World, role: str) -> dict[str, Any]:
    return {
        **_owners_connected_integration(w, role),
        "kind": "repository",
        "external_id": f"octo/{uuid.uuid4().hex[:12]}",
    }


def _linked(w: World, _role: str, args: dict[str, Any], body: Any) -> None:
    assert body["external_id"] == args["external_id"], body
    assert (
        w.one("select project_id from public.integration_links where id = %s", (body["id"],))
        is not None
    )


def _asset_job_canceled(w: World, _role: str, args: dict[str, Any], body: Any) -> None:
    assert body == "canceled", body
    status = w.one("select status::text from public.asset_jobs where id = %s", (args["job_id"],))
    assert status == "canceled"


def _sync_queued(w: World, _role: str, args: dict[str, Any], body: Any) -> None:
    status = w.one("select status::text from public.integration_syncs where id = %s", (body["id"],))
    assert status == "queued", body


RPCS: dict[str, Rpc] = {
    # the invitee answers their own invitation, guests too (joining is not a write); a
    # disabled person cannot (is_active_user)
    "public.accept_project_invitation(invitation_id uuid, token text)": Rpc(
        args=_invitation_to_me,
        answers=answers(ok=SIGNED_IN, otherwise=refused()),
        check=_accepted,
    ),
    "public.cancel_asset_job(job_id uuid)": Rpc(
        args=lambda w, r: {"job_id": w.asset_job(w.project_p)},
        # the requester or an admin of the project (the job here has no requester); other members
        # are refused, people who cannot see the job are told it does not exist
        answers=answers(
            ok=P_ADMINS,
            otherwise=refused("22023"),
            guest=refused(),
            viewer=refused(),
            editor=refused(),
            disabled=refused(),
        ),
        check=_asset_job_canceled,
    ),
    "public.create_group_conversation(title text, member_ids uuid[], project_id uuid)": Rpc(
        args=lambda w, r: {
            "title": "spec",
            "member_ids": [w.uid("teammate")],
            "project_id": w.project_p,
        },
        answers=answers(ok=GROUP_WRITERS, otherwise=refused()),
    ),
    "public.decline_project_invitation(invitation_id uuid, token text)": Rpc(
        args=_invitation_to_me,
        answers=answers(ok=SIGNED_IN, otherwise=refused()),
        check=_status("declined"),
    ),
    "public.get_or_create_direct_conversation(other_user_id uuid)": Rpc(
        args=lambda w, r: {"other_user_id": w.uid("teammate")},
        answers=answers(ok=P_MEMBER_WRITERS, otherwise=refused()),
    ),
    "public.health_check()": Rpc(
        args=lambda w, r: {},
        answers=answers(ok=frozenset(ROLES), anon=OK),
    ),
    # P's admins invite; everyone else gets the answer of a project that does not exist
    "public.invite_project_member(project_id uuid, role project_role, user_id uuid,"
    " email text)": Rpc(
        args=_invitee_into_my_project,
        answers=answers(ok=P_ADMINS, otherwise=refused()),
        check=_invited,
    ),
    # only the integration's owner, while a project admin of its project (the owner of P is)
    "public.link_integration_item(integration_id uuid, kind text, external_id text, name text,"
    " url text, document_id uuid)": Rpc(
        args=_owners_repository,
        answers=answers(ok=frozenset({"owner"}), otherwise=refused()),
        check=_linked,
    ),
    "public.list_audit_logs(before_id bigint, max_rows integer)": Rpc(
        args=lambda w, r: {"max_rows": 1},
        answers=answers(ok=frozenset({"platform_admin"}), otherwise=refused()),
    ),
    "public.project_activity_by_week(project_id uuid, weeks integer)": Rpc(
        args=_project_with_activity,
        answers=answers(ok=P_MEMBERS, otherwise=refused()),
    ),
    # only the integration's owner queues its sync; anyone else is told it is not theirs
    "public.queue_integration_sync(integration_id uuid)": Rpc(
        args=_owners_connected_integration,
        answers=answers(ok=frozenset({"owner"}), otherwise=refused()),
        check=_sync_queued,
    ),
    "public.request_asset_generation(project_id uuid, kind asset_kind, prompt text,"
    " options jsonb, source_file_id uuid, idempotency_key text)": Rpc(
        args=lambda w, r: {"project_id": w.project_p, "kind": "model_3d", "prompt": "a chair"},
        answers=answers(ok=P_EDITORS, otherwise=refused()),
    ),
    "public.request_document_generation(project_id uuid, document_type document_type,"
    " document_id uuid, instructions text)": Rpc(
        args=lambda w, r: {"project_id": w.project_p, "document_type": "prd"},
        answers=answers(ok=P_EDITORS, otherwise=refused()),
    ),
    "public.restore_deleted(target_table text, target_id uuid)": Rpc(
        args=_deleted_task,
        answers=answers(ok=P_ADMINS, otherwise=refused()),
        check=_restored,
    ),
    "public.restore_document_version(document_id uuid, version integer)": Rpc(
        args=_versioned_document,
        # members who cannot write see the version and are refused the new one; people who
        # cannot see it are told it does not exist, like a missing one
        answers=answers(
            ok=P_EDITORS,
            otherwise=refused("22023"),
            viewer=refused(),
            guest=refused(),
        ),
    ),
    "public.revoke_project_invitation(invitation_id uuid)": Rpc(
        args=_invitation_in_my_project,
        answers=answers(ok=P_ADMINS, otherwise=refused()),
        check=_status("revoked"),
    ),
    "public.search_messages(query text, in_conversation uuid, max_rows integer)": Rpc(
        args=_searchable,
        answers=answers(ok=P_MEMBERS, otherwise=EMPTY),
    ),
    "public.transfer_project_ownership(project_id uuid, new_owner_id uuid)": Rpc(
        args=_own_project,
        answers=answers(ok=frozenset({"owner"}), otherwise=refused()),
        check=_transferred,
    ),
}
