"""postgres_changes from logical decoding (pgoutput over the ``supabase_realtime``
publication), checked per subscriber as hosted Realtime's ``realtime.apply_rls`` does.

- One replication slot per server, temporary (dropped when its connection ends, and
  explicitly on stop), polled with ``pg_logical_slot_get_binary_changes``: every
  ``BUSY_POLL_S`` while changes flow, backing off to ``IDLE_POLL_S``.
- A change reaches a binding when the table is in the publication and matches its
  schema/table (``*`` allowed) and event, the filter holds on the typed values, and, for
  inserts and updates on a table with RLS, the subscriber can select the row by its primary
  key as its own role and claims. Deletes skip RLS (they cannot be checked any more) and
  carry only the primary key unless the table has ``replica identity full``.
- Columns the subscriber's role may not select are dropped; a table without a primary key
  or a key the role cannot read gives the hosted 400 / 401 error payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from devstack.realtime import authz, protocol

if TYPE_CHECKING:
    from devstack.realtime.server import Channel

log = logging.getLogger("devstack.realtime.changes")

PUBLICATION = "supabase_realtime"
BUSY_POLL_S = 0.01
# an idle poll is one cheap call (no WAL to decode); 25 ms keeps commit-to-client low
IDLE_POLL_S = 0.025
# per-subscriber RLS checks of one change run on up to this many pool connections at once
# (Postgres evaluates them on both cores), each a pipelined rolled-back transaction
RLS_CONNECTIONS = 3
RLS_CHUNK_MIN = 20
MAX_CHANGES_PER_POLL = 1000
MAX_RECORD_BYTES = 1024 * 1024
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FILTER_RE = re.compile(r"^([^=]+)=(not\.)?(eq|neq|lt|lte|gt|gte|in)\.(.*)$", re.S)
INT_TYPES = {"int2", "int4", "int8", "oid"}
FLOAT_TYPES = {"float4", "float8", "numeric"}
ORDERED_PY = INT_TYPES | FLOAT_TYPES


@dataclass
class Relation:
    oid: int
    schema: str
    name: str
    identity: str  # d(efault) n(othing) f(ull) i(ndex)
    columns: list[tuple[str, int, bool]]  # name, type oid, part of the key


@dataclass
class Change:
    relation: Relation
    action: str  # INSERT UPDATE DELETE
    new: dict[str, str | None] | None
    old: dict[str, str | None] | None
    commit_ts: dt.datetime | None = None


@dataclass
class Filter:
    column: str
    op: str
    value: str
    negate: bool


@dataclass
class Subscription:
    channel: Channel
    binding_id: int
    event: str
    schema: str
    table: str
    filter: Filter | None


@dataclass
class TableInfo:
    oid: int
    rls: bool
    pkey: list[str]
    types: dict[str, str]  # column -> typname
    order: list[str]  # columns by attnum
    formats: dict[str, str] = field(default_factory=dict)  # column -> format_type


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def i16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def i32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def i64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def cstr(self) -> str:
        end = self.data.index(b"\x00", self.pos)
        text = self.data[self.pos : end].decode()
        self.pos = end + 1
        return text

    def tuple(self, relation: Relation) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for i in range(self.i16()):
            kind = chr(self.u8())
            name = relation.columns[i][0]
            if kind == "n":
                values[name] = None
            elif kind == "t":
                values[name] = self.take(self.i32()).decode()
            # 'u': unchanged TOAST value, left out (the old tuple may carry it)
        return values


class Decoder:
    """pgoutput protocol version 1 (B R I U D C; Y O T ignored)."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.commit_ts: dt.datetime | None = None
        self.pending: list[Change] = []

    def feed(self, data: bytes) -> list[Change]:
        r = Reader(data)
        kind = chr(r.u8())
        if kind == "B":
            r.i64()
            self.commit_ts = PG_EPOCH + dt.timedelta(microseconds=r.i64())
            self.pending = []
        elif kind == "R":
            oid = r.i32()
            schema, name = r.cstr(), r.cstr()
            identity = chr(r.u8())
            columns = []
            for _ in range(r.i16()):
                flags = r.u8()
                col = r.cstr()
                type_oid = r.i32()
                r.i32()
                columns.append((col, type_oid, bool(flags & 1)))
            self.relations[oid] = Relation(oid, schema or "pg_catalog", name, identity, columns)
        elif kind in "IUD":
            relation = self.relations[r.i32()]
            new = old = None
            if kind == "I":
                r.u8()  # 'N'
                new = r.tuple(relation)
            elif kind == "U":
                marker = chr(r.u8())
                if marker in "KO":
                    old = r.tuple(relation)
                    marker = chr(r.u8())
                new = r.tuple(relation)
            else:
                r.u8()  # 'K' or 'O'
                old = r.tuple(relation)
            action = {"I": "INSERT", "U": "UPDATE", "D": "DELETE"}[kind]
            self.pending.append(Change(relation, action, new, old))
        elif kind == "C":
            done, self.pending = self.pending, []
            for change in done:
                change.commit_ts = self.commit_ts
            return done
        return []


def parse_filter(text: str | None) -> Filter | None:
    if text is None or text == "":
        return None
    match = FILTER_RE.match(text)
    if match is None:
        raise ValueError(f"Error parsing `filter` params: {text}")
    column, negate, op, value = match.groups()
    return Filter(column.strip(), op, value, bool(negate))


def to_json_value(value: str | None, typname: str) -> Any:
    """What ``to_jsonb(value::type)`` gives for the common types (others stay text)."""
    if value is None:
        return None
    if typname == "bool":
        return value == "t"
    if typname in INT_TYPES:
        return int(value)
    if typname in FLOAT_TYPES:
        if value in ("NaN", "Infinity", "-Infinity"):
            return value
        number = float(value)
        return (
            int(value) if typname == "numeric" and "." not in value and "e" not in value else number
        )
    if typname in ("json", "jsonb"):
        return json.loads(value)
    if typname == "timestamptz" and value not in ("infinity", "-infinity"):
        stamp = value.replace(" ", "T", 1)
        return re.sub(r"([+-]\d\d)$", r"\1:00", stamp)
    if typname == "timestamp" and value not in ("infinity", "-infinity"):
        return value.replace(" ", "T", 1)
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return left == right
    if op == "neq":
        return left != right
    if left is None or right is None:
        return False
    return {
        "lt": left < right,
        "lte": left <= right,
        "gt": left > right,
        "gte": left >= right,
    }[op]


class ChangeFeed:
    def __init__(self, db_url: str, pool: authz.Pool) -> None:
        self.db_url = db_url
        self.pool = pool
        self.slot = f"devstack_realtime_{os.getpid()}"
        self.subscriptions: dict[Channel, list[Subscription]] = {}
        # (schema, table) of the bindings ("*" included) -> their subscriptions, in order:
        # a change of a table nobody listens to costs one lookup (a message insert also
        # writes a notification per member, which all pass through here)
        self._by_table: dict[tuple[str, str], list[Subscription]] | None = None
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.task: asyncio.Task[None] | None = None
        self.decoder = Decoder()
        self.tables: dict[int, TableInfo] = {}
        self.columns_allowed: dict[tuple[str, int], set[str]] = {}
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.execute("select pg_drop_replication_slot(%s)", (self.slot,))
            await self.conn.close()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self.db_url, autocommit=True, options="-c TimeZone=UTC -c DateStyle=ISO"
        )
        await conn.execute(
            "select pg_create_logical_replication_slot(%s, 'pgoutput', true)", (self.slot,)
        )
        return conn

    async def _run(self) -> None:
        delay = IDLE_POLL_S
        while True:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = await self._connect()
                    self.decoder = Decoder()
                    self.ready.set()
                rows = await (
                    await self.conn.execute(
                        "select data from pg_logical_slot_get_binary_changes(%s, null, %s,"
                        " 'proto_version', '1', 'publication_names', %s)",
                        (self.slot, MAX_CHANGES_PER_POLL, PUBLICATION),
                    )
                ).fetchall()
                changes: list[Change] = []
                for (data,) in rows:
                    changes.extend(self.decoder.feed(bytes(data)))
                if changes and self.subscriptions:
                    self.columns_allowed.clear()
                    for change in changes:
                        await self._deliver(change)
                delay = BUSY_POLL_S if rows else min(delay * 2, IDLE_POLL_S)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("change feed failed; reconnecting")
                self.ready.clear()
                if self.conn is not None:
                    with contextlib.suppress(Exception):
                        await self.conn.close()
                self.conn = None
                delay = 1.0
            await asyncio.sleep(delay)

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, channel: Channel) -> None:
        subs: list[Subscription] = []
        for binding in channel.bindings:
            params = binding.params
            event = params.get("event", "*").upper()
            schema, table = params.get("schema", "*"), params.get("table", "*")
            try:
                if event not in ("*", "INSERT", "UPDATE", "DELETE"):
                    raise ValueError(f"Error parsing `event` params: {params.get('event')}")
                filt = parse_filter(params.get("filter"))
                await self._check_published(schema, table, filt)
            except ValueError as exc:
                channel.system("postgres_changes", "error", str(exc))
                return
            except Exception as exc:
                channel.system("postgres_changes", "error", _unable(params, str(exc)))
                return
            subs.append(Subscription(channel, binding.id, event, schema, table, filt))
        if channel.closed:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.ready.wait(), 10)
        self.subscriptions[channel] = subs
        self._by_table = None
        channel.system("postgres_changes", "ok", "Subscribed to PostgreSQL")

    def unsubscribe(self, channel: Channel) -> None:
        if self.subscriptions.pop(channel, None) is not None:
            self._by_table = None

    def update_claims(self, channel: Channel) -> None:
        """Claims live on the channel; nothing is copied, so a new token applies at once."""

    async def _check_published(self, schema: str, table: str, filt: Filter | None) -> None:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "select format('%%I.%%I', schemaname, tablename)::regclass::oid"
                    " from pg_publication_tables where pubname = %s"
                    " and schemaname like (case %s when '*' then '%%' else %s end) escape ''"
                    " and tablename like (case %s when '*' then '%%' else %s end) escape ''",
                    (PUBLICATION, schema, schema, table, table),
                )
            ).fetchall()
        if not rows:
            raise LookupError("no published table matches")
        if filt is not None:
            for (oid,) in rows:
                info = await self._table(oid)
                if filt.column not in info.types:
                    raise LookupError(f"invalid column for filter {filt.column}")

    # -- per change --------------------------------------------------------------------------

    async def _table(self, oid: int) -> TableInfo:
        info = self.tables.get(oid)
        if info is not None:
            return info
        async with self.pool.connection() as conn:
            rls = (
                await (
                    await conn.execute("select relrowsecurity from pg_class where oid = %s", (oid,))
                ).fetchone()
            )[0]
            cols = await (
                await conn.execute(
                    "select a.attname, t.typname, format_type(a.atttypid, a.atttypmod),"
                    " coalesce(a.attnum = any(c.conkey), false)"
                    " from pg_attribute a join pg_type t on t.oid = a.atttypid"
                    " left join pg_constraint c on c.conrelid = a.attrelid and c.contype = 'p'"
                    " where a.attrelid = %s and a.attnum > 0 and not a.attisdropped"
                    " order by a.attnum",
                    (oid,),
                )
            ).fetchall()
        info = TableInfo(
            oid=oid,
            rls=bool(rls),
            pkey=[c[0] for c in cols if c[3]],
            types={c[0]: c[1] for c in cols},
            order=[c[0] for c in cols],
            formats={c[0]: c[2] for c in cols},
        )
        self.tables[oid] = info
        return info

    async def _allowed_columns(self, role: str, info: TableInfo) -> set[str]:
        key = (role, info.oid)
        if key not in self.columns_allowed:
            async with self.pool.connection() as conn:
                rows = await (
                    await conn.execute(
                        "select attname from pg_attribute where attrelid = %s and attnum > 0"
                        " and not attisdropped"
                        " and has_column_privilege(%s, attrelid, attname, 'SELECT')",
                        (info.oid, role),
                    )
                ).fetchall()
            self.columns_allowed[key] = {r[0] for r in rows}
        return self.columns_allowed[key]

    def _listening(self, rel: Relation) -> list[Subscription]:
        """The subscriptions whose schema and table match the relation, in subscription
        order."""
        if self._by_table is None:
            index: dict[tuple[str, str], list[Subscription]] = {}
            for subs in self.subscriptions.values():
                for sub in subs:
                    index.setdefault((sub.schema, sub.table), []).append(sub)
            self._by_table = index
        keys = ((rel.schema, rel.name), (rel.schema, "*"), ("*", rel.name), ("*", "*"))
        found = [self._by_table[k] for k in keys if k in self._by_table]
        if len(found) <= 1:
            return found[0] if found else []
        order = {id(sub): i for i, sub in enumerate(self._all_in_order())}
        return sorted((sub for subs in found for sub in subs), key=lambda s: order[id(s)])

    def _all_in_order(self) -> list[Subscription]:
        return [sub for subs in self.subscriptions.values() for sub in subs]

    def _matches(self, sub: Subscription, change: Change) -> bool:
        rel = change.relation
        return (
            (sub.event == "*" or sub.event == change.action)
            and (sub.schema == "*" or sub.schema == rel.schema)
            and (sub.table == "*" or sub.table == rel.name)
        )

    async def _passes(self, filt: Filter | None, values: dict[str, Any] | None, info: TableInfo):
        if filt is None:
            return True
        if values is None or filt.column not in values:
            return False
        typname = info.types.get(filt.column, "text")
        raw = values[filt.column]
        if filt.op == "in":
            inner = filt.value.strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                return False
            options = [o.strip().strip('"') for o in inner[1:-1].split(",")]
            if typname in ORDERED_PY | {"text", "varchar", "uuid", "bool"}:
                try:
                    left = to_json_value(raw, typname)
                    result = left in [to_json_value(o, typname) for o in options]
                except ValueError:
                    result = False
            else:
                result = await self._sql_compare("= any", raw, options, info, filt.column)
        elif typname in ORDERED_PY | {"text", "varchar", "bool"} or (
            typname == "uuid" and filt.op in ("eq", "neq")
        ):
            try:
                result = _compare(
                    filt.op, to_json_value(raw, typname), to_json_value(filt.value, typname)
                )
            except (ValueError, TypeError):
                result = False
        else:
            sql_op = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
            result = await self._sql_compare(sql_op[filt.op], raw, filt.value, info, filt.column)
        return result != filt.negate

    async def _sql_compare(self, op: str, left: Any, right: Any, info: TableInfo, column: str):
        cast = info.formats[column]
        if op == "= any":
            sql = f"select %s::{cast} = any(%s::{cast}[])"
        else:
            sql = f"select %s::{cast} {op} %s::{cast}"
        try:
            async with self.pool.connection() as conn:
                row = await (await conn.execute(sql, (left, right))).fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0])

    async def _visible_to(
        self, info: TableInfo, rel: Relation, change: Change, claim_sets: list[dict[str, Any]]
    ) -> list[bool]:
        """Whether each subscriber's select policy returns the changed row, by primary key,
        as that subscriber's role and claims. Large sets are split over a few connections
        that run at once; each part is one pipelined, rolled-back transaction."""
        parts = max(1, min(RLS_CONNECTIONS, len(claim_sets) // RLS_CHUNK_MIN))
        if parts == 1:
            return await self._visible_to_one(info, rel, change, claim_sets)
        size = -(-len(claim_sets) // parts)
        chunks = [claim_sets[i : i + size] for i in range(0, len(claim_sets), size)]
        answers = await asyncio.gather(
            *(self._visible_to_one(info, rel, change, chunk) for chunk in chunks)
        )
        return [answer for chunk in answers for answer in chunk]

    async def _visible_to_one(
        self, info: TableInfo, rel: Relation, change: Change, claim_sets: list[dict[str, Any]]
    ) -> list[bool]:
        assert change.new is not None
        where = " and ".join(
            f"{pgsql.Identifier(k).as_string()} = %s::{info.formats[k]}" for k in info.pkey
        )
        query = (
            f"select exists(select 1 from {pgsql.Identifier(rel.schema).as_string()}."
            f"{pgsql.Identifier(rel.name).as_string()} where {where})"
        )
        key = tuple(change.new.get(k) for k in info.pkey)
        setup = "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
        try:
            async with self.pool.connection() as conn, conn.transaction(force_rollback=True):
                cursors = []
                async with conn.pipeline():
                    for claims in claim_sets:
                        await conn.execute(setup, (claims.get("role"), json.dumps(claims)))
                        cursors.append(await conn.execute(query, key))
                return [bool((await cur.fetchone() or [False])[0]) for cur in cursors]
        except psycopg.Error:
            if len(claim_sets) == 1:
                return [False]
            # one bad claim set (a role that does not exist) must not hide the row from others
            return [(await self._visible_to_one(info, rel, change, [c]))[0] for c in claim_sets]

    async def _deliver(self, change: Change) -> None:
        rel = change.relation
        matching = [sub for sub in self._listening(rel) if self._matches(sub, change)]
        if not matching:
            return
        info = await self._table(rel.oid)
        new = {
            k: to_json_value(v, info.types.get(k, "text")) for k, v in (change.new or {}).items()
        }
        old = {
            k: to_json_value(v, info.types.get(k, "text")) for k, v in (change.old or {}).items()
        }
        if change.action == "UPDATE" and not old:
            old = {k: new[k] for k in info.pkey if k in new}
        if change.action == "DELETE" and rel.identity != "f":
            old = {k: v for k, v in old.items() if k in info.pkey}
        too_big = len(json.dumps(change.new or change.old or {})) > MAX_RECORD_BYTES
        stamp = change.commit_ts or dt.datetime.now(dt.UTC)
        base = {
            "commit_timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{stamp.microsecond // 1000:03d}Z",
            "schema": rel.schema,
            "table": rel.name,
            "type": change.action,
        }
        # channel -> ids, grouped by the payload each role sees
        per_payload: dict[str, tuple[dict[str, Any], dict[Channel, list[int]]]] = {}
        passing: dict[int, bool] = {}
        for i, sub in enumerate(matching):
            passing[i] = await self._passes(sub.filter, new, info) or (
                change.action == "DELETE" and await self._passes(sub.filter, old, info)
            )
        rls_ok: dict[str, bool] = {}
        if info.rls and info.pkey and change.action != "DELETE":
            claim_sets = {
                json.dumps(sub.channel.claims, sort_keys=True): sub.channel.claims
                for i, sub in enumerate(matching)
                if passing[i] and not sub.channel.closed
            }
            if claim_sets:
                answers = await self._visible_to(info, rel, change, list(claim_sets.values()))
                rls_ok = dict(zip(claim_sets, answers, strict=True))
        for i, sub in enumerate(matching):
            channel = sub.channel
            if channel.closed:
                continue
            role = str(channel.claims.get("role", "anon"))
            try:
                allowed = await self._allowed_columns(role, info)
            except psycopg.Error:
                continue
            errors: list[str] | None = None
            if change.action != "DELETE" and not info.pkey:
                errors = ["Error 400: Bad Request, no primary key"]
            elif change.action != "DELETE" and not set(info.pkey) <= allowed:
                errors = ["Error 401: Unauthorized"]
            if errors is None:
                if not passing[i]:
                    continue
                if (
                    info.rls
                    and change.action != "DELETE"
                    and not rls_ok.get(json.dumps(channel.claims, sort_keys=True), False)
                ):
                    continue
            # the payload depends only on what the role may see: built once per group
            group = (tuple(errors) if errors else None, frozenset(allowed))
            if group not in per_payload:
                per_payload[group] = (
                    self._payload(base, change, info, allowed, errors, new, old, too_big),
                    {},
                )
            per_payload[group][1].setdefault(channel, []).append(sub.binding_id)
        for data, channels in per_payload.values():
            # subscribers of one topic with the same bindings get the same frame: encode once
            frames: dict[tuple[str, str, tuple[int, ...]], Any] = {}
            for channel, ids in channels.items():
                key = (channel.socket.vsn, channel.topic, tuple(ids))
                if key not in frames:
                    msg = _message(channel.topic, {"data": data, "ids": ids})
                    frames[key] = protocol.encode(msg, channel.socket.vsn)
                if frames[key] is not None:
                    channel.socket.outbox.put_nowait(frames[key])

    @staticmethod
    def _payload(
        base: dict[str, Any],
        change: Change,
        info: TableInfo,
        allowed: set[str],
        errors: list[str] | None,
        new: dict[str, Any],
        old: dict[str, Any],
        too_big: bool,
    ) -> dict[str, Any]:
        data = dict(base)
        if errors is not None:
            data["errors"] = errors
            return data
        data["columns"] = [{"name": c, "type": info.types[c]} for c in info.order if c in allowed]

        def keep(k: str, v: Any) -> bool:
            return k in allowed and (not too_big or len(json.dumps(v)) <= 64)

        if change.action in ("INSERT", "UPDATE"):
            data["record"] = {k: v for k, v in {**old, **new}.items() if keep(k, v)}
        if change.action in ("UPDATE", "DELETE"):
            data["old_record"] = {k: v for k, v in old.items() if keep(k, v)}
        data["errors"] = ["Error 413: Payload Too Large"] if too_big else None
        return data


def _message(topic: str, payload: dict[str, Any]) -> protocol.Message:
    return protocol.Message(None, None, topic, "postgres_changes", payload)


def _unable(params: dict[str, Any], error: str) -> str:
    return (
        "Unable to subscribe to changes with given parameters. Please check Realtime is enabled"
        " for the given connect parameters: [event: {event}, schema: {schema}, table: {table},"
        " filters: {filter}]".format(
            event=params.get("event", "*"),
            schema=params.get("schema", "*"),
            table=params.get("table", "*"),
            filter=params.get("filter", "[]"),
        )
    )
