"""Issue 3: named servers and projects, with their limits and messages."""

from __future__ import annotations

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host


def test_named_server_limit_gives_its_message(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "bob@example.org")
    for server in ("one", "two"):
        jupyter_ui.start_server(page, "bob", server=server)
    services = {t["Name"].split(".")[0] for t in trial.service_tasks_all()}
    assert {"jupyter-bob--one", "jupyter-bob--two"} <= {s.rsplit("-", 1)[0] for s in services}

    third = jupyter_ui.request_server(page, "bob", "three")
    assert third.status == 400
    assert "maximum of 2 named servers" in third.json()["message"]
    for server in ("one", "two"):
        jupyter_ui.stop_server(page, "bob", server=server)
        assert jupyter_ui.hub_api(page, "DELETE", f"/users/bob/servers/{server}").status in (
            202,
            204,
        )


def test_projects_limit_and_deletion(first_deploy, new_page):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "cara@example.org")
    # a project server starts in ~/projects/NAME
    jupyter_ui.start_server(page, "cara", server="p1", project="thesis")
    service = next(
        t["Name"].split(".")[0]
        for t in trial.service_tasks_all()
        if t["Name"].startswith("jupyter-cara--p1")
    )
    assert trial.server_cwd("cara", service=service) == "/home/cara/projects/thesis"
    trial.exec_in_server("cara", "echo draft > ~/projects/thesis/chapter1.txt", service=service)
    uid = on_host("hub", "id -u cara")
    assert on_host("hub", "stat -c %u /home/cara/projects/thesis/chapter1.txt") == uid
    jupyter_ui.stop_server(page, "cara", server="p1")

    jupyter_ui.start_server(page, "cara", server="p1", project="lab")
    jupyter_ui.stop_server(page, "cara", server="p1")
    assert on_host("hub", "ls /home/cara/projects").split() == ["lab", "thesis"]

    # the limit (2 in the tests' deploy) names the projects and makes nothing
    refused = jupyter_ui.request_server(page, "cara", "p1", project="third")
    assert refused.status == 400, refused.text()
    assert "already have 2 projects (lab, thesis)" in refused.json()["message"]
    assert on_host("hub", "ls /home/cara/projects").split() == ["lab", "thesis"]

    # deleted through the hub's API; the projects page lists what is left
    deleted = jupyter_ui.hub_api(page, "DELETE", "/users/cara/projects/lab")
    assert deleted.status == 204, deleted.text()
    assert on_host("hub", "ls /home/cara/projects").split() == ["thesis"]
    page.goto(f"{trial.PUBLIC_URL}/hub/projects")
    assert "thesis" in page.content() and ">lab<" not in page.content()
    # another user's projects are not hers to delete
    # (the hub's scope check: the same answer as for a user that does not exist)
    assert jupyter_ui.hub_api(page, "DELETE", "/users/ann/projects/x").status == 404
