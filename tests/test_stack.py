"""The local stack behaves like a Supabase project: gateway, PostgREST, JWTs, migrations."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid

import httpx
import jwt
import pytest
from supabase import create_client

from devstack import supabase_cli, users
from tests.support import Stack

ROOT_PATH = "/rest/v1/"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _get(stack: Stack, authorization: str | None) -> tuple[int, dict]:
    headers = {"apikey": stack.env["ANON_KEY"]}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = stack.http().get(ROOT_PATH, headers=headers)
    return response.status_code, response.json()


# -- gateway -----------------------------------------------------------------------------
def test_anon_key_reaches_postgrest_through_the_gateway(stack: Stack) -> None:
    response = stack.http().get(ROOT_PATH, headers={"apikey": stack.env["ANON_KEY"]})
    assert response.status_code == 200
    assert response.json()["swagger"] == "2.0"  # PostgREST's OpenAPI root


def test_apikey_as_query_parameter_is_accepted(stack: Stack) -> None:
    # that the gateway does not forward it to PostgREST (which would read it as a filter):
    # test_gateway_forwards_the_query_string_as_sent
    response = stack.http().get(ROOT_PATH, params={"apikey": stack.env["ANON_KEY"]})
    assert response.status_code == 200


def test_missing_apikey_is_refused_with_401(stack: Stack) -> None:
    response = stack.http().get(ROOT_PATH)
    assert response.status_code == 401
    assert "message" in response.json()


def test_unknown_apikey_is_refused_with_401(stack: Stack) -> None:
    forged = jwt.encode({"role": "anon"}, "another-secret-of-at-least-32-characters!", "HS256")
    for key in ("not-a-key", forged):
        response = stack.http().get(ROOT_PATH, headers={"apikey": key})
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid API key"


def test_service_role_key_is_accepted(stack: Stack) -> None:
    key = stack.env["SERVICE_ROLE_KEY"]
    response = stack.http().get(ROOT_PATH, headers={"apikey": key})
    assert response.status_code == 200


def test_unknown_function_is_404_json(stack: Stack) -> None:
    response = stack.http().post(f"/functions/v1/no-such-function-{uuid.uuid4().hex[:6]}")
    assert response.status_code == 404
    assert response.json()["message"]


# -- JWTs over HTTP ------------------------------------------------------------------------
def test_authorization_without_bearer_scheme_falls_back_to_anon(stack: Stack) -> None:
    # PostgREST (and so Supabase) ignores other schemes: the request runs as the apikey's role.
    status, _ = _get(stack, "Basic dXNlcjpwYXNz")
    assert status == 200


def test_user_token_is_accepted(stack: Stack) -> None:
    user = stack.new_user()
    status, _ = _get(stack, f"Bearer {user.token}")
    assert status == 200


# PostgREST 12.0 reports every JWT failure as PGRST301; 12.2+ uses PGRST303 for bad claims.
JWT_ERRORS = {"PGRST301", "PGRST302", "PGRST303"}


def test_expired_token_is_401(stack: Stack) -> None:
    user = stack.new_user()
    now = int(time.time())
    token = stack.token(user, iat=now - 7200, exp=now - 3600)
    status, body = _get(stack, f"Bearer {token}")
    assert status == 401
    assert body["code"] in JWT_ERRORS
    assert "expired" in body["message"].lower()


def test_token_signed_with_another_key_is_401(stack: Stack) -> None:
    user = stack.new_user()
    claims = jwt.decode(user.token, options={"verify_signature": False})
    token = jwt.encode(claims, "not-the-project-secret-but-32-chars-or-more", "HS256")
    status, body = _get(stack, f"Bearer {token}")
    assert status == 401
    assert body["code"] in JWT_ERRORS


def test_alg_none_token_is_401(stack: Stack) -> None:
    user = stack.new_user()
    claims = jwt.decode(user.token, options={"verify_signature": False})
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    status, body = _get(stack, f"Bearer {token}")
    assert status == 401
    assert body["code"] in JWT_ERRORS


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not.a.jwt", "Bearer abc", "Bearer a.b.c.d", "bearer abc", "Bearer  x"],
)
def test_malformed_authorization_header_is_401(stack: Stack, authorization: str) -> None:
    status, body = _get(stack, authorization)
    assert status == 401
    assert body["code"] in JWT_ERRORS


def test_wrong_audience_is_401(stack: Stack) -> None:
    user = stack.new_user()
    status, body = _get(stack, f"Bearer {stack.token(user, aud='someone-else')}")
    assert status == 401
    assert body["code"] in JWT_ERRORS
    assert "audience" in body["message"].lower()


# -- tokens --------------------------------------------------------------------------------
def _token_cli(stack: Stack, email: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "token", "--email", email],
        capture_output=True,
        text=True,
        check=False,
        cwd=stack.cfg.root,
    )


def test_token_command_prints_a_jwt_in_supabase_claim_shape(stack: Stack) -> None:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.test"
    result = _token_cli(stack, email)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert "\n" not in token
    claims = jwt.decode(
        token, stack.env["JWT_SECRET"], algorithms=["HS256"], audience="authenticated"
    )
    expected = {
        "sub",
        "role",
        "aud",
        "email",
        "phone",
        "app_metadata",
        "user_metadata",
        "iat",
        "exp",
        "session_id",
        "is_anonymous",
        "aal",
    }
    assert expected <= claims.keys()
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["email"] == email
    assert claims["app_metadata"]["provider"] == "email"
    assert claims["app_metadata"]["providers"] == ["email"]
    assert claims["exp"] > claims["iat"]
    rows = stack.sql("select id::text from auth.users where email = %s", (email,))
    assert rows == [{"id": claims["sub"]}]


def test_token_command_runs_the_custom_access_token_hook(stack: Stack) -> None:
    # the hook is part of the project (supabase/config.toml, migrations): always enabled
    hook = users.access_token_hook(stack.cfg.root / "supabase" / "config.toml")
    assert hook == "public.custom_access_token_hook"
    assert stack.sql("select to_regproc(%s) is not null as ok", (hook,)) == [{"ok": True}]
    email = f"hook-{uuid.uuid4().hex[:8]}@example.test"
    result = _token_cli(stack, email)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    # added by the hook, as Supabase Auth would: a new user's platform role
    assert claims["user_role"] == "user"
    assert claims["app_metadata"]["platform_role"] == "user"


def test_token_command_refuses_a_user_the_hook_refuses(stack: Stack) -> None:
    user = stack.new_user()
    disabled = stack.sql(
        "update public.user_roles set disabled_at = now() where user_id = %s returning user_id",
        (user.id,),
    )
    assert len(disabled) == 1
    result = _token_cli(stack, user.email)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "disabled" in result.stderr


def test_token_command_reuses_the_existing_user(stack: Stack) -> None:
    email = f"again-{uuid.uuid4().hex[:8]}@example.test"
    subjects = []
    for _ in range(2):
        result = _token_cli(stack, email)
        assert result.returncode == 0, result.stderr
        subjects.append(
            jwt.decode(result.stdout.strip(), options={"verify_signature": False})["sub"]
        )
    assert subjects[0] == subjects[1]
    rows = stack.sql("select id::text from auth.users where email = %s", (email,))
    assert rows == [{"id": subjects[0]}]


def test_new_user_reuses_the_existing_user(stack: Stack) -> None:
    user = stack.new_user()
    again = stack.new_user(user.email)
    assert again.id == user.id


def test_new_user_carries_app_metadata(stack: Stack) -> None:
    user = stack.new_user(app_metadata={"role": "admin"})
    claims = jwt.decode(user.token, options={"verify_signature": False})
    assert claims["app_metadata"]["role"] == "admin"
    assert claims["app_metadata"]["provider"] == "email"


# -- migrations ----------------------------------------------------------------------------
def test_migrations_are_recorded_as_the_supabase_cli_records_them(stack: Stack) -> None:
    files = sorted(p.name for p in stack.cfg.migrations_dir.glob("*.sql"))
    rows = stack.sql("select version, name from supabase_migrations.schema_migrations")
    recorded = {f"{r['version']}_{r['name']}.sql" for r in rows}
    assert set(files) <= recorded


def test_supabase_migration_list_works_against_the_local_database(stack: Stack) -> None:
    output = supabase_cli.migration_list(stack.cfg, stack.env["DB_URL"])
    for path in stack.cfg.migrations_dir.glob("*.sql"):
        version = path.name.split("_", 1)[0]
        assert output.count(version) >= 2, output  # listed as local and as remote


def test_pending_migrations_push_is_a_no_op(stack: Stack) -> None:
    output = supabase_cli.db_push(stack.cfg, stack.env["DB_URL"])
    assert "up to date" in output.lower() or "no migrations" in output.lower()


# -- supabase-py ---------------------------------------------------------------------------
def test_supabase_py_client_works_unchanged(stack: Stack) -> None:
    client = create_client(stack.env["API_URL"], stack.env["ANON_KEY"])
    tables = stack.sql(
        "select c.relname as table_name from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind in ('r', 'v', 'p') "
        "and has_table_privilege('anon', c.oid, 'select') order by 1 limit 1"
    )
    assert tables, "no table in public that anon may read"
    result = client.table(tables[0]["table_name"]).select("*").limit(1).execute()
    assert isinstance(result.data, list)


# -- functions -----------------------------------------------------------------------------
def test_gateway_mounts_every_function_folder(stack: Stack) -> None:
    expected = sorted(
        p.parent.name for p in stack.cfg.functions_dir.glob("*/app.py") if p.parent.name != "core"
    )
    assert stack.http().get("/health").json()["functions"] == expected


def test_supabase_py_invokes_a_function_through_the_gateway(stack: Stack) -> None:
    assert (stack.cfg.functions_dir / "health" / "app.py").exists()
    client = create_client(stack.env["API_URL"], stack.env["ANON_KEY"])
    body = client.functions.invoke("health", {"method": "GET"})
    assert json.loads(body)["status"] == "ok"  # the statuses are "ok" and "unavailable"


@pytest.mark.parametrize(
    "query",
    [
        "select=id&created_at=gt.2024-01-01T00:00:00%2B00:00",
        "select=id&created_at=gt.2024-01-01T00:00:00+00:00",
        "select=id&or=(name.eq.a%20b,name.eq.c)&limit=1",
        "select=no_such_column",
    ],
)
def test_gateway_forwards_the_query_string_as_sent(stack: Stack, query: str) -> None:
    user = stack.new_user()
    for name in ("a b", "c", "other"):  # something for every query to find (or refuse)
        stack.sql("insert into public.projects (name, owner_id) values (%s, %s)", (name, user.id))
    auth = {"Authorization": f"Bearer {user.token}"}
    direct = httpx.get(f"{stack.env['POSTGREST_URL']}/projects?{query}", headers=auth)
    through = stack.http().get(
        f"/rest/v1/projects?{query}&apikey={stack.env['ANON_KEY']}", headers=auth
    )
    assert direct.json() != [], "the comparison needs an answer that depends on the query"
    assert (through.status_code, through.json()) == (direct.status_code, direct.json())


def test_token_command_makes_the_user_as_sign_up_does(stack: Stack) -> None:
    """`make token` and the fixtures make users with sign-up's code: Auth's bcrypt cost, the
    same metadata and identity keys as a user who signed up over /auth/v1/signup."""
    email = f"same-{uuid.uuid4().hex[:8]}@example.test"
    assert _token_cli(stack, email).returncode == 0
    fixture = stack.new_user()
    signed_up = f"signup-{uuid.uuid4().hex[:8]}@example.test"
    response = httpx.post(
        f"{stack.env['API_URL']}/auth/v1/signup",
        headers={"apikey": stack.env["ANON_KEY"]},
        json={"email": signed_up, "password": "correct-horse-battery"},
    )
    assert response.status_code == 200, response.text
    query = """
        select u.encrypted_password, u.raw_user_meta_data, u.raw_app_meta_data,
               u.email_confirmed_at is not null as confirmed, i.identity_data
          from auth.users u join auth.identities i on i.user_id = u.id
         where u.email = %s
    """
    rows = [stack.sql(query, (e,))[0] for e in (email, fixture.email, signed_up)]
    for row in rows:
        assert row["encrypted_password"].startswith("$2a$10$")
        assert row["confirmed"]
        assert set(row["raw_user_meta_data"]) == set(rows[2]["raw_user_meta_data"])
        assert set(row["identity_data"]) == set(rows[2]["identity_data"])
        assert row["raw_app_meta_data"]["providers"] == ["email"]
