"""The exchange's files on the hub's storage, one folder per course:

  COURSE/released/A.tar.gz, A.json                 what students fetch
  COURSE/submitted/STUDENT/A/ID.tar.gz, ID.json    every submission, never replaced
  COURSE/feedback/STUDENT/A/ID/NOTEBOOK.html       feedback on one submission

Only the exchange's own account can read or write here, and every path is made of
names the protocol's rules checked, so nothing a user chose is ever a path
component but their checked username. Files appear whole: written beside, fsynced,
then renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..common.exchange_protocol import (
    SUBMISSION_ID,
    check_course,
    check_item,
    submission_id,
    timestamp_text,
)
from ..common.usernames import is_valid as is_username
from .archives import Contents, Limits, check_archive

ARCHIVE = ".tar.gz"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class NotFound(LookupError):
    """Nothing of that name; the message says what, for the person."""


class Exists(LookupError):
    """A release of that name is there already."""


class Store:
    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root = root
        self.limits = limits or Limits()

    # --- paths (names checked here, whoever calls)

    def _course(self, course: str) -> Path:
        return self.root / check_course(course)

    def _released(self, course: str, assignment: str) -> Path:
        return self._course(course) / "released" / check_item(assignment)

    def _submitted(self, course: str, student: str, assignment: str) -> Path:
        if not is_username(student):
            raise NotFound(f"{student!r} is not a user of this hub")
        return self._course(course) / "submitted" / student / check_item(assignment)

    # --- releases

    def released(self, course: str) -> list[dict[str, Any]]:
        folder = self._course(course) / "released"
        found = []
        for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            found.append(_read_json(meta))
        return found

    def release(
        self, course: str, assignment: str, upload: IO[bytes], force: bool
    ) -> dict[str, Any]:
        base = self._released(course, assignment)
        if base.with_suffix(".json").exists() and not force:
            raise Exists(
                f"{assignment} is released already; release it again with --force "
                "(students who fetched it keep their copy)"
            )
        with self._spooled(base.parent, upload) as (spooled, contents):
            meta = {
                "assignment": assignment,
                "released_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "notebooks": list(contents.notebooks),
            }
            os.replace(spooled, str(base) + ARCHIVE)
        _write_json(base.with_suffix(".json"), meta)
        return meta

    def release_archive(self, course: str, assignment: str) -> Path:
        path = Path(str(self._released(course, assignment)) + ARCHIVE)
        if not path.with_suffix("").with_suffix(".json").exists():
            raise NotFound(f"{assignment} is not released in {course}")
        return path

    def unrelease(self, course: str, assignment: str) -> None:
        base = self._released(course, assignment)
        meta = base.with_suffix(".json")
        if not meta.exists():
            raise NotFound(f"{assignment} is not released in {course}")
        meta.unlink()  # first: a release without its .json is no release
        Path(str(base) + ARCHIVE).unlink(missing_ok=True)

    # --- submissions

    def submit(
        self, course: str, student: str, assignment: str, upload: IO[bytes]
    ) -> dict[str, Any]:
        """Keep a submission, stamped now by this clock: its time is never the sender's."""
        folder = self._submitted(course, student, assignment)
        now = datetime.now(UTC)
        ident = submission_id(now, secrets.token_hex(4))
        with self._spooled(folder, upload) as (spooled, contents):
            meta = {
                "student": student,
                "assignment": assignment,
                "id": ident,
                "timestamp": timestamp_text(now),
                "notebooks": list(contents.notebooks),
                "files": contents.files,
                "size": contents.size,
            }
            os.replace(spooled, folder / (ident + ARCHIVE))
        _write_json(folder / (ident + ".json"), meta)
        return self._with_feedback(course, meta)

    def submissions(
        self, course: str, assignment: str | None = None, student: str | None = None
    ) -> list[dict[str, Any]]:
        top = self._course(course) / "submitted"
        if not top.is_dir():
            return []
        students = [student] if student else sorted(p.name for p in top.iterdir())
        found = []
        for name in students:
            base = top / name
            assignments = (
                [assignment]
                if assignment
                else sorted(p.name for p in base.iterdir())
                if base.is_dir()
                else []
            )
            for a in assignments:
                folder = self._submitted(course, name, a)
                for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                    found.append(self._with_feedback(course, _read_json(meta)))
        return found

    def submission_archive(self, course: str, student: str, assignment: str, ident: str) -> Path:
        path = self._submitted(course, student, assignment) / (_check_id(ident) + ARCHIVE)
        if not path.exists():
            raise NotFound(f"no submission {ident} of {assignment} by {student}")
        return path

    # --- feedback

    def _feedback(self, course: str, student: str, assignment: str, ident: str) -> Path:
        self.submission_archive(course, student, assignment, ident)  # it must exist
        return self._course(course) / "feedback" / student / assignment / ident

    def put_feedback(
        self, course: str, student: str, assignment: str, ident: str, notebook: str, html: bytes
    ) -> None:
        folder = self._feedback(course, student, assignment, ident)
        _makedirs(folder)
        _write_bytes(folder / (check_item(notebook, "notebook") + ".html"), html)

    def feedback_file(
        self, course: str, student: str, assignment: str, ident: str, notebook: str
    ) -> Path:
        folder = self._feedback(course, student, assignment, ident)
        path = folder / (check_item(notebook, "notebook") + ".html")
        if not path.exists():
            raise NotFound(f"no feedback yet on {notebook} of this submission")
        return path

    def _with_feedback(self, course: str, meta: dict[str, Any]) -> dict[str, Any]:
        folder = (
            self._course(course) / "feedback" / meta["student"] / meta["assignment"] / meta["id"]
        )
        feedback = {}
        for html in sorted(folder.glob("*.html")) if folder.is_dir() else []:
            feedback[html.name[: -len(".html")]] = hashlib.sha256(html.read_bytes()).hexdigest()
        return {**meta, "feedback": feedback}

    # --- writing

    @contextmanager
    def _spooled(self, folder: Path, upload: IO[bytes]) -> Iterator[tuple[str, Contents]]:
        """The upload in a file beside its place, checked; removed unless renamed."""
        _makedirs(folder)
        fd, spooled = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "w+b") as f:
                shutil.copyfileobj(upload, f, 2**20)
                f.flush()
                os.fsync(f.fileno())
                f.seek(0)
                contents = check_archive(f, self.limits)
            yield spooled, contents
        finally:
            if os.path.exists(spooled):
                os.unlink(spooled)


def _check_id(ident: str) -> str:
    if not SUBMISSION_ID.match(ident):
        raise NotFound(f"{ident!r} is not a submission id")
    return ident


def _makedirs(folder: Path) -> None:
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)


def _write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".write-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    _write_bytes(path, json.dumps(value, sort_keys=True).encode())


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        value: dict[str, Any] = json.load(f)
    return value
