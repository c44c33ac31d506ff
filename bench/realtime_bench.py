"""Realtime benchmark (a person runs it; not a test): `make bench-realtime`.

Against the local Realtime server in the running gateway, over real WebSockets (vsn 2.0.0,
the frames supabase-js uses), from one client process on the same machine:

1. Private joins: sequential ``phx_join`` on ``conversation:<id>`` (each authorized against
   ``realtime.messages`` in a rolled-back transaction); joins/s and join p50/p95.
2. Broadcast with 100 and 1,000 subscribers: a member sends binary broadcasts at a steady
   pace; deliveries/s and send-to-delivery p50/p95 across all subscribers.
3. postgres_changes with 100 subscribers each checked by RLS: message inserts committed one
   at a time; commit-to-client p50/p95 (the clock read right after the commit returns).

Writes the "Realtime" section of bench/README.md (``--no-readme`` to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.realtime.conftest import make_chat  # noqa: E402
from tests.realtime.wire import ws_url  # noqa: E402
from tests.support import Stack  # noqa: E402

HEADING = "## Realtime: joins, broadcast fan-out, row changes"
NOTES = """
Goals on this 2-core machine: join p95 <= 20 ms, broadcast p95 <= 10 ms at >= 1,000
deliveries/s, change p95 <= 50 ms. Anchors from Supabase's published benchmarks: broadcast
p95 28 ms at scale; authorized joins p95 49 ms; RLS postgres_changes p95 228-920 ms. The
client process (up to 1,000 sockets, decoding every frame) shares the 2 cores with the
server, Postgres and other work, so the figures are an upper bound on the server's cost.
"""


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_ms(pid: int) -> float:
    """utime + stime of a process, in ms (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def server_cpu(stack: Stack) -> tuple[float, float]:
    """CPU time used so far by the gateway (where Realtime runs) and by the cluster's
    processes (postmaster and its children): how much work a phase cost the server,
    which the machine's other load changes much less than it changes latencies."""
    from devstack import gateway_proc, postgres

    gateway = gateway_proc.running_pid(stack.cfg)
    postmaster = postgres.running_pid(stack.cfg)
    pg = 0.0
    if postmaster is not None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == postmaster:
                pg += _cpu_ms(int(stat.parent.name))
        pg += _cpu_ms(postmaster)
    return (_cpu_ms(gateway) if gateway else 0.0), pg


def add_members(stack: Stack, conversation: str, n: int) -> list[str]:
    """n more members of the conversation; their access tokens."""
    tokens = []
    for _ in range(n):
        user = stack.new_user()
        stack.sql(
            "insert into public.conversation_members (conversation_id, user_id) values (%s, %s)",
            (conversation, user.id),
        )
        tokens.append(user.token)
    return tokens


def join_frame(topic: str, token: str, changes: list[dict[str, str]] | None = None) -> str:
    config = {"broadcast": {"self": False}, "private": True, "postgres_changes": changes or []}
    return json.dumps(["1", "1", topic, "phx_join", {"config": config, "access_token": token}])


async def open_joined(url: str, topic: str, token: str, changes=None) -> Any:
    ws = await websockets.connect(url, open_timeout=30, max_queue=None)
    await ws.send(join_frame(topic, token, changes))
    while True:
        frame = json.loads(await ws.recv())
        if frame[3] == "phx_reply":
            assert frame[4]["status"] == "ok", frame
            break
    if changes:
        while json.loads(await ws.recv())[3] != "system":
            pass
    return ws


async def joins(url: str, topic: str, tokens: list[str]) -> dict[str, Any]:
    times = []
    async with websockets.connect(url) as ws:
        start = time.perf_counter()
        for i, token in enumerate(tokens):
            t0 = time.perf_counter()
            sub = f"{topic}"
            frame = json.loads(join_frame(sub, token))
            frame[0] = frame[1] = str(i + 1)
            await ws.send(json.dumps(frame))
            while True:
                reply = json.loads(await ws.recv())
                if reply[3] == "phx_reply" and reply[1] == str(i + 1):
                    break
            times.append((time.perf_counter() - t0) * 1000)
            await ws.send(json.dumps([str(i + 1), f"l{i}", sub, "phx_leave", {}]))
        elapsed = time.perf_counter() - start
    return {
        "n": len(tokens),
        "per_s": len(tokens) / elapsed,
        "p50": pct(times, 0.5),
        "p95": pct(times, 0.95),
    }


async def keepalive(sockets: list[Any]) -> None:
    """Heartbeats as realtime-js sends them (the server closes a socket silent for 60 s;
    opening 1,000 sockets on a loaded machine can take longer than that)."""
    ref = 0
    while True:
        await asyncio.sleep(20)
        for ws in list(sockets):
            ref += 1
            with contextlib.suppress(Exception):
                await ws.send(json.dumps([None, f"hb{ref}", "phoenix", "heartbeat", {}]))


def push(topic: str, ref: int, body: bytes) -> bytes:
    parts = [p.encode() for p in ("1", str(ref), topic, "bench", "")]
    return struct.pack("BBBBBBB", 3, *(len(p) for p in parts), 1) + b"".join(parts) + body


async def broadcast(
    stack: Stack, url: str, topic: str, sender: str, tokens: list[str], messages: int, rate: float
) -> dict[str, Any]:
    subs: list[Any] = []
    beating = asyncio.create_task(keepalive(subs))
    for t in tokens:
        subs.append(await open_joined(url, topic, t))
    src = await open_joined(url, topic, sender)
    subs.append(src)
    latencies: list[float] = []
    header = 5 + len(topic.encode()) + len(b"bench")

    async def reader(ws: Any) -> None:
        got = 0
        while got < messages:
            frame = await ws.recv()
            if isinstance(frame, str):
                continue  # a heartbeat's reply
            got += 1
            sent = json.loads(frame[header:])["t"]
            latencies.append((time.perf_counter() - sent) * 1000)

    readers = [asyncio.create_task(reader(ws)) for ws in subs[:-1]]
    cpu_before = server_cpu(stack)
    start = time.perf_counter()
    for i in range(messages):
        await src.send(push(topic, i + 2, json.dumps({"t": time.perf_counter()}).encode()))
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    await asyncio.wait_for(asyncio.gather(*readers), 120)
    elapsed = time.perf_counter() - start
    cpu_after = server_cpu(stack)
    beating.cancel()
    for ws in subs:
        await ws.close()
    return {
        "subscribers": len(subs) - 1,
        "messages": messages,
        "deliveries_per_s": len(latencies) / elapsed,
        "p50": pct(latencies, 0.5),
        "p95": pct(latencies, 0.95),
        "cpu": (cpu_before, cpu_after),
    }


async def changes(
    stack: Stack,
    url: str,
    db_url: str,
    topic: str,
    conversation: str,
    author: str,
    tokens: list[str],
    inserts: int,
) -> dict[str, Any]:
    binding = [
        {
            "event": "INSERT",
            "schema": "public",
            "table": "messages",
            "filter": f"conversation_id=eq.{conversation}",
        }
    ]
    subs: list[Any] = []
    beating = asyncio.create_task(keepalive(subs))
    for t in tokens:
        subs.append(await open_joined(url, topic, t, binding))
    latencies: list[float] = []
    committed: dict[str, float] = {}

    async def reader(ws: Any) -> None:
        got = 0
        while got < inserts:
            frame = json.loads(await ws.recv())
            if frame[3] == "postgres_changes":
                latencies.append(
                    (time.perf_counter() - committed[frame[4]["data"]["record"]["content"]]) * 1000
                )
                got += 1

    readers = [asyncio.create_task(reader(ws)) for ws in subs]
    cpu_before = server_cpu(stack)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for i in range(inserts):
            key = f"bench {i}"
            await conn.execute(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, %s)",
                (conversation, author, key),
            )
            committed[key] = time.perf_counter()
            await asyncio.sleep(0.25)
    await asyncio.wait_for(asyncio.gather(*readers), 120)
    cpu_after = server_cpu(stack)
    beating.cancel()
    for ws in subs:
        await ws.close()
    return {
        "subscribers": len(subs),
        "inserts": inserts,
        "deliveries": len(latencies),
        "p50": pct(latencies, 0.5),
        "p95": pct(latencies, 0.95),
        "cpu": (cpu_before, cpu_after),
    }


async def measure(args: argparse.Namespace) -> None:
    stack = Stack.start()
    chat = make_chat(stack)
    url = ws_url(stack)
    topic = chat.topic
    print(f"seeding {args.subscribers_max} members ...", file=sys.stderr)
    tokens = add_members(stack, chat.id, args.subscribers_max)
    print("| figure | value | server CPU (gateway + Postgres) |\n|---|---:|---:|")
    await run_phases(args, stack, chat, url, topic, tokens)


def _cpu_cell(before: tuple[float, float], after: tuple[float, float], per: int, unit: str) -> str:
    gateway, pg = after[0] - before[0], after[1] - before[1]
    return f"{gateway / per:,.2f} + {pg / per:,.2f} ms per {unit}"


async def run_phases(
    args: argparse.Namespace, stack: Stack, chat: Any, url: str, topic: str, tokens: list[str]
) -> None:
    if "joins" in args.only:
        cpu = server_cpu(stack)
        j = await joins(url, topic, tokens[: args.joins])
        print(
            f"| private joins ({j['n']}, sequential) | {j['per_s']:,.0f} joins/s, "
            f"p50 {j['p50']:.1f} ms, p95 {j['p95']:.1f} ms | "
            f"{_cpu_cell(cpu, server_cpu(stack), j['n'], 'join')} |"
        )
    for n in (100, args.subscribers_max) if "broadcast" in args.only else ():
        rate = args.deliveries / n  # the same offered load (deliveries/s) for both sizes
        b = await broadcast(stack, url, topic, chat.alice.token, tokens[:n], args.messages, rate)
        cpu = b.pop("cpu")
        delivered = n * args.messages
        print(
            f"| broadcast, {b['subscribers']:,} subscribers, {rate:g} msgs/s sent | "
            f"{b['deliveries_per_s']:,.0f} deliveries/s, p50 {b['p50']:.1f} ms, "
            f"p95 {b['p95']:.1f} ms | "
            f"{_cpu_cell(cpu[0], cpu[1], max(1, delivered // 1000), '1,000 deliveries')} |"
        )
    if "changes" in args.only:
        c = await changes(
            stack,
            url,
            stack.env["DB_URL"],
            topic,
            chat.id,
            chat.alice.id,
            tokens[:100],
            args.inserts,
        )
        cpu = c.pop("cpu")
        print(
            f"| postgres_changes, {c['subscribers']} RLS-checked subscribers, {c['inserts']} "
            f"inserts | commit-to-client p50 {c['p50']:.1f} ms, p95 {c['p95']:.1f} ms | "
            f"{_cpu_cell(cpu[0], cpu[1], c['inserts'], 'insert')} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/realtime_bench.py")
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--subscribers-max", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument(
        "--deliveries",
        type=float,
        default=2000.0,
        help="offered deliveries/s (send rate x subscribers)",
    )
    parser.add_argument("--inserts", type=int, default=20)
    parser.add_argument(
        "--only",
        type=lambda v: set(v.split(",")),
        default={"joins", "broadcast", "changes"},
        help="a comma list of joins,broadcast,changes (default: all three)",
    )
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    captured = io.StringIO()
    real = sys.stdout

    class Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            real.write(s)
            return captured.write(s)

    with contextlib.redirect_stdout(Tee()):
        asyncio.run(measure(args))
    if not args.no_readme:
        from bench import report

        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        text = "\n".join(
            [
                HEADING,
                "",
                f"Measured {when} with `make bench-realtime` ({os.cpu_count()} cores; server, "
                "Postgres and the client process on the same machine).",
                "",
                captured.getvalue().rstrip(),
                "",
                NOTES.strip(),
                "",
            ]
        )
        report.write(text, heading=HEADING)
        print(f"wrote {report.README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
