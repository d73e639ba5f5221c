"""Issue 14: a course end to end, as its people do it in a browser. ivy (the
instructor) creates and releases an assignment in the formgrader; sid and sue,
with servers on different nodes, fetch it from the Assignments tab; sid edits and
submits, sue submits twice; ivy collects, autogrades and returns feedback, which
both fetch. tom, not in the course, sees none of it.

The tests run in order and build on each other (one course, one assignment)."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

COURSE = "intro"
FORMGRADER = f"formgrader-{COURSE}"
ASSIGNMENT = "ps1"
COURSE_DIR = f"/srv/courses/{COURSE}"
UI_TIMEOUT_MS = 120_000

# A source notebook as an instructor writes it: a solution cell and a test cell
# worth one point (nbgrader's cell metadata).
SOURCE_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "answer",
            "metadata": {
                "nbgrader": {
                    "grade": False,
                    "grade_id": "answer",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                }
            },
            "outputs": [],
            "source": (
                "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
            ),
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "test",
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "test",
                    "locked": True,
                    "points": 1,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "assert add(1, 2) == 3",
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

# What a student's edit puts in place of nbgrader's stub
ANSWER = "    return a + b"


@pytest.fixture(scope="module")
def started() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def pages(first_deploy, browser):
    """One logged-in browser page per person, kept for the module."""
    contexts, opened = [], {}

    def page_of(name: str) -> Page:
        if name not in opened:
            contexts.append(browser.new_context(ignore_https_errors=True))
            opened[name] = contexts[-1].new_page()
            jupyter_ui.log_in_to_hub(opened[name], f"{name}@example.org")
        return opened[name]

    yield page_of
    for context in contexts:
        context.close()


def formgrader_url(path: str = "") -> str:
    return jupyter_ui.service_url(FORMGRADER, path)


def in_course(path: str) -> str:
    return on_host("hub", f"cat {COURSE_DIR}/{path}")


def formgrader_api(page: Page, method: str, path: str, body: dict) -> dict:
    """The formgrader's Jupyter API from its own page (the instructor's session, in
    Chromium, which resolves the trial's *.localhost hosts): {"status", "body"}."""
    return page.evaluate(
        """async ([method, path, body]) => {
            const xsrf = document.cookie.split("; ").find(c => c.startsWith("_xsrf="));
            const headers = {"Content-Type": "application/json"};
            if (xsrf) headers["X-XSRFToken"] = decodeURIComponent(xsrf.slice(6));
            const reply = await fetch(path, {method, credentials: "same-origin", headers,
                                             body: JSON.stringify(body)});
            return {status: reply.status, body: await reply.text()};
        }""",
        [method, formgrader_url(path), body],
    )


def assignment_row(page: Page):
    return page.locator("tbody tr").filter(
        has=page.get_by_role("link", name=ASSIGNMENT, exact=True)
    )


# The formgrader's buttons, by icon, and what each does.
ACTIONS = {
    "education": "generate",
    "cloud-upload": "release",
    "cloud-download": "collect",
    "flash": "autograde",
    "comment": "generate_feedback",
    "envelope": "release_feedback",
}


def step_took(step: str, seconds: float) -> None:
    """A step's time as its user sees it (click to answer), printed and kept."""
    print(f"\ncourse step {step}: {seconds:.1f}s")
    trial.record_timing(f"course_{step}_s", seconds)


def formgrader_action(page: Page, icon: str, row=None) -> str:
    """Click a formgrader button (by its icon) in the assignment's row (or `row`)
    and wait for its outcome: the success dialog's text, closed; an error
    dialog fails the test with what it says."""
    clicked = time.monotonic()
    (row or assignment_row(page)).locator(f".glyphicon-{icon}").click()
    outcome = page.locator("#success-modal, #error-modal")
    expect(outcome).to_be_visible(timeout=UI_TIMEOUT_MS)
    step_took(ACTIONS[icon], time.monotonic() - clicked)
    text = outcome.inner_text()
    assert outcome.get_attribute("id") == "success-modal", text
    outcome.get_by_role("button", name="OK").click()
    expect(outcome).to_have_count(0, timeout=UI_TIMEOUT_MS)
    return text


def open_assignments_tab(page: Page, name: str) -> None:
    page.goto(jupyter_ui.user_url(name, "lab?reset"))
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_text("Nbgrader", exact=True).click()
    menu = page.locator("#jp-mainmenu-nbgrader")
    expect(menu.get_by_text("Assignment List", exact=True)).to_be_visible()
    # a student's lab has none of the instructors' tools
    for tool in ("Formgrader", "Course List", "Create Assignment"):
        expect(menu.get_by_text(tool)).to_have_count(0)
    menu.get_by_text("Assignment List", exact=True).click()
    expect(page.locator("#released_assignments_list")).to_be_visible(timeout=UI_TIMEOUT_MS)


def with_a_server(page: Page, name: str) -> None:
    if not jupyter_ui.server_state(page, name).get("ready"):
        jupyter_ui.start_server(page, name)


def node_of(name: str) -> str:
    task = trial.running_task(f"jupyter-{name}")
    assert task, f"{name} has no running server"
    return task["Node"]


def test_an_instructor_creates_and_releases_an_assignment_in_the_formgrader(pages):
    page = pages("ivy")
    page.goto(formgrader_url("formgrader/manage_assignments"))
    page.get_by_role("link", name="Add new assignment...").click()
    modal = page.locator(".modal-dialog")
    modal.locator("input").first.fill(ASSIGNMENT)
    modal.get_by_text("Save").click()
    expect(assignment_row(page)).to_be_visible(timeout=UI_TIMEOUT_MS)
    # the instructor's notebook, put where the formgrader's file browser would
    for folder in ("source", f"source/{ASSIGNMENT}"):
        formgrader_api(page, "PUT", f"api/contents/{folder}", {"type": "directory"})
    reply = formgrader_api(
        page,
        "PUT",
        f"api/contents/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
        {"type": "notebook", "format": "json", "content": SOURCE_NOTEBOOK},
    )
    assert reply["status"] in (200, 201), reply
    # the files are the course account's, in the course's folder on the hub
    owner = on_host("hub", f"stat -c %U {COURSE_DIR}/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    assert owner == f"course-{COURSE}"

    page.reload()
    formgrader_action(page, "education")  # generate the student version
    formgrader_action(page, "cloud-upload")  # release
    expect(assignment_row(page).get_by_text("released")).to_be_visible(timeout=UI_TIMEOUT_MS)


def test_students_on_two_nodes_fetch_it(pages):
    sid, sue = pages("sid"), pages("sue")
    with_a_server(sid, "sid")
    first = node_of("sid")
    # sue's server goes to the other node: sid's takes no new server meanwhile
    on_host("hub", f"docker node update --availability pause {first}")
    try:
        if jupyter_ui.server_state(sue, "sue"):
            jupyter_ui.stop_server(sue, "sue")
        jupyter_ui.start_server(sue, "sue")
    finally:
        on_host("hub", f"docker node update --availability active {first}")
    assert node_of("sue") != first

    for name, page in (("sid", sid), ("sue", sue)):
        open_assignments_tab(page, name)
        released = page.locator("#released_assignments_list")
        expect(released.get_by_text(ASSIGNMENT).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        clicked = time.monotonic()
        released.get_by_role("button", name="Fetch").click()
        fetched = page.locator("#fetched_assignments_list")
        expect(fetched.get_by_text(ASSIGNMENT).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        step_took("fetch", time.monotonic() - clicked)
        # nor is the formgrader served from a student's server
        assert jupyter_ui.fetch_in_page(page, f"/user/{name}/formgrader")["status"] == 404
        # in the student's home, theirs, the student version (no solution)
        path = f"/home/{name}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        assert on_host("hub", f"stat -c %U {path}") == name
        assert "BEGIN SOLUTION" not in on_host("hub", f"cat {path}")


EDIT = """
import json, sys
path, marker = sys.argv[1], sys.argv[2]
nb = json.load(open(path))
cell = nb["cells"][0]
source = "".join(cell["source"])
cell["source"] = source.replace("raise NotImplementedError()", "return a + b") + "\\n# " + marker
json.dump(nb, open(path, "w"))
"""


def answer(name: str, marker: str) -> None:
    """The student's edit: the solution in place of the stub (as their own code could)."""
    path = f"/home/{name}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    script = base64.b64encode(EDIT.encode()).decode()
    trial.exec_in_server(name, f"echo {script} | base64 -d | python3 - {path} {marker}")


def kept_submissions(name: str) -> int:
    """How many submissions of NAME the exchange keeps (its store on the hub)."""
    folder = f"/srv/exchange/{COURSE}/submitted/{name}/{ASSIGNMENT}"
    return int(on_host("hub", f"ls {folder}/*.json 2>/dev/null | wc -l", check=False) or 0)


def submit(page: Page, name: str) -> None:
    """Click Submit and wait until the exchange keeps one submission more."""
    before = kept_submissions(name)
    clicked = time.monotonic()
    page.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
    trial.wait_until(
        f"{name}'s submission", lambda: kept_submissions(name) > before, timeout=120, interval=0.2
    )
    step_took("submit", time.monotonic() - clicked)
    submitted = page.locator("#submitted_assignments_list")
    expect(submitted.get_by_text(ASSIGNMENT).first).to_be_visible(timeout=UI_TIMEOUT_MS)


def set_due_date(page: Page, due: datetime) -> None:
    """The instructor's edit of the due date, in the formgrader."""
    page.goto(formgrader_url("formgrader/manage_assignments"))
    assignment_row(page).locator(".glyphicon-pencil").click()
    modal = page.locator("#edit-assignment-modal")
    modal.locator("input.modal-duedate").fill(due.strftime("%Y-%m-%d %H:%M:%S"))
    modal.locator("input.modal-timezone").fill("UTC")
    modal.locator("button.save").click()
    expect(modal).to_have_count(0, timeout=UI_TIMEOUT_MS)


def test_a_student_submits_an_edit_and_another_twice_the_second_late(pages, started):
    sid, sue = pages("sid"), pages("sue")
    answer("sid", "sid-answer")
    # sid's files say 2001: the exchange stamps the time it receives them
    trial.exec_in_server("sid", f"touch -d 2001-01-01 /home/sid/{ASSIGNMENT}/*")
    submit(sid, "sid")
    submit(sue, "sue")  # the stub as fetched
    # a deadline after those two (the form takes whole seconds); sue's second
    # submission comes after it
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    set_due_date(pages("ivy"), due)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
    answer("sue", "sue-second")
    submit(sue, "sue")
    submitted = sue.locator("#submitted_assignments_list")
    expect(
        submitted.locator(".item_status, li, .list_item").filter(has_text=ASSIGNMENT)
    ).not_to_have_count(0)


def test_the_instructor_collects_and_autogrades_both_the_latest_of_each(pages, started):
    page = pages("ivy")
    page.goto(formgrader_url("formgrader/manage_assignments"))
    formgrader_action(page, "cloud-download")  # collect
    expect(assignment_row(page).get_by_role("link", name="2")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.goto(formgrader_url(f"formgrader/manage_submissions/{ASSIGNMENT}"))
    logs = {}
    for name in ("sid", "sue"):
        row = page.locator("tbody tr").filter(has_text=name)
        logs[name] = formgrader_action(page, "flash", row)  # autograde
    # sue's latest came after the due date: the autograde says so (the course's
    # late policy, zero, takes her point in the feedback)
    assert "seconds late" in logs["sue"] and "seconds late" not in logs["sid"]
    page.reload()
    for name in ("sid", "sue"):
        row = page.locator("tbody tr").filter(has_text=name)
        expect(row).to_contain_text("1 / 1", timeout=UI_TIMEOUT_MS)
    # sue's latest: her second submission's file and the exchange's stamp of it
    collected = in_course(f"submitted/sue/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    assert "sue-second" in collected
    # sid's files said 2001: the stamp is the exchange's clock, after this module began
    stamp = in_course(f"submitted/sid/{ASSIGNMENT}/timestamp.txt")
    when = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f %Z").replace(tzinfo=UTC)
    assert when >= started


def test_feedback_is_released_and_each_student_fetches_their_own(pages):
    page = pages("ivy")
    page.goto(formgrader_url("formgrader/manage_assignments"))
    formgrader_action(page, "comment")  # generate feedback
    formgrader_action(page, "envelope")  # release feedback
    for name in ("sid", "sue"):
        student = pages(name)
        open_assignments_tab(student, name)
        submitted = student.locator("#submitted_assignments_list")
        clicked = time.monotonic()
        submitted.get_by_role("button", name="Fetch Feedback").first.click()
        trial.wait_until(
            f"{name}'s feedback",
            lambda name=name: on_host(
                "hub", f"ls /home/{name}/{ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html", check=False
            ),
            timeout=120,
            interval=0.2,
        )
        step_took("fetch_feedback", time.monotonic() - clicked)
        feedback = on_host("hub", f"cat /home/{name}/{ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html")
        assert ASSIGNMENT in feedback
        late = "Late submission penalty" in feedback
        assert late == (name == "sue"), f"{name}'s feedback, late penalty shown: {late}"


# What code in a student's server can send the exchange: its own token, any request.
ASK = """
import os, sys, urllib.request as u, urllib.error as e
method, path = sys.argv[1], sys.argv[2]
request = u.Request(
    os.environ["SWARMHUB_EXCHANGE_URL"] + "/api/" + path,
    method=method,
    data=b"" if method != "GET" else None,
    headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]},
)
try:
    reply = u.urlopen(request)
except e.HTTPError as refused:
    reply = refused
print(reply.status)
print(reply.read().decode())
"""


def ask_exchange(name: str, path: str, method: str = "GET") -> tuple[int, dict]:
    """The exchange's answer to a request from NAME's server: (status, JSON body)."""
    script = base64.b64encode(ASK.encode()).decode()
    out = trial.exec_in_server(name, f"echo {script} | base64 -d | python3 - {method} '{path}'")
    status, _, body = out.stdout.partition("\n")
    return int(status), json.loads(body)


def test_a_student_cannot_read_anothers_submission(pages):
    pages("sid")
    # the exchange's store is on the hub only; nothing of it is in a server
    assert trial.exec_in_server("sid", "ls /srv/exchange /srv/courses", check=False).returncode
    # asked for sue's submissions, the exchange lists sid's own
    status, listed = ask_exchange("sid", f"courses/{COURSE}/submissions?student=sue")
    assert status == 200 and {s["student"] for s in listed["submissions"]} == {"sid"}
    # and refuses her files, by any id
    sue_id = json.loads(
        on_host(
            "hub",
            f"ls /srv/exchange/{COURSE}/submitted/sue/{ASSIGNMENT}/*.json | head -1 | xargs cat",
        )
    )["id"]
    status, refused = ask_exchange("sid", f"courses/{COURSE}/submissions/sue/{ASSIGNMENT}/{sue_id}")
    assert status == 403 and "only your own submissions" in refused["error"]


def test_lost_submissions_and_a_broken_source_come_back_from_the_backup(pages):
    pages("sue")
    store = f"/srv/exchange/{COURSE}/submitted/sue"
    tree = (
        f"cd {store} && find . -printf '%p %U %G %m\\n' | sort "
        "&& find . -type f -print0 | sort -z | xargs -0 sha256sum"
    )
    listing = f"courses/{COURSE}/submissions"
    before, listed_before = on_host("hub", tree), ask_exchange("sue", listing)
    assert listed_before[0] == 200 and len(listed_before[1]["submissions"]) == 2, listed_before
    notebook = f"{COURSE_DIR}/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    source_sum = on_host("hub", f"sha256sum < {notebook}")
    now = trial.run(["./script/restore", "--now"], timeout=900)
    assert "; courses: " in now.stdout and "; exchange: " in now.stdout, now.stdout[-3000:]
    assert "DIFFER" not in now.stdout and "drill failed" not in now.stdout, now.stdout[-3000:]

    # the exchange's store of sue's submissions is lost: she sees none
    on_host("hub", f"rm -rf {store}")
    assert ask_exchange("sue", listing) == (200, {"submissions": []})
    trial.run(["./script/restore", COURSE, "--area", "exchange", "--force", "--yes"], timeout=600)
    assert on_host("hub", tree) == before
    assert ask_exchange("sue", listing) == listed_before

    # the instructor breaks the source notebook: the backup's goes beside it, the course's
    on_host("hub", f"echo broken > {notebook}")
    restored = trial.run(
        ["./script/restore", COURSE, "--area", "courses", "--path", f"source/{ASSIGNMENT}"],
        timeout=600,
    )
    folder = re.search(r"restored-\S+Z", restored.stdout).group(0)
    copy = f"{COURSE_DIR}/{folder}/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    assert on_host("hub", f"sha256sum < {copy}") == source_sum
    assert on_host("hub", f"stat -c %U {COURSE_DIR}/{folder}") == f"course-{COURSE}"
    on_host("hub", f"mv {copy} {notebook} && rm -rf {COURSE_DIR}/{folder}")


def test_someone_outside_the_course_sees_no_course_and_no_formgrader(pages):
    page = pages("tom")
    page.goto(formgrader_url("formgrader"))
    expect(page.get_by_text("403")).to_be_visible(timeout=UI_TIMEOUT_MS)
    with_a_server(page, "tom")
    assert ask_exchange("tom", "courses") == (200, {"courses": []})
    status, refused = ask_exchange("tom", f"courses/{COURSE}/assignments")
    assert status == 403 and refused["error"] == f"You are not in the course {COURSE}."
    open_assignments_tab(page, "tom")
    expect(page.locator("#released_assignments_list")).not_to_contain_text(ASSIGNMENT)
    assert re.search(r"swarmhub-formgrader", on_host("hub", "docker service ls"))


def test_a_student_taken_out_by_a_deploy_is_refused_by_her_running_server(
    pages, deploy_vars, tmp_path
):
    from tests.cluster.conftest import COURSES

    pages("sue")
    without_sue = tmp_path / "without-sue.json"
    course = dict(COURSES[0], students=["sid"])
    without_sue.write_text(json.dumps({"swarmhub_courses": [course]}))
    # the courses' part of a deploy (images: the references it needs)
    trial.deploy(
        "-t",
        "images,courses",
        "-e",
        deploy_vars,
        "-e",
        f"@{without_sue}",
        log_name="deploy-course-without-sue.log",
    )
    try:
        assert ask_exchange("sue", "courses") == (200, {"courses": []})
        status, refused = ask_exchange(
            "sue", f"courses/{COURSE}/assignments/{ASSIGNMENT}/submissions", method="POST"
        )
        assert (status, refused["error"]) == (403, f"You are not in the course {COURSE}.")
        assert ask_exchange("sid", "courses")[1]["courses"] == [
            {"course": COURSE, "role": "student"}
        ]
    finally:
        trial.deploy("-t", "images,courses", "-e", deploy_vars, log_name="deploy-course-back.log")
    assert ask_exchange("sue", "courses")[1]["courses"] == [{"course": COURSE, "role": "student"}]
