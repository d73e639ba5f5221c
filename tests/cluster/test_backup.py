"""Issue 4: the backup sidecar's duplicity backups, restored with script/restore
on the trial cluster: byte-identical files with owners and modes."""

from __future__ import annotations

import re

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

TREE = "find /home/ann/work -type f -printf '%P %U %G %m\\n' | sort"
SUMS = "cd /home/ann/work && find . -type f -print0 | sort -z | xargs -0 sha256sum"


def backup_now() -> str:
    return on_host(
        "hub", "docker exec swarmhub-backup python3 -m swarmhub.backup run 2>&1", timeout=600
    )


def test_backup_delete_restore(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")  # makes ann's account if needed
    on_host(
        "hub",
        "set -e; mkdir -p /home/ann/work/sub; cd /home/ann/work; "
        "head -c 300000 /dev/urandom > data.bin; echo first > notes.txt; "
        "echo deep > sub/deep.txt; chmod 0640 sub/deep.txt; chown -R ann:ann /home/ann/work",
    )
    sums_before, tree_before = on_host("hub", SUMS), on_host("hub", TREE)
    # the operator's "back up now" (before something risky); a restore drill follows it
    now = trial.run(["./script/restore", "--now"], timeout=600)
    # up to 5 files of each area drilled: the homes (which have more), and the course
    # folders and exchange's store (the trial's test inventory has a course)
    drilled = re.search(
        r"restore drill: (\d+) files restored, (\d+) identical to the live files, (\d+) skipped",
        now.stdout,
    )
    assert drilled, now.stdout[-3000:]
    restored, identical, skipped = map(int, drilled.groups())
    assert restored >= 5 and restored == identical + skipped, now.stdout[-3000:]
    assert "; courses: " in now.stdout and "; exchange: " in now.stdout, now.stdout[-3000:]
    status = trial.run(["./script/restore", "--status"], check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "restore drill: ok at" in status.stdout, status.stdout

    # delete, restore (into a new folder by default), compare
    on_host("hub", "rm -rf /home/ann/work")
    restored = trial.run(["./script/restore", "ann", "--path", "work"], timeout=600)
    out = restored.stdout + restored.stderr
    folder = on_host("hub", "ls -d /home/ann/restored-* | tail -n1")
    assert folder.rsplit("/", 1)[1] in out, out
    # the restored "work" folder, wherever in the new folder it is
    work = on_host("hub", f"dirname $(find {folder} -name notes.txt -path '*work/notes.txt')")
    assert on_host("hub", f"stat -c %U {folder}") == "ann"
    on_host("hub", f"mv {work} /home/ann/work && rm -rf {folder}")
    assert on_host("hub", SUMS) == sums_before
    assert on_host("hub", TREE) == tree_before

    # a restore never overwrites what exists: the backup's copy goes beside it
    on_host("hub", "echo changed > /home/ann/work/notes.txt")
    again = trial.run(["./script/restore", "ann", "--path", "work"], timeout=600, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert on_host("hub", "cat /home/ann/work/notes.txt") == "changed"
    beside = on_host("hub", "find /home/ann/restored-* -path '*work/notes.txt' -exec cat {} +")
    assert beside == "first"
    on_host("hub", "rm -rf /home/ann/restored-*")

    # unless asked: --force shows what it replaces, then restores in place
    forced = trial.run(
        ["./script/restore", "ann", "--path", "work", "--force", "--yes"], timeout=600
    )
    assert "notes.txt" in forced.stdout + forced.stderr
    assert on_host("hub", "cat /home/ann/work/notes.txt") == "first"
    assert on_host("hub", SUMS) == sums_before
    assert on_host("hub", TREE) == tree_before
