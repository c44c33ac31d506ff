"""Who may do what: the RLS matrix, one entry per relation PostgREST exposes.

For every exposed table or view and each operation, ``SPEC`` maps a *kind of row* (as
seen from the acting person: "mine", "in my project", "in another project" ...) to the
set of role fixtures allowed to perform the operation on such a row. Every role not
listed is refused. ``tests/rls/rows.py`` makes a row of each kind; ``test_matrix.py``
checks every (relation, operation, kind, role) cell over HTTP through PostgREST, and
fails if the catalog exposes a relation this spec does not list.

The world the roles live in (``tests/rls/conftest.py``):

- project P, owned by ``owner``; members ``project_admin`` (admin), ``editor``,
  ``viewer``, ``guest`` (project role editor, platform role guest), ``disabled``
  (editor, then disabled by a platform admin) and a teammate (viewer);
- group conversation C in P, started by ``owner``, with all of P's members;
- project Q and conversation D belonging to someone none of the roles knows;
- ``outsider``: signed in, in nothing; ``platform_admin``: platform role admin, in
  nothing; ``anon``: no token at all.

Tables that soft-delete (a ``deleted_at`` column) have a ``deleted ...`` kind, a row deleted
a day ago: nobody reads, updates or deletes it through the API (rpc restore_deleted brings it
back; the purge removes it). test_matrix_writes.py checks the list against the catalog.
"""

from __future__ import annotations

ROLES = (
    "anon",
    "outsider",
    "guest",
    "viewer",
    "editor",
    "project_admin",
    "owner",
    "platform_admin",
    "disabled",
)
OPERATIONS = ("select", "insert", "update", "delete")

NOBODY: frozenset[str] = frozenset()
# signed in and not disabled
SIGNED_IN = frozenset(
    {"outsider", "guest", "viewer", "editor", "project_admin", "owner", "platform_admin"}
)
# may write at all: signed in, not disabled, not a guest
WRITERS = SIGNED_IN - {"guest"}
# read project P (and conversation C)
P_MEMBERS = frozenset({"guest", "viewer", "editor", "project_admin", "owner"})
# members of P who may write something (their own rows); not the guest
P_MEMBER_WRITERS = frozenset({"viewer", "editor", "project_admin", "owner"})
# edit P's content
P_EDITORS = frozenset({"editor", "project_admin", "owner"})
# manage P and its members
P_ADMINS = frozenset({"project_admin", "owner"})
OWNER = frozenset({"owner"})
PLATFORM_ADMIN = frozenset({"platform_admin"})


def rule(**kinds: frozenset[str]) -> dict[str, frozenset[str]]:
    """kind of row -> roles allowed (keyword names use _ for spaces)."""
    return {name.replace("_", " "): roles for name, roles in kinds.items()}


SPEC: dict[str, dict[str, dict[str, frozenset[str]]]] = {
    "profiles": {
        "select": rule(
            mine=SIGNED_IN, a_teammates=P_MEMBERS | PLATFORM_ADMIN, a_strangers=PLATFORM_ADMIN
        ),
        "insert": rule(mine=NOBODY),
        "update": rule(mine=SIGNED_IN, a_teammates=NOBODY, a_strangers=NOBODY),
        "delete": rule(mine=NOBODY, a_teammates=NOBODY, a_strangers=NOBODY),
    },
    "user_roles": {
        "select": rule(mine=SIGNED_IN, someone_elses=PLATFORM_ADMIN),
        "insert": rule(mine=NOBODY),
        "update": rule(mine=NOBODY, someone_elses=PLATFORM_ADMIN),
        "delete": rule(mine=NOBODY, someone_elses=NOBODY),
    },
    "projects": {
        "select": rule(one_i_am_in=P_MEMBERS, someone_elses=NOBODY, deleted_one_i_am_in=NOBODY),
        "insert": rule(owned_by_me=WRITERS, owned_by_someone_else=NOBODY),
        "update": rule(one_i_am_in=P_ADMINS, someone_elses=NOBODY, deleted_one_i_am_in=NOBODY),
        "delete": rule(one_i_am_in=OWNER, someone_elses=NOBODY, deleted_one_i_am_in=NOBODY),
    },
    "project_members": {
        "select": rule(mine=P_MEMBERS, a_teammates=P_MEMBERS, in_another_project=NOBODY),
        # nobody inserts: people join by accepting an invitation (rpc accept_project_invitation)
        "insert": rule(new_person_into_my_project=NOBODY, myself_into_another_project=NOBODY),
        # mine: making myself owner; a teammate's: viewer -> editor
        "update": rule(mine=NOBODY, a_teammates=P_ADMINS, in_another_project=NOBODY),
        # mine: leaving (the owner cannot leave; the guest writes nothing)
        "delete": rule(
            mine=frozenset({"viewer", "editor", "project_admin"}),
            a_teammates=P_ADMINS,
            in_another_project=NOBODY,
        ),
    },
    "project_invitations": {
        # P's admins read P's invitations; the invitee theirs by user id. One to an address
        # stays the admins' until answered with its link's token (a matching address proves
        # nothing); written only by the invitation RPCs
        "select": rule(
            in_my_project=P_ADMINS,
            to_me=SIGNED_IN,
            to_my_address=NOBODY,
            someone_elses=NOBODY,
        ),
        "insert": rule(into_my_project=NOBODY, to_myself=NOBODY),
        # the update tried is accepting by PATCH (status -> accepted)
        "update": rule(in_my_project=NOBODY, to_me=NOBODY, someone_elses=NOBODY),
        "delete": rule(in_my_project=NOBODY, to_me=NOBODY, someone_elses=NOBODY),
    },
    "tasks": {
        "select": rule(
            in_my_project=P_MEMBERS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
        "insert": rule(in_my_project=P_EDITORS, in_another_project=NOBODY),
        "update": rule(
            in_my_project=P_EDITORS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
        "delete": rule(
            in_my_project=P_EDITORS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
    },
    "files": {
        "select": rule(
            in_my_project=P_MEMBERS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
        "insert": rule(in_my_project=P_EDITORS, in_another_project=NOBODY),
        "update": rule(
            in_my_project=P_EDITORS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
        "delete": rule(
            in_my_project=P_EDITORS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
    },
    "conversations": {
        "select": rule(one_i_am_in=P_MEMBERS, someone_elses=NOBODY, deleted_one_i_am_in=NOBODY),
        # created only by rpc get_or_create_direct_conversation / create_group_conversation
        "insert": rule(group=NOBODY),
        # a group's admin is its creator (P's owner for C); DELETE soft-deletes
        "update": rule(one_i_am_in=OWNER, someone_elses=NOBODY, deleted_one_i_am_in=NOBODY),
        "delete": rule(one_i_am_in=OWNER, someone_elses=NOBODY, deleted_one_i_am_in=NOBODY),
    },
    "conversation_members": {
        "select": rule(mine=P_MEMBERS, a_teammates=P_MEMBERS, in_another_conversation=NOBODY),
        "insert": rule(
            teammate_into_my_conversation=OWNER, myself_into_another_conversation=NOBODY
        ),
        # mine: last_read_at (read receipt)
        "update": rule(mine=P_MEMBER_WRITERS, a_teammates=NOBODY, in_another_conversation=NOBODY),
        "delete": rule(mine=P_MEMBER_WRITERS, a_teammates=OWNER, in_another_conversation=NOBODY),
    },
    "messages": {
        "select": rule(
            mine=P_MEMBERS,
            a_teammates=P_MEMBERS,
            in_another_conversation=NOBODY,
            deleted_mine=NOBODY,
        ),
        "insert": rule(in_my_conversation=P_MEMBER_WRITERS, in_another_conversation=NOBODY),
        "update": rule(
            mine=P_MEMBER_WRITERS,
            a_teammates=NOBODY,
            in_another_conversation=NOBODY,
            deleted_mine=NOBODY,
        ),
        "delete": rule(
            mine=P_MEMBER_WRITERS,
            a_teammates=NOBODY,
            in_another_conversation=NOBODY,
            deleted_mine=NOBODY,
        ),
    },
    "message_attachments": {
        "select": rule(in_my_conversation=P_MEMBERS, in_another_conversation=NOBODY),
        "insert": rule(
            my_file_on_my_message=P_MEMBER_WRITERS, my_file_on_a_teammates_message=NOBODY
        ),
        "update": rule(in_my_conversation=NOBODY, in_another_conversation=NOBODY),
        "delete": rule(
            mine=P_MEMBER_WRITERS, in_my_conversation=NOBODY, in_another_conversation=NOBODY
        ),
    },
    "notifications": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        # only triggers and the service role create notifications
        "insert": rule(for_me=NOBODY, for_someone_else=NOBODY),
        "update": rule(mine=WRITERS, someone_elses=NOBODY),
        "delete": rule(mine=WRITERS, someone_elses=NOBODY),
    },
    # notify: a person's own preferences, devices and deliveries
    "notification_preferences": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        "insert": rule(mine=WRITERS, for_someone_else=NOBODY),
        "update": rule(mine=WRITERS, someone_elses=NOBODY),
        "delete": rule(mine=WRITERS, someone_elses=NOBODY),
    },
    "push_subscriptions": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        "insert": rule(mine=WRITERS, for_someone_else=NOBODY),
        "update": rule(mine=WRITERS, someone_elses=NOBODY),
        "delete": rule(mine=WRITERS, someone_elses=NOBODY),
    },
    # written by the fan-out trigger, the invite RPC and the notify worker only
    "notification_deliveries": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        "insert": rule(for_me=NOBODY),
        "update": rule(mine=NOBODY, someone_elses=NOBODY),
        "delete": rule(mine=NOBODY, someone_elses=NOBODY),
    },
    # written by rpc queue_due_digests and the notify worker only
    "notification_digests": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        "insert": rule(for_me=NOBODY),
        "update": rule(mine=NOBODY, someone_elses=NOBODY),
        "delete": rule(mine=NOBODY, someone_elses=NOBODY),
    },
    "calendar_events": {
        "select": rule(
            mine=SIGNED_IN, in_my_project=P_MEMBERS, i_attend=SIGNED_IN, someone_elses=NOBODY
        ),
        "insert": rule(mine=WRITERS, mine_in_my_project=P_EDITORS, for_someone_else=NOBODY),
        "update": rule(mine=WRITERS, in_my_project=OWNER, i_attend=NOBODY, someone_elses=NOBODY),
        "delete": rule(mine=WRITERS, in_my_project=OWNER, i_attend=NOBODY, someone_elses=NOBODY),
    },
    "calendar_event_attendees": {
        "select": rule(mine=SIGNED_IN, on_an_event_in_my_project=P_MEMBERS, someone_elses=NOBODY),
        "insert": rule(teammate_to_my_event=P_MEMBER_WRITERS, myself_to_someone_elses_event=NOBODY),
        "update": rule(mine=WRITERS, on_an_event_in_my_project=NOBODY, someone_elses=NOBODY),
        "delete": rule(mine=WRITERS, on_an_event_in_my_project=OWNER, someone_elses=NOBODY),
    },
    "documents": {
        "select": rule(
            in_my_project=P_MEMBERS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
        "insert": rule(in_my_project=P_EDITORS, in_another_project=NOBODY),
        "update": rule(
            in_my_project=P_EDITORS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
        "delete": rule(
            in_my_project=P_EDITORS, in_another_project=NOBODY, deleted_in_my_project=NOBODY
        ),
    },
    "document_versions": {
        "select": rule(in_my_project=P_MEMBERS, in_another_project=NOBODY),
        "insert": rule(in_my_project=P_EDITORS, in_another_project=NOBODY),
        # append-only
        "update": rule(in_my_project=NOBODY, in_another_project=NOBODY),
        "delete": rule(in_my_project=NOBODY, in_another_project=NOBODY),
    },
    "document_jobs": {
        "select": rule(in_my_project=P_MEMBERS, in_another_project=NOBODY),
        # written by the service role only (rpc request_document_generation queues one)
        "insert": rule(in_my_project=NOBODY),
        "update": rule(in_my_project=NOBODY, in_another_project=NOBODY),
        "delete": rule(in_my_project=NOBODY, in_another_project=NOBODY),
    },
    "asset_jobs": {
        "select": rule(in_my_project=P_MEMBERS, in_another_project=NOBODY),
        # written by the service role only (rpc request_asset_generation queues one,
        # rpc cancel_asset_job cancels one)
        "insert": rule(in_my_project=NOBODY),
        "update": rule(in_my_project=NOBODY, in_another_project=NOBODY),
        "delete": rule(in_my_project=NOBODY, in_another_project=NOBODY),
    },
    "integrations": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        "insert": rule(mine=WRITERS, for_someone_else=NOBODY),
        "update": rule(mine=WRITERS, someone_elses=NOBODY),
        "delete": rule(mine=WRITERS, someone_elses=NOBODY),
    },
    # written by the integrations function (rpc link_integration_item, the sync worker)
    "integration_links": {
        "select": rule(in_my_project=P_MEMBERS, in_another_project=NOBODY),
        "insert": rule(in_my_project=NOBODY),
        "update": rule(in_my_project=NOBODY, in_another_project=NOBODY),
        "delete": rule(in_my_project=NOBODY, in_another_project=NOBODY),
    },
    # sync jobs: rpc queue_integration_sync, the schedule and the worker write them
    "integration_syncs": {
        "select": rule(in_my_project=P_MEMBERS, in_another_project=NOBODY),
        "insert": rule(in_my_project=NOBODY),
        "update": rule(in_my_project=NOBODY, in_another_project=NOBODY),
        "delete": rule(in_my_project=NOBODY, in_another_project=NOBODY),
    },
    "activity_events": {
        "select": rule(in_my_project=P_MEMBERS, in_another_project=NOBODY),
        # ingestion (github, crm ...) is the service role's
        "insert": rule(
            manual_in_my_project=P_EDITORS,
            github_in_my_project=NOBODY,
            manual_in_another_project=NOBODY,
        ),
        "update": rule(in_my_project=NOBODY, in_another_project=NOBODY),
        "delete": rule(in_my_project=NOBODY, in_another_project=NOBODY),
    },
    "dashboards": {
        "select": rule(mine=P_MEMBERS, a_teammates=P_MEMBERS, in_another_project=NOBODY),
        "insert": rule(mine_in_my_project=P_MEMBER_WRITERS, mine_in_another_project=NOBODY),
        "update": rule(mine=P_MEMBER_WRITERS, a_teammates=NOBODY, in_another_project=NOBODY),
        "delete": rule(mine=P_MEMBER_WRITERS, a_teammates=NOBODY, in_another_project=NOBODY),
    },
    "privacy_requests": {
        "select": rule(mine=SIGNED_IN, someone_elses=NOBODY),
        # guests too: privacy rights are not a write privilege
        "insert": rule(mine=SIGNED_IN, for_someone_else=NOBODY),
        "update": rule(mine=NOBODY, someone_elses=NOBODY),
        "delete": rule(mine=NOBODY, someone_elses=NOBODY),
    },
    "audit_logs": {
        # platform admins read the whole trail through rpc list_audit_logs
        "select": rule(about_me=SIGNED_IN, in_my_project=P_ADMINS, elsewhere=NOBODY),
        # append-only, written by triggers
        "insert": rule(about_me=NOBODY),
        "update": rule(about_me=NOBODY, in_my_project=NOBODY, elsewhere=NOBODY),
        "delete": rule(about_me=NOBODY, in_my_project=NOBODY, elsewhere=NOBODY),
    },
    "audit_log_origins": {
        # an entry's IP and user agent: the person who acted and platform admins only
        "select": rule(mine=SIGNED_IN, a_teammates=PLATFORM_ADMIN, someone_elses=PLATFORM_ADMIN),
        "insert": rule(mine=NOBODY),
        "update": rule(mine=NOBODY, a_teammates=NOBODY, someone_elses=NOBODY),
        "delete": rule(mine=NOBODY, a_teammates=NOBODY, someone_elses=NOBODY),
    },
}


# everyone in project P and conversation C; the other roles are in no project at all
IN_P = frozenset(ROLES) - {"anon", "outsider", "platform_admin"}

# (relation, kind of row) -> the roles for whom no such row can exist, so the matrix has no
# cell for them: a person in no project has no membership of their own to read, change or
# leave. Every other (relation, kind, role) cell must find its row (the test fails if not).
HAS_NO_SUCH_ROW: dict[tuple[str, str], frozenset[str]] = {
    ("project_members", "mine"): frozenset(ROLES) - IN_P,
    ("conversation_members", "mine"): frozenset(ROLES) - IN_P,
}


def cells() -> list[tuple[str, str, str, str, bool]]:
    """Every (relation, operation, kind of row, role, allowed) cell of the matrix."""
    out = []
    for relation, ops in SPEC.items():
        for op in OPERATIONS:
            for kind, allowed in ops[op].items():
                for role in ROLES:
                    if op != "insert" and role in HAS_NO_SUCH_ROW.get((relation, kind), ()):
                        continue
                    out.append((relation, op, kind, role, role in allowed))
    return out
