"""Notify benchmark: notification rows -> delivered e-mails through the queue.

    .venv/bin/python bench/notify_bench.py [--notifications 1000] [--people 50]

Against the running local stack (`make up`): ``--people`` new people (e-mail immediate by
default for `system`), ``--notifications`` notification rows spread over them, inserted in
one transaction (as a trigger would: the fan-out writes one delivery per row), then every
delivery is sent to the local queue (what the dispatcher does), and the event host's worker
claims and mails each one to the local inbox over SMTP (the same code path SES takes in
production; the SES transport itself is proven against moto in tests, not timed here).

Figures: deliveries/s (rows committed -> last delivery `sent`), p50/p95 of row -> sent
(``finished_at - notifications.created_at``, one clock), and the burst check: every person's
inbox holds exactly their number of notifications (none lost, none twice), read through the
Mailpit API. Prints a markdown section for bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from devstack.config import Config, function_env  # noqa: E402
from tests.support import Inbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    env = Config().current_env()
    os.environ.update(function_env(env))
    from core import jobs
    from notify.kinds import DELIVERIES
    from notify.settings import build_notify_settings

    settings = build_notify_settings()
    run = uuid.uuid4().hex[:8]
    emails = [f"bench-{run}-{i}@example.test" for i in range(args.people)]
    with psycopg.connect(env["DB_URL"], autocommit=True, row_factory=dict_row) as db:
        ids = []
        for email in emails:
            row = db.execute(
                "insert into auth.users (id, email, aud, role, created_at, updated_at)"
                " values (gen_random_uuid(), %s, 'authenticated', 'authenticated', now(), now())"
                " returning id",
                (email,),
            ).fetchone()
            ids.append(row["id"])
        started = time.monotonic()
        with db.transaction():
            db.execute(
                "insert into public.notifications (user_id, type, payload)"
                " select (%s::uuid[])[1 + (g %% %s)], 'system',"
                " jsonb_build_object('message', 'bench ' || g) from generate_series(0, %s - 1) g",
                (ids, len(ids), args.notifications),
            )
        deliveries = db.execute(
            "select d.id from public.notification_deliveries d where d.user_id = any(%s)",
            (ids,),
        ).fetchall()
        assert len(deliveries) == args.notifications, "one delivery per notification"
        for d in deliveries:
            jobs.send(settings, DELIVERIES, str(d["id"]))
        deadline = time.monotonic() + args.timeout
        while True:
            left = db.execute(
                "select count(*) as n from public.notification_deliveries"
                " where user_id = any(%s) and status not in ('sent', 'failed')",
                (ids,),
            ).fetchone()["n"]
            if not left:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{left} deliveries still not sent after {args.timeout:.0f}s")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        latencies = [
            r["ms"]
            for r in db.execute(
                "select extract(epoch from d.finished_at - n.created_at) * 1000 as ms"
                " from public.notification_deliveries d"
                " join public.notifications n on n.id = d.notification_id"
                " where d.user_id = any(%s)",
                (ids,),
            ).fetchall()
        ]
        failed = db.execute(
            "select count(*) as n from public.notification_deliveries"
            " where user_id = any(%s) and status = 'failed'",
            (ids,),
        ).fetchone()["n"]

    inbox = Inbox(env["MAILPIT_URL"])
    expected = {e: args.notifications // args.people + (i < args.notifications % args.people)
                for i, e in enumerate(emails)}  # fmt: skip
    wrong = {e: inbox.count(f"to:{e}") for e in emails}
    wrong = {e: (n, expected[e]) for e, n in wrong.items() if n != expected[e]}
    quantiles = statistics.quantiles(latencies, n=20)
    print("## Notify: notifications to delivered e-mail (local queue, SMTP inbox)\n")
    print(f"{args.notifications} notifications for {args.people} people, one transaction; "
          "shared machine (figures move with the load).\n")  # fmt: skip
    print("| figure | value |\n|---|---:|")
    print(f"| deliveries/s (commit -> last sent) | {args.notifications / elapsed:.1f} |")
    print(f"| row -> sent p50 | {statistics.median(latencies):.0f} ms |")
    print(f"| row -> sent p95 | {quantiles[18]:.0f} ms |")
    print(f"| failed deliveries | {failed} |")
    print(f"| people whose inbox count differs from their notifications | {len(wrong)} |")
    if wrong:
        raise SystemExit(f"lost or doubled mail: {list(wrong.items())[:5]}")


if __name__ == "__main__":
    main()
