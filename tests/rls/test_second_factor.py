"""Where a second factor is required and what anonymous sessions may do (policies/platform.sql,
audit.sql, privacy.sql, projects.sql; private.mfa_satisfied): a person with a verified TOTP
factor (auth.mfa_factors) changes platform roles, reads the audit trail and asks for erasure
only with an aal2 token; without a factor aal1 is enough. Tokens are minted with the
claims under test (aal, is_anonymous); every request goes through PostgREST."""

from __future__ import annotations

import uuid

import pytest

from tests.rls.world import World
from tests.support import REPRESENTATION, Stack, TestUser


def _factor(stack: Stack, user_id: str, status: str = "verified") -> None:
    stack.sql(
        "insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status,"
        " created_at, updated_at, secret) values (%s, %s, %s, 'totp', %s, now(), now(), 'X')",
        (str(uuid.uuid4()), user_id, f"f-{uuid.uuid4().hex[:6]}", status),
    )


def _admin(stack: Stack) -> TestUser:
    admin = stack.new_user()
    stack.sql("update public.user_roles set role = 'admin' where user_id = %s", (admin.id,))
    return admin


def _disable(stack: Stack, token: str, victim: str) -> list[dict]:
    response = stack.http(token).patch(
        "/rest/v1/user_roles",
        params={"user_id": f"eq.{victim}"},
        json={"disabled_reason": "mfa test"},
        headers=REPRESENTATION,
    )
    assert response.status_code in (200, 403), response.text
    return response.json() if response.status_code == 200 else []


@pytest.mark.parametrize(
    ("factor", "aal", "allowed"),
    [
        (None, "aal1", True),  # no factor: the session is as strong as the account asks
        ("unverified", "aal1", True),  # an enrolment never finished asks nothing yet
        ("verified", "aal1", False),
        ("verified", "aal2", True),
    ],
)
def test_a_platform_admin_with_a_factor_disables_people_only_at_aal2(
    stack: Stack, factor: str | None, aal: str, allowed: bool
) -> None:
    admin = _admin(stack)
    if factor:
        _factor(stack, admin.id, factor)
    victim = stack.new_user()
    token = stack.token(admin, user_role="admin", aal=aal)
    assert bool(_disable(stack, token, victim.id)) is allowed
    audit = stack.http(token).post("/rest/v1/rpc/list_audit_logs", json={"max_rows": 5})
    assert audit.status_code == (200 if allowed else 403), audit.text
    origins = stack.http(token).get("/rest/v1/audit_log_origins", params={"limit": "5"})
    assert origins.status_code == 200
    assert (len(origins.json()) > 0) is allowed


def test_the_audit_trail_of_a_person_with_a_factor_needs_aal2(stack: Stack) -> None:
    person = stack.new_user()
    stack.http(person.token).post("/rest/v1/projects", json={"name": "audited"})
    own = stack.http(person.token).get("/rest/v1/audit_logs", params={"select": "id"})
    assert own.status_code == 200 and own.json(), own.text
    _factor(stack, person.id)
    aal1 = stack.http(stack.token(person, aal="aal1")).get("/rest/v1/audit_logs")
    assert aal1.json() == []
    aal2 = stack.http(stack.token(person, aal="aal2")).get("/rest/v1/audit_logs")
    assert len(aal2.json()) == len(own.json())


@pytest.mark.parametrize(("aal", "status"), [("aal1", 403), ("aal2", 201)])
def test_erasure_of_an_account_with_a_factor_needs_aal2(
    stack: Stack, aal: str, status: int
) -> None:
    person = stack.new_user()
    _factor(stack, person.id)
    token = stack.token(person, aal=aal)
    erasure = stack.http(token).post(
        "/rest/v1/privacy_requests", json={"user_id": person.id, "kind": "erasure"}
    )
    assert erasure.status_code == status, erasure.text
    # an export asks no second factor
    export = stack.http(token).post(
        "/rest/v1/privacy_requests", json={"user_id": person.id, "kind": "export"}
    )
    assert export.status_code == 201, export.text


def test_a_token_claiming_aal2_for_someone_else_changes_nothing(stack: Stack) -> None:
    # aal2 in the token matters only for the token's own subject: a forged sub fails the
    # signature, and aal2 without admin rights disables no one
    person = stack.new_user()
    _factor(stack, person.id)
    victim = stack.new_user()
    assert _disable(stack, stack.token(person, aal="aal2"), victim.id) == []


def test_an_anonymous_person_sees_only_their_own_projects_and_joins_none(
    stack: Stack, world: World
) -> None:
    guest = stack.new_user()
    token = stack.token(guest, is_anonymous=True)
    made = stack.http(token).post(
        "/rest/v1/projects", json={"name": "trying it out"}, headers=REPRESENTATION
    )
    assert made.status_code == 201, made.text  # anonymous people may try the product
    # made a member of someone else's project behind the policies' back: still nothing
    world.sql(
        "insert into public.project_members (project_id, user_id, role, invited_by)"
        " values (%s, %s, 'editor', %s)",
        (world.project_p, guest.id, world.uid("owner")),
    )
    seen = stack.http(token).get("/rest/v1/projects", params={"select": "id"}).json()
    assert seen == [{"id": made.json()[0]["id"]}]
    # the same person once permanent (is_anonymous false) sees the project they were added to
    permanent = stack.http(stack.token(guest)).get("/rest/v1/projects", params={"select": "id"})
    assert {r["id"] for r in permanent.json()} == {made.json()[0]["id"], world.project_p}


def test_an_anonymous_person_cannot_accept_an_invitation(stack: Stack, world: World) -> None:
    guest = stack.new_user()
    invitation = world.invitation(world.project_q, invitee=guest.id)
    answer = stack.http(stack.token(guest, is_anonymous=True)).post(
        "/rest/v1/rpc/accept_project_invitation", json={"invitation_id": invitation}
    )
    assert answer.status_code == 403, answer.text
    assert "anonymous" in answer.json()["message"]
    members = world.one(
        "select count(*) from public.project_members where project_id = %s and user_id = %s",
        (world.project_q, guest.id),
    )
    assert members == 0
