"""Issue 2's path: deploy, log in, get a server on a node, keep your files."""

from __future__ import annotations

import json

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import NODES, on_host


def test_first_login_writes_a_file_into_the_users_home(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in(page, "Ann@example.org")
    jupyter_ui.wait_for_lab(page, "ann")
    jupyter_ui.run_in_new_notebook(
        page,
        "ann",
        "open('hello.txt', 'w').write('written in a notebook'); print('file' + ' written')",
        "file written",
    )
    page.screenshot(path=str(trial.ARTIFACTS / "lab-ann.png"))

    uid = on_host("hub", "id -u ann")
    assert on_host("hub", "stat -c '%u %a' /home/ann/hello.txt").split()[0] == uid
    assert on_host("hub", "cat /home/ann/hello.txt") == "written in a notebook"
    task = trial.running_task("jupyter-ann")
    assert task and task["Node"] in NODES, f"ann's server ran on {task and task['Node']}"


def test_file_survives_stop_and_start(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in(page, "ann@example.org")
    jupyter_ui.wait_for_lab(page, "ann")
    on_host("hub", "test -f /home/ann/hello.txt || echo 'restart test' > /home/ann/hello.txt")
    expected = on_host("hub", "cat /home/ann/hello.txt")

    for _ in range(3):
        jupyter_ui.stop_server(page, "ann")
        assert trial.running_task("jupyter-ann") is None
        jupyter_ui.start_server(page, "ann")
        task = trial.running_task("jupyter-ann")
        assert task and task["Node"] in NODES
        # the new server logs the browser in again (OAuth with the hub), as on a reload
        page.goto(f"{trial.PUBLIC_URL}/user/ann/lab")
        jupyter_ui.wait_for_lab(page, "ann")
        reply = jupyter_ui.fetch_in_page(page, "/user/ann/api/contents/hello.txt")
        assert reply["status"] == 200, f"contents API: {reply['status']}"
        assert json.loads(reply["body"])["content"].strip() == expected


def test_the_first_servers_run_on_worker_nodes(spawn_smoke):
    # Where on the workers is swarm's choice. It spreads by the tasks it counts on
    # each node, which are not only the running ones we see: in CI it once put three
    # servers on node1 while node2 ran only the course's formgrader. So the placement
    # is printed, and only "a worker, never the hub" is asserted.
    for name, spawn in spawn_smoke.items():
        print(f"\n{name}: {spawn['node']} (running tasks before: {spawn['load_before']})")
        assert spawn["node"] in NODES, spawn_smoke


def test_users_have_their_own_uids_and_private_homes(first_deploy, new_page):
    for email, name in (("ann@example.org", "ann"), ("bob@example.org", "bob")):
        page = new_page()
        jupyter_ui.log_in(page, email)
        jupyter_ui.wait_for_lab(page, name)

    ann_uid, bob_uid = on_host("hub", "id -u ann"), on_host("hub", "id -u bob")
    assert ann_uid != bob_uid
    for name in ("ann", "bob"):
        assert on_host("hub", f"stat -c '%a %U' /home/{name}") == f"700 {name}"

    on_host("hub", "echo secret > /home/ann/diary.txt && chown ann:ann /home/ann/diary.txt")
    whoami = trial.exec_in_server("bob", "id -u").stdout.strip()
    assert whoami == bob_uid, "bob's server must run as bob's uid"
    attempt = trial.exec_in_server("bob", "cat /home/ann/diary.txt", check=False)
    assert attempt.returncode != 0 and "secret" not in attempt.stdout
    own = trial.exec_in_server("bob", "echo mine > $HOME/mine.txt && cat $HOME/mine.txt")
    assert own.stdout.strip() == "mine"


def test_second_deploy_changes_nothing(first_deploy, deploy_vars):
    result = trial.deploy("-e", deploy_vars, log_name="deploy-second.log")
    trial.record_timing("second_deploy_s", result.seconds)
    print(f"\nsecond deploy: {result.seconds:.0f}s")
    recap = result.recap()
    assert set(recap) >= {"proxy.trial", "hub.trial", "node1.trial", "node2.trial"}
    changed = {host: counts["changed"] for host, counts in recap.items() if counts["changed"]}
    assert changed == {}, f"a second deploy changed something: {changed}"


def test_deploy_with_a_tag_runs_only_that_role(first_deploy, deploy_vars):
    result = trial.deploy("-t", "proxy", "-e", deploy_vars, log_name="deploy-tag-proxy.log")
    # the checks before any host changes run with every tag: the inventory's, and the
    # hub's settings against their schema (a task of the jupyterhub role, on this machine)
    assert result.roles_run() == {"validate", "jupyterhub", "proxy"}
    assert result.tasks_of("jupyterhub") == ["The hub's settings follow their schema"]
