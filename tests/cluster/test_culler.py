"""Issue 4: the idle culler (jupyterhub-idle-culler in its sidecar) stops a
server idle past a (shortened) timeout and leaves a busy one running."""

from __future__ import annotations

import time

from tests.cluster import jupyter_ui, trial

TIMEOUT_S = 40
EVERY_S = 10
ACTIVITY_INTERVAL_S = 10  # jupyterhub_activity_interval in the tests' deploy


def test_idle_server_is_culled_and_busy_one_is_not(first_deploy, deploy_vars, new_page):
    pages = {}
    # cara's server starts first: ann's is idle only until her lab opens right after
    for name in ("cara", "ann"):
        pages[name] = page = new_page()
        jupyter_ui.log_in_to_hub(page, f"{name}@example.org")
        if jupyter_ui.server_state(page, name):
            jupyter_ui.stop_server(page, name)
    trial.deploy(
        "-t", "culler", "-e", deploy_vars,
        "-e", f"culler_timeout={TIMEOUT_S} culler_every={EVERY_S}",
        log_name="deploy-culler-short.log",
    )  # fmt: skip
    try:
        since = trial.on_host("hub", "date -u +%Y-%m-%dT%H:%M:%SZ")
        for name, page in pages.items():
            jupyter_ui.start_server(page, name)

        # ann keeps working (her browser, logged in to her server, calls its API);
        # cara does nothing
        busy = pages["ann"]
        busy.goto(f"{trial.PUBLIC_URL}/user/ann/lab")
        jupyter_ui.wait_for_lab(busy, "ann")
        deadline = time.monotonic() + TIMEOUT_S + 4 * EVERY_S + 2 * ACTIVITY_INTERVAL_S + 60
        culled_at = None
        while time.monotonic() < deadline:
            work = jupyter_ui.fetch_in_page(busy, "/user/ann/api/contents")
            assert work["status"] == 200, f"ann's server refused her work: {work['status']}"
            if culled_at is None and not jupyter_ui.server_state(pages["cara"], "cara"):
                culled_at = time.monotonic()
            if culled_at is not None and time.monotonic() - culled_at > 2 * EVERY_S:
                break
            time.sleep(5)
        assert culled_at is not None, f"cara's idle server still runs after {TIMEOUT_S}s idle"
        assert trial.running_task("jupyter-cara") is None
        # two more culler rounds have passed since: ann's busy server is still there
        assert jupyter_ui.server_state(busy, "ann").get("ready"), "ann's busy server was culled"
        assert trial.running_task("jupyter-ann") is not None
        culler_log = trial.on_host("hub", f"docker logs --since {since} swarmhub-culler 2>&1")
        assert "Culling server cara" in culler_log
        assert "Culling server ann" not in culler_log
        jupyter_ui.stop_server(busy, "ann")
    finally:
        trial.deploy("-t", "culler", "-e", deploy_vars, log_name="deploy-culler-restore.log")
