"""The backup runner's pure logic: times, settings, the status file, duplicity's
command lines and logs, and the CLI's arguments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from swarmhub.backup import duplicity as dup
from swarmhub.backup import restore
from swarmhub.backup.__main__ import parse_args
from swarmhub.backup.config import BackupConfig, config_from_env
from swarmhub.backup.drill import DrillResult, files_inside_homes, listed_paths
from swarmhub.backup.errors import BackupError
from swarmhub.backup.restore import normalize_subpath
from swarmhub.backup.runner import backup_summary, due_at_start, next_run
from swarmhub.backup.status import (
    BackupStatus,
    read_status,
    record_drill,
    record_result,
    write_status,
)
from swarmhub.backup.timespec import parse_time, pick_backup_time, restore_folder_name

NOW = datetime(2026, 11, 22, 14, 30, 0, tzinfo=UTC)


def config(**kw) -> BackupConfig:
    return BackupConfig(passphrase="pw", **kw)


# --- times ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ago"),
    [("3D", timedelta(days=3)), ("12h", timedelta(hours=12)), ("1W2D", timedelta(days=9)),
     ("90m", timedelta(minutes=90)), ("now", timedelta(0))],
)  # fmt: skip
def test_ages_count_back_from_now(text, ago):
    assert parse_time(text).resolve(NOW) == NOW - ago


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T14:00", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("2026-11-20T14:00:00Z", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("2026-11-20T15:00+01:00", datetime(2026, 11, 20, 14, tzinfo=UTC)),
    ],
)
def test_iso_dates_are_utc_unless_they_say(text, moment):
    assert parse_time(text).resolve(NOW) == moment


@pytest.mark.parametrize("text", ["yesterday", "3 days", "3d", "2026-13-01", "", "-3D"])
def test_bad_times_say_what_is_accepted(text):
    with pytest.raises(BackupError, match="age such as 3D.*ISO date"):
        parse_time(text)


def test_the_newest_backup_at_or_before_the_time_is_picked():
    times = [NOW - timedelta(days=d) for d in (10, 5, 2, 0)]
    assert pick_backup_time(times, NOW - timedelta(days=3)) == NOW - timedelta(days=5)
    assert pick_backup_time(times, NOW - timedelta(days=2)) == NOW - timedelta(days=2)
    assert pick_backup_time(times, NOW) == NOW


def test_a_time_before_every_backup_names_the_oldest():
    with pytest.raises(BackupError, match="oldest kept backup is 2026-11-12T14:30:00Z"):
        pick_backup_time([NOW - timedelta(days=10)], NOW - timedelta(days=11))
    with pytest.raises(BackupError, match="no backup yet"):
        pick_backup_time([], NOW)


def test_restore_folder_names_sort_by_time_and_have_no_colons():
    name = restore_folder_name(datetime(2026, 11, 22, 14, 10, 59, tzinfo=UTC))
    assert name == "restored-2026-11-22T141059Z"
    later = restore_folder_name(datetime(2026, 11, 22, 15, 0, 0, tzinfo=UTC))
    assert name < later and ":" not in name


# --- settings -----------------------------------------------------------------


def test_settings_come_from_the_environment():
    c = config_from_env(
        {
            "SWARMHUB_BACKUP_TARGET_URL": "sftp://backup@nas/hub",
            "SWARMHUB_BACKUP_KEEP_FULL": "3",
            "SWARMHUB_BACKUP_FULL_IF_OLDER_THAN": "14D",
            "SWARMHUB_BACKUP_EXCLUDES": "**/.cache\n**/node_modules\n\n*/scratch dir",
            "SWARMHUB_BACKUP_PASSPHRASE_FILE": "/run/secrets/pw",
        }
    )
    assert c.target_url == "sftp://backup@nas/hub"
    assert c.keep_full == 3 and c.full_if_older_than == "14D"
    assert c.excludes == ("**/.cache", "**/node_modules", "*/scratch dir")
    assert c.status_file == Path("/srv/backup/state/status.json")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SWARMHUB_BACKUP_TARGET_URL": "/srv/backup"}, "not a duplicity URL"),
        ({"SWARMHUB_BACKUP_KEEP_FULL": "two"}, "whole number"),
        ({"SWARMHUB_BACKUP_KEEP_FULL": "0"}, "at least 1"),
        ({"SWARMHUB_BACKUP_FULL_IF_OLDER_THAN": "7 days"}, "interval such as 7D"),
        ({"SWARMHUB_BACKUP_SOURCE": "home"}, "absolute folder"),
        ({"SWARMHUB_BACKUP_AREAS": "courses"}, "is not AREA=FOLDER"),
        ({"SWARMHUB_BACKUP_AREAS": "grades=/srv/grades"}, "is not one of courses, exchange"),
        ({"SWARMHUB_BACKUP_AREAS": "home=/srv/x"}, "is not one of"),
        ({"SWARMHUB_BACKUP_AREAS": "courses=srv/courses"}, "must be an absolute path"),
        # a newline the deploy did not turn into one
        (
            {"SWARMHUB_BACKUP_AREAS": "courses=/srv/courses\\nexchange=/srv/x"},
            "must be an absolute path",
        ),
        ({"SWARMHUB_BACKUP_AREAS": "courses=/home/courses"}, "overlaps /home"),
        ({"SWARMHUB_BACKUP_AREAS": "courses=/srv/c\nexchange=/srv/c/x"}, "overlaps /srv/c"),
        ({"SWARMHUB_BACKUP_AREAS": "courses=/srv/a\ncourses=/srv/b"}, "given twice"),
    ],
)
def test_bad_settings_are_refused_clearly(env, message):
    with pytest.raises(BackupError, match=message):
        config_from_env(env)


def test_each_area_is_a_backup_of_its_own_at_the_same_target():
    home = config_from_env(
        {
            "SWARMHUB_BACKUP_AREAS": "courses=/srv/courses\n\nexchange=/srv/exchange\n",
            "SWARMHUB_BACKUP_EXCLUDES": "**/.cache\nscratch",
        }
    )
    assert [(c.area, c.source, c.name) for c in home.areas()] == [
        ("home", "/home", "home"),
        ("courses", "/srv/courses", "courses"),
        ("exchange", "/srv/exchange", "exchange"),
    ]
    courses = home.for_area("courses")
    assert {c.target_url for c in home.areas()} == {home.target_url}
    # the homes' files are named as they always were; the others' apart from them
    assert "--file-prefix" not in dup.common_args(home)
    assert dup.common_args(courses)[-2:] == ["--file-prefix", "courses-"]
    # only the patterns that apply anywhere; scratch is relative to /home
    assert courses.excludes == ("**/.cache",)
    assert courses.staging_root == Path("/srv/courses/.swarmhub-restore")
    with pytest.raises(BackupError, match="this hub backs up no 'courses'"):
        BackupConfig().for_area("courses")


def test_the_passphrase_is_read_from_its_file(tmp_path):
    f = tmp_path / "pw"
    f.write_text("s3cret phrase\n")
    assert BackupConfig(passphrase_file=str(f)).read_passphrase() == "s3cret phrase"
    f.write_text("")
    with pytest.raises(BackupError, match="is empty; set vault_backup_passphrase"):
        BackupConfig(passphrase_file=str(f)).read_passphrase()
    with pytest.raises(BackupError, match="does not exist; set vault_backup_passphrase"):
        BackupConfig(passphrase_file=str(tmp_path / "missing")).read_passphrase()
    keyed = BackupConfig(passphrase_file=str(tmp_path / "missing"), encrypt_key="ABCD")
    assert keyed.read_passphrase() is None
    with pytest.raises(BackupError, match="no backup passphrase"):
        BackupConfig().read_passphrase()


def test_the_targets_credentials_reach_duplicity_only_from_their_file(tmp_path, monkeypatch):
    creds = tmp_path / "target.env"
    creds.write_text("# comment\nAWS_ACCESS_KEY_ID=AKIA1\nAWS_SECRET_ACCESS_KEY=se=cret\n\n")
    cfg = config(target_env_file=str(creds), state_dir=str(tmp_path / "state"))
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    env = dup.duplicity_env(cfg, "pw")
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("AKIA1", "se=cret")
    assert config(state_dir=str(tmp_path / "state")).read_target_env() == {}
    creds.write_text("export AWS_SECRET_ACCESS_KEY=leaked\n")
    with pytest.raises(BackupError, match="line 1 of .* is not NAME=VALUE") as e:
        cfg.read_target_env()
    assert "leaked" not in str(e.value)
    with pytest.raises(BackupError, match="cannot read"):
        config(target_env_file=str(tmp_path / "missing")).read_target_env()


def test_the_passphrase_never_shows_in_the_settings_repr():
    assert "s3cret" not in repr(BackupConfig(passphrase="s3cret"))


# --- the status file ------------------------------------------------------------


def test_status_file_has_exactly_the_keys_the_stats_page_reads(tmp_path):
    path = tmp_path / "state" / "status.json"
    record_result(path, ok=True, started="2026-11-22T14:00:00Z",
                  finished="2026-11-22T14:01:00Z", message="full backup")  # fmt: skip
    data = json.loads(path.read_text())
    assert data == {
        "last_result": "ok",
        "last_success": "2026-11-22T14:01:00Z",
        "last_run_started": "2026-11-22T14:00:00Z",
        "last_run_finished": "2026-11-22T14:01:00Z",
        "message": "full backup",
        "last_drill": None,
        "drill_result": None,
        "drill_message": "",
    }
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp file left


def test_a_drill_and_the_next_backup_keep_each_others_fields(tmp_path):
    path = tmp_path / "status.json"
    record_result(path, ok=True, started="t0", finished="t1", message="full backup")
    record_drill(path, ok=False, at="t2", message="restore drill: 1 DIFFER")
    status = record_result(path, ok=True, started="t3", finished="t4", message="incremental")
    assert (status.last_success, status.message) == ("t4", "incremental")
    assert (status.last_drill, status.drill_result, status.drill_message) == (
        "t2",
        "failed",
        "restore drill: 1 DIFFER",
    )


def test_the_drill_takes_entries_inside_homes_from_duplicitys_list():
    listing = (
        "Tue Nov 24 10:05:01 2026 .\n"
        "Tue Nov 24 10:05:01 2026 ann\n"
        "Tue Nov 24 10:05:01 2026 ann/notes.txt\n"
        "Tue Nov  3 09:00:00 2026 ann/week 1/data set.csv\n"
        "Tue Nov 24 10:05:01 2026 .swarmhub-restore\n"
        "Tue Nov 24 10:05:01 2026 .swarmhub-restore/x\n"
        "some other line duplicity printed\n"
    )
    paths = listed_paths(listing)
    assert paths == [
        "ann",
        "ann/notes.txt",
        "ann/week 1/data set.csv",
        ".swarmhub-restore",
        ".swarmhub-restore/x",
    ]
    # "ann/week 1" holds an entry: a folder, never restored whole
    assert files_inside_homes([*paths, "ann/week 1"]) == [
        "ann/notes.txt",
        "ann/week 1/data set.csv",
    ]


def test_a_drill_message_names_what_differs_and_what_failed():
    assert DrillResult(restored=5, matched=4, skipped=1).ok
    bad = DrillResult(restored=5, matched=3, skipped=1, differ=["ann/a.txt"])
    assert not bad.ok and "1 DIFFER from the live files: ann/a.txt" in bad.message
    broken = DrillResult(problem="wrong passphrase")
    assert not broken.ok and broken.message == "restore drill failed: wrong passphrase"


def test_a_failed_run_keeps_the_last_success(tmp_path):
    path = tmp_path / "status.json"
    record_result(path, ok=True, started="t0", finished="t1", message="ok")
    status = record_result(path, ok=False, started="t2", finished="t3", message="boom")
    assert status == read_status(path)
    assert (status.last_result, status.last_success, status.message) == ("failed", "t1", "boom")


def test_no_status_file_means_no_run_yet(tmp_path):
    assert read_status(tmp_path / "none.json") == BackupStatus()
    write_status(tmp_path / "s.json", BackupStatus(last_result="ok", last_success="t"))
    assert read_status(tmp_path / "s.json").last_success == "t"


# --- duplicity's command lines and logs ------------------------------------------


def test_exclusions_skip_the_staging_folder_and_resolve_relative_patterns():
    c = config(excludes=("**/.cache", "ann/big", "/home/*/tmp"))
    assert dup.selection_args(c) == [
        "--exclude", "/home/.swarmhub-restore",
        "--exclude", "**/.cache",
        "--exclude", "/home/ann/big",
        "--exclude", "/home/*/tmp",
    ]  # fmt: skip


def test_an_exclusion_outside_the_source_is_refused():
    with pytest.raises(BackupError, match="outside /home"):
        dup.selection_args(config(excludes=("/etc/passwd",)))


def test_backup_command_has_the_schedule_settings():
    argv = dup.backup_command(config(full_if_older_than="14D", target_url="s3://b/p"))
    assert argv[:2] == ["duplicity", "backup"]
    assert argv[argv.index("--full-if-older-than") + 1] == "14D"
    assert argv[-2:] == ["/home", "s3://b/p"]
    prune = dup.prune_command(config(keep_full=3))
    assert prune[1:4] == ["remove-all-but-n-full", "3", "--force"]


def test_restore_command_uses_numeric_owners_and_epoch_time():
    t = datetime(2026, 11, 22, 14, 10, 59, tzinfo=UTC)
    argv = dup.restore_command(config(), "ann/notes", t, Path("/x/out"))
    assert "--numeric-owner" in argv
    assert argv[argv.index("--time") + 1] == str(int(t.timestamp()))
    assert argv[argv.index("--path-to-restore") + 1] == "ann/notes"
    assert argv[-1] == "/x/out"


# The INFO 3 block of a real `duplicity collection-status --log-file` (3.2.1)
STATUS_LOG = """NOTICE 1
. Last full backup date: Sun Nov 22 14:10:59 2026

INFO 3 
backend BackendWrapper
archive-dir (. dir)
chain-no-sig 0
 full 20261115T100000Z 1 enc
 inc 20261115T110000Z 1 enc
chain-complete
 full 20261122T141059Z 1 enc
 inc 20261122T151000Z 2 enc
orphaned-sets-num 0
incomplete-sets-num 0
. Collection Status
. -----------------
"""  # noqa: W291


def test_chains_are_read_from_the_machine_log():
    chains = dup.parse_chains(STATUS_LOG)
    assert [(c.start.isoformat(), len(c.sets), c.complete) for c in chains] == [
        ("2026-11-15T10:00:00+00:00", 2, False),
        ("2026-11-22T14:10:59+00:00", 2, True),
    ]
    assert chains[1].sets[1].kind == "inc"
    assert dup.parse_chains("NOTICE 1\n. nothing\n") == []


WRONG_PASSPHRASE_LOG = """ERROR 31 GPGError
. GPGError: GPG Failed, see log below:
. ===== Begin GnuPG log =====
. gpg: AES256.CFB encrypted data
. gpg: encrypted with 1 passphrase
. gpg: decryption failed: Bad session key
. ===== End GnuPG log =====
"""


def test_gpg_failure_becomes_wrong_passphrase_advice():
    result = dup.DuplicityResult(31, "", WRONG_PASSPHRASE_LOG, (31,))
    message = dup.failure_message(result, "restore", config())
    assert message.startswith("restore failed: wrong passphrase")
    assert "check vault_backup_passphrase" in message


QUOTA_TRACEBACK = """Traceback (innermost last):
  File "/opt/backup/lib/duplicity/path.py", line 412, in copy_attribs
    os.chown(other.name, self.stat.st_uid, self.stat.st_gid)
OSError: [Errno 122] Disk quota exceeded: b'/home/.swarmhub-restore/ann-x1/out/work/data.bin'
"""


def test_a_restore_stopped_by_the_quota_says_so_and_what_to_do():
    result = dup.DuplicityResult(30, QUOTA_TRACEBACK, "", ())
    assert dup.quota_exceeded(result)
    when = datetime(2026, 12, 1, tzinfo=UTC)
    message = restore._restore_failure(config(), result, "ann", "work", None, True, when)
    assert message.startswith(
        "restoring /home/ann/work stopped: it does not fit in ann's disk quota"
    )
    assert "Disk quota exceeded" in message and "nothing was changed in /home/ann" in message
    assert "raise the quota (users.yml" in message
    assert not dup.quota_exceeded(
        dup.DuplicityResult(30, "OSError: [Errno 28] No space left", "", ())
    )


def test_other_failures_quote_duplicitys_error():
    log = "ERROR 8\n. Bad URL 'foo://x'\n"
    result = dup.DuplicityResult(8, "", log, (8,))
    assert dup.failure_message(result, "backup", config()) == (
        "backup failed (duplicity exit 8): Bad URL 'foo://x'"
    )
    assert dup.error_codes(WRONG_PASSPHRASE_LOG + log) == [31, 8]


def test_summary_of_duplicitys_statistics():
    out = """Last full backup is too old, forcing full backup
SourceFiles 6
SourceFileSize 16389 (16.0 KB)
TotalDestinationSizeChange 301 (301 bytes)
ElapsedTime 0.02 (0.02 seconds)
Errors 0
"""
    assert (
        backup_summary(out) == "full backup, 6 files (16.0 KB), 301 bytes stored, in 0.02 seconds"
    )
    assert backup_summary("Errors 2\n").startswith("incremental backup")
    assert "2 files could not be read" in backup_summary("Errors 2\n")


# --- schedule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-22T14:30:00", "2026-11-22T15:05:00"),
        ("2026-11-22T14:04:59", "2026-11-22T14:05:00"),
        ("2026-11-22T14:05:00", "2026-11-22T15:05:00"),
        ("2026-11-22T23:30:00", "2026-11-23T00:05:00"),
    ],
)
def test_hourly_runs_are_on_the_wall_clock(now, expected):
    at = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert next_run(at, 60, 5) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_an_interval_that_does_not_divide_the_day_restarts_at_midnight():
    at = datetime(2026, 11, 22, 23, 50, tzinfo=UTC)
    assert next_run(at, 7 * 60, 0) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def test_a_start_runs_at_once_only_when_overdue():
    assert due_at_start(BackupStatus(), NOW, 60)
    assert due_at_start(BackupStatus(last_success="2026-11-22T13:00:00Z"), NOW, 60)
    assert not due_at_start(BackupStatus(last_success="2026-11-22T14:00:00Z"), NOW, 60)


# --- CLI ------------------------------------------------------------------------


def test_restore_arguments():
    args = parse_args(["restore", "ann", "--time", "3D", "--path", "notes", "--into", "/srv/x"])
    assert (args.user, args.path, args.into, args.force) == ("ann", "notes", "/srv/x", False)
    assert args.time.resolve(NOW) == NOW - timedelta(days=3)
    assert parse_args(["restore", "ann", "--force", "--yes"]).yes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["restore", "ann", "--yes"], "--yes only goes with --force"),
        (["restore", "ann", "--force", "--into", "/x"], "cannot go with --into"),
        (["restore", "ann", "--time", "last week"], "age such as 3D"),
        (["restore"], "user"),
    ],
)
def test_bad_restore_arguments_say_why(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("path", "expected"),
    [("notes/week1", "notes/week1"), ("/home/ann/notes/", "notes"), ("./a//b", "a/b"),
     (None, None), ("/home/ann", None), (".", None)],
)  # fmt: skip
def test_restore_paths_are_relative_to_the_home(path, expected):
    assert normalize_subpath(config(), "ann", path) == expected


@pytest.mark.parametrize("path", ["../bob", "/home/bob/x", "/etc/passwd", "a/../../b"])
def test_restore_paths_outside_the_home_are_refused(path):
    with pytest.raises(BackupError):
        normalize_subpath(config(), "ann", path)


@pytest.mark.parametrize("name", ["../x", ".swarmhub-restore", "Ann", "a/b", "", "x" * 40])
def test_user_names_that_cannot_be_accounts_are_refused(name):
    from swarmhub.backup.accounts import check_username

    with pytest.raises(BackupError, match="is not a user name"):
        check_username(name)
