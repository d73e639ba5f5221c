"""The course exchange's API (swarmhub.exchange) with the hub's token check stood in
by a table of tokens: who may release, submit, collect and read what."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from swarmhub.exchange.web import ExchangeSettings, create_app

TOKENS = {
    "t-ann": {"kind": "user", "name": "ann"},
    "t-bob": {"kind": "user", "name": "bob"},
    "t-eve": {"kind": "user", "name": "eve"},
    "t-ida": {"kind": "user", "name": "ida"},
    "t-fg": {"kind": "service", "name": "formgrader-intro"},
    "t-fg-other": {"kind": "service", "name": "formgrader-other"},
}


class Tokens:
    def user_for_token(self, token: str):
        return TOKENS.get(token)


def tar_gz(files: dict[str, bytes], mtime: float = 0, links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


@pytest.fixture
def site(tmp_path: Path):
    courses = tmp_path / "courses.json"
    group = tmp_path / "group"
    courses.write_text(
        json.dumps(
            [
                {"name": "intro", "instructors": ["ida"], "students": ["ann", "@cohort"]},
                {"name": "other", "students": ["ann"]},
            ]
        )
    )
    group.write_text("cohort:x:2001:bob\nstaff:x:2002:eve\n")
    app = create_app(
        ExchangeSettings(root=tmp_path / "exchange", courses_file=courses, group_file=group),
        auth=Tokens(),
    )
    return app.test_client(), courses, tmp_path / "exchange"


def call(client, method, path, token=None, **kw):
    headers = {"Authorization": f"token {token}"} if token else {}
    return client.open("/api/" + path, method=method, headers=headers, **kw)


def release(client, files=None, force=False):
    body = tar_gz(files or {"ps1.ipynb": b"{}", "data/x.csv": b"1,2"})
    return call(
        client,
        "PUT",
        "courses/intro/assignments/ps1" + ("?force=1" if force else ""),
        "t-fg",
        data=body,
    )


def test_each_caller_sees_the_courses_they_are_in_with_their_role(site):
    client, _, _ = site
    assert call(client, "GET", "courses", "t-ann").json["courses"] == [
        {"course": "intro", "role": "student"},
        {"course": "other", "role": "student"},
    ]
    assert call(client, "GET", "courses", "t-bob").json["courses"] == [
        {"course": "intro", "role": "student"}  # through @cohort
    ]
    assert call(client, "GET", "courses", "t-ida").json["courses"] == [
        {"course": "intro", "role": "staff"}
    ]
    assert call(client, "GET", "courses", "t-fg").json["courses"] == [
        {"course": "intro", "role": "formgrader"}
    ]
    assert call(client, "GET", "courses", "t-eve").json["courses"] == []


def test_without_a_good_token_nothing_is_answered(site):
    client, _, _ = site
    assert call(client, "GET", "courses").status_code == 401
    answer = call(client, "GET", "courses", "forged")
    assert answer.status_code == 403
    assert "did not accept your server's token" in answer.json["error"]


def test_the_formgrader_releases_and_students_fetch_the_same_bytes(site):
    client, _, _ = site
    body = tar_gz({"ps1.ipynb": b"{}", "data/x.csv": b"1,2"})
    answer = call(client, "PUT", "courses/intro/assignments/ps1", "t-fg", data=body)
    assert answer.status_code == 200, answer.json
    assert answer.json["notebooks"] == ["ps1"]
    listed = call(client, "GET", "courses/intro/assignments", "t-bob").json["assignments"]
    assert [a["assignment"] for a in listed] == ["ps1"]
    fetched = call(client, "GET", "courses/intro/assignments/ps1", "t-bob")
    assert hashlib.sha256(fetched.data).digest() == hashlib.sha256(body).digest()


def test_only_the_courses_own_formgrader_releases(site):
    client, _, _ = site
    for token in ("t-ann", "t-ida", "t-fg-other"):
        answer = call(client, "PUT", "courses/intro/assignments/ps1", token, data=tar_gz({}))
        assert answer.status_code == 403, token
    assert (
        "Only the formgrader of intro"
        in call(client, "PUT", "courses/intro/assignments/ps1", "t-ida", data=tar_gz({})).json[
            "error"
        ]
    )
    assert call(client, "GET", "courses/intro/assignments", "t-ann").json["assignments"] == []


def test_a_second_release_needs_force(site):
    client, _, _ = site
    assert release(client).status_code == 200
    again = release(client, {"ps1.ipynb": b"{new}"})
    assert again.status_code == 409 and "--force" in again.json["error"]
    assert release(client, {"ps1.ipynb": b"{new}"}, force=True).status_code == 200


def test_a_submission_is_the_callers_and_stamped_by_the_exchange(site):
    client, _, root = site
    release(client)
    before = datetime.now(UTC)
    # files dated 2001: the stamp is still the exchange's own clock
    answer = call(
        client,
        "POST",
        "courses/intro/assignments/ps1/submissions",
        "t-ann",
        data=tar_gz({"ps1.ipynb": b"answer"}, mtime=978307200),
    )
    after = datetime.now(UTC)
    assert answer.status_code == 200, answer.json
    meta = answer.json
    assert meta["student"] == "ann"
    stamped = datetime.strptime(meta["timestamp"], "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=UTC)
    assert before <= stamped <= after
    kept = root / "intro" / "submitted" / "ann" / "ps1" / (meta["id"] + ".tar.gz")
    assert kept.stat().st_mode & 0o077 == 0


def test_a_forged_timestamp_file_is_refused_and_nothing_is_kept(site):
    client, _, root = site
    release(client)
    answer = call(
        client,
        "POST",
        "courses/intro/assignments/ps1/submissions",
        "t-ann",
        data=tar_gz({"ps1.ipynb": b"x", "timestamp.txt": b"2001-01-01 00:00:00 UTC"}),
    )
    assert answer.status_code == 400
    assert "timestamp.txt is a name the exchange writes itself" in answer.json["error"]
    assert call(client, "GET", "courses/intro/submissions", "t-fg").json["submissions"] == []
    assert not list((root / "intro" / "submitted").rglob("*.tar.gz"))


@pytest.mark.parametrize(
    "archive, why",
    [
        (tar_gz({"ps1.ipynb": b"x"}, links={"notes": "/home/bob"}), "links are refused"),
        (tar_gz({"../../x": b"x"}), "not a plain relative name"),
        (tar_gz({"/etc/x": b"x"}), "not a plain relative name"),
        (b"not a tarball", "not a readable tar.gz"),
    ],
)
def test_a_hostile_archive_is_refused(site, archive, why):
    client, _, root = site
    release(client)
    answer = call(
        client, "POST", "courses/intro/assignments/ps1/submissions", "t-ann", data=archive
    )
    assert answer.status_code == 400 and why in answer.json["error"]
    assert not list((root / "intro" / "submitted").rglob("*.tar.gz"))


def test_nothing_is_submitted_to_an_assignment_not_released(site):
    client, _, _ = site
    answer = call(
        client,
        "POST",
        "courses/intro/assignments/ps9/submissions",
        "t-ann",
        data=tar_gz({"a": b"x"}),
    )
    assert answer.status_code == 404 and "ps9 is not released in intro" in answer.json["error"]


def test_students_see_only_their_own_submissions(site):
    client, _, _ = site
    release(client)
    ann = call(
        client,
        "POST",
        "courses/intro/assignments/ps1/submissions",
        "t-ann",
        data=tar_gz({"ps1.ipynb": b"ann's"}),
    ).json
    call(
        client,
        "POST",
        "courses/intro/assignments/ps1/submissions",
        "t-bob",
        data=tar_gz({"ps1.ipynb": b"bob's"}),
    )
    # bob asks for ann's: he gets his own list, and a refusal for her files
    mine = call(client, "GET", "courses/intro/submissions?student=ann", "t-bob").json
    assert {s["student"] for s in mine["submissions"]} == {"bob"}
    theirs = call(client, "GET", f"courses/intro/submissions/ann/ps1/{ann['id']}", "t-bob")
    assert theirs.status_code == 403
    assert "only your own submissions" in theirs.json["error"]
    everyone = call(client, "GET", "courses/intro/submissions?assignment=ps1", "t-fg").json
    assert sorted(s["student"] for s in everyone["submissions"]) == ["ann", "bob"]
    own = call(client, "GET", f"courses/intro/submissions/ann/ps1/{ann['id']}", "t-ann")
    assert own.status_code == 200


def test_feedback_goes_to_its_student_only(site):
    client, _, _ = site
    release(client)
    sub = call(
        client,
        "POST",
        "courses/intro/assignments/ps1/submissions",
        "t-ann",
        data=tar_gz({"ps1.ipynb": b"x"}),
    ).json
    path = f"courses/intro/feedback/ann/ps1/{sub['id']}/ps1.html"
    assert call(client, "PUT", path, "t-ann", data=b"<p>A+</p>").status_code == 403
    assert call(client, "PUT", path, "t-fg", data=b"<p>Good</p>").status_code == 200
    listed = call(client, "GET", "courses/intro/submissions", "t-ann").json["submissions"]
    assert listed[0]["feedback"] == {"ps1": hashlib.sha256(b"<p>Good</p>").hexdigest()}
    assert call(client, "GET", path, "t-ann").data == b"<p>Good</p>"
    assert call(client, "GET", path, "t-bob").status_code == 403


def test_a_student_taken_out_of_the_course_is_refused_at_once(site):
    client, courses, _ = site
    release(client)
    assert call(client, "GET", "courses/intro/assignments", "t-ann").status_code == 200
    entries = json.loads(courses.read_text())
    entries[0]["students"] = ["@cohort"]
    courses.write_text(json.dumps(entries) + "\n")  # a deploy writes the file anew
    answer = call(
        client,
        "POST",
        "courses/intro/assignments/ps1/submissions",
        "t-ann",
        data=tar_gz({"ps1.ipynb": b"x"}),
    )
    assert answer.status_code == 403
    assert answer.json["error"] == "You are not in the course intro."


@pytest.mark.parametrize(
    "path, why",
    [
        ("courses/Intro!/assignments", "is not a course name"),
        ("courses/intro/assignments/ps%2B1", "is not a valid assignment name"),
    ],
)
def test_bad_names_get_a_clear_error(site, path, why):
    client, _, _ = site
    answer = call(client, "GET", path, "t-ann")
    assert answer.status_code == 400 and why in answer.json["error"]
