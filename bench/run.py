"""RLS cost at scale: ``make bench`` (or ``.venv/bin/python -m bench.run --help``).

1. builds the ``bench`` database on the local cluster (bootstrap + migrations; never the dev
   database), 2. seeds it (skipped when the scale is already there), 3. starts a second
   PostgREST on its own port, 4. per list: checks both queries return the same rows, times
   member vs. bypass with wrk, captures the plans, 5. writes the "RLS cost at scale" section
   of bench/README.md and stops its PostgREST. Needs the local stack's PostgreSQL (`make up`).

Settings (flag or environment): --scale / BENCH_SCALE (1.0 = 20k users, 50k projects, 1M
tasks, 1M messages, 500k notifications), --seconds / BENCH_SECONDS (per round), --rounds,
--connections, --users (members whose tokens rotate), --only (list keys), --rebuild.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime

from bench import benchdb, load, report, rls_bench, seed
from bench.lists import LISTS, pick_members
from devstack import procs
from devstack.config import Config


def _args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=float(env("BENCH_SCALE") or 1.0))
    p.add_argument("--seconds", type=float, default=float(env("BENCH_SECONDS") or 6))
    p.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS") or 2))
    p.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS") or 8))
    p.add_argument("--users", type=int, default=int(env("BENCH_USERS") or 16))
    p.add_argument("--only", nargs="*", choices=[s.key for s in LISTS], default=None)
    p.add_argument("--no-readme", action="store_true", help="print the section, don't write it")
    p.add_argument("--rebuild", action="store_true", help="drop the bench database first")
    p.add_argument("--keep-server", action="store_true", help="leave the bench PostgREST up")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="bench/smoke.py: only prove it runs (exit 1 on mismatched rows, not on ratios)",
    )
    return p.parse_args(argv)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB RAM shared with other work, "
        f"{platform.system()} {platform.release().split('-')[0]}, PostgreSQL 15 and PostgREST "
        "and the load tool on the same machine"
    )


def prepare(cfg: Config, scale: seed.Scale) -> None:
    _say(f"bench database '{benchdb.DB_NAME}': bootstrap + migrations ...")
    benchdb.ensure(cfg)
    try:
        seed.seed(benchdb.url(cfg), scale, say=_say)
    except seed.ScaleChangedError:
        _say("the bench database holds another scale: rebuilding it")
        benchdb.drop(cfg)
        benchdb.ensure(cfg)
        seed.seed(benchdb.url(cfg), scale, say=_say)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    cfg = Config()
    # one benchmark at a time: a second run would restart the first one's PostgREST
    with procs.file_lock(cfg.state_dir / "bench.lock"):
        return _run(args, cfg)


def _run(args: argparse.Namespace, cfg: Config) -> int:
    scale = seed.Scale.of(args.scale)
    if args.rebuild:
        benchdb.drop(cfg)
    prepare(cfg, scale)
    wrk = load.ensure_wrk()
    _say(f"load tool: {wrk or 'python loop (wrk unavailable)'}")
    members = pick_members(benchdb.url(cfg), args.users)
    specs = [s for s in LISTS if not args.only or s.key in args.only]
    base = benchdb.base_url()
    common = {"secret": cfg.jwt_secret, "service_key": cfg.service_role_key}
    results: list[rls_bench.ListResult] = []
    benchdb.start(cfg)
    try:
        for spec in specs:
            _say(f"{spec.key}: {spec.title}")
            rows, mismatches = rls_bench.compare_rows(base, spec, members, **common)
            indexes, seqs = rls_bench.write_plans(
                base, benchdb.url(cfg), spec, members[0], **common
            )
            rls, bypass = rls_bench.measure(
                base, spec, members, seconds=args.seconds, rounds=args.rounds,
                connections=args.connections, wrk=wrk, say=_say, **common,
            )  # fmt: skip
            rls_timing, bypass_timing = rls_bench.server_timings(base, spec, members, **common)
            result = rls_bench.ListResult(
                spec, rls, bypass, rows, mismatches, indexes, seqs, rls_timing, bypass_timing
            )
            results.append(result)
            _say(
                f"  => RLS {rls.rps:,.0f} req/s, bypass {bypass.rps:,.0f} req/s, "
                f"ratio {result.ratio:.2f}, rows {rows:.0f}, mismatches {mismatches}, "
                f"index {indexes or '-'}{' SEQ SCAN' if seqs else ''}"
            )
    finally:
        if not args.keep_server:
            benchdb.stop(cfg)
    tool = f"wrk, 1 thread, {args.connections} connections" if wrk else "Python loop"
    settings = (
        f"{tool}, {args.rounds} rounds of {args.seconds:g} s per side (alternating, after a "
        f"2 s warm-up), requests rotating over {len(members)} members (4-15 live projects "
        "each) and their tokens"
    )
    command = "make bench" + (f" BENCH_SCALE={args.scale:g}" if args.scale != 1.0 else "")
    text = report.section(
        results,
        counts=seed.counts(benchdb.url(cfg)),
        machine=_machine(),
        settings=settings,
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
        notes=report.NOTES,
    )
    if args.no_readme or args.only:
        print(text)
    else:
        report.write(text)
        _say(f"wrote {report.README}")
    if args.smoke:
        return 0 if not any(r.mismatches for r in results) else 1
    return 0 if all(r.ratio >= report.GOAL and not r.mismatches for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
