"""Environments built from git, on the trial (issue 15): in a real browser, the admin
adds a Dockerfile repository and a requirements.txt repository on the hub's
Environments page and watches both logs stream; a student starts each and imports
what it installed; removal is refused while a server uses it and, once it stopped,
the environment leaves the spawn form and the nodes. A repository that cannot be an
environment fails with its log open and changes nothing else; a non-admin gets 403.

The repositories come from a git server on the trial's network (a container this
module starts, tests/gitserver.py) over https, with a certificate from the cluster's
CA. Builds run on the trial's hub, in the real builder (rootless podman, repo2docker),
and pull only from the cluster's registry and PyPI.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import expect

from tests.cluster import jupyter_ui, trial
from tests.gitserver import add_repo

GIT_CONTAINER = "swarmhub-trial-git"
GIT_ADDRESS = "10.213.7.40"  # allowed to the builder by the trial's inventory
BUILDER_SOCKET = "/var/lib/swarmhub-envbuild/run/api.sock"
BUILD_TIMEOUT_MS = 1_500_000  # two cold builds on vfs, one after the other
DOCKERFILE = """\
ARG SWARMHUB_NOTEBOOK_IMAGE
FROM ${SWARMHUB_NOTEBOOK_IMAGE}
USER root
RUN python3 -c "import pathlib, site; \\
pathlib.Path(site.getsitepackages()[0], 'dockerpkg.py').write_text('ANSWER = 21\\n')"
"""
REPOSITORIES = {
    "dockerenv": {"Dockerfile": DOCKERFILE},
    "reqenv": {"requirements.txt": "termcolor==2.4.0\n", "welcome.md": "# reqenv\n"},
    # another base image: refused before anything runs
    "badenv": {"Dockerfile": "FROM debian:bookworm-slim\nRUN true\n"},
}


@pytest.fixture(scope="module")
def git_server(first_deploy, tmp_path_factory):
    """The repositories over https at GIT_ADDRESS, certificate from the cluster CA."""
    folder = tmp_path_factory.mktemp("git")
    root = folder / "repos"
    root.mkdir()
    for name, files in REPOSITORIES.items():
        add_repo(root, name, files)
    tls = folder / "tls"
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={GIT_ADDRESS}",
         "-keyout", str(tls / "server.key"), "-out", str(tls / "server.csr")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    # signed on the hub, where the CA's key stays (its /tmp is a tmpfs: docker cp
    # cannot reach it, so the request goes in on stdin)
    signed = subprocess.run(
        ["docker", "exec", "-i", "hub", "sh", "-c",
         "set -e; d=$(mktemp -d); cat > $d/csr; "
         f"echo 'subjectAltName=IP:{GIT_ADDRESS}' > $d/ext; "
         "openssl x509 -req -in $d/csr -CA /etc/swarmhub/registry-tls/ca.crt "
         "-CAkey /etc/swarmhub/registry-tls/ca.key -CAcreateserial -CAserial $d/srl "
         "-days 2 -extfile $d/ext; rm -rf $d"],
        input=(tls / "server.csr").read_text(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert signed.returncode == 0 and "BEGIN CERTIFICATE" in signed.stdout, signed.stderr
    certificate = signed.stdout.strip()
    (tls / "server.pem").write_text(certificate + "\n")
    for path in tls.iterdir():
        path.chmod(0o644)
    trial.run(["docker", "rm", "-f", GIT_CONTAINER], check=False)
    trial.run(
        ["docker", "run", "-d", "--pull", "never", "--name", GIT_CONTAINER,
         "--network", "swarmhub-trial", "--ip", GIT_ADDRESS,
         "-v", f"{root}:/srv/git:ro", "-v", f"{tls}:/srv/tls:ro",
         "-v", f"{trial.ROOT / 'tests/gitserver.py'}:/srv/gitserver.py:ro",
         "swarmhub/trial-host:bookworm",
         "python3", "/srv/gitserver.py", "/srv/git", "/srv/tls/server.pem",
         "/srv/tls/server.key", "0.0.0.0", "443"],
    )  # fmt: skip
    trial.wait_until("the git server answers", git_server_answers, 30)
    # a run before this one (SWARMHUB_REUSE_CLUSTER) left its environments
    for name in REPOSITORIES:
        trial.on_host("hub", f"curl -s -X DELETE --unix-socket {BUILDER_SOCKET} "
                      f"http://builder/api/environments/{name}", check=False)  # fmt: skip
    yield f"https://{GIT_ADDRESS}"
    trial.run(["docker", "rm", "-f", GIT_CONTAINER], check=False)


def git_server_answers() -> bool:
    refs = trial.on_host(
        "hub",
        "curl -s --cacert /etc/swarmhub/registry-tls/ca.crt "
        f"https://{GIT_ADDRESS}/dockerenv.git/info/refs",
        check=False,
    )
    return "refs/heads/main" in refs


def api_state(page) -> dict:
    reply = jupyter_ui.hub_api(page, "GET", "/environments")
    assert reply.ok, f"{reply.status} {reply.text()}"
    return {env["request"]["name"]: env for env in reply.json()["environments"]}


def add_on_page(page, git: str, name: str, **fields: str) -> None:
    page.locator("#f-name").fill(name)
    page.locator("#f-repo_url").fill(f"{git}/{name}.git")
    page.locator("#f-ref").fill("main")
    page.locator("#f-display_name").fill(fields.get("display_name", name.title()))
    page.locator("#f-mem_limit").fill(fields.get("mem_limit", "1G"))
    page.locator("#f-cpu_limit").fill("0.5")
    page.locator("#env-add-button").click()
    expect(page.locator("#env-message")).to_contain_text(f"Added {name}")


def row(page, name: str):
    return page.locator(f'#env-table tr[data-environment="{name}"]')


def test_a_non_admin_gets_403_on_the_page_and_its_api(new_page, first_deploy):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "bob@example.org")
    reply = page.goto(f"{trial.PUBLIC_URL}/hub/environments")
    assert reply.status == 403
    message = page.get_by_text("Only the hub's admins manage environments.", exact=True)
    expect(message).to_be_visible()
    for method, path in (("GET", "/environments"), ("DELETE", "/environments/dockerenv")):
        assert jupyter_ui.hub_api(page, method, path).status == 403


def test_the_builder_runs_unprivileged_and_reaches_no_cluster_host(first_deploy):
    """Checked on the rules, never by sending traffic to a forbidden address."""
    inspect = trial.on_host(
        "hub",
        "docker inspect --format '{{.Config.User}} {{.HostConfig.CapDrop}} "
        "{{.HostConfig.CapAdd}} {{.HostConfig.Privileged}}' swarmhub-envbuild",
    )
    assert inspect == "64990:64990 [ALL] [CAP_SETUID CAP_SETGID] false" or inspect == (
        "64990:64990 [ALL] [SETUID SETGID] false"
    ), inspect
    assert "swarmhub-envbuild:1879048192:65536" in trial.on_host("hub", "cat /etc/subuid")
    rules = trial.on_host("hub", "iptables -S SWARMHUB-ENVBUILD; iptables -S OUTPUT")
    for expected in (
        "-A SWARMHUB-ENVBUILD -d 10.213.7.11/32 -p tcp -m tcp --dport 5000 -j ACCEPT",
        f"-A SWARMHUB-ENVBUILD -d {GIT_ADDRESS}/32 -p tcp -m tcp --dport 443 -j ACCEPT",
        "-A SWARMHUB-ENVBUILD -d 10.0.0.0/8 -j REJECT",
        "-A SWARMHUB-ENVBUILD -d 169.254.0.0/16 -j REJECT",
        "-A SWARMHUB-ENVBUILD -j REJECT",
        "-A OUTPUT -m owner --uid-owner 64990 -j SWARMHUB-ENVBUILD",
        "-A OUTPUT -m owner --uid-owner 1879048192-1879113727 -j SWARMHUB-ENVBUILD",
    ):
        assert any(line.startswith(expected) for line in rules.splitlines()), (expected, rules)
    # the registry is allowed before the private ranges are refused
    lines = rules.splitlines()
    registry = next(i for i, line in enumerate(lines) if "--dport 5000" in line)
    assert registry < next(i for i, line in enumerate(lines) if "-d 10.0.0.0/8" in line)


def test_the_admin_adds_two_repositories_and_watches_them_build(new_page, git_server):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")
    page.goto(f"{trial.PUBLIC_URL}/hub/environments")
    add_on_page(page, git_server, "dockerenv", display_name="Docker env")
    add_on_page(page, git_server, "reqenv", display_name="Requirements env")
    # one build at a time (envbuild_at_once): the second waits, and says so
    expect(row(page, "reqenv")).to_contain_text(re.compile("waiting|building"))
    docker_log = page.locator("#log-dockerenv pre")
    expect(docker_log).to_contain_text("[building]", timeout=300_000)
    for name in ("dockerenv", "reqenv"):
        expect(row(page, name)).to_contain_text("built, on every node", timeout=BUILD_TIMEOUT_MS)
    expect(page.locator("#log-reqenv pre")).to_contain_text("[built]")
    expect(page.locator("#log-reqenv pre")).to_contain_text("termcolor")
    envs = api_state(page)
    for name in ("dockerenv", "reqenv"):
        build = envs[name]["build"]
        assert envs[name]["added_by"] == "ann"
        assert envs[name]["image"].startswith(f"10.213.7.11:5000/swarmhub/env-{name}@sha256:")
        print(
            f"\n{name}: built in {seconds_between(build['started_at'], build['finished_at']):.0f}s"
        )


def seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_a_repository_that_fails_shows_its_log_and_changes_nothing_else(new_page, git_server):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")
    page.goto(f"{trial.PUBLIC_URL}/hub/environments")
    before = {n: e["image"] for n, e in api_state(page).items()}
    add_on_page(page, git_server, "badenv")
    expect(row(page, "badenv")).to_contain_text("failed", timeout=300_000)
    log = page.locator("#log-badenv")
    expect(log).to_have_attribute("open", "")
    expect(log.locator("pre")).to_contain_text("SWARMHUB_NOTEBOOK_IMAGE")
    after = api_state(page)
    assert {n: after[n]["image"] for n in before} == before
    assert after["badenv"]["image"] in ("", None)


def test_a_student_starts_each_environment_and_imports_what_it_installed(new_page, git_server):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "kim@example.org")
    if jupyter_ui.server_state(page, "kim"):
        jupyter_ui.stop_server(page, "kim")
    page.goto(f"{trial.PUBLIC_URL}/hub/spawn/kim")
    options = page.locator("#swarmhub-environment option")
    expect(options.filter(has_text="Docker env")).to_have_count(1)
    assert not options.filter(has_text="Badenv").count()
    jupyter_ui.wait_for_lab(page, "kim", environment="dockerenv")
    # termcolor is the other environment's (the notebook image has none): not here
    code = (
        "import dockerpkg, importlib.util as u; print(dockerpkg.ANSWER*2, u.find_spec('termcolor'))"
    )
    jupyter_ui.run_in_new_notebook(page, "kim", code, "42 None")
    assert trial.server_cwd("kim") == "/home/kim/dockerenv"
    jupyter_ui.stop_server(page, "kim")

    page.goto(f"{trial.PUBLIC_URL}/hub/spawn/kim")
    jupyter_ui.wait_for_lab(page, "kim", environment="reqenv")
    code = "import termcolor, importlib.metadata as m; print(m.version('termcolor'))"
    jupyter_ui.run_in_new_notebook(page, "kim", code, "2.4.0")
    # the repository's files seed her folder of the environment, owned by her
    owner, uid = trial.exec_in_server(
        "kim", "stat -c %u /home/kim/reqenv/welcome.md; id -u"
    ).stdout.split()
    assert owner == uid and int(uid) >= 1000


def node_images() -> str:
    return "\n".join(
        trial.on_host(node, "docker image ls --digests --format '{{.Repository}}@{{.Digest}}'")
        for node in trial.NODES
    )


def test_removal_is_refused_while_a_server_uses_it_then_it_leaves_form_and_nodes(
    new_page, git_server
):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "ann@example.org")
    image = api_state(page)["reqenv"]["image"]
    assert image.split("@")[1] in node_images()
    page.goto(f"{trial.PUBLIC_URL}/hub/environments")
    page.on("dialog", lambda dialog: dialog.accept())
    expect(row(page, "reqenv")).to_contain_text("kim")
    row(page, "reqenv").get_by_role("button", name="Remove").click()
    expect(page.locator("#env-message")).to_contain_text("kim")
    assert "reqenv" in api_state(page)

    student = new_page()
    jupyter_ui.log_in_to_hub(student, "kim@example.org")
    jupyter_ui.stop_server(student, "kim")
    page.reload()
    row(page, "reqenv").get_by_role("button", name="Remove").click()
    expect(page.locator("#env-message")).to_contain_text("Removed reqenv.")
    expect(row(page, "reqenv")).to_have_count(0)

    student.goto(f"{trial.PUBLIC_URL}/hub/spawn/kim")
    expect(
        student.locator("#swarmhub-environment option").filter(has_text="Docker env")
    ).to_have_count(1)
    expect(
        student.locator("#swarmhub-environment option").filter(has_text="Requirements env")
    ).to_have_count(0)
    digest = image.split("@")[1]
    trial.wait_until("the image gone from the nodes", lambda: digest not in node_images(), 120)
    # the registry keeps its copy (its API deletes nothing): a later build of the
    # same commit finds it, and an operator's garbage collection may drop it
    tags = trial.on_host(
        "hub",
        "curl -s --cacert /etc/swarmhub/registry-tls/ca.crt "
        "-u swarmhub-push:$(cat /etc/swarmhub/registry-auth/swarmhub-push.password) "
        "https://10.213.7.11:5000/v2/swarmhub/env-reqenv/tags/list",
    )
    assert '"tags":[' in tags.replace(" ", "") and "null" not in tags, tags
