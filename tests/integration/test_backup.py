"""Backups and restores with the real duplicity (the version the sidecar image
pins) and gpg, through the operator's command `python -m swarmhub.backup`,
against a temporary home root with generated homes. Runs as root, like the
sidecar: owners and modes are part of what must come back."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "images" / "backup" / "requirements.txt"
TOOLS = ROOT / ".venv" / "backup-tools"
ANN, BOB = (2001, 2001), (2002, 2002)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="restores set owners: run as root")


@pytest.fixture(scope="session")
def duplicity_bin() -> str:
    """duplicity as the image has it: images/backup/requirements.txt in a venv of its own."""
    if shutil.which("gpg") is None:
        pytest.fail("gpg is missing: apt-get install gnupg (./script/test installs it)")
    stamp = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp_file = TOOLS / ".stamp"
    if not (stamp_file.exists() and stamp_file.read_text() == stamp):
        shutil.rmtree(TOOLS, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run(
            [str(TOOLS / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
             "--no-deps", "-r", str(REQUIREMENTS)],
            check=True,
        )  # fmt: skip
        stamp_file.write_text(stamp)
    return str(TOOLS / "bin" / "duplicity")


class Site:
    """A home root, a target, the sidecar's folders, and the command to drive them."""

    def __init__(self, base: Path, duplicity: str) -> None:
        self.base = base
        self.home = base / "home"
        self.target = base / "target"
        self.passwd = base / "passwd"
        self.passphrase_file = base / "passphrase"
        self.state = base / "state"
        self.home.mkdir()
        self.passwd.write_text(
            "ann:x:2001:2001::/home/ann:/bin/bash\nbob:x:2002:2002::/home/bob:/bin/bash\n"
        )
        self.passphrase_file.write_text("correct horse battery staple\n")
        self.env = {
            **os.environ,
            "SWARMHUB_BACKUP_TARGET_URL": f"file://{self.target}",
            "SWARMHUB_BACKUP_SOURCE": str(self.home),
            "SWARMHUB_BACKUP_ARCHIVE_DIR": str(base / "cache"),
            "SWARMHUB_BACKUP_STATE_DIR": str(self.state),
            "SWARMHUB_BACKUP_PASSPHRASE_FILE": str(self.passphrase_file),
            "SWARMHUB_BACKUP_PASSWD_FILE": str(self.passwd),
            "SWARMHUB_BACKUP_DUPLICITY": duplicity,
            # the restore drill has tests of its own (test_the_restore_drill_...)
            "SWARMHUB_BACKUP_DRILL_FILES": "0",
        }

    def cli(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "swarmhub.backup", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        if ok and result.returncode != 0:
            pytest.fail(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def backup(self, **env: str) -> subprocess.CompletedProcess:
        # duplicity names a backup by the second it started, so the next one must
        # start in a later second than this one ended
        result = self.cli("run", **env)
        end = int(time.time())
        wait_until(lambda: int(time.time()) > end, "the next second")
        return result

    def status(self) -> dict:
        return json.loads((self.state / "status.json").read_text())

    def backup_times(self, user: str = "ann") -> list[str]:
        out = self.cli("restore", user, "--list").stdout
        return re.findall(r"^\s+(\S+Z)\s+(?:full|inc)", out, re.M)


def wait_until(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def make_home(root: Path, name: str, owner: tuple[int, int], seed: int) -> None:
    """A home as users leave them: nested folders, modes, a symlink, binary data,
    names with spaces and accents, empty files, and a .cache that is excluded."""
    home = root / name
    files = {
        "notes.txt": b"week 1\n" * 50,
        "notebooks/week1/analysis.ipynb": json.dumps({"cells": [seed] * 200}).encode(),
        "notebooks/week1/data.bin": os.urandom(300_000 + seed),
        "notebooks/Übung 2/résumé.md": "é" .encode() * 1000,
        "bin/run.sh": b"#!/bin/sh\necho run\n",
        "private/key": b"secret-ish",
        "empty": b"",
        ".bashrc": b"export X=1\n",
        ".cache/pip/big": os.urandom(50_000),
    }  # fmt: skip
    for rel, data in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (home / "bin" / "run.sh").chmod(0o755)
    (home / "private").chmod(0o700)
    (home / "private" / "key").chmod(0o600)
    (home / "link-to-notes").symlink_to("notes.txt")
    for path in [home, *home.rglob("*")]:
        os.lchown(path, *owner)
    home.chmod(0o700)


def manifest(root: Path, skip: tuple[str, ...] = (".cache",)) -> dict[str, tuple]:
    """Every entry under root: type, mode, owner, and content hash or link target."""
    entries = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in skip:
            continue
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            what = "link:" + os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = "dir"
        entries[rel] = (stat.filemode(st.st_mode), st.st_uid, st.st_gid, what)
    return entries


@pytest.fixture
def site(tmp_path: Path, duplicity_bin: str) -> Iterator[Site]:
    s = Site(tmp_path, duplicity_bin)
    make_home(s.home, "ann", ANN, 1)
    make_home(s.home, "bob", BOB, 2)
    yield s
    # gpg starts an agent per GNUPGHOME, which outlives the test otherwise
    subprocess.run(
        ["gpgconf", "--homedir", str(s.state / "gnupg"), "--kill", "gpg-agent"],
        capture_output=True,
        timeout=30,
    )


def test_a_deleted_home_comes_back_byte_identical_with_owners_and_modes(site: Site):
    before = manifest(site.home / "ann")
    home_mode = (site.home / "ann").stat().st_mode
    site.backup()
    status = site.status()
    assert status["last_result"] == "ok" and status["last_success"]
    assert status["message"].startswith("full backup")

    shutil.rmtree(site.home / "ann")
    out = site.cli("restore", "ann").stdout
    assert "restored" in out

    assert manifest(site.home / "ann") == before
    assert len(before) >= 12
    home = (site.home / "ann").stat()
    assert (home.st_uid, home.st_gid, home.st_mode) == (*ANN, home_mode)
    # excluded, so not restored; nothing else appeared either
    assert not (site.home / "ann" / ".cache").exists()
    assert sorted(p.name for p in site.home.iterdir()) == [".swarmhub-restore", "ann", "bob"]
    assert list((site.home / ".swarmhub-restore").iterdir()) == []


def test_default_restore_goes_into_a_new_folder_owned_by_the_user(site: Site):
    site.backup()
    (site.home / "ann" / "notes.txt").write_text("changed after the backup\n")
    (site.home / "ann" / "notebooks" / "week1" / "data.bin").unlink()
    current = manifest(site.home / "ann")

    out = site.cli("restore", "ann").stdout
    folder = re.search(r"restored-\S+Z", out).group(0)
    restored = site.home / "ann" / folder
    st = restored.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (*ANN, 0o700)
    assert (restored / "notes.txt").read_bytes() == b"week 1\n" * 50
    assert (restored / "notebooks" / "week1" / "data.bin").exists()
    # the current files are as they were
    assert {k: v for k, v in manifest(site.home / "ann").items() if not k.startswith(folder)} == (
        current
    )


def test_restoring_at_an_earlier_time_gives_the_earlier_content(site: Site):
    notes = site.home / "ann" / "notes.txt"
    site.backup()
    notes.write_text("version 2\n")
    (site.home / "ann" / "new.txt").write_text("only in the second backup\n")
    site.backup()
    assert "incremental backup" in site.status()["message"]
    first, second = sorted(site.backup_times())

    out = site.cli("restore", "ann", "--time", first, "--path", "notes.txt").stdout
    old = site.home / "ann" / re.search(r"restored-\S+Z", out).group(0)
    assert (old / "notes.txt").read_bytes() == b"week 1\n" * 50
    assert os.stat(old / "notes.txt").st_uid == ANN[0]

    out = site.cli("restore", "ann", "--into", str(site.base / "latest")).stdout
    latest = site.base / "latest" / re.search(r"restored-\S+Z", out).group(0)
    assert latest.name == "restored-" + second.replace(":", "")
    assert (latest / "notes.txt").read_text() == "version 2\n"
    assert (latest / "new.txt").exists()

    # an age: "1h" ago is before both backups
    result = site.cli("restore", "ann", "--time", "1h", ok=False)
    assert result.returncode == 1
    assert "no backup at or before" in result.stderr and "oldest kept backup" in result.stderr


def test_after_a_third_full_chain_only_two_remain(site: Site):
    for _ in range(3):
        site.backup(SWARMHUB_BACKUP_FULL_IF_OLDER_THAN="1s")
        assert site.status()["message"].startswith("full backup")
        # duplicity forces a full only when last_full < now - 1 s, in whole seconds
        # of its start time, which can be a second after the command was run
        last_full = datetime.fromisoformat(max(site.backup_times())).timestamp()
        wait_until(
            lambda t=last_full: int(time.time()) >= t + 2, "the last full to be over 1 s old"
        )
    fulls = sorted({m.group(1) for f in site.target.iterdir()
                    if (m := re.match(r"duplicity-full\.(\w+)\.manifest", f.name))})  # fmt: skip
    assert len(fulls) == 2
    status = site.cli("status").stdout
    assert "chains:        2" in status
    # the oldest kept chain still restores
    times = site.backup_times()
    assert len(times) == 2
    shutil.rmtree(site.home / "bob")
    site.cli("restore", "bob", "--time", times[0])
    assert (site.home / "bob" / "notes.txt").read_bytes() == b"week 1\n" * 50


def test_a_wrong_passphrase_fails_clearly_and_changes_nothing(site: Site):
    site.backup()
    good = site.status()
    files = sorted(p.name for p in site.target.iterdir())

    restore = site.cli("restore", "ann", ok=False, SWARMHUB_BACKUP_PASSPHRASE="wrong guess")
    assert restore.returncode == 1
    assert "wrong passphrase" in restore.stderr
    assert "check vault_backup_passphrase" in restore.stderr
    assert not any(p.name.startswith("restored-") for p in (site.home / "ann").iterdir())

    run = site.cli("run", ok=False, SWARMHUB_BACKUP_PASSPHRASE="wrong guess")
    assert run.returncode == 1
    status = site.status()
    assert status["last_result"] == "failed"
    assert "wrong passphrase" in status["message"]
    assert status["last_success"] == good["last_success"]
    assert sorted(p.name for p in site.target.iterdir()) == files
    assert site.cli("status", ok=False).returncode == 1


def test_restore_never_overwrites_without_force(site: Site):
    site.backup()
    notes = site.home / "ann" / "notes.txt"
    notes.write_text("newer work\n")
    (site.home / "ann" / "extra.txt").write_text("not in the backup\n")

    first = site.cli("restore", "ann", "--path", "notes.txt").stdout
    again = site.cli("restore", "ann", "--path", "notes.txt", ok=False)
    assert again.returncode == 1 and "exists already" in again.stderr
    restored = site.home / "ann" / re.search(r"restored-\S+Z", first).group(0) / "notes.txt"
    assert restored.read_bytes() == b"week 1\n" * 50

    # --force shows the plan and, with nobody to answer, changes nothing
    asked = site.cli("restore", "ann", "--force", ok=False)
    assert asked.returncode == 1
    assert "replace  notes.txt" in asked.stdout
    assert "not confirmed" in asked.stderr
    assert notes.read_text() == "newer work\n"

    done = site.cli("restore", "ann", "--force", "--yes").stdout
    assert "1 to replace" in done
    assert notes.read_bytes() == b"week 1\n" * 50
    assert (notes.stat().st_uid, stat.S_IMODE(notes.stat().st_mode)) == (ANN[0], 0o644)
    assert (site.home / "ann" / "extra.txt").read_text() == "not in the backup\n"


def test_restore_does_not_follow_a_users_symlink(site: Site):
    site.backup()
    outside = site.base / "outside"
    outside.mkdir()
    folder = "restored-" + site.backup_times()[0].replace(":", "")
    (site.home / "ann" / folder).symlink_to(outside)

    for args in (["ann"], ["ann", "--path", "notebooks"]):
        result = site.cli("restore", *args, ok=False)
        assert result.returncode == 1, result.stdout
        assert "exists already" in result.stderr or "refusing" in result.stderr
    assert list(outside.iterdir()) == []


def test_unknown_users_and_paths_get_clear_errors(site: Site):
    site.backup()
    zed = site.cli("restore", "zed", ok=False)
    assert zed.returncode == 1
    assert "unknown user zed: no account on the hub host" in zed.stderr
    path = site.cli("restore", "ann", "--path", "no/such/file", ok=False)
    assert "no/such/file is not in ann's backup" in path.stderr
    bad = site.cli("restore", "../etc", ok=False)
    assert bad.returncode == 1 and "is not a user name" in bad.stderr
    shutil.rmtree(site.home / "bob")
    gone = site.cli("restore", "bob", "--path", "notes.txt", ok=False)
    assert "does not exist: restore the whole home first" in gone.stderr
    assert not (site.home / "bob").exists()


def test_status_fails_until_a_backup_exists(site: Site):
    before = site.cli("status", ok=False)
    assert before.returncode == 1 and "no backup yet" in before.stdout
    site.backup()
    after = site.cli("status").stdout
    assert "last result:   ok" in after and "chains:        1" in after


def test_a_run_never_overlaps_another_it_waits_for_it(site: Site):
    """An operator's run (script/restore --now) while another holds the lock (the
    sidecar's own run at its start) waits, saying so, and runs once it is free."""
    site.state.mkdir()
    with open(site.state / "backup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = subprocess.Popen(
            [sys.executable, "-m", "swarmhub.backup", "run"], env=site.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert waiting.stdout is not None
        first_line = waiting.stdout.readline()
        assert "waiting for the running backup to finish" in first_line
        time.sleep(1)
        assert waiting.poll() is None and not (site.state / "status.json").exists()
    rest, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, first_line + rest
    assert json.loads((site.state / "status.json").read_text())["last_result"] == "ok"


def test_force_restores_a_file_whose_folder_is_gone(site: Site):
    site.backup()
    week1 = site.home / "ann" / "notebooks" / "week1"
    original = (week1 / "analysis.ipynb").read_bytes()
    shutil.rmtree(week1)
    out = site.cli("restore", "ann", "--path", "notebooks/week1/analysis.ipynb", "--force").stdout
    # nothing to replace: no question asked
    assert "0 to replace, 1 new" in out
    assert (week1 / "analysis.ipynb").read_bytes() == original
    assert (week1.stat().st_uid, week1.stat().st_gid) == ANN
    assert not (week1 / "data.bin").exists()


def test_status_during_a_backup_reports_the_last_result(site: Site):
    site.backup()
    with open(site.state / "backup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = site.cli("status")
    assert "a backup is running" in status.stdout
    assert "last result:   ok" in status.stdout


def test_backups_to_a_gpg_key_restore_only_where_its_secret_key_is(site: Site):
    keys = site.base / "gnupg"
    keys.mkdir(mode=0o700)
    gpg = ["gpg", "--batch", "--homedir", str(keys)]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", "swarmhub backup test",
                    "default", "default", "never"], check=True, capture_output=True)  # fmt: skip
    listing = subprocess.run([*gpg, "--with-colons", "--list-keys"],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
    key = re.search(r"^fpr:+(\w+):", listing, re.M).group(1)
    keyed = {"SWARMHUB_BACKUP_ENCRYPT_KEY": key, "SWARMHUB_BACKUP_GNUPG_HOME": str(keys),
             "SWARMHUB_BACKUP_PASSPHRASE_FILE": str(site.base / "none")}  # fmt: skip
    site.backup(**keyed)
    before = manifest(site.home / "bob")
    shutil.rmtree(site.home / "bob")

    elsewhere = site.base / "no-secret-key"
    elsewhere.mkdir(mode=0o700)
    refused = site.cli("restore", "bob", ok=False,
                       **{**keyed, "SWARMHUB_BACKUP_GNUPG_HOME": str(elsewhere)})  # fmt: skip
    assert refused.returncode == 1 and "wrong key" in refused.stderr
    assert not (site.home / "bob").exists()

    site.cli("restore", "bob", **keyed)
    assert manifest(site.home / "bob") == before


EVERY_FILE = {"SWARMHUB_BACKUP_DRILL_FILES": "1000"}  # more than the homes hold


def test_the_restore_drill_after_a_backup_compares_restored_files_with_the_live_ones(
    site: Site,
):
    shutil.rmtree(site.home / "bob")  # one home: a drill of every file stays short
    site.backup(**EVERY_FILE)
    status = site.status()
    assert status["drill_result"] == "ok", status
    restored, matched, skipped = map(
        int,
        re.search(
            r"(\d+) files restored, (\d+) identical to the live files, (\d+) skipped",
            status["drill_message"],
        ).groups(),
    )
    # every regular file of ann's home (8, .cache excluded) came back identical;
    # folders and the symlink are skipped
    assert matched == 8 and restored == matched + skipped
    assert "DIFFER" not in status["drill_message"]
    assert "restore drill: ok" in site.cli("status", ok=False).stdout
    assert list((site.home / ".swarmhub-restore").iterdir()) == []  # scratch cleaned


def test_the_restore_drill_names_a_file_that_differs_and_skips_changed_and_hostile_ones(
    site: Site, tmp_path: Path
):
    shutil.rmtree(site.home / "bob")
    site.backup()
    ann = site.home / "ann"
    # bytes changed behind the backup's back: same size, same modification time
    notes = ann / "notes.txt"
    st = notes.stat()
    notes.write_bytes(b"WEEK 1\n" * 50)
    os.utime(notes, ns=(st.st_atime_ns, st.st_mtime_ns))
    # changed the normal way since the backup: skipped, not a difference
    (ann / "notebooks" / "week1" / "analysis.ipynb").write_text("{}")
    # hostile: a file swapped for a link out of the home, another for a FIFO
    secret = tmp_path / "outside"
    secret.write_bytes(b"secret-ish")
    (ann / "private" / "key").unlink()
    (ann / "private" / "key").symlink_to(secret)
    (ann / "empty").unlink()
    os.mkfifo(ann / "empty")

    drill = site.cli("drill", ok=False, **EVERY_FILE)
    assert drill.returncode == 1, drill.stdout + drill.stderr
    status = site.status()
    assert status["drill_result"] == "failed"
    assert "1 DIFFER from the live files: ann/notes.txt" in status["drill_message"], status
    assert status["last_result"] == "ok"  # the backup itself is still the last good one
    matched = int(re.search(r"(\d+) identical", status["drill_message"]).group(1))
    assert matched == 8 - 4  # the four files above are not counted identical


# --- the hub's other folders: courses and the exchange's store ---------------

COURSE, EXCHANGE = (3001, 3001), (3002, 3002)  # course-intro, swarmhub-exchange


@pytest.fixture
def courses_site(site: Site) -> Site:
    """The site with a course folder and the exchange's store of it, backed up as
    the areas courses and exchange (SWARMHUB_BACKUP_AREAS, as the role sets it)."""
    courses, exchange = site.base / "courses", site.base / "exchange"
    files = {
        courses / "intro" / "nbgrader_config.py": b"c.CourseDirectory.course_id = 'intro'\n",
        courses / "intro" / "gradebook.db": os.urandom(40_000),
        courses / "intro" / "source" / "ps1" / "ps1.ipynb": json.dumps({"cells": [1]}).encode(),
        exchange / "intro" / "released" / "ps1.tar.gz": os.urandom(20_000),
        exchange / "intro" / "submitted" / "sue" / "ps1" / "a1.tar.gz": os.urandom(30_000),
        exchange / "intro" / "submitted" / "sue" / "ps1" / "a1.json": b'{"late": false}',
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for root, owner in ((courses, COURSE), (exchange, EXCHANGE)):
        for path in [*root.rglob("*")]:
            os.lchown(path, *owner)
            path.chmod(0o700 if path.is_dir() else 0o600)
    site.env["SWARMHUB_BACKUP_AREAS"] = f"courses={courses}\nexchange={exchange}\n"
    site.courses, site.exchange = courses, exchange  # type: ignore[attr-defined]
    return site


def test_courses_and_the_exchange_are_backed_up_beside_the_homes(courses_site: Site):
    site = courses_site
    site.backup()
    message = site.status()["message"]
    assert message.startswith("full backup"), message
    assert "; courses: full backup" in message and "; exchange: full backup" in message
    # one target: each area's files under its own prefix, the homes' as they always were
    names = [p.name for p in site.target.iterdir()]
    for prefix in ("duplicity-full", "courses-duplicity-full", "exchange-duplicity-full"):
        assert any(n.startswith(prefix) for n in names), (prefix, names)
    status = site.cli("status").stdout
    assert f"chains of {site.courses}:" in status and f"chains of {site.exchange}:" in status
    # the homes' backup knows nothing of the others: ann's list is one full backup
    assert len(site.backup_times()) == 1
    listed = site.cli("list", "intro", "--area", "exchange").stdout
    assert f"backups of {site.exchange}" in listed and "--area exchange --time" in listed


def test_a_lost_submission_comes_back_in_place_with_its_owner(courses_site: Site):
    site = courses_site
    store = site.exchange / "intro"
    before = manifest(store)
    site.backup()
    shutil.rmtree(store / "submitted" / "sue")

    out = site.cli("restore", "intro", "--area", "exchange", "--force", "--yes").stdout
    assert "1 files and folders not in the backup" not in out
    assert manifest(store) == before
    st = (store / "submitted" / "sue" / "ps1" / "a1.tar.gz").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (*EXCHANGE, 0o600)


def test_a_course_file_restores_beside_the_current_one_owned_by_the_course(
    courses_site: Site,
):
    site = courses_site
    notebook = site.courses / "intro" / "source" / "ps1" / "ps1.ipynb"
    original = notebook.read_bytes()
    site.backup()
    notebook.write_text("broken by an edit")

    out = site.cli("restore", "intro", "--area", "courses", "--path", "source/ps1").stdout
    folder = site.courses / "intro" / re.search(r"restored-\S+Z", out).group(0)
    assert (folder / "source" / "ps1" / "ps1.ipynb").read_bytes() == original
    assert notebook.read_text() == "broken by an edit"  # the current one is untouched
    st = folder.stat()
    assert (st.st_uid, st.st_gid) == COURSE


def test_a_course_restore_does_not_follow_a_link_in_the_course_folder(
    courses_site: Site, tmp_path: Path
):
    site = courses_site
    site.backup()
    outside = tmp_path / "outside"
    outside.mkdir()
    source = site.courses / "intro" / "source"
    shutil.rmtree(source)
    source.symlink_to(outside)  # a grader's link, to send the restore elsewhere

    result = site.cli(
        "restore", "intro", "--area", "courses", "--force", "--yes", "--path", "source/ps1",
        ok=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "symlink" in result.stderr or "link" in result.stderr, result.stderr
    assert list(outside.iterdir()) == []


def test_bad_course_names_and_unknown_areas_get_clear_errors(site: Site, courses_site: Site):
    bad = site.cli("restore", "../etc", "--area", "courses", ok=False)
    assert bad.returncode != 0 and "is not a course name" in bad.stderr
    site.backup()
    missing = site.cli("restore", "nosuch", "--area", "courses", ok=False)
    assert "no course folder" in missing.stderr and "nosuch" in missing.stderr
    del site.env["SWARMHUB_BACKUP_AREAS"]
    none = site.cli("restore", "intro", "--area", "courses", ok=False)
    assert none.returncode != 0 and "this hub backs up no 'courses'" in none.stderr


def test_the_restore_drill_covers_the_courses_too(courses_site: Site):
    site = courses_site
    shutil.rmtree(site.home / "bob")
    site.backup()
    # bytes changed behind the backup's back: same size, same modification time
    db = site.courses / "intro" / "gradebook.db"
    st = db.stat()
    db.write_bytes(bytes(st.st_size))
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns))

    drill = site.cli("drill", ok=False, **EVERY_FILE)
    assert drill.returncode == 1, drill.stdout + drill.stderr
    message = site.status()["drill_message"]
    assert f"1 DIFFER from the live files: {site.courses}/intro/gradebook.db" in message
    matched = int(re.search(r"(\d+) identical", message).group(1))
    assert matched == 8 + 2 + 3  # ann's files, the course's other two, the exchange's three
