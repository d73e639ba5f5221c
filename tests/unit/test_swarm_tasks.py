import pytest

from swarmhub.hub.swarm_tasks import (
    TERMINAL_STATES,
    current_task,
    hostname_of,
    is_terminal,
    node_is_lost,
    task_address,
    task_error,
    task_state,
)

ALL_STATES = [
    "new",
    "allocated",
    "pending",
    "assigned",
    "accepted",
    "preparing",
    "ready",
    "starting",
    "running",
    "complete",
    "shutdown",
    "failed",
    "rejected",
    "remove",
    "orphaned",
]
ENDED = {"complete", "shutdown", "failed", "rejected", "remove", "orphaned"}


def test_state_is_read_from_status_in_lower_case(api):
    task = api.task(state="RUNNING")
    assert task_state(task) == "running"


def test_task_without_status_has_empty_state():
    assert task_state({"ID": "abc"}) == ""
    assert not is_terminal({"ID": "abc"})


@pytest.mark.parametrize("state", ALL_STATES)
def test_terminal_states_are_exactly_those_a_task_never_leaves(api, state):
    assert is_terminal(api.task(state=state)) == (state in ENDED)
    assert (state in TERMINAL_STATES) == (state in ENDED)


def test_address_on_the_overlay_by_name_skips_ingress(api):
    task = api.task(
        attachments=[
            api.attachment("ingress", api.INGRESS_ID, ["10.255.0.7/16"]),
            api.attachment("swarmhub", api.OVERLAY_ID, ["10.0.1.5/24"]),
        ]
    )
    assert task_address(task, "swarmhub") == "10.0.1.5"
    assert task_address(task, "ingress") == "10.255.0.7"


def test_address_on_the_overlay_by_network_id(api):
    assert task_address(api.task(), api.OVERLAY_ID) == "10.0.1.5"


def test_address_prefers_ipv4_on_a_dual_stack_network(api):
    task = api.task(
        attachments=[api.attachment("swarmhub", api.OVERLAY_ID, ["fd00:1::5/64", "10.0.1.9/24"])]
    )
    assert task_address(task, "swarmhub") == "10.0.1.9"


def test_no_address_on_another_network_or_before_allocation(api):
    assert task_address(api.task(), "other") is None
    unallocated = api.task(state="new")
    del unallocated["NetworksAttachments"]
    assert task_address(unallocated, "swarmhub") is None


def test_current_task_prefers_the_one_meant_to_run_then_the_newest(api):
    old = api.task(state="shutdown", desired="shutdown", created="2026-11-22T10:20:00.0Z")
    older_running = api.task(created="2026-11-22T10:00:00.000000001Z")
    newer_running = api.task(created="2026-11-22T10:10:00.000000001Z")
    assert current_task([old, older_running, newer_running]) is newer_running
    assert current_task([newer_running, old, older_running]) is newer_running
    assert current_task([old]) is old
    assert current_task([]) is None


def test_error_of_a_rejected_task_says_what_went_wrong(api):
    task = api.task(
        task_id="w2mb6hxrd4lv1r8xoj3fq0p5z",
        state="rejected",
        message="preparing",
        err='invalid mount config for type "bind": bind source path does not exist: '
        "/srv/nfs/home/bob",
    )
    text = task_error(task)
    assert text.startswith("task w2mb6hxrd4lv rejected: invalid mount config")
    assert "/srv/nfs/home/bob" in text
    assert "(status: preparing)" in text
    assert f"on node {api.NODE_ID[:12]}" in text


def test_error_of_a_failed_task_has_its_exit_code(api):
    task = api.task(state="failed", err="task: non-zero exit (127)", exit_code=127)
    assert "failed: task: non-zero exit (127)" in task_error(task)
    assert "exit code 127" in task_error(task)


def test_error_of_a_pending_task_without_err_shows_its_message(api):
    task = api.task(state="pending", message="pending task scheduling")
    assert "pending: pending task scheduling" in task_error(task)


@pytest.mark.parametrize(
    ("state", "lost"), [("down", True), ("ready", False), ("disconnected", False), ("", False)]
)
def test_a_node_is_lost_only_once_swarm_says_it_is_down(state, lost):
    node = {"ID": "n1", "Status": {"State": state}, "Description": {"Hostname": "node2"}}
    assert node_is_lost(node) is lost
    assert hostname_of(node) == "node2"


def test_an_unknown_node_is_not_lost_and_has_no_name():
    assert node_is_lost(None) is False
    assert hostname_of(None) == ""
