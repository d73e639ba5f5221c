"""Courses and who is in them: the courses file the deploy writes, and the hub
host's group file for "@group" entries, both read again whenever they change, so
a deploy (or the users playbook) takes a student out of a course at once.

courses file: [{"name", "instructors": [...], "graders": [...], "students": [...]}],
entries usernames or "@group" (a unix group of the hub host), as for shares.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.exchange_protocol import check_course, course_of_formgrader

PEOPLE_KEYS = ("instructors", "graders", "students")


@dataclass(frozen=True)
class Course:
    name: str
    instructors: tuple[str, ...] = ()
    graders: tuple[str, ...] = ()
    students: tuple[str, ...] = ()


@dataclass(frozen=True)
class Caller:
    """Who the hub says holds the token: a user, or a service (the formgrader)."""

    kind: str  # "user" or "service"
    name: str


def parse_courses(entries: Sequence[Mapping[str, Any]]) -> list[Course]:
    """Courses from the courses file; ValueError names the bad entry."""
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


def members_of_groups(group_file: Path) -> dict[str, set[str]]:
    """Unix group name -> its member usernames (supplementary membership, group(5))."""
    groups: dict[str, set[str]] = {}
    with open(group_file, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) == 4:
                groups[fields[0]] = {m for m in fields[3].split(",") if m}
    return groups


def _listed(entries: Iterable[str], username: str, groups: Mapping[str, set[str]]) -> bool:
    return any(
        username in groups.get(e[1:], set()) if e.startswith("@") else e == username
        for e in entries
    )


def role_in(course: Course, caller: Caller, groups: Mapping[str, set[str]]) -> str | None:
    """The caller's role in the course ("formgrader", "staff", "student"), or None."""
    if caller.kind == "service":
        return "formgrader" if course_of_formgrader(caller.name) == course.name else None
    if caller.kind != "user":
        return None
    if _listed(course.instructors + course.graders, caller.name, groups):
        return "staff"
    if _listed(course.students, caller.name, groups):
        return "student"
    return None


class CourseBook:
    """The courses and unix groups as the files say now (read again when changed)."""

    def __init__(self, courses_file: Path, group_file: Path) -> None:
        self.courses_file = courses_file
        self.group_file = group_file
        self._key: tuple[Any, ...] = ()
        self._courses: dict[str, Course] = {}
        self._groups: dict[str, set[str]] = {}

    def _refresh(self) -> None:
        key = tuple(_signature(p) for p in (self.courses_file, self.group_file))
        if key == self._key:
            return
        with open(self.courses_file, encoding="utf-8") as f:
            entries = json.load(f)
        if not isinstance(entries, list):
            raise ValueError(f"{self.courses_file} must hold a JSON list of courses")
        courses = parse_courses(entries)
        self._groups = members_of_groups(self.group_file)
        self._courses = {c.name: c for c in courses}
        self._key = key

    def roles(self, caller: Caller) -> dict[str, str]:
        """course name -> the caller's role, for every course the caller is in."""
        self._refresh()
        found = {}
        for name, course in self._courses.items():
            role = role_in(course, caller, self._groups)
            if role is not None:
                found[name] = role
        return found

    def role(self, course: str, caller: Caller) -> str | None:
        return self.roles(caller).get(course)


def _signature(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)
