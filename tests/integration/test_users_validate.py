"""users.yml refuses a bad users file on this machine, before any host is contacted,
with every problem named, and never shows a password."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.ansible_run import (
    NOWHERE,
    ansible_playbook,
    site_inventory,
    write_inventory,
)

SECRET = "sw0rdfish-never-shown"


def run_users_play(tmp_path: Path, users_file: Path | str, *extra: str):
    # ansible-playbook itself: script/deploy takes any argument ending in .yml for the
    # playbook, so `-e users_file=X.yml` needs a fix there (see the report).
    # The hub host is NOWHERE too: if validation let a run through, the hub play would
    # fail to connect rather than change anything.
    inventory = write_inventory(tmp_path, site_inventory("hub1", NOWHERE))
    return ansible_playbook(
        "-i", str(inventory), "users.yml", "-e", f"users_file={users_file}", *extra, timeout=600
    )


def users_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "users.yml"
    path.write_text(text)
    return path


def assert_refused_before_any_host(proc: subprocess.CompletedProcess) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Gathering Facts" not in output, "a host was contacted"
    assert "[hub1]" not in output
    assert SECRET not in output
    return output


def test_a_bad_users_file_is_refused_with_every_problem(tmp_path):
    path = users_file(
        tmp_path,
        f"""
users:
  - name: ann
    password: "{SECRET}"
  - name: root
  - name: Bob
  - name: ann
  - name: cyd
    uid: 500
    groups: [sudo]
    quota: {{soft: 10}}
  - name: dee
    state: absent
    uid: 2000
""",
    )
    output = assert_refused_before_any_host(run_users_play(tmp_path, path, "-v"))
    assert f"The users file {path} has 7 problem(s); nothing was changed:" in output
    for expected in [
        "entry 2 ('root'): 'root' is reserved for the system",
        "entry 3 ('Bob'): 'Bob' is not a valid user name",
        "entry 4 ('ann'): 'ann' is listed twice (entries 1 and 4)",
        "entry 5 ('cyd'): uid must be a whole number from 1000 to 65533",
        "entry 5 ('cyd'): 'sudo' is a system group",
        "entry 5 ('cyd'): quota soft: 10 has no unit",
        "entry 6 ('dee'): unknown or misplaced key(s) uid",
    ]:
        assert expected in output


def test_a_file_that_is_not_yaml_is_refused_without_quoting_it(tmp_path):
    path = users_file(tmp_path, f'users:\n  - name: ann\n    password: "{SECRET}\n  - x: [\n')
    output = assert_refused_before_any_host(run_users_play(tmp_path, path, "-v"))
    assert f"{path}: not valid YAML at line" in output


def test_a_file_without_a_users_list_is_refused(tmp_path):
    path = users_file(tmp_path, "users_list:\n  - name: ann\n")
    output = assert_refused_before_any_host(run_users_play(tmp_path, path))
    assert "must be a map with a `users:` list" in output


def test_a_missing_file_is_refused(tmp_path):
    output = assert_refused_before_any_host(run_users_play(tmp_path, tmp_path / "nope.yml"))
    assert f"users_file: {tmp_path / 'nope.yml'} is not a file" in output


def test_a_good_file_passes_on_to_the_hub(tmp_path):
    path = users_file(
        tmp_path,
        f"""
users:
  - name: ann
    password: "{SECRET}"
    quota: {{soft: 10G, hard: 12G}}
  - name: cyd
    state: absent
""",
    )
    proc = run_users_play(tmp_path, path, "-v")
    output = proc.stdout + proc.stderr
    # checked on this machine, then the hub play starts and cannot reach hub1
    assert "The users are valid" in output and "ok: [localhost]" in output
    assert "PLAY [User accounts on the hub host]" in output
    assert proc.returncode != 0
    assert "UNREACHABLE" in output
    assert SECRET not in output


def test_names_the_site_reserves_for_restuser_are_refused_too(tmp_path):
    path = users_file(tmp_path, "users:\n  - name: teacher\n  - name: projects\n")
    output = assert_refused_before_any_host(
        run_users_play(tmp_path, path, "-e", '{"swarmhub_reserved_names": ["teacher"]}')
    )
    assert "entry 1 ('teacher'): 'teacher' is reserved" in output
    assert "entry 2 ('projects'): 'projects' is reserved" in output
