"""Courses and who is in them, as the deploy gives them (swarmhub_courses): the
hub (its roles), the exchange (every request) and the settings check read them.

A course: {"name", "instructors": [...], "graders": [...], "students": [...]},
entries usernames or "@group" (a unix group of the hub host), as for shares.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exchange_protocol import check_course

PEOPLE_KEYS = ("instructors", "graders", "students")


@dataclass(frozen=True)
class Course:
    name: str
    instructors: tuple[str, ...] = ()
    graders: tuple[str, ...] = ()
    students: tuple[str, ...] = ()

    @property
    def staff(self) -> tuple[str, ...]:
        return self.instructors + self.graders


def parse_courses(entries: Sequence[Mapping[str, Any]]) -> list[Course]:
    """Courses from settings; ValueError names the bad entry."""
    courses, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"courses[{i}]"
        try:
            name = check_course(entry.get("name"))  # type: ignore[arg-type]
        except ValueError as e:
            raise ValueError(f"{where}.name: {e}") from None
        if name in seen:
            raise ValueError(f"{where}: course {name!r} is defined twice")
        seen.add(name)
        people = {}
        for key in PEOPLE_KEYS:
            value = entry.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{where}.{key} must be a list of user names or @groups")
            people[key] = tuple(value)
        courses.append(Course(name=name, **people))
    return courses


def members_of_groups(group_file: str | Path) -> dict[str, set[str]]:
    """Unix group name -> its member usernames (supplementary membership, group(5))."""
    groups: dict[str, set[str]] = {}
    with open(group_file, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) == 4:
                groups[fields[0]] = {m for m in fields[3].split(",") if m}
    return groups


def is_listed(entries: Iterable[str], username: str, groups: Mapping[str, set[str]]) -> bool:
    return any(
        username in groups.get(e[1:], set()) if e.startswith("@") else e == username
        for e in entries
    )


def expand(entries: Iterable[str], groups: Mapping[str, set[str]]) -> set[str]:
    """The usernames the entries name, "@group" entries by the group's members."""
    names: set[str] = set()
    for entry in entries:
        names |= groups.get(entry[1:], set()) if entry.startswith("@") else {entry}
    return names
