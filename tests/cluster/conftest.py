"""Cluster tier: make the trial cluster from scratch, deploy it with the real
playbooks (Google login pointed at the local OAuth stand-in), and act on it
as users do, through nginx, in a real browser."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
import yaml

from tests.cluster import trial

CLIENT_ID = "trial-client.apps.example"
# One share of each level (tests/cluster/test_data.py): ann writes everywhere
# she is listed, bob reads "grades", cara sees only the public one.
SHARES = [
    {"name": "handouts", "level": "public", "writers": ["ann"]},
    {"name": "grades", "level": "private", "readers": ["bob"], "writers": ["ann"]},
    {"name": "exam", "level": "secret", "readers": ["ann"]},
]


# One course (tests/cluster/test_courses.py).
COURSES = [
    {"name": "intro", "instructors": ["ivy"], "students": ["sid", "sue"], "late_policy": "zero"}
]

HUGE_ENVIRONMENT = {
    "name": "huge",
    "image": "notebook",
    "description": "more memory than any node has",
    "mem_limit": "64T",
    "mem_reservation": "64T",
}


def trial_environments() -> list[dict]:
    """The trial inventory's environments (without script/bench term's)."""
    group_vars = trial.ROOT / "inventory/local/group_vars/all/main.yml"
    return yaml.safe_load(group_vars.read_text())["trial_environments"]


@pytest.fixture(scope="session")
def trial_hosts():
    """Trial hosts made afresh (unless SWARMHUB_REUSE_CLUSTER=1, for iterating
    on tests against an already deployed cluster)."""
    if os.environ.get("SWARMHUB_REUSE_CLUSTER") != "1":
        trial.run(["./script/cluster", "down"], timeout=300)
    trial.run(["./script/cluster", "up"], timeout=900)


@pytest.fixture(scope="session")
def oauth_standin(trial_hosts):
    """Google's endpoints, stood in for on this machine's trial-network
    address: the browser and the hub container both reach it there."""
    client_secret = secrets.token_urlsafe(24)
    # its request log goes to a file: a pipe nobody reads fills and blocks it
    trial.ARTIFACTS.mkdir(exist_ok=True)
    log = (trial.ARTIFACTS / "oauth-standin.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.oauth_standin",
            "--host",
            trial.GATEWAY,
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            client_secret,
        ],
        cwd=trial.ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = proc.stdout.readline()  # printed once listening; nothing else is
    if "listening on" not in line:
        proc.kill()
        proc.wait(timeout=10)
        log.close()
        err = (trial.ARTIFACTS / "oauth-standin.log").read_text()
        raise AssertionError(f"OAuth stand-in did not start: {line!r}\n{err}")
    url = line.rsplit(" ", 1)[1].strip()
    yield {"url": url, "client_secret": client_secret}
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def deploy_vars(oauth_standin, tmp_path_factory):
    """Extra vars that switch the trial cluster to the production login path."""
    path = tmp_path_factory.mktemp("deploy") / "google-standin.json"
    url = oauth_standin["url"]
    path.write_text(
        json.dumps(
            {
                "swarmhub_auth": "google",
                "jupyterhub_google_client_id": CLIENT_ID,
                "vault_google_client_secret": oauth_standin["client_secret"],
                "jupyterhub_google_hosted_domain": ["example.org"],
                "jupyterhub_google_authorize_url": f"{url}/authorize",
                "jupyterhub_google_token_url": f"{url}/token",
                "jupyterhub_google_userdata_url": f"{url}/userinfo",
                # eve's name is also an operator's account on the hub, and both
                # ada.lovelace@ and ada-lovelace@ make the name ada-lovelace (test_accounts)
                # fay never logs in but with restuser down (test_accounts); gus's starts
                # fail on purpose (test_spawn_drills), and a user's last options are
                # the next start's default, so nobody else's are touched; hal's server
                # runs through a hub restart (test_hub_restart)
                "swarmhub_allowed_users": [
                    "ann",
                    "bob",
                    "cara",
                    "dora",
                    "eve",
                    "fay",
                    "gus",
                    "hal",
                    "ada-lovelace",
                    # the course (test_courses): ivy teaches it, sid and sue take
                    # it, tom does not
                    "ivy",
                    "sid",
                    "sue",
                    "tom",
                    # kim starts the environments built from git (test_environments)
                    "kim",
                ],
                "swarmhub_admin_users": ["ann"],
                "swarmhub_instructors": ["bob"],
                # nobody made ahead: restuser makes each account at first login
                "users_list": [],
                "swarmhub_shares": SHARES,
                "swarmhub_courses": COURSES,
                "jupyterhub_project_limit": 2,
                # activity reaches the hub within 10 s (the culler test's 40 s
                # timeout relies on it)
                "jupyterhub_activity_interval": 10,
                "stats_interval_minutes": 1,
                # test_orphans waits for two looks
                "jupyterhub_orphan_check_seconds": 10,
                # the trial's environments, and one no node has memory for
                # (test_spawn_drills)
                "swarmhub_environments": [*trial_environments(), HUGE_ENVIRONMENT],
            }
        )
    )
    os.chmod(path, 0o600)
    return f"@{path}"


@pytest.fixture(scope="session")
def quick_start(trial_hosts):
    """The README's quick start, `./script/deploy` with no arguments: the one
    deploy from nothing onto the trial hosts (made afresh by trial_hosts)."""
    result = trial.deploy(log_name="deploy-quick-start.log")
    print(f"\nquick start deploy (from nothing): {result.seconds:.0f}s")
    trial.record_timing("quick_start_deploy_s", result.seconds)
    return result


@pytest.fixture(scope="session")
def first_deploy(quick_start, deploy_vars):
    """The quick-start trial redeployed with Google pointed at the stand-in:
    the production login path, which every later test uses."""
    result = trial.deploy("-e", deploy_vars, log_name="deploy-first.log")
    print(f"\nswitch to the Google stand-in: {result.seconds:.0f}s")
    trial.record_timing("google_redeploy_s", result.seconds)
    return result


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def spawn_smoke(first_deploy, browser):
    """Two logins with a server each (ann, then bob) right after the switch to
    Google, before any browser test: if servers do not start, every browser
    test would only wait minutes to say so, so the run stops here. Returns, for
    each user, the node the server runs on and every node's running tasks just
    before it started (the course's formgrader is one of them)."""
    from tests.cluster import jupyter_ui

    nodes, contexts = {}, []
    try:
        for name in ("ann", "bob"):
            load = {node: 0 for node in trial.NODES}
            for task in trial.service_tasks_all():
                if task["Node"] in load and task["CurrentState"].startswith("Running"):
                    load[task["Node"]] += 1
            contexts.append(browser.new_context(ignore_https_errors=True))
            page = contexts[-1].new_page()
            jupyter_ui.log_in(page, f"{name}@example.org")
            jupyter_ui.wait_for_lab(page, name)
            task = trial.running_task(f"jupyter-{name}")
            nodes[name] = {"node": task and task["Node"], "load_before": load}
    except Exception as error:  # noqa: BLE001 (any failure means the same: stop)
        pytest.exit(
            f"no server starts after the switch to Google, so the browser tests were not run: "
            f"{error}\nSee test-artifacts/deploy-first.log and the hosts' logs in "
            "test-artifacts/hosts/ (the hub's log first).",
            returncode=1,
        )
    finally:
        for context in contexts:
            context.close()
    return nodes


@pytest.fixture
def new_page(plain_page, spawn_smoke):
    """plain_page, once the smoke spawn has shown that servers start."""
    return plain_page


@pytest.fixture
def plain_page(browser, request):
    contexts = []

    def make():
        context = browser.new_context(
            ignore_https_errors=True, viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for number, context in enumerate(contexts):
        if failed:  # what the person saw when it went wrong
            for page in context.pages:
                name = f"failed-{request.node.name}-{number}.png"
                page.screenshot(path=str(trial.ARTIFACTS / name), full_page=True)
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    if report.failed and "cluster" in str(item.fspath):
        report.sections.append(("trial cluster diagnostics", trial.diagnostics()))


def pytest_sessionfinish(session, exitstatus):
    """A failed or interrupted run keeps the hosts' logs (test-artifacts/hosts/)."""
    if exitstatus != 0 and trial.hosts_exist():
        trial.save_host_logs(trial.ARTIFACTS / "hosts")


# The quick start's own login, the burst bench (which logs in through the same
# form) and the term bench (which deploys the trial's own inventory, then again
# without its bench environment) run first, before the switch to Google.
# Modules that change the whole cluster run last, in this order: the nodes'
# engines restarted, a node joining and leaving, a node lost, an upgrade (from
# a changed checkout), then uninstall (keeping the data).
FIRST_MODULES = ("test_trial_login.py", "test_trial_burst.py", "test_trial_term.py")
LAST_MODULES = (
    "test_engine_restart.py",
    "test_node_join.py",
    "test_node_loss.py",
    "test_upgrade.py",
    "test_uninstall.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        # the other tiers keep their place (before this one); within this tier
        # the first modules, the rest, then the last modules in order
        path = item.path
        if path.parent.name != "cluster":
            return 0
        if path.name in FIRST_MODULES:
            return 1
        if path.name in LAST_MODULES:
            return 3 + LAST_MODULES.index(path.name)
        return 2

    items.sort(key=rank)  # stable: the others keep their order
