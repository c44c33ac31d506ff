"""``python -m devstack <command>``: the local stack's command line."""

from __future__ import annotations

import argparse
import sys

from devstack import stack
from devstack.config import Config
from devstack.procs import StackError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack in the background (idempotent)")
    sub.add_parser("down", help="stop every part of the stack")
    sub.add_parser("status", help='print connection details as NAME="value" lines')
    sub.add_parser("reset", help="wipe local data and re-apply bootstrap and migrations")
    token = sub.add_parser("token", help="print an access token for a (new) user")
    token.add_argument("--email", required=True)
    migrate = sub.add_parser("migrate", help="apply pending migrations with the Supabase CLI")
    migrate.add_argument("--db-url", help="any Postgres URL (default: the local database)")
    migrate.add_argument(
        "--include-all",
        action="store_true",
        help="with --db-url: also apply files older than the newest applied migration",
    )
    migration = sub.add_parser(
        "migration", help="write a migration: the declared schema minus migrations/"
    )
    migration.add_argument("--name", required=True)
    sub.add_parser(
        "schema-diff", help="print how migrations/ and the declared schema differ (pg_dump lines)"
    )
    bak = sub.add_parser("backup", help="pg_dump to the backup bucket (or --dir), with retention")
    bak.add_argument("--db-url", help="database to dump (default: the local database)")
    bak.add_argument("--dir", help="store in this folder instead of the backup bucket")
    bak.add_argument("--retention-days", type=int, default=30)
    res = sub.add_parser("restore", help="restore a backup into a new database")
    res.add_argument("--file", required=True, help="s3://bucket/key, a key, or a path")
    res.add_argument("--db-url", help="the new database (default: restore_<time>, local)")
    sub.add_parser("backups", help="list the backups")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = Config()
    try:
        if args.command == "up":
            stack.up(cfg)
        elif args.command == "down":
            stack.down(cfg)
        elif args.command == "status":
            return 0 if stack.status(cfg) else 3
        elif args.command == "reset":
            stack.reset(cfg)
        elif args.command == "token":
            print(stack.token(cfg, args.email))
        elif args.command == "migrate":
            print(stack.migrate(cfg, args.db_url, include_all=args.include_all), end="")
        elif args.command in ("migration", "schema-diff"):
            from devstack import schema

            if args.command == "schema-diff":
                difference = schema.compare(cfg)
                print(difference or "in sync: migrations/ builds the declared schema")
                return 1 if difference else 0
            schema.write_migration(cfg, args.name)
        elif args.command in ("backup", "restore", "backups"):
            from devstack import backup

            env = cfg.current_env()
            if args.command == "backup":
                made = backup.backup(
                    cfg, env, db_url=args.db_url, backup_dir=args.dir,
                    retention_days=args.retention_days,
                )  # fmt: skip
                print(made.location)
                for old in made.deleted:
                    print(f"deleted (past {args.retention_days} days): {old}", file=sys.stderr)
            elif args.command == "restore":
                print(backup.restore(cfg, env, args.file, db_url=args.db_url))
            else:
                print("\n".join(backup.list_backups(env)))
    except StackError as exc:
        what = "the local stack did not start" if args.command in ("up", "reset") else "error"
        print(f"{what}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
