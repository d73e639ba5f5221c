"""The jupyterhub role's copy of the hub database before an upgrade (tasks/db_backup.yml),
run by ansible-playbook against this machine's Docker engine: a container of this test's
own stands in for the running hub (only its image matters), the database is a real
SQLite file in a folder of the test. Nothing else of the role runs.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ansible_run import ansible_playbook, recap
from tests.integration.docker_cli import docker, ensure_base_image

OLD = "swarmhub-uninstalltest/hub:old"
NEW = "swarmhub-uninstalltest/hub:new"
PLAYBOOK = """\
- name: The hub database's copy before an upgrade, alone
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.import_role: { name: jupyterhub, tasks_from: db_backup }
"""


@pytest.fixture(scope="module")
def hub_container() -> Iterator[str]:
    base_image = ensure_base_image()
    docker("tag", base_image, OLD)
    docker("tag", base_image, NEW)
    name = f"swarmhub-uninstalltest-hub-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, OLD, "sleep", "infinity")
    yield name
    docker("rm", "-f", name, check=False)
    docker("rmi", OLD, NEW, check=False)


def deploy(tmp_path: Path, container: str, image: str, data_dir: Path) -> tuple[int, str]:
    playbook = tmp_path / "db-backup.yml"
    playbook.write_text(PLAYBOOK)
    extra = {
        "swarmhub_hub_container": container,
        "swarmhub_hub_data_dir": str(data_dir),
        "images_ref": {"jupyterhub": image},
        "ansible_python_interpreter": sys.executable,
    }
    proc = ansible_playbook("-i", "localhost,", str(playbook), "-e", json.dumps(extra), timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def changed(output: str) -> int:
    return recap(output, "localhost")["changed"]


def hub_db(data_dir: Path, users: int) -> Path:
    (data_dir / "data").mkdir(parents=True)
    db = data_dir / "data" / "jupyterhub.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table users (id integer primary key, name text)")
        conn.executemany("insert into users (name) values (?)", [(f"u{i}",) for i in range(users)])
    return db


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select id, name from users order by id").fetchall()


def test_an_image_change_copies_the_database_and_keeps_the_newest_five(tmp_path, hub_container):
    data_dir = tmp_path / "srv-jupyterhub"
    db = hub_db(data_dir, users=300)
    backups = data_dir / "data" / "backups"
    backups.mkdir()
    older = [backups / f"jupyterhub-2026010{day}T000000Z.sqlite" for day in range(1, 7)]
    for path in older:
        path.write_bytes(b"an earlier copy")

    code, output = deploy(tmp_path, hub_container, NEW, data_dir)
    assert code == 0, output[-3000:]

    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 5
    assert kept[:4] == [p.name for p in older[2:]]
    newest = backups / kept[4]
    assert newest.name.startswith("jupyterhub-2") and newest.name > older[-1].name
    assert rows(newest) == rows(db) and len(rows(db)) == 300
    assert oct(newest.stat().st_mode & 0o777) == "0o600"
    assert not list(backups.glob("*.partial"))


def test_the_same_image_copies_nothing(tmp_path, hub_container):
    data_dir = tmp_path / "srv-jupyterhub"
    hub_db(data_dir, users=3)
    code, output = deploy(tmp_path, hub_container, OLD, data_dir)
    assert code == 0, output[-3000:]
    assert changed(output) == 0
    assert not (data_dir / "data" / "backups").exists()


def test_no_running_hub_or_no_database_copies_nothing(tmp_path, hub_container):
    data_dir = tmp_path / "srv-jupyterhub"
    code, output = deploy(tmp_path, hub_container, NEW, data_dir)  # no database yet
    assert code == 0, output[-3000:]
    assert changed(output) == 0
    hub_db(data_dir, users=3)
    code, output = deploy(tmp_path, f"{hub_container}-absent", NEW, data_dir)  # first deploy
    assert code == 0, output[-3000:]
    assert changed(output) == 0
    assert not (data_dir / "data" / "backups").exists()
