"""nbgrader's exchange plugin (swarmhub.nbexchange) driven through nbgrader itself:
its ExchangeFactory configured with the notebook image's nbgrader_config.py, the
Assignments tab's server side (assignment_list's AssignmentList) and the
formgrader's NbGraderAPI, against
a small in-memory course exchange speaking the protocol
(swarmhub.common.exchange_protocol) on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import sys
import tarfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from nbgrader.api import Gradebook
from nbgrader.apps.api import NbGraderAPI
from nbgrader.auth import Authenticator
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList
from traitlets.config import Config

from swarmhub.common.exchange_protocol import (
    API_PREFIX,
    URL_ENV,
    formgrader_service,
    submission_id,
    timestamp_text,
)
from swarmhub.nbexchange import archive
from swarmhub.nbexchange.collect import SUBMISSION_FILE

COURSE = "c101"
FORMGRADER = "tok-formgrader"
ALICE = "tok-alice"
BOB = "tok-bob"

# ---------------------------------------------------------------------------
# The fake course exchange: the protocol, in memory. Replaced later by the real
# service's tests; it checks who may do what only as far as these tests need.


class FakeExchange:
    def __init__(self) -> None:
        self.callers = {
            FORMGRADER: formgrader_service(COURSE),
            ALICE: "alice",
            BOB: "bob",
        }
        self.students = {COURSE: {"alice", "bob"}, "c202": {"alice"}, "c303": {"alice"}}
        self.released: dict[tuple[str, str], dict[str, Any]] = {}
        self.submissions: list[dict[str, Any]] = []
        self.feedback: dict[tuple[str, str, str, str, str], bytes] = {}
        self.clock: list[datetime] = []  # the next submissions' times, else now
        self.fail_with: dict[str, tuple[int, str]] = {}  # "METHOD route" -> status, error

    def role(self, caller: str, course: str) -> str | None:
        if caller == formgrader_service(course):
            return "formgrader"
        if caller in self.students.get(course, ()):
            return "student"
        return None

    def public(self, s: dict[str, Any]) -> dict[str, Any]:
        return {k: s[k] for k in ("student", "assignment", "id", "timestamp", "notebooks")} | {
            "feedback": {
                nb: hashlib.sha256(html).hexdigest()
                for (c, st, a, i, nb), html in sorted(self.feedback.items())
                if (c, st, a, i) == (s["course"], s["student"], s["assignment"], s["id"])
            }
        }

    def answer(
        self, method: str, parts: list[str], query: dict[str, str], caller: str, body: bytes
    ) -> tuple[int, str, bytes]:
        key = f"{method} {'/'.join(parts)}"
        if key in self.fail_with:
            return error(*self.fail_with[key])
        if parts == ["courses"]:
            courses = [
                {"course": c, "role": self.role(caller, c)}
                for c in sorted(self.students)
                if self.role(caller, c)
            ]
            return ok({"courses": courses})
        course, rest = parts[1], parts[2:]
        role = self.role(caller, course)
        if role is None:
            return error(403, f"You are not in course {course}.")
        if method == "GET" and rest == ["assignments"]:
            found = [
                {"assignment": a, "released_at": r["released_at"], "notebooks": r["notebooks"]}
                for (c, a), r in sorted(self.released.items())
                if c == course
            ]
            return ok({"assignments": found})
        if rest[:1] == ["assignments"] and len(rest) == 2:
            release = self.released.get((course, rest[1]))
            if method == "GET":
                if release is None:
                    return error(404, f"{rest[1]} is not released in {course}.")
                return 200, "application/gzip", release["data"]
            if role != "formgrader":
                return error(403, "Only the course's formgrader releases assignments.")
            if method == "DELETE":
                if self.released.pop((course, rest[1]), None) is None:
                    return error(404, f"{rest[1]} is not released in {course}.")
                return ok({})
            if method == "PUT":
                if release is not None and query.get("force") != "1":
                    return error(409, f"{rest[1]} is already released: release it with force.")
                self.released[(course, rest[1])] = {
                    "data": body,
                    "notebooks": notebooks_in(body),
                    "released_at": timestamp_text(datetime.now(UTC)),
                }
                return ok({})
        if method == "POST" and rest[:1] == ["assignments"] and rest[2:] == ["submissions"]:
            if (course, rest[1]) not in self.released:
                return error(404, f"{rest[1]} is not released in {course}.")
            when = self.clock.pop(0) if self.clock else datetime.now(UTC)
            s = {
                "course": course,
                "student": caller,
                "assignment": rest[1],
                "id": submission_id(when, secrets.token_hex(4)),
                "timestamp": timestamp_text(when),
                "notebooks": notebooks_in(body),
                "data": body,
            }
            self.submissions.append(s)
            return ok(self.public(s))
        if method == "GET" and rest == ["submissions"]:
            found = [
                self.public(s)
                for s in self.submissions
                if s["course"] == course
                and (role == "formgrader" or s["student"] == caller)
                and s["assignment"] == query.get("assignment", s["assignment"])
                and s["student"] == query.get("student", s["student"])
            ]
            return ok({"submissions": found})
        if rest[:1] in (["submissions"], ["feedback"]):
            student, assignment, sid = rest[1:4]
            if role != "formgrader" and student != caller:
                return error(403, "That is not yours.")
            match = [
                s
                for s in self.submissions
                if (s["course"], s["student"], s["assignment"], s["id"])
                == (course, student, assignment, sid)
            ]
            if not match:
                return error(404, "No such submission.")
            if rest[0] == "submissions" and method == "GET":
                return 200, "application/gzip", match[0]["data"]
            notebook = rest[4].removesuffix(".html")
            if method == "PUT" and role == "formgrader":
                self.feedback[(course, student, assignment, sid, notebook)] = body
                return ok({})
            html = self.feedback.get((course, student, assignment, sid, notebook))
            if method == "GET" and html is not None:
                return 200, "text/html; charset=utf-8", html
        return error(404, f"No route {key}.")


def ok(value: Any) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(value).encode()


def error(status: int, message: str) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps({"error": message}).encode()


def notebooks_in(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = [m.name for m in tar.getmembers() if m.isreg()]
    return sorted(n.removesuffix(".ipynb") for n in names if "/" not in n and n.endswith(".ipynb"))


def serve(fake: FakeExchange) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def handle_any(self) -> None:
            url = urlsplit(self.path)
            assert url.path.startswith(API_PREFIX)
            parts = [unquote(p) for p in url.path[len(API_PREFIX) :].split("/")]
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            token = self.headers.get("Authorization", "").removeprefix("token ")
            if token not in fake.callers:
                status, kind, content = error(403, "Who are you?")
            else:
                status, kind, content = fake.answer(
                    self.command, parts, query, fake.callers[token], body
                )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_PUT = do_POST = do_DELETE = handle_any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


# ---------------------------------------------------------------------------
# What every server's nbgrader reads: the notebook image's own settings file.
IMAGE_CONFIG = (
    Path(__file__).resolve().parents[2] / "images/notebook/nbgrader_config.py"
).read_text()


# The people: the formgrader's course folder, alice's and bob's homes.


class World:
    def __init__(self, tmp_path: Path, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch):
        self.tmp = tmp_path
        self.fake = fake
        self.monkeypatch = monkeypatch
        self.course = tmp_path / "course"
        self.homes = {t: tmp_path / name for t, name in ((ALICE, "alice"), (BOB, "bob"))}
        for home in [self.course, *self.homes.values()]:
            home.mkdir()

    def config(self, token: str, **coursedir: Any) -> Config:
        c = Config()
        exec(IMAGE_CONFIG, {"get_config": lambda: c})
        c.CourseDirectory.course_id = COURSE
        if token == FORMGRADER:
            c.CourseDirectory.root = str(self.course)
        else:
            c.Exchange.assignment_dir = str(self.homes[token])
        for name, value in coursedir.items():
            setattr(c.CourseDirectory, name, value)
        return c

    def run(self, op: str, token: str, coursedir: dict[str, Any] | None = None, **traits: Any):
        """One nbgrader operation as its app runs it (apps/*app.py's start)."""
        self.monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
        c = self.config(token, **(coursedir or {}))
        factory = ExchangeFactory(config=c)
        plugin = getattr(factory, op)(
            coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c
        )
        for name, value in traits.items():
            setattr(plugin, name, value)
        return plugin.start()

    def formgrader_api(self) -> NbGraderAPI:
        self.monkeypatch.setenv("JUPYTERHUB_API_TOKEN", FORMGRADER)
        c = self.config(FORMGRADER)
        return NbGraderAPI(coursedir=CourseDirectory(config=c), config=c)

    def assignment_list(self, token: str) -> AssignmentList:
        """The Assignments tab's server side, reading nbgrader_config.py in the home.
        It loads it from the working folder: a user's server runs in the home."""
        self.monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
        home = self.homes[token]
        self.monkeypatch.chdir(home)
        self.monkeypatch.setenv("HOME", str(home))  # as in the user's server
        (home / "nbgrader_config.py").write_text(IMAGE_CONFIG)
        manager = AssignmentList()
        manager.root_dir = str(home)
        return manager

    def release(self, assignment: str, files: dict[str, bytes], **traits: Any) -> Path:
        folder = self.course / "release" / assignment
        for name, content in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        self.run("ReleaseAssignment", FORMGRADER, {"assignment_id": assignment}, **traits)
        return folder


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    yield FakeExchange()


@pytest.fixture
def world(tmp_path, fake, monkeypatch) -> Iterator[World]:
    server = serve(fake)
    monkeypatch.setenv(URL_ENV, f"http://127.0.0.1:{server.server_address[1]}")
    # nbgrader reads nbgrader_config.py from Jupyter's config path too: only ours
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "")
    # nbgrader's Gradebook runs the `alembic` command of its own environment
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.chdir(tmp_path)
    try:
        yield World(tmp_path, fake, monkeypatch)
    finally:
        server.shutdown()
        server.server_close()


NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
FILES = {"ps1.ipynb": NB, "data/table.csv": b"a,b\n1,2\n", "helper.py": b"X = 1\n"}


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def tgz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


# ---------------------------------------------------------------------------
# Release, list, fetch


def test_a_release_is_fetched_with_the_same_files(world):
    released = world.release("ps1", FILES | {"__pycache__/x.pyc": b"junk"})
    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})

    fetched = world.homes[ALICE] / "ps1"
    expected = {k: v for k, v in checksums(released).items() if not k.startswith("__pycache__")}
    assert checksums(fetched) == expected
    # nbgrader's ignore rules (CourseDirectory.ignore) applied on release
    assert not (fetched / "__pycache__").exists()
    # nothing of the unpacking left behind
    assert sorted(os.listdir(world.homes[ALICE])) == ["ps1"]


def test_the_assignments_tab_lists_released_then_fetched_in_nbgraders_shapes(world):
    world.release("ps1", FILES)
    world.release("ps2", {"ps2.ipynb": NB, "extra.ipynb": NB})
    manager = world.assignment_list(ALICE)

    listed = manager.list_assignments(course_id=COURSE)
    assert listed["success"], listed
    assert [(a["assignment_id"], a["status"]) for a in listed["value"]] == [
        ("ps1", "released"),
        ("ps2", "released"),
    ]
    ps2 = listed["value"][1]
    assert set(ps2) == {"course_id", "assignment_id", "status", "path", "notebooks"}
    assert [nb["notebook_id"] for nb in ps2["notebooks"]] == ["extra", "ps2"]
    assert all(set(nb) == {"notebook_id", "path"} for nb in ps2["notebooks"])

    assert manager.fetch_assignment(COURSE, "ps1")["success"]
    fetched = manager.list_assignments(course_id=COURSE)["value"][0]
    # handlers.py makes a fetched assignment's paths relative to the server's root
    assert fetched == {
        "course_id": COURSE,
        "assignment_id": "ps1",
        "status": "fetched",
        "path": "ps1",
        "notebooks": [{"notebook_id": "ps1", "path": "ps1/ps1.ipynb"}],
    }
    assert (world.homes[ALICE] / fetched["notebooks"][0]["path"]).read_bytes() == NB


def test_the_course_dropdown_lists_the_exchanges_courses_with_releases(world, fake):
    world.release("ps1", FILES)
    fake.released[("c202", "intro")] = {
        "data": tgz([(member("intro.ipynb"), NB)]),
        "notebooks": ["intro"],
        "released_at": "2026-01-01 00:00:00.000000 UTC",
    }
    fake.students["c404"] = {"bob"}  # alice is not in it, and it has nothing released
    manager = world.assignment_list(ALICE)
    assert manager.list_courses() == {"success": True, "value": [COURSE, "c202"]}

    world.monkeypatch.setenv("JUPYTERHUB_API_TOKEN", ALICE)
    plugin = Authenticator(config=world.config(ALICE))
    assert plugin.get_student_courses("*") == [COURSE, "c202", "c303"]
    assert plugin.has_access("alice", COURSE) and not plugin.has_access("alice", "c404")


def test_release_without_generate_assignment_says_run_it_first(world):
    (world.course / "source" / "ps1").mkdir(parents=True)
    with pytest.raises(ExchangeError, match="run `nbgrader generate_assignment` first"):
        world.run("ReleaseAssignment", FORMGRADER, {"assignment_id": "ps1"})


def test_a_second_release_needs_force(world, fake):
    world.release("ps1", FILES)
    with pytest.raises(ExchangeError) as e:
        world.release("ps1", {"ps1.ipynb": b"{}"})
    assert str(e.value) == "ps1 is already released: release it with force."
    world.release("ps1", {"ps1.ipynb": b"{}"}, force=True)
    assert notebooks_in(fake.released[(COURSE, "ps1")]["data"]) == ["ps1"]


def test_fetch_refuses_an_existing_copy_or_adds_only_missing_files(world):
    world.release("ps1", FILES)
    mine = world.homes[ALICE] / "ps1"
    mine.mkdir()
    (mine / "ps1.ipynb").write_bytes(b"my work")
    with pytest.raises(ExchangeError, match="already have a copy of the assignment"):
        world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    assert sorted(os.listdir(mine)) == ["ps1.ipynb"]

    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"}, replace_missing_files=True)
    assert (mine / "ps1.ipynb").read_bytes() == b"my work"
    assert (mine / "data" / "table.csv").read_bytes() == FILES["data/table.csv"]
    assert (mine / "helper.py").read_bytes() == FILES["helper.py"]


def test_fetch_does_not_write_through_a_symlink(world, tmp_path):
    world.release("ps1", FILES)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mine = world.homes[ALICE] / "ps1"
    mine.mkdir()
    (mine / "data").symlink_to(elsewhere)
    with pytest.raises(ExchangeError, match="is a symbolic link"):
        world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"}, replace_missing_files=True)
    assert os.listdir(elsewhere) == []


LINK = "is a link or a special file"
OUTSIDE = "is not a plain relative name"


@pytest.mark.parametrize(
    "bad, reason",
    [
        ([(member("link", tarfile.SYMTYPE, "/etc/passwd"), None)], LINK),
        ([(member("hard", tarfile.LNKTYPE, "ps1.ipynb"), None)], LINK),
        ([(member("dev", tarfile.CHRTYPE), None)], LINK),
        ([(member("../escaped.txt"), b"x")], OUTSIDE),
        ([(member("/tmp/absolute.txt"), b"x")], OUTSIDE),
    ],
    ids=["symlink", "hardlink", "device", "dotdot", "absolute"],
)
def test_an_archive_with_a_link_or_an_outside_name_is_refused_whole(
    world, fake, bad, reason, tmp_path
):
    data = tgz([(member("ps1.ipynb"), NB), *bad])
    fake.released[(COURSE, "ps1")] = {"data": data, "notebooks": ["ps1"], "released_at": ""}
    with pytest.raises(ExchangeError) as e:
        world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    assert str(e.value).startswith("Refused c101 ps1 from the course exchange: ")
    assert reason in str(e.value) and str(e.value).endswith("Nothing was written.")
    assert os.listdir(world.homes[ALICE]) == []
    assert not (tmp_path / "escaped.txt").exists()


def test_a_server_error_reaches_the_person_verbatim(world, fake):
    world.release("ps1", FILES)
    fake.fail_with["GET courses/c101/assignments/ps1"] = (503, "The exchange is being moved ✓")
    with pytest.raises(ExchangeError) as e:
        world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    assert str(e.value) == "The exchange is being moved ✓"
    # the Assignments tab shows the traceback, which ends with it
    answer = world.assignment_list(ALICE).fetch_assignment(COURSE, "ps1")
    assert not answer["success"]
    assert answer["value"].rstrip().endswith("ExchangeError: The exchange is being moved ✓")


def test_an_exchange_that_does_not_answer_is_named(world, monkeypatch):
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9")  # discard: nothing listens
    with pytest.raises(ExchangeError) as e:
        world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    assert str(e.value).startswith("The course exchange at http://127.0.0.1:9 did not answer: ")
    assert str(e.value).endswith("; try again, or tell your instructor")


# ---------------------------------------------------------------------------
# Submit, collect


def forge(folder: Path) -> None:
    (folder / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    (folder / SUBMISSION_FILE).write_text("19990101T000000.000000Z-00000000")
    for p in folder.rglob("*"):
        os.utime(p, (946684800, 946684800))


def test_collect_writes_the_exchanges_timestamp_over_a_forged_one(world, fake, caplog):
    world.release("ps1", FILES)
    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    forge(world.homes[ALICE] / "ps1")
    when = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    fake.clock = [when]
    caplog.set_level("INFO")
    world.run("Submit", ALICE, {"assignment_id": "ps1"})
    assert f"Submitted as: {COURSE} ps1 2026-03-01 12:00:00.123456 UTC" in caplog.text

    world.run("Collect", FORMGRADER, {"assignment_id": "ps1"})
    collected = world.course / "submitted" / "alice" / "ps1"
    assert (collected / "timestamp.txt").read_text() == "2026-03-01 12:00:00.123456 UTC"
    assert (collected / SUBMISSION_FILE).read_text() == fake.submissions[0]["id"]
    assert (collected / "ps1.ipynb").read_bytes() == NB
    # nbgrader's own reading of it, which grading and lateness use
    api = world.formgrader_api()
    assert api.get_submitted_timestamp("ps1", "alice") == datetime(2026, 3, 1, 12, 0, 0, 123456)


def test_collect_updates_only_when_asked_and_newer(world, fake):
    world.release("ps1", FILES)
    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    t1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    fake.clock = [t1, t1 + timedelta(hours=1)]
    world.run("Submit", ALICE, {"assignment_id": "ps1"})
    world.run("Collect", FORMGRADER, {"assignment_id": "ps1"})
    (world.homes[ALICE] / "ps1" / "ps1.ipynb").write_bytes(b"second try")
    world.run("Submit", ALICE, {"assignment_id": "ps1"})

    collected = world.course / "submitted" / "alice" / "ps1"
    world.run("Collect", FORMGRADER, {"assignment_id": "ps1"})
    assert (collected / "ps1.ipynb").read_bytes() == NB
    world.run("Collect", FORMGRADER, {"assignment_id": "ps1"}, update=True)
    assert (collected / "ps1.ipynb").read_bytes() == b"second try"
    assert (collected / "timestamp.txt").read_text() == timestamp_text(t1 + timedelta(hours=1))


def test_collect_before_the_due_date_takes_the_last_one_in_time(world, fake):
    world.release("ps1", FILES)
    due = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with Gradebook(f"sqlite:///{world.course}/gradebook.db", COURSE) as gb:
        gb.update_or_create_assignment("ps1", duedate=due.replace(tzinfo=None))
    for token in world.homes:
        world.run("FetchAssignment", token, {"assignment_id": "ps1"})
    # alice: early, exactly on time, late; bob: late only
    fake.clock = [due - timedelta(minutes=5), due, due + timedelta(minutes=1), due + timedelta(1)]
    for token in (ALICE, ALICE, ALICE, BOB):
        world.run("Submit", token, {"assignment_id": "ps1"})

    world.run("Collect", FORMGRADER, {"assignment_id": "ps1"}, before_duedate=True)
    submitted = world.course / "submitted"
    assert (submitted / "alice/ps1/timestamp.txt").read_text() == timestamp_text(due)
    # none in time: the last one
    assert (submitted / "bob/ps1/timestamp.txt").read_text() == timestamp_text(due + timedelta(1))


def test_collect_of_one_student_asks_for_that_student_only(world, fake):
    world.release("ps1", FILES)
    for token in world.homes:
        world.run("FetchAssignment", token, {"assignment_id": "ps1"})
        world.run("Submit", token, {"assignment_id": "ps1"})
    world.run("Collect", FORMGRADER, {"assignment_id": "ps1", "student_id": "bob"})
    assert os.listdir(world.course / "submitted") == ["bob"]


def test_strict_submit_refuses_a_missing_notebook_with_nbgraders_message(world, fake):
    world.release("ps1", FILES | {"part2.ipynb": NB})
    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    (world.homes[ALICE] / "ps1" / "part2.ipynb").unlink()
    with pytest.raises(ExchangeError) as e:
        world.run("Submit", ALICE, {"assignment_id": "ps1"}, strict=True)
    assert str(e.value).startswith(
        "Assignment ps1 not submitted. There are missing notebooks for the submission:\n"
    )
    assert "part2.ipynb: MISSING" in str(e.value)
    assert fake.submissions == []
    world.run("Submit", ALICE, {"assignment_id": "ps1"})  # not strict: a warning
    assert fake.submissions[0]["notebooks"] == ["ps1"]


# ---------------------------------------------------------------------------
# Feedback


def feedback_for(world: World, student: str, html: bytes) -> Path:
    """What autograde and generate_feedback leave: their own copying of the
    collected folder's files (BaseConverter.init_assignment), then the html."""
    c = world.config(FORMGRADER, assignment_id="ps1", student_id=student)
    grader = Autograde(coursedir=CourseDirectory(config=c), config=c)
    with Gradebook(grader.coursedir.db_url, COURSE) as gb:
        gb.update_or_create_assignment("ps1")
        gb.update_or_create_notebook("ps1", "ps1")
    grader.notebooks = [str(world.course / "submitted" / student / "ps1" / "ps1.ipynb")]
    grader.init_assignment("ps1", student)
    GenerateFeedback(coursedir=CourseDirectory(config=c), config=c).init_assignment("ps1", student)
    folder = world.course / "feedback" / student / "ps1"
    (folder / "ps1.html").write_bytes(html)
    return folder


def submitted_and_collected(world: World, fake: FakeExchange) -> str:
    world.release("ps1", FILES)
    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    fake.clock = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC)]
    world.run("Submit", ALICE, {"assignment_id": "ps1"})
    world.run("Collect", FORMGRADER, {"assignment_id": "ps1"})
    return fake.submissions[0]["timestamp"]


def test_feedback_goes_to_the_submission_and_lands_under_its_timestamp(world, fake):
    timestamp = submitted_and_collected(world, fake)
    folder = feedback_for(world, "alice", b"<p>well done</p>")
    # nbgrader's own converters carried collect's files along
    assert (folder / SUBMISSION_FILE).read_text() == fake.submissions[0]["id"]
    assert (folder / "timestamp.txt").read_text() == timestamp

    api = world.formgrader_api()
    assert api.release_feedback("ps1")["success"]
    world.run("FetchFeedback", ALICE, {"assignment_id": "ps1"})
    landed = world.homes[ALICE] / "ps1" / "feedback" / timestamp / "ps1.html"
    assert landed.read_bytes() == b"<p>well done</p>"


def test_feedback_without_the_id_file_is_matched_by_timestamp(world, fake):
    submitted_and_collected(world, fake)
    world.run("FetchAssignment", BOB, {"assignment_id": "ps1"})
    world.run("Submit", BOB, {"assignment_id": "ps1"})  # another submission, another time
    folder = feedback_for(world, "alice", b"<p>ok</p>")
    (folder / SUBMISSION_FILE).unlink()
    world.run("ReleaseFeedback", FORMGRADER, {"assignment_id": "ps1"})
    alice = fake.submissions[0]
    assert fake.feedback == {(COURSE, "alice", "ps1", alice["id"], "ps1"): b"<p>ok</p>"}


def test_feedback_matching_no_submission_is_not_released_and_says_so(world, fake):
    submitted_and_collected(world, fake)
    folder = feedback_for(world, "alice", b"<p>ok</p>")
    (folder / SUBMISSION_FILE).unlink()
    (folder / "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
    with pytest.raises(ExchangeError, match="Feedback not released.*alice ps1"):
        world.run("ReleaseFeedback", FORMGRADER, {"assignment_id": "ps1"})
    assert fake.feedback == {}


def test_excluded_students_get_no_feedback(world, fake):
    submitted_and_collected(world, fake)
    feedback_for(world, "alice", b"<p>ok</p>")
    world.run(
        "ReleaseFeedback", FORMGRADER, {"assignment_id": "ps1", "student_id_exclude": "alice"}
    )
    assert fake.feedback == {}


def test_the_submitted_list_shows_feedback_states_in_nbgraders_shapes(world, fake):
    timestamp = submitted_and_collected(world, fake)
    manager = world.assignment_list(ALICE)

    def submission() -> dict[str, Any]:
        listed = manager.list_assignments(course_id=COURSE)
        assert listed["success"], listed
        [group] = [a for a in listed["value"] if a["status"] == "submitted"]
        assert {k: group[k] for k in ("course_id", "student_id", "assignment_id")} == {
            "course_id": COURSE,
            "student_id": "alice",
            "assignment_id": "ps1",
        }
        [only] = group["submissions"]
        assert set(only) == {
            "course_id",
            "student_id",
            "assignment_id",
            "timestamp",
            "status",
            "path",
            "notebooks",
            "has_local_feedback",
            "has_exchange_feedback",
            "feedback_updated",
            "local_feedback_path",
        }
        assert only["timestamp"] == timestamp and only["status"] == "submitted"
        [nb] = only["notebooks"]
        assert nb["notebook_id"] == "ps1"
        return only

    state = submission()
    assert (state["has_exchange_feedback"], state["has_local_feedback"]) == (False, False)

    feedback_for(world, "alice", b"<p>v1</p>")
    world.run("ReleaseFeedback", FORMGRADER, {"assignment_id": "ps1"})
    state = submission()
    assert (state["has_exchange_feedback"], state["has_local_feedback"]) == (True, False)

    assert manager.fetch_feedback(COURSE, "ps1")["success"]
    state = submission()
    assert (state["has_local_feedback"], state["feedback_updated"]) == (True, False)
    # relative to the server's root, for JupyterLab's file browser
    assert state["local_feedback_path"] == f"ps1/feedback/{timestamp}"
    assert state["notebooks"][0]["has_local_feedback"]

    (world.course / "feedback" / "alice" / "ps1" / "ps1.html").write_bytes(b"<p>v2</p>")
    world.run("ReleaseFeedback", FORMGRADER, {"assignment_id": "ps1"})
    assert submission()["feedback_updated"] is True
    world.run("FetchFeedback", ALICE, {"assignment_id": "ps1"})
    assert submission()["feedback_updated"] is False


def test_the_formgrader_lists_inbound_submissions_of_everyone(world, fake):
    submitted_and_collected(world, fake)
    world.run("FetchAssignment", BOB, {"assignment_id": "ps1"})
    world.run("Submit", BOB, {"assignment_id": "ps1"})
    world.run("Submit", BOB, {"assignment_id": "ps1"})
    listed = world.run("List", FORMGRADER, {"assignment_id": "ps1"}, inbound=True)
    assert [(g["student_id"], len(g["submissions"])) for g in listed] == [("alice", 1), ("bob", 2)]
    assert listed[1]["submissions"][0]["timestamp"] < listed[1]["submissions"][1]["timestamp"]


# ---------------------------------------------------------------------------
# Taking a release back


def test_unrelease_takes_the_release_off_the_exchange(world, fake):
    world.release("ps1", FILES)
    world.release("ps2", FILES)
    api = world.formgrader_api()
    assert api.get_released_assignments() == {"ps1", "ps2"}
    assert api.unrelease("ps1")["success"]
    assert set(fake.released) == {(COURSE, "ps2")}


def test_a_student_cannot_take_back_a_release_nor_remove_submissions(world, fake):
    world.release("ps1", FILES)
    with pytest.raises(ExchangeError) as e:
        world.run("List", ALICE, {"assignment_id": "ps1"}, remove=True)
    assert str(e.value) == "Only the course's formgrader releases assignments."
    with pytest.raises(ExchangeError, match="cannot be removed from here"):
        world.run("List", FORMGRADER, {"assignment_id": "ps1"}, inbound=True, remove=True)
    assert (COURSE, "ps1") in fake.released


# ---------------------------------------------------------------------------
# The archive rules on their own


def test_packing_follows_nbgraders_copy_rules_and_leaves_links_out(tmp_path, caplog):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.ipynb").write_bytes(NB)
    (src / "big.bin").write_bytes(b"x" * 3000)
    (src / "sub" / "b.txt").write_text("b")
    (src / "sub" / "skip.pyc").write_text("c")
    (src / "link").symlink_to("/etc/passwd")
    data = archive.pack(
        str(src),
        exclude=["*.pyc"],
        include=["*"],
        max_file_size=2,
        log=logging.getLogger(),
    )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = sorted(m.name for m in tar.getmembers())
        assert all(m.uid == 0 and m.uname == "" for m in tar.getmembers())
    assert names == ["a.ipynb", "sub", "sub/b.txt"]
    assert "Not sent, a symbolic link" in caplog.text


def test_a_submission_over_max_dir_size_is_refused_with_nbgraders_message(world, fake):
    world.release("ps1", FILES)
    world.run("FetchAssignment", ALICE, {"assignment_id": "ps1"})
    (world.homes[ALICE] / "ps1" / "huge.bin").write_bytes(b"x" * 5000)
    with pytest.raises(ExchangeError, match="Directory size is too big. Size is 5"):
        world.run("Submit", ALICE, {"assignment_id": "ps1", "max_dir_size": 4})
    assert fake.submissions == []


def test_an_archive_larger_than_allowed_is_refused(tmp_path):
    data = tgz([(member("a.bin"), b"x" * 2000)])
    with pytest.raises(archive.UnsafeArchive, match="more than"):
        archive.unpack_new(data, str(tmp_path / "in"), str(tmp_path), max_bytes=1000)
    assert not (tmp_path / "in").exists()
