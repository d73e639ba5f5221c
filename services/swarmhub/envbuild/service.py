"""The builder's state: the catalog, the queue worker (at most N builds at once,
the rest waiting in order), and each build's log, which the page follows.

One lock guards the catalog; builds run in threads of their own and take the
lock only to record a phase or their end. The catalog is saved at every change
of state, so a restart finds it as it was (a build it was running is failed,
saying so).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..common.environment_catalog import Catalog, CatalogError, Environment
from ..common.environment_requests import EnvironmentRequest
from .builder import BuilderSettings, BuildFailed, BuildResult, Report, run_build

log = logging.getLogger("swarmhub.envbuild")
# the lines of each build kept (in memory for the page, on disk after it ends)
LOG_LINES = 2000
# builds' logs kept on disk per environment
LOGS_KEPT = 5

RunBuild = Callable[[BuilderSettings, EnvironmentRequest, Report], BuildResult]


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class BuildLog:
    """The lines of one build as they come: (phase, text), the last LOG_LINES."""

    name: str
    number: int
    lines: list[tuple[str, str]] = field(default_factory=list)
    dropped: int = 0  # lines before the first kept one
    ended: bool = False

    def append(self, phase: str, text: str) -> None:
        self.lines.append((phase, text))
        if len(self.lines) > LOG_LINES:
            cut = len(self.lines) - LOG_LINES
            del self.lines[:cut]
            self.dropped += cut

    def since(self, index: int) -> tuple[list[tuple[str, str]], int]:
        """Lines from the index-th on (counting dropped ones), and the next index."""
        start = max(0, index - self.dropped)
        return self.lines[start:], self.dropped + len(self.lines)


class BuildService:
    def __init__(
        self,
        settings: BuilderSettings,
        state_dir: Path,
        at_once: int = 1,
        deploy_names: Iterable[str] = (),
        run: RunBuild = run_build,
        now: Callable[[], str] = utcnow,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.at_once = max(1, at_once)
        self.deploy_names = frozenset(deploy_names)
        self._run = run
        self._now = now
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._logs: dict[str, BuildLog] = {}
        self._threads: list[threading.Thread] = []
        self.catalog = Catalog.load(state_dir / "catalog.json")
        for env in self.catalog.interrupted(now()):
            log.warning("build %d of %s was interrupted", env.build.number, env.name)
        self.catalog.save()

    # --- what the page asks -------------------------------------------------

    def environments(self) -> list[dict[str, Any]]:
        with self._lock:
            positions = {e.name: i for i, e in enumerate(self.catalog.queue(), 1)}
            return [
                {**env.as_dict(), "queue_position": positions.get(env.name, 0)}
                for env in self.catalog
            ]

    def add(self, request: EnvironmentRequest, added_by: str) -> Environment:
        with self._lock:
            if request.name in self.deploy_names:
                raise CatalogError(
                    f"There is an environment called {request.name!r} already (the deploy's)."
                )
            env = self.catalog.add(request, added_by, self._now())
            self._changed_locked()
        log.info("%s added %s (%s at %s)", added_by, env.name, request.repo_url, request.ref)
        self.start_due()
        return env

    def rebuild(self, name: str, ref: str) -> Environment:
        with self._lock:
            env = self.catalog.rebuild(name, ref, self._now())
            self._changed_locked()
        self.start_due()
        return env

    def remove(self, name: str) -> Environment:
        with self._lock:
            env = self.catalog.remove(name)
            self._logs.pop(name, None)
            self._changed_locked()
        log.info("removed %s", name)
        return env

    def log_since(self, name: str, index: int, wait: float = 0.0) -> dict[str, Any]:
        """The current build's lines from `index` on, waiting up to `wait` seconds for
        one when there is none yet and the build has not ended."""
        with self._changed:
            env = self.catalog.get(name)
            build_log = self._log_of(env)
            lines, next_index = build_log.since(index)
            if not lines and not build_log.ended and wait > 0:
                self._changed.wait(wait)
                env = self.catalog.get(name)
                build_log = self._log_of(env)
                lines, next_index = build_log.since(index)
            positions = [e.name for e in self.catalog.queue()]
            return {
                "queue_position": positions.index(name) + 1 if name in positions else 0,
                "build": env.build.number,
                "state": env.build.state,
                "phase": env.build.phase,
                "message": env.build.message,
                "lines": [{"phase": p, "message": m} for p, m in lines],
                "next": next_index,
            }

    # --- the queue ------------------------------------------------------------

    def start_due(self) -> None:
        with self._lock:
            due = self.catalog.next_builds(self.at_once)
            for env in due:
                self.catalog.update_build(
                    env.name, state="building", phase="waiting", started_at=self._now()
                )
                self._logs[env.name] = BuildLog(env.name, env.build.number)
            if due:
                self._changed_locked()
        for env in due:
            thread = threading.Thread(
                target=self._build, args=(env.name,), name=f"build-{env.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def wait_idle(self, timeout: float = 30) -> None:
        """For tests and shutdown: until no build thread runs."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _build(self, name: str) -> None:
        with self._lock:
            env = self.catalog.get(name)
            number = env.build.number

        def report(phase: str, text: str) -> None:
            with self._lock:
                build_log = self._logs.get(name)
                if build_log is None or build_log.number != number:
                    return  # removed meanwhile
                build_log.append(phase, text)
                if phase != self.catalog.get(name).build.phase:
                    self.catalog.update_build(name, phase=phase)
                    self.catalog.save()
                self._changed.notify_all()

        image, message = "", ""
        try:
            result = self._run(self.settings, env.request, report)
            image = result.image
            message = f"Built commit {result.commit[:12]} in {result.seconds:.0f} s."
            with self._lock:
                self.catalog.update_build(name, commit=result.commit)
        except BuildFailed as e:
            message = str(e)
        except Exception as e:  # noqa: BLE001 (whatever broke, the page must say so)
            log.exception("build of %s", name)
            message = f"The builder failed ({type(e).__name__}: {e}); see the builder's log."
        report("built" if image else "failed", message)
        with self._lock:
            if name in self.catalog.environments:
                self.catalog.finish(name, self._now(), image=image, message=message)
            build_log = self._logs.get(name)
            if build_log is not None and build_log.number == number:
                build_log.ended = True
                self._write_log(build_log)
            self._changed_locked()
        log.info("build %d of %s: %s", number, name, message)
        self.start_due()

    # --- helpers (the lock held) ---------------------------------------------

    def _changed_locked(self) -> None:
        self.catalog.save()
        self._changed.notify_all()

    def _log_of(self, env: Environment) -> BuildLog:
        build_log = self._logs.get(env.name)
        if build_log is not None and build_log.number == env.build.number:
            return build_log
        # a build of an earlier run of the builder: its log from disk
        waiting = env.build.state in ("queued", "building")
        build_log = BuildLog(env.name, env.build.number, ended=not waiting)
        path = self._log_path(env.name, env.build.number)
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                build_log.append(record["phase"], record["message"])
        return build_log

    def _log_path(self, name: str, number: int) -> Path:
        return self.state_dir / "logs" / name / f"{number}.jsonl"

    def _write_log(self, build_log: BuildLog) -> None:
        folder = self.state_dir / "logs" / build_log.name
        folder.mkdir(parents=True, exist_ok=True)
        path = self._log_path(build_log.name, build_log.number)
        path.write_text(
            "".join(json.dumps({"phase": p, "message": m}) + "\n" for p, m in build_log.lines),
            encoding="utf-8",
        )
        old = sorted(folder.glob("*.jsonl"), key=lambda p: int(p.stem))[:-LOGS_KEPT]
        for path in old:
            path.unlink(missing_ok=True)
