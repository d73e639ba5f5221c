"""One backup run, the backup chains, and the hourly schedule."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import duplicity as dup
from .config import BackupConfig
from .drill import DrillResult, run_drill
from .errors import BackupError
from .lock import held
from .status import (
    BackupStatus,
    read_status_quietly,
    record_drill,
    record_result,
    write_status,
)
from .timespec import iso

log = logging.getLogger("swarmhub.backup")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunOutcome:
    ok: bool
    message: str
    status: BackupStatus


def run_backup(
    config: BackupConfig,
    echo: dup.Echo | None = None,
    clock: Clock = utcnow,
    wait_seconds: float = 0,
) -> RunOutcome:
    """Back up the source once (incremental, or full when the last full is too old),
    then keep only the newest keep_full chains. The outcome goes to the status file.

    Raises BackupError (exit code 75) only when another run still holds the lock after
    wait_seconds (0: the schedule's runs skip their slot at once; an operator's run
    waits, saying so); every other failure is recorded and returned as ok=False.
    """
    with held(config.lock_file, wait_seconds, _waiting(echo)):
        started = iso(clock())
        previous = read_status_quietly(config.status_file)
        write_status(
            config.status_file,
            replace(previous, last_run_started=started, message=f"backup running since {started}"),
        )
        ok, message, backup_done = _backup_and_prune(config, echo)
        finished = iso(clock())
        status = record_result(
            config.status_file,
            ok=ok,
            started=started,
            finished=finished,
            message=message,
            success_time=finished if backup_done else None,
        )
        if ok and config.drill_files:
            status = _drill(config, echo, clock)
    (log.info if ok else log.error)("backup %s: %s", "ok" if ok else "FAILED", message)
    return RunOutcome(ok=ok, message=message, status=status)


def run_drill_now(
    config: BackupConfig,
    echo: dup.Echo | None = None,
    clock: Clock = utcnow,
    wait_seconds: float = 0,
) -> BackupStatus:
    """The restore drill alone, on the latest backup (the operator's `drill`)."""
    with held(config.lock_file, wait_seconds, _waiting(echo)):
        return _drill(config, echo, clock)


def _drill(config: BackupConfig, echo: dup.Echo | None, clock: Clock) -> BackupStatus:
    """The drill in every area, one sample each, told as one result."""
    total = DrillResult()
    for area in config.areas():
        try:
            result = run_drill(area, config.drill_files or 5, echo)
        except (BackupError, OSError) as e:
            result = DrillResult(problem=str(getattr(e, "message", e)))
        total.add(result, area)
    (log.info if total.ok else log.error)("%s", total.message)
    return record_drill(config.status_file, ok=total.ok, at=iso(clock()), message=total.message)


def _backup_and_prune(config: BackupConfig, echo: dup.Echo | None) -> tuple[bool, str, bool]:
    """Every area in turn, each on its own even when another failed.
    (ok, message, whether every area's backup was made)"""
    outcomes = [_backup_area(area, echo) for area in config.areas()]
    message = "; ".join(
        text if area.area == config.area else f"{area.area}: {text}"
        for area, (_, text, _) in zip(config.areas(), outcomes, strict=True)
    )
    return all(ok for ok, _, _ in outcomes), message, all(done for _, _, done in outcomes)


def _backup_area(config: BackupConfig, echo: dup.Echo | None) -> tuple[bool, str, bool]:
    """(ok, message, whether a backup was made)"""
    try:
        passphrase = config.read_passphrase()
        for folder in (config.archive_dir, config.state_dir):
            Path(folder).mkdir(parents=True, exist_ok=True)
        if not Path(config.source).is_dir():
            return False, f"nothing to back up: {config.source} is not a folder", False
        result = dup.run_duplicity(config, dup.backup_command(config), passphrase, echo)
        if not result.ok:
            return False, dup.failure_message(result, "backup", config), False
        summary = backup_summary(result.output)
        pruned = dup.run_duplicity(config, dup.prune_command(config), passphrase, echo)
        if not pruned.ok:
            reason = dup.failure_message(pruned, "removing old chains", config)
            return False, f"{summary}; but {reason}", True
        return True, summary, True
    except BackupError as e:
        return False, e.message, False
    except OSError as e:
        return False, f"backup failed: {e}", False


_STAT = re.compile(
    r"^(SourceFiles|SourceFileSize|TotalDestinationSizeChange|ElapsedTime|Errors)"
    r" (\S+)(?: \((.*)\))?"
)


def backup_summary(output: str) -> str:
    """One line from duplicity's statistics: kind, files, sizes, time, errors."""
    stats: dict[str, tuple[str, str | None]] = {}
    for line in output.splitlines():
        m = _STAT.match(line)
        if m:
            stats[m.group(1)] = (m.group(2), m.group(3))
    kind = (
        "full"
        if "forcing full backup" in output or "Last full backup date: none" in output
        else "incremental"
    )
    parts = [f"{kind} backup"]
    if "SourceFiles" in stats:
        size = stats.get("SourceFileSize", ("?", None))
        parts.append(f"{stats['SourceFiles'][0]} files ({size[1] or size[0]})")
    if "TotalDestinationSizeChange" in stats:
        sent = stats["TotalDestinationSizeChange"]
        parts.append(f"{sent[1] or sent[0]} stored")
    if "ElapsedTime" in stats:
        elapsed = stats["ElapsedTime"]
        parts.append(f"in {elapsed[1] or elapsed[0] + ' s'}")
    errors = stats.get("Errors", ("0", None))[0]
    if errors != "0":
        parts.append(f"{errors} files could not be read")
    return ", ".join(parts)


def backup_chains(config: BackupConfig, echo: dup.Echo | None = None) -> list[dup.Chain]:
    """The chains at the target, oldest first (duplicity collection-status)."""
    result = dup.run_duplicity(config, dup.status_command(config), config.read_passphrase(), echo)
    if not result.ok:
        raise BackupError(dup.failure_message(result, "reading the backup chains", config))
    return dup.parse_chains(result.log)


def backup_times(chains: list[dup.Chain]) -> list[datetime]:
    return sorted({s.time for c in chains for s in c.sets})


def next_run(now: datetime, interval_minutes: int, offset_minutes: int) -> datetime:
    """The next wall-clock slot after now: every interval from midnight UTC, plus offset.

    Hourly with offset 5: 00:05, 01:05, ... A run that ends late never makes
    two runs in a row: the next slot is always after now.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=interval_minutes)
    offset = timedelta(minutes=offset_minutes)
    slots = (now - midnight - offset) // step + 1
    candidate = midnight + offset + slots * step
    # slots restart at midnight (an interval that does not divide a day)
    next_midnight = midnight + timedelta(days=1) + offset
    return min(candidate, next_midnight)


def due_at_start(status: BackupStatus, now: datetime, interval_minutes: int) -> bool:
    """Run at once on start when no run ever succeeded or the last one is overdue."""
    if status.last_success is None:
        return True
    try:
        last = datetime.fromisoformat(status.last_success.replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - last > timedelta(minutes=interval_minutes)


def serve(
    config: BackupConfig,
    stop: threading.Event,
    echo: dup.Echo | None = None,
    clock: Clock = utcnow,
) -> None:
    """Run backups on the wall-clock schedule until stop is set."""
    if due_at_start(read_status_quietly(config.status_file), clock(), config.interval_minutes):
        _scheduled_run(config, echo, clock)
    while not stop.is_set():
        when = next_run(clock(), config.interval_minutes, config.offset_minutes)
        log.info("next backup at %s", iso(when))
        # wake at least every minute: the wall clock may jump (suspend, NTP)
        while not stop.is_set() and clock() < when:
            stop.wait(min(60.0, max(0.0, (when - clock()).total_seconds())))
        if not stop.is_set():
            _scheduled_run(config, echo, clock)


def _waiting(echo: dup.Echo | None) -> Callable[[], None]:
    return lambda: (echo or log.info)("waiting for the running backup to finish ...")


def _scheduled_run(config: BackupConfig, echo: dup.Echo | None, clock: Clock) -> None:
    try:
        run_backup(config, echo, clock)
    except BackupError as e:  # another run holds the lock: skip this slot
        log.warning("backup skipped: %s", e.message)
