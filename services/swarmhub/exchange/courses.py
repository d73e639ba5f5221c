"""Who is in which course, as the courses file the deploy writes and the hub
host's group file ("@group" entries) say now: both are read again whenever they
change, so a deploy (or the users playbook) takes a student out of a course at once."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.courses import Course, is_listed, members_of_groups, parse_courses
from ..common.exchange_protocol import course_of_formgrader


@dataclass(frozen=True)
class Caller:
    """Who the hub says holds the token: a user, or a service (the formgrader)."""

    kind: str  # "user" or "service"
    name: str


def role_in(course: Course, caller: Caller, groups: Mapping[str, set[str]]) -> str | None:
    """The caller's role in the course ("formgrader", "staff", "student"), or None."""
    if caller.kind == "service":
        return "formgrader" if course_of_formgrader(caller.name) == course.name else None
    if caller.kind != "user":
        return None
    if is_listed(course.staff, caller.name, groups):
        return "staff"
    if is_listed(course.students, caller.name, groups):
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
