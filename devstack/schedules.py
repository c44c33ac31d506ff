"""Schedules of ``serverless.yml``, run locally at their rate (as EventBridge runs them).

Every ``schedule`` event of every function in ``serverless.yml`` becomes a
:class:`Schedule`; nothing here names a function, so a schedule added to the deployment is
run locally with no other change. The gateway's event host (``devstack.events.run``) starts
:func:`run_forever`, one loop per schedule, so ``make up`` runs them all.

Expressions: ``rate(N minute|minutes|hour|hours|day|days)`` and EventBridge's six-field
``cron(minutes hours day-of-month month day-of-week year)`` (``*``, ``?``, lists, ranges,
``/`` steps, UTC). ``L``, ``W`` and ``#`` are not used by this project and are refused.

**The pause switch.** Schedules do nothing while paused; they are paused when
``<state dir>/schedules-paused/`` holds a file whose holder is alive: ``manual`` (written by
``make schedules-pause``, removed by ``make schedules-resume``) or ``pid-<n>`` (a test
session, while process ``n`` runs). A test session pauses them for its whole run so that no
dispatcher moves a job under a test's feet; the schedule tests release the session's hold
for their own duration (``tests/functions/test_schedules.py``). ``DEVSTACK_SCHEDULES=off``
in the gateway's environment turns the runner off altogether.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("devstack.schedules")

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"
# serverless.yml names each rule ${self:service}-${sls:stage}-<name>; locally it is <name>
RULE_PREFIX = "${self:service}-${sls:stage}-"
PAUSE_DIR = "schedules-paused"
MANUAL_HOLDER = "manual"

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """A schedule expression this runner cannot run."""


# -- expressions --------------------------------------------------------------------------
def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """One cron field as the set of values it allows."""
    if text in ("*", "?"):
        return set(range(low, high + 1))
    allowed: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ScheduleError(f"bad step in {text!r}")
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"{text!r} is outside {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return allowed


_DAYS = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"unsupported cron value {text!r}")
    return int(text)


@dataclass(frozen=True)
class Cron:
    """EventBridge's cron: minutes hours day-of-month month day-of-week(1=SUN) year, UTC."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    years: frozenset[int]
    any_day: bool  # day-of-month is ? or *
    any_weekday: bool

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleError(f"cron needs 6 fields, got {body!r}")
        if any(c in body for c in "LW#"):
            raise ScheduleError(f"L, W and # are not supported: {body!r}")
        minute, hour, dom, month, dow, year = fields
        return cls(
            minutes=frozenset(_field(minute, 0, 59)),
            hours=frozenset(_field(hour, 0, 23)),
            days=frozenset(_field(dom, 1, 31)),
            months=frozenset(_field(month, 1, 12, _MONTHS)),
            weekdays=frozenset(_field(dow, 1, 7, _DAYS)),
            years=frozenset(_field(year, 1970, 2199)),
            any_day=dom in ("*", "?"),
            any_weekday=dow in ("*", "?"),
        )

    def matches(self, moment: datetime) -> bool:
        weekday = (moment.isoweekday() % 7) + 1  # Sunday = 1
        if self.any_day and self.any_weekday:
            day_ok = True
        elif self.any_day:
            day_ok = weekday in self.weekdays
        elif self.any_weekday:
            day_ok = moment.day in self.days
        else:
            day_ok = moment.day in self.days or weekday in self.weekdays
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and moment.year in self.years
            and day_ok
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment``."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(60 * 24 * 366 * 2):
            if self.matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        raise ScheduleError("the cron expression matches no minute in two years")


@dataclass(frozen=True)
class Schedule:
    """One schedule event of one function of serverless.yml."""

    name: str  # the rule's name without the service-stage prefix: "documents-dispatch-jobs"
    function: str  # the function's key in serverless.yml
    handler: str  # "<module>.<callable>" under functions/
    expression: str  # "rate(1 minute)" / "cron(30 3 * * ? *)"
    enabled: bool = True

    @property
    def interval_s(self) -> int | None:
        match = _RATE.match(self.expression)
        if not match:
            return None
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]

    @property
    def cron(self) -> Cron | None:
        match = _CRON.match(self.expression)
        return Cron.parse(match.group(1)) if match else None

    def validate(self) -> None:
        if self.interval_s is None and self.cron is None:
            raise ScheduleError(f"{self.name}: unsupported expression {self.expression!r}")
        if self.interval_s == 0:
            raise ScheduleError(f"{self.name}: a rate of 0")

    def next_after(self, moment: datetime) -> datetime:
        interval = self.interval_s
        if interval is not None:
            return moment + timedelta(seconds=interval)
        cron = self.cron
        assert cron is not None
        return cron.next_after(moment)


def _rule_name(function: str, index: int, event: dict[str, Any]) -> str:
    name = str(event.get("name") or "")
    if name.startswith(RULE_PREFIX):
        return name[len(RULE_PREFIX) :]
    if name and "$" not in name:
        return name
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", function).lower()
    return kebab if index == 0 else f"{kebab}-{index + 1}"


def load(path: Path = SERVERLESS_YML) -> tuple[Schedule, ...]:
    """Every schedule event of every function, in the file's order."""
    config = yaml.safe_load(path.read_text())
    found: list[Schedule] = []
    for function, spec in (config.get("functions") or {}).items():
        events = [e["schedule"] for e in spec.get("events") or [] if "schedule" in e]
        for index, event in enumerate(events):
            if isinstance(event, str):
                event = {"rate": event}
            rates = event["rate"] if isinstance(event["rate"], list) else [event["rate"]]
            for n, rate in enumerate(rates):
                name = _rule_name(function, index, event)
                schedule = Schedule(
                    name=name if n == 0 else f"{name}-{n + 1}",
                    function=function,
                    handler=spec["handler"].replace("/", "."),
                    expression=str(rate).strip(),
                    enabled=event.get("enabled", True) is not False,
                )
                schedule.validate()
                found.append(schedule)
    return tuple(found)


# -- the pause switch -----------------------------------------------------------------------
def pause_dir(state_dir: Path) -> Path:
    return state_dir / PAUSE_DIR


def _holder_alive(path: Path) -> bool:
    if path.name == MANUAL_HOLDER:
        return True
    if not path.name.startswith("pid-"):
        return False
    try:
        pid = int(path.name.removeprefix("pid-"))
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def holders(state_dir: Path) -> list[str]:
    """Who holds the schedules paused (stale pid holders are removed)."""
    folder = pause_dir(state_dir)
    if not folder.is_dir():
        return []
    alive = []
    for path in sorted(folder.iterdir()):
        if _holder_alive(path):
            alive.append(path.name)
        else:
            path.unlink(missing_ok=True)
    return alive


def paused(state_dir: Path) -> bool:
    return bool(holders(state_dir))


def pause(state_dir: Path, holder: str = MANUAL_HOLDER) -> Path:
    folder = pause_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / holder
    path.write_text(f"{datetime.now(UTC).isoformat()}\n")
    return path


def resume(state_dir: Path, holder: str = MANUAL_HOLDER) -> None:
    (pause_dir(state_dir) / holder).unlink(missing_ok=True)


def session_holder(pid: int | None = None) -> str:
    return f"pid-{pid or os.getpid()}"


@contextlib.contextmanager
def paused_while(state_dir: Path, holder: str | None = None) -> Iterator[None]:
    holder = holder or session_holder()
    pause(state_dir, holder)
    try:
        yield
    finally:
        resume(state_dir, holder)


# -- the runner -----------------------------------------------------------------------------
Invoker = Callable[[Schedule], Any]


async def run_schedule(
    schedule: Schedule,
    invoke: Invoker,
    state_dir: Path,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    tick_s: float = 1.0,
) -> None:
    """Invoke ``schedule`` at its rate until cancelled. A rate runs first one interval after
    start (as a new EventBridge rule does); a run that is due while paused is skipped, not
    queued up; a run never overlaps the previous one of the same schedule."""
    due = schedule.next_after(now())
    while True:
        await asyncio.sleep(max(0.0, min(tick_s, (due - now()).total_seconds())))
        if now() < due:
            continue
        due = schedule.next_after(now() if schedule.interval_s else due)
        if paused(state_dir):
            log.debug("schedule %s skipped (paused: %s)", schedule.name, holders(state_dir))
            continue
        started = time.monotonic()
        try:
            result = await asyncio.to_thread(invoke, schedule)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("schedule %s (%s) failed", schedule.name, schedule.handler)
        else:
            log.info(
                "schedule %s ran in %.0f ms: %s",
                schedule.name,
                (time.monotonic() - started) * 1000,
                str(result)[:300],
            )


async def run_forever(invoke: Invoker, state_dir: Path, path: Path = SERVERLESS_YML) -> None:
    if os.environ.get("DEVSTACK_SCHEDULES", "on").lower() in ("off", "0", "false"):
        log.warning("DEVSTACK_SCHEDULES=off: schedules run only on `make invoke`")
        return
    schedules = [s for s in load(path) if s.enabled]
    log.info(
        "running schedules: %s", ", ".join(f"{s.name} {s.expression}" for s in schedules) or "none"
    )
    await asyncio.gather(*(run_schedule(s, invoke, state_dir) for s in schedules))


def main(argv: list[str] | None = None) -> int:
    """``python -m devstack.schedules pause|resume|status``."""
    import argparse

    from devstack.config import Config

    parser = argparse.ArgumentParser(prog="python -m devstack.schedules")
    parser.add_argument("command", choices=["pause", "resume", "status", "list"])
    args = parser.parse_args(argv)
    state_dir = Config().state_dir
    if args.command == "pause":
        pause(state_dir)
    elif args.command == "resume":
        resume(state_dir)
    elif args.command == "list":
        for s in load():
            print(f"{s.name:40} {s.expression:22} -> {s.handler}")
        return 0
    held = holders(state_dir)
    print("schedules: " + (f"paused by {', '.join(held)}" if held else "running"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
