"""Per-request cost of the list helpers in SQL, before vs. after (bench/helper_cost.sql).

``.venv/bin/python -m bench.helper_cost`` on the bench database (``make bench`` builds it);
prints microseconds per request for three rounds. No HTTP and no load tool: the figure is
what Postgres spends on the helpers of one list request, less noisy than req/s on a shared
machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

from bench import benchdb
from devstack.config import Config

SQL = Path(__file__).with_name("helper_cost.sql")


def main() -> int:
    url = benchdb.url(Config())
    notices: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        uid = conn.execute(
            "select cm.user_id::text from public.conversation_members cm"
            " join public.project_members pm using (user_id)"
            " group by 1 order by count(*) desc limit 1"
        ).fetchone()
        if uid is None:
            print("the bench database has no members: run `make bench` first", file=sys.stderr)
            return 1
        text = SQL.read_text().replace(":'uid'", "'" + uid[0] + "'")
        conn.execute(text)  # type: ignore[arg-type]
    print("\n".join(n.strip() for n in notices if n.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
