"""supabase-js and supabase-py through local Auth's MFA and anonymous sign-ins
(tests/auth/supabase_js_signin.mjs drives supabase-js; its answers are checked here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack.auth import totp
from tests.auth.helpers import PASSWORD, mail_link
from tests.auth.helpers import email_address as _email
from tests.support import Stack

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def js_signin(stack: Stack) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node (20+) is needed for the supabase-js tests"
    result = subprocess.run(
        [node, str(HERE / "supabase_js_signin.mjs")],
        env={
            **os.environ,
            "API_URL": stack.env["API_URL"],
            "ANON_KEY": stack.env["ANON_KEY"],
            "RUN_ID": uuid.uuid4().hex[:10],
            "MAILPIT_URL": stack.env["MAILPIT_URL"],
        },
        cwd=stack.cfg.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_supabase_js_signs_in_anonymously_and_keeps_the_account(js_signin: dict) -> None:
    assert js_signin["anonymous"] == {"error": None, "isAnonymous": True, "claim": True}
    assert js_signin["keep"]["error"] is None and js_signin["keep"]["isAnonymous"] is False
    assert js_signin["password"] == {"error": None}


def test_supabase_js_enrols_and_verifies_totp_to_aal2(js_signin: dict) -> None:
    assert js_signin["aalBefore"] == {"current": "aal1", "next": "aal1"}
    enroll = js_signin["enroll"]
    assert enroll["error"] is None and enroll["type"] == "totp"
    assert enroll["qrPrefix"].startswith("data:image/svg+xml;utf-8,<svg")
    assert enroll["uri"].startswith("otpauth://totp/")
    assert js_signin["challenge"] == {"error": None, "hasId": True}
    assert js_signin["wrongCode"]["error"]["code"] == "mfa_verification_failed"
    assert js_signin["verify"] == {"error": None}
    assert js_signin["aalAfter"]["current"] == "aal2"
    assert js_signin["aalAfter"]["methods"][0] == "totp"
    assert js_signin["factors"] == {"error": None, "totp": ["verified"]}


def test_supabase_js_new_session_needs_the_factor_and_unenrols_at_aal2(js_signin: dict) -> None:
    assert js_signin["aalFresh"] == {"current": "aal1", "next": "aal2"}
    assert js_signin["challengeAndVerify"] == {"error": None}
    assert js_signin["unenroll"] == {"error": None, "id": True}


def test_supabase_js_signs_in_with_github_through_pkce(js_signin: dict) -> None:
    assert js_signin["oauth"] == {
        "error": None,
        "hasCode": True,
        "provider": "github",
        "identities": ["github"],
        "providerToken": True,
    }
    # the code is single use; auth-js also dropped its verifier after the first exchange
    assert js_signin["oauthReplay"]["error"] is not None


def test_supabase_py_enrols_challenges_and_verifies(stack: Stack) -> None:
    from supabase import create_client

    client = create_client(stack.env["API_URL"], stack.env["ANON_KEY"])
    email = _email()
    client.auth.sign_up({"email": email, "password": PASSWORD})
    code = mail_link(stack, f"to:{email}")["code"]  # confirmations on: the mail proves it
    client.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    enrolled = client.auth.mfa.enroll({"factor_type": "totp", "friendly_name": "py"})
    assert enrolled.totp is not None and enrolled.totp.qr_code.startswith("data:image/svg+xml")
    challenge = client.auth.mfa.challenge({"factor_id": enrolled.id})
    verified = client.auth.mfa.verify(
        {
            "factor_id": enrolled.id,
            "challenge_id": challenge.id,
            "code": totp.code_at(enrolled.totp.secret),
        }
    )
    assert verified.access_token
    level = client.auth.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    client.auth.sign_out()
