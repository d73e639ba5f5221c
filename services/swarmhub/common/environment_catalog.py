"""The catalog of environments built from git (issue 15): one JSON file on the hub's disk
(the builder writes it, atomically; the hub reads it for the spawn form; standard
library only), and the queue of builds in it.

An environment keeps its last good image while a rebuild runs or after one
fails: its users' servers go on starting from it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .environment_requests import EnvironmentRequest

VERSION = 1
STATES = ("queued", "building", "built", "failed")


class CatalogError(ValueError):
    """A change the catalog refuses (a name taken, an unknown environment)."""


@dataclass(frozen=True)
class Build:
    """One build of an environment: queued, then building, then built or failed."""

    number: int
    ref: str
    queued_at: str
    state: str = "queued"
    commit: str = ""  # what the ref named when the build fetched it
    phase: str = ""  # repo2docker's: fetching, building, pushing
    started_at: str = ""
    finished_at: str = ""
    message: str = ""  # a person's summary: what failed, or what was built


@dataclass(frozen=True)
class Environment:
    request: EnvironmentRequest
    added_by: str
    added_at: str
    build: Build
    # the last good build's image, by digest, and its commit (empty until one is built)
    image: str = ""
    commit: str = ""

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def usable(self) -> bool:
        return bool(self.image)

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.request.as_dict(),
            "added_by": self.added_by,
            "added_at": self.added_at,
            "build": asdict(self.build),
            "image": self.image,
            "commit": self.commit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Environment:
        return cls(
            request=EnvironmentRequest(**data["request"]),
            added_by=data["added_by"],
            added_at=data["added_at"],
            build=Build(**data["build"]),
            image=data.get("image", ""),
            commit=data.get("commit", ""),
        )


@dataclass
class Catalog:
    path: Path
    environments: dict[str, Environment] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        if data.get("version") != VERSION:
            raise CatalogError(f"{path} is of version {data.get('version')}, not {VERSION}")
        envs = (Environment.from_dict(e) for e in data["environments"])
        return cls(path, {e.name: e for e in envs})

    def save(self) -> None:
        """Write the whole catalog to a new file, then rename it over the old one: a
        reader sees the old catalog or the new one, never half of one."""
        data = {"version": VERSION, "environments": [e.as_dict() for e in self]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".catalog-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # the hub reads it
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __iter__(self) -> Iterator[Environment]:
        return iter(sorted(self.environments.values(), key=lambda e: e.name))

    def get(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            raise CatalogError(f"There is no built environment {name!r}.") from None

    def add(self, request: EnvironmentRequest, added_by: str, now: str) -> Environment:
        if request.name in self.environments:
            raise CatalogError(f"There is an environment called {request.name!r} already.")
        env = Environment(
            request=request,
            added_by=added_by,
            added_at=now,
            build=Build(number=1, ref=request.ref, queued_at=now),
        )
        self.environments[env.name] = env
        return env

    def rebuild(self, name: str, ref: str, now: str) -> Environment:
        """Queue a new build at `ref`; the current image stays in use meanwhile."""
        env = self.get(name)
        if env.build.state in ("queued", "building"):
            raise CatalogError(f"{name} is {env.build.state} already; wait for that build.")
        env = replace(
            env,
            request=replace(env.request, ref=ref),
            build=Build(number=env.build.number + 1, ref=ref, queued_at=now),
        )
        self.environments[name] = env
        return env

    def remove(self, name: str) -> Environment:
        env = self.get(name)
        if env.build.state == "building":
            raise CatalogError(f"{name} is being built; remove it when the build has ended.")
        return self.environments.pop(name)

    def update_build(self, name: str, **changes: Any) -> Environment:
        env = self.get(name)
        env = replace(env, build=replace(env.build, **changes))
        self.environments[name] = env
        return env

    def finish(self, name: str, now: str, image: str = "", message: str = "") -> Environment:
        """The build ended: built (with its image) or failed (the old image stays)."""
        env = self.get(name)
        state = "built" if image else "failed"
        build = replace(env.build, state=state, finished_at=now, message=message, phase="")
        env = replace(
            env,
            build=build,
            image=image or env.image,
            commit=build.commit if image else env.commit,
        )
        self.environments[name] = env
        return env

    def queue(self) -> list[Environment]:
        """The environments waiting for a build, first come first."""
        waiting = [e for e in self if e.build.state == "queued"]
        return sorted(waiting, key=lambda e: (e.build.queued_at, e.name))

    def building(self) -> list[Environment]:
        return [e for e in self if e.build.state == "building"]

    def next_builds(self, at_once: int) -> list[Environment]:
        """What may start now: the queue's head, up to `at_once` builds running."""
        return self.queue()[: max(0, at_once - len(self.building()))]

    def interrupted(self, now: str) -> list[Environment]:
        """Builds the builder was running when it stopped: failed, saying so (an
        admin rebuilds). Called at the builder's start."""
        ended = []
        for env in self.building():
            ended.append(
                self.finish(
                    env.name,
                    now,
                    message="The build was interrupted (the builder restarted): rebuild it.",
                )
            )
        return ended
