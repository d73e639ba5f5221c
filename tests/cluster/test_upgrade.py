"""Issue 4: an upgrade (a new hub image) backs up the hub's
database first, and a user's running server keeps running through it (and
the proxy, with her connections, is not restarted: issue 11)."""

from __future__ import annotations

import shutil
import subprocess

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

BACKUPS = "/srv/jupyterhub/data/backups"


def test_upgrade_keeps_servers_running_and_backs_up_the_db(
    first_deploy, deploy_vars, new_page, tmp_path
):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")
    if not jupyter_ui.server_state(page, "ann"):
        jupyter_ui.start_server(page, "ann")
    service_before = trial.running_task("jupyter-ann")
    hub_image_before = on_host("hub", "docker inspect -f '{{.Config.Image}}' jupyterhub")
    proxy_started = on_host("hub", "docker inspect -f '{{.State.StartedAt}}' jupyterhub-proxy")
    backups_before = on_host("hub", f"ls {BACKUPS} 2>/dev/null || true").split()

    # a checkout whose hub image changed, as an operator's upgrade would be
    # (its last layer, the hub's config file: a new image without minutes of pip)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(trial.ROOT), str(checkout)], check=True)
    (checkout / ".venv").symlink_to(trial.ROOT / ".venv")
    secrets = trial.ROOT / "inventory/local/group_vars/all/secrets.yml"
    shutil.copy2(secrets, checkout / secrets.relative_to(trial.ROOT))
    config = checkout / "images/jupyterhub/jupyterhub_config.py"
    config.write_text(config.read_text() + "# upgrade test: a new hub image\n")
    upgraded = trial.run(
        ["./script/deploy", "-e", deploy_vars], timeout=1800, check=False, cwd=checkout
    )
    (trial.ARTIFACTS / "deploy-upgrade.log").write_text(upgraded.stdout + upgraded.stderr)
    assert upgraded.returncode == 0, upgraded.stdout[-4000:] + upgraded.stderr[-2000:]

    hub_image_after = on_host("hub", "docker inspect -f '{{.Config.Image}}' jupyterhub")
    assert hub_image_after != hub_image_before
    # the proxy, holding users' connections to their servers, ran through the upgrade
    assert on_host("hub", "docker inspect -f '{{.State.StartedAt}}' jupyterhub-proxy") == (
        proxy_started
    )
    # the database was copied before the new hub started, and the copy is a database
    new_backups = set(on_host("hub", f"ls {BACKUPS}").split()) - set(backups_before)
    assert new_backups, f"no new database backup in {BACKUPS}"
    copy = f"{BACKUPS}/{sorted(new_backups)[-1]}"
    assert on_host("hub", f"head -c 15 {copy}") == "SQLite format 3"
    # ann's server is the same container, still running, and the new hub reaches it
    assert trial.running_task("jupyter-ann")["ID"] == service_before["ID"]
    assert jupyter_ui.server_state(page, "ann").get("ready")
    page.goto(f"{trial.PUBLIC_URL}/user/ann/lab")
    jupyter_ui.wait_for_lab(page, "ann")
    jupyter_ui.stop_server(page, "ann")
