"""Membership needs consent (issue 8, section 3): project invitations, and the direct
conversations that follow from sharing a project. Every request goes through PostgREST
with real tokens; what was written is checked in SQL."""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any

import httpx
import pytest

from tests.rls.spec import ROLES, SIGNED_IN
from tests.rls.world import World
from tests.support import REPRESENTATION, Stack

MINIMAL = {"Prefer": "return=minimal"}
INVITERS = frozenset({"owner", "project_admin"})


def call(world: World, who: str, name: str, **args: Any) -> httpx.Response:
    return world.client(who).post(f"/rpc/{name}", json=args)


def invite(world: World, who: str, project: str, **args: Any) -> dict[str, Any]:
    response = call(world, who, "invite_project_member", project_id=project, **args)
    assert response.status_code == 200, response.text
    return response.json()


def member_role(world: World, project: str, user_id: str) -> str | None:
    return world.one(
        "select role::text from public.project_members where project_id = %s and user_id = %s",
        (project, user_id),
    )


def refused(response: httpx.Response, role: str) -> bool:
    """The database's refusal (42501), as PostgREST answers it to a token or to anon."""
    expected = 401 if role == "anon" else 403
    return response.status_code == expected and response.json().get("code") == "42501"


# -- the hole: adding someone without asking ----------------------------------------------


@pytest.mark.parametrize("prefer", ["return=representation", "return=minimal"])
def test_nobody_adds_a_person_to_a_project_without_their_consent(world: World, prefer: str) -> None:
    project = world.member_project()
    for role in ("owner", "project_admin"):
        person = world.new_person()
        response = world.client(role).post(
            "/project_members",
            json={"project_id": project, "user_id": person, "role": "viewer"},
            headers={"Prefer": prefer},
        )
        assert refused(response, role), (role, response.text)
        assert member_role(world, project, person) is None


def test_an_unknown_user_id_and_a_real_one_are_refused_alike(world: World) -> None:
    project = world.member_project()
    answers = []
    for person in (world.new_person(), str(uuid.uuid4())):
        response = world.client("owner").post(
            "/project_members", json={"project_id": project, "user_id": person, "role": "viewer"}
        )
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403


# -- inviting -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_the_projects_owner_and_admins_invite(world: World, role: str) -> None:
    person = world.new_person()
    response = call(
        world,
        role,
        "invite_project_member",
        project_id=world.project_p,
        role="viewer",
        user_id=person,
    )
    if role in INVITERS:
        assert response.status_code == 200, response.text
        row = response.json()
        assert (row["project_id"], row["invitee_id"], row["role"], row["status"]) == (
            world.project_p,
            person,
            "viewer",
            "pending",
        )
        assert row["invited_by"] == world.uid(role)
    else:
        assert refused(response, role), (role, response.text)
    stored = world.one(
        "select count(*) from public.project_invitations where invitee_id = %s", (person,)
    )
    assert stored == (1 if role in INVITERS else 0)


def test_an_admin_invites_up_to_their_own_role_and_nobody_invites_an_owner(
    world: World,
) -> None:
    project = world.member_project()
    as_owner = call(
        world,
        "project_admin",
        "invite_project_member",
        project_id=project,
        role="owner",
        user_id=world.new_person(),
    )
    assert (as_owner.status_code, as_owner.json()["code"]) == (403, "42501"), as_owner.text
    by_owner = call(
        world,
        "owner",
        "invite_project_member",
        project_id=project,
        role="owner",
        user_id=world.new_person(),
    )
    assert by_owner.status_code == 403, by_owner.text
    assert invite(world, "project_admin", project, role="admin", user_id=world.new_person())
    assert invite(world, "owner", project, role="admin", user_id=world.new_person())
    # no direct write either: the table has no insert, update or delete for clients
    forged = world.client("project_admin").post(
        "/project_invitations",
        json={
            "project_id": project,
            "project_name": "x",
            "role": "owner",
            "invitee_id": world.new_person(),
        },
        headers=MINIMAL,
    )
    assert refused(forged, "project_admin"), forged.text


def test_an_invitation_into_a_project_the_caller_does_not_manage_is_refused_like_a_missing_one(
    world: World,
) -> None:
    answers = {
        project: call(
            world,
            "project_admin",
            "invite_project_member",
            project_id=project,
            role="viewer",
            user_id=world.new_person(),
        )
        for project in (world.project_q, str(uuid.uuid4()))
    }
    bodies = [(r.status_code, r.json()) for r in answers.values()]
    assert bodies[0] == bodies[1]
    assert bodies[0][0] == 403


def test_bad_invitations_get_a_clear_400(world: World) -> None:
    project = world.member_project()
    for args in (
        {"role": "viewer"},  # nobody
        {"role": "viewer", "user_id": world.new_person(), "email": "a@example.test"},
        {"role": "viewer", "email": "not an address"},
    ):
        response = call(world, "owner", "invite_project_member", project_id=project, **args)
        assert (response.status_code, response.json()["code"]) == (400, "22023"), args
    missing_role = call(
        world,
        "owner",
        "invite_project_member",
        project_id=project,
        role=None,
        user_id=world.new_person(),
    )
    assert missing_role.status_code == 400, missing_role.text
    member = call(
        world,
        "owner",
        "invite_project_member",
        project_id=project,
        role="viewer",
        user_id=world.uid("viewer"),
    )
    assert (member.status_code, member.json()["code"]) == (409, "23505"), member.text


def test_inviting_does_not_tell_whether_an_address_or_a_user_id_has_an_account(
    stack: Stack, world: World
) -> None:
    project = world.member_project()
    someone = stack.new_user()
    nobody = f"nobody-{uuid.uuid4().hex[:10]}@example.test"
    by_address = [
        invite(world, "owner", project, role="viewer", email=address)
        for address in (someone.email, nobody)
    ]
    by_id = [
        invite(world, "owner", project, role="viewer", user_id=person)
        for person in (stack.new_user().id, str(uuid.uuid4()))
    ]
    varying = {"id", "email", "invitee_id", "created_at", "updated_at", "expires_at", "token"}

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in varying}

    assert shape(by_address[0]) == shape(by_address[1])
    assert by_address[0]["invitee_id"] is None and by_address[1]["invitee_id"] is None
    assert shape(by_id[0]) == shape(by_id[1])
    # what the admin reads later says no more
    seen = (
        world.client("owner")
        .get(
            "/project_invitations",
            params={"project_id": f"eq.{project}", "select": "invitee_id,email,status"},
        )
        .json()
    )
    assert {"invitee_id": None, "email": someone.email.lower(), "status": "pending"} in seen
    assert {"invitee_id": None, "email": nobody, "status": "pending"} in seen


# -- a pending invitation grants nothing ---------------------------------------------------


def test_a_pending_invitation_grants_nothing_and_notifies_the_invitee(
    stack: Stack, world: World
) -> None:
    project = world.member_project()
    invitee = stack.new_user()
    row = invite(world, "project_admin", project, role="editor", user_id=invitee.id)
    as_invitee = stack.http(invitee.token)
    assert as_invitee.get("/rest/v1/projects", params={"id": f"eq.{project}"}).json() == []
    assert (
        as_invitee.get("/rest/v1/project_members", params={"project_id": f"eq.{project}"}).json()
        == []
    )
    # neither side becomes the other's contact
    assert (
        world.client("project_admin")
        .get("/profiles", params={"id": f"eq.{invitee.id}", "select": "email"})
        .json()
        == []
    )
    start = call(
        world, "project_admin", "get_or_create_direct_conversation", other_user_id=invitee.id
    )
    assert start.status_code == 403, start.text
    mine = as_invitee.get("/rest/v1/project_invitations", params={"select": "id,project_name"})
    assert mine.json() == [{"id": row["id"], "project_name": row["project_name"]}]
    notes = as_invitee.get("/rest/v1/notifications", params={"select": "type,payload"}).json()
    assert [n["type"] for n in notes] == ["project_invitation"]
    assert notes[0]["payload"]["invitation_id"] == row["id"]
    assert notes[0]["payload"]["role"] == "editor"
    # inviting again while it is open re-issues it, without another notification
    again = invite(world, "owner", project, role="viewer", user_id=invitee.id)
    assert (again["id"], again["role"]) == (row["id"], "viewer")
    assert len(as_invitee.get("/rest/v1/notifications").json()) == 1


# -- answering -----------------------------------------------------------------------------


def elsewhere(world: World) -> str:
    """A project of a new person: joining it changes nobody else's world."""
    return world.project(world.new_person())


def leave(world: World, project: str, user_id: str) -> None:
    """Undo a test's membership, so the shared fixture people stay in what they were in."""
    world.sql(
        "delete from public.project_members where project_id = %s and user_id = %s",
        (project, user_id),
    )


@pytest.mark.parametrize("role", ROLES)
def test_the_invitee_accepts_and_becomes_a_member_in_the_invited_role(
    world: World, role: str
) -> None:
    project = elsewhere(world)
    invitation = world.invitation(project, invitee=world.uid(role))
    response = call(world, role, "accept_project_invitation", invitation_id=invitation)
    try:
        if role in SIGNED_IN:  # guests too: consent is not a write to content
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "accepted"
            assert member_role(world, project, world.uid(role)) == "viewer"
        else:
            assert refused(response, role), response.text
            assert member_role(world, project, world.uid(role)) is None
    finally:
        leave(world, project, world.uid(role))


@pytest.mark.parametrize("role", ROLES)
def test_the_invitee_declines_and_stays_out(world: World, role: str) -> None:
    project = elsewhere(world)
    invitation = world.invitation(project, invitee=world.uid(role))
    response = call(world, role, "decline_project_invitation", invitation_id=invitation)
    if role in SIGNED_IN:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "declined"
    else:
        assert refused(response, role), response.text
    assert member_role(world, project, world.uid(role)) is None
    status = world.one(
        "select status::text from public.project_invitations where id = %s", (invitation,)
    )
    assert status == ("declined" if role in SIGNED_IN else "pending")


@pytest.mark.parametrize("role", ROLES)
def test_only_the_projects_owner_and_admins_revoke(world: World, role: str) -> None:
    invitation = world.invitation(world.project_p, invitee=world.new_person())
    response = call(world, role, "revoke_project_invitation", invitation_id=invitation)
    if role in INVITERS:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "revoked"
    else:
        assert refused(response, role), response.text
    status = world.one(
        "select status::text from public.project_invitations where id = %s", (invitation,)
    )
    assert status == ("revoked" if role in INVITERS else "pending")


@pytest.mark.parametrize("role", ["project_admin", "editor", "outsider", "owner"])
def test_nobody_answers_someone_elses_invitation(world: World, role: str) -> None:
    project = elsewhere(world)
    invitation = world.invitation(project, invitee=world.new_person())
    for name in ("accept_project_invitation", "decline_project_invitation"):
        response = call(world, role, name, invitation_id=invitation)
        assert refused(response, role), (name, response.text)
    assert (
        world.one(
            "select status::text from public.project_invitations where id = %s", (invitation,)
        )
        == "pending"
    )


def test_an_answered_revoked_or_expired_invitation_cannot_be_accepted(
    stack: Stack, world: World
) -> None:
    invitee = stack.new_user()
    http = stack.http(invitee.token)

    def answer(name: str, invitation: str) -> httpx.Response:
        return http.post(f"/rest/v1/rpc/{name}", json={"invitation_id": invitation})

    accepted = world.invitation(elsewhere(world), invitee=invitee.id)
    assert answer("accept_project_invitation", accepted).status_code == 200
    again = answer("decline_project_invitation", accepted)
    assert (again.status_code, again.json()["code"]) == (400, "22023"), again.text
    other = elsewhere(world)
    revoked = world.invitation(other, invitee=invitee.id)
    world.sql("update public.project_invitations set status = 'revoked' where id = %s", (revoked,))
    expired = world.invitation(elsewhere(world), invitee=invitee.id)
    world.sql(
        "update public.project_invitations set expires_at = now() - interval '1 second'"
        " where id = %s",
        (expired,),
    )
    for invitation in (revoked, expired):
        response = answer("accept_project_invitation", invitation)
        assert (response.status_code, response.json()["code"]) == (400, "22023"), response.text
    assert member_role(world, other, invitee.id) is None
    marked = stack.service_rest().rpc("expire_project_invitations", {}).execute().data
    assert marked >= 1
    assert (
        world.one("select status::text from public.project_invitations where id = %s", (expired,))
        == "expired"
    )


def test_a_declined_invitation_is_not_repeated_for_30_days(stack: Stack, world: World) -> None:
    project = world.member_project()
    invitee = stack.new_user()
    row = invite(world, "owner", project, role="viewer", user_id=invitee.id)
    declined = stack.http(invitee.token).post(
        "/rest/v1/rpc/decline_project_invitation", json={"invitation_id": row["id"]}
    )
    assert declined.status_code == 200, declined.text
    again = call(
        world,
        "owner",
        "invite_project_member",
        project_id=project,
        role="viewer",
        user_id=invitee.id,
    )
    assert (again.status_code, again.json()["code"]) == (403, "42501"), again.text
    notes = stack.http(invitee.token).get("/rest/v1/notifications").json()
    assert len(notes) == 1


def test_accepting_is_atomic_one_membership_from_concurrent_accepts(
    stack: Stack, world: World
) -> None:
    project = elsewhere(world)
    invitee = stack.new_user()
    invitation = world.invitation(project, invitee=invitee.id)
    answers: list[int] = []

    def accept() -> None:
        with stack.http(invitee.token) as http:
            answers.append(
                http.post(
                    "/rest/v1/rpc/accept_project_invitation", json={"invitation_id": invitation}
                ).status_code
            )

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 400, 400, 400]
    assert (
        world.one(
            "select count(*) from public.project_members where project_id = %s and user_id = %s",
            (project, invitee.id),
        )
        == 1
    )


def address() -> str:
    return f"invited-{uuid.uuid4().hex[:10]}@example.test"


def answer(
    http: httpx.Client, name: str, invitation: str, token: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"invitation_id": invitation}
    if token is not None:
        body["token"] = token
    return http.post(f"/rest/v1/rpc/{name}_project_invitation", json=body)


def status_of(world: World, invitation: str) -> str:
    return world.one(
        "select status::text from public.project_invitations where id = %s", (invitation,)
    )


def test_an_invitation_to_an_address_is_accepted_with_the_token_of_its_link(
    stack: Stack, world: World
) -> None:
    project = world.member_project()
    to = address()
    row = invite(world, "owner", project, role="editor", email=to.upper())
    assert (row["email"], row["invitee_id"]) == (to, None)
    token = row["token"]
    assert isinstance(token, str) and len(token) >= 43
    # the token is shown once: the invitation read back has none
    listed = world.client("owner").get("/project_invitations", params={"id": f"eq.{row['id']}"})
    assert listed.status_code == 200 and listed.json()[0].keys() == row.keys() - {"token"}
    newcomer = stack.new_user(email=to)
    http = stack.http(newcomer.token)
    # nothing tells the holder of the address about it: the link does
    assert http.get("/rest/v1/notifications").json() == []
    assert http.get("/rest/v1/project_invitations").json() == []
    accepted = answer(http, "accept", row["id"], token)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["invitee_id"] == newcomer.id
    assert member_role(world, project, newcomer.id) == "editor"
    # answered, it is theirs to see; the token is spent
    assert [i["id"] for i in http.get("/rest/v1/project_invitations").json()] == [row["id"]]
    assert (
        world.one(
            "select count(*) from private.project_invitation_tokens where invitation_id = %s",
            (row["id"],),
        )
        == 0
    )


def test_whoever_holds_the_token_accepts_with_their_own_account(stack: Stack, world: World) -> None:
    project = world.member_project()
    row = invite(world, "owner", project, role="viewer", email=address())
    holder = stack.new_user()  # another address: the inviter passed the link on
    accepted = answer(stack.http(holder.token), "accept", row["id"], row["token"])
    assert accepted.status_code == 200, accepted.text
    assert member_role(world, project, holder.id) == "viewer"


def test_a_stranger_with_the_invited_address_cannot_see_or_answer_it_without_the_token(
    stack: Stack, world: World
) -> None:
    project = world.member_project()
    to = address()
    row = invite(world, "owner", project, role="admin", email=to)
    squatter = stack.new_user(email=to)  # local Auth confirms a sign-up at once
    http = stack.http(squatter.token)
    assert http.get("/rest/v1/project_invitations").json() == []
    assert http.get("/rest/v1/notifications").json() == []
    for name in ("accept", "decline"):
        for token in (None, "", "x" * 43, row["token"][:-1]):
            response = answer(http, name, row["id"], token)
            assert (response.status_code, response.json()["code"]) == (403, "42501"), (
                name,
                token,
                response.text,
            )
            assert "token" in response.json()["message"] + response.json()["hint"]
    assert status_of(world, row["id"]) == "pending"
    assert member_role(world, project, squatter.id) is None
    # and the real invitee still can
    invitee = stack.new_user()
    accepted = answer(stack.http(invitee.token), "accept", row["id"], row["token"])
    assert accepted.status_code == 200, accepted.text


def test_other_members_do_not_see_a_pending_invitation_to_an_address(world: World) -> None:
    row = invite(world, "owner", world.project_p, role="viewer", email=address())
    for role in ("editor", "viewer", "guest", "outsider", "anon"):
        listed = world.client(role).get("/project_invitations", params={"id": f"eq.{row['id']}"})
        assert listed.status_code == 200 and listed.json() == [], (role, listed.text)
    seen = world.client("project_admin").get(
        "/project_invitations", params={"id": f"eq.{row['id']}"}
    )
    assert [i["id"] for i in seen.json()] == [row["id"]]


def test_a_used_expired_or_revoked_token_gets_a_clear_4xx(stack: Stack, world: World) -> None:
    declined = invite(world, "owner", world.member_project(), role="viewer", email=address())
    holder = stack.new_user()
    first = answer(stack.http(holder.token), "decline", declined["id"], declined["token"])
    assert first.status_code == 200, first.text
    # the same holder again: the invitation is answered; anyone else: the token is used
    again = answer(stack.http(holder.token), "accept", declined["id"], declined["token"])
    assert (again.status_code, again.json()["code"]) == (400, "22023"), again.text
    other = stack.new_user()
    used = answer(stack.http(other.token), "accept", declined["id"], declined["token"])
    assert (used.status_code, used.json()["code"]) == (403, "42501"), used.text
    assert "already used" in used.json()["message"]

    expired = invite(world, "owner", world.member_project(), role="viewer", email=address())
    world.sql(
        "update public.project_invitations set expires_at = now() - interval '1 second'"
        " where id = %s",
        (expired["id"],),
    )
    late = answer(stack.http(other.token), "accept", expired["id"], expired["token"])
    assert (late.status_code, late.json()["code"]) == (400, "22023"), late.text
    assert "expired" in late.json()["message"]

    revoked = invite(world, "owner", world.member_project(), role="viewer", email=address())
    gone = call(world, "owner", "revoke_project_invitation", invitation_id=revoked["id"])
    assert gone.status_code == 200, gone.text
    # closing an invitation spends its token: the link is then refused like a used one
    assert (
        world.one(
            "select count(*) from private.project_invitation_tokens where invitation_id = %s",
            (revoked["id"],),
        )
        == 0
    )
    refused_ = answer(stack.http(other.token), "accept", revoked["id"], revoked["token"])
    assert (refused_.status_code, refused_.json()["code"]) == (403, "42501"), refused_.text
    assert member_role(world, world.member_project(), other.id) is None


def test_inviting_the_address_again_replaces_the_token(stack: Stack, world: World) -> None:
    project = world.member_project()
    to = address()
    first = invite(world, "owner", project, role="viewer", email=to)
    second = invite(world, "owner", project, role="editor", email=to)
    assert second["id"] == first["id"] and second["token"] != first["token"]
    holder = stack.new_user()
    stale = answer(stack.http(holder.token), "accept", first["id"], first["token"])
    assert (stale.status_code, stale.json()["code"]) == (403, "42501"), stale.text
    fresh = answer(stack.http(holder.token), "accept", first["id"], second["token"])
    assert fresh.status_code == 200, fresh.text
    assert member_role(world, project, holder.id) == "editor"


def test_an_invitation_by_user_id_has_no_token_and_needs_none(stack: Stack, world: World) -> None:
    invitee = stack.new_user()
    row = invite(world, "owner", world.member_project(), role="viewer", user_id=invitee.id)
    assert row["token"] is None
    assert answer(stack.http(invitee.token), "accept", row["id"]).status_code == 200


@pytest.mark.parametrize("who", ["owner", "project_admin", "outsider", "anon", "service_role"])
def test_nobody_reads_the_token_hashes_through_postgrest(
    stack: Stack, world: World, who: str
) -> None:
    row = invite(world, "owner", world.project_p, role="viewer", email=address())
    if who == "service_role":
        key = stack.env["SERVICE_ROLE_KEY"]
        http = stack.http(key, headers={"apikey": key})
    else:
        http = stack.http(world.tokens[who] or stack.env["ANON_KEY"])
    exposed = http.get("/rest/v1/project_invitation_tokens")
    assert exposed.status_code == 404, exposed.text
    private = http.get("/rest/v1/project_invitation_tokens", headers={"Accept-Profile": "private"})
    assert private.status_code == 406, private.text
    embedded = http.get(
        "/rest/v1/project_invitations", params={"select": "*,project_invitation_tokens(*)"}
    )
    assert embedded.status_code == 400, embedded.text
    # what is stored is the hash, never the token
    stored = world.one(
        "select encode(token_hash, 'hex') from private.project_invitation_tokens"
        " where invitation_id = %s",
        (row["id"],),
    )
    assert stored == hashlib.sha256(row["token"].encode()).hexdigest()
    assert (
        world.one(
            "select count(*) from public.project_invitations i where to_jsonb(i)::text like %s",
            (f"%{row['token']}%",),
        )
        == 0
    )


# -- direct conversations ------------------------------------------------------------------


def test_a_direct_conversation_needs_a_shared_live_project(stack: Stack, world: World) -> None:
    stranger = stack.new_user()
    response = call(world, "owner", "get_or_create_direct_conversation", other_user_id=stranger.id)
    assert (response.status_code, response.json()["code"]) == (403, "42501"), response.text


def test_a_direct_conversation_closes_when_they_no_longer_share_a_project(
    stack: Stack, world: World
) -> None:
    alice, bob = stack.new_user(), stack.new_user()
    project = world.project(alice.id, {bob.id: "viewer"})
    a, b = stack.http(alice.token), stack.http(bob.token)
    started = a.post(
        "/rest/v1/rpc/get_or_create_direct_conversation", json={"other_user_id": bob.id}
    )
    assert started.status_code == 200, started.text
    conversation = started.json()
    first = b.post(
        "/rest/v1/messages",
        json={"conversation_id": conversation, "content": "hi"},
        headers=REPRESENTATION,
    )
    assert first.status_code == 201, first.text
    left = b.delete(
        "/rest/v1/project_members",
        params={"project_id": f"eq.{project}", "user_id": f"eq.{bob.id}"},
    )
    assert left.status_code == 204
    for http in (a, b):
        post = http.post(
            "/rest/v1/messages", json={"conversation_id": conversation, "content": "still there?"}
        )
        assert post.status_code == 403, post.text
    edit = b.patch(
        "/rest/v1/messages",
        params={"id": f"eq.{first.json()[0]['id']}"},
        json={"content": "changed"},
        headers=REPRESENTATION,
    )
    assert (edit.status_code, edit.json()) == (200, [])
    reopened = a.post(
        "/rest/v1/rpc/get_or_create_direct_conversation", json={"other_user_id": bob.id}
    )
    assert reopened.status_code == 403, reopened.text
    # the history stays readable to both
    assert (
        len(a.get("/rest/v1/messages", params={"conversation_id": f"eq.{conversation}"}).json())
        == 1
    )


def test_an_invitation_from_an_admin_demoted_since_cannot_be_accepted(
    stack: Stack, world: World
) -> None:
    project = world.member_project()
    invitee = stack.new_user()
    row = invite(world, "project_admin", project, role="admin", user_id=invitee.id)
    world.sql(
        "update public.project_members set role = 'viewer' where project_id = %s and user_id = %s",
        (project, world.uid("project_admin")),
    )
    response = stack.http(invitee.token).post(
        "/rest/v1/rpc/accept_project_invitation", json={"invitation_id": row["id"]}
    )
    assert (response.status_code, response.json()["code"]) == (400, "22023"), response.text
    assert member_role(world, project, invitee.id) is None


def test_a_person_is_invited_to_a_project_at_most_3_times_a_week(world: World) -> None:
    project = world.member_project()
    person = world.new_person()
    for _ in range(3):
        row = invite(world, "owner", project, role="viewer", user_id=person)
        revoked = call(world, "owner", "revoke_project_invitation", invitation_id=row["id"])
        assert revoked.status_code == 200, revoked.text
    fourth = call(
        world, "owner", "invite_project_member", project_id=project, role="viewer", user_id=person
    )
    assert (fourth.status_code, fourth.json()["code"]) == (429, "too_many_invitations")
    assert world.one("select count(*) from public.notifications where user_id = %s", (person,)) == 3
