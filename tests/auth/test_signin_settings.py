"""The sign-in settings local Auth reads from supabase/config.toml ([auth.mfa],
enable_anonymous_sign_ins, [auth.external.*], additional_redirect_urls)."""

from __future__ import annotations

from pathlib import Path

from devstack.auth import local_providers
from devstack.auth.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, toml: str) -> AuthSettings:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    return AuthSettings.load(
        db_url="postgresql://x",
        jwt_secret="s",
        api_url="http://127.0.0.1:1",
        config_toml=config,
        providers=local_providers({}),
    )


def test_defaults_are_the_clis(tmp_path: Path) -> None:
    settings = _load(tmp_path, "[auth]\n")
    assert settings.enable_anonymous_sign_ins is False
    assert (settings.mfa.max_enrolled_factors, settings.mfa.totp_enroll_enabled) == (10, True)
    assert settings.external == ()


def test_mfa_anonymous_and_providers_are_read(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        """
[auth]
enable_anonymous_sign_ins = true
additional_redirect_urls = ["https://app.example.test/cb"]
[auth.mfa]
max_enrolled_factors = 2
[auth.mfa.totp]
enroll_enabled = false
verify_enabled = false
[auth.external.github]
enabled = true
[auth.external.google]
enabled = false
""",
    )
    assert settings.enable_anonymous_sign_ins is True
    assert settings.mfa.max_enrolled_factors == 2
    assert not settings.mfa.totp_enroll_enabled and not settings.mfa.totp_verify_enabled
    assert [p.name for p in settings.external] == ["github"]
    assert settings.provider("google") is None
    assert settings.redirect_urls == ("https://app.example.test/cb",)


def test_the_projects_config_enables_what_docs_signin_says() -> None:
    settings = AuthSettings.load(
        db_url="postgresql://x",
        jwt_secret="s",
        api_url="http://127.0.0.1:1",
        config_toml=ROOT / "supabase" / "config.toml",
        providers=local_providers({}),
    )
    assert settings.enable_anonymous_sign_ins is True
    assert sorted(p.name for p in settings.external) == ["github", "google"]
    assert settings.mfa.totp_enroll_enabled and settings.mfa.totp_verify_enabled
