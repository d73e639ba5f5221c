"""Issue 8, item 6: the cluster's registry is not open to the cluster.

TLS with the cluster's own CA, htpasswd accounts held by the engines (the hub's
pushes, the nodes' pull), nothing for anyone without them; user servers run their
image by digest, so a push to the tag changes nothing a server runs; no password
shows in any container's configuration, environment or process list.
"""

from __future__ import annotations

import re
import shlex

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

HUB = "10.213.7.11"
REGISTRY = f"{HUB}:5000"
CA = f"/etc/docker/certs.d/{REGISTRY}/ca.crt"
SECRETS = "/etc/swarmhub/registry-auth"
ACCOUNTS = ("swarmhub-push", "swarmhub-pull")
BY_DIGEST = re.compile(rf"^{re.escape(REGISTRY)}/swarmhub/notebook@sha256:[0-9a-f]{{64}}$")


def status(host: str, args: str) -> str:
    """HTTP status of a curl request from a trial host ('000': no HTTP answer)."""
    return on_host(
        host, f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 {args}", check=False
    )


def passwords() -> dict[str, str]:
    return {user: on_host("hub", f"cat {SECRETS}/{user}.password") for user in ACCOUNTS}


def notebook_tag() -> str:
    """The notebook image's tag on the hub (what the images role built and pushed)."""
    refs = on_host(
        "hub",
        f"docker image ls --format '{{{{.Repository}}}}:{{{{.Tag}}}}' {REGISTRY}/swarmhub/notebook",
    ).split()
    tagged = [r for r in refs if not r.endswith(":<none>")]
    assert tagged, f"no tagged notebook image on the hub: {refs}"
    return tagged[0]


def pushed_digest(tag: str) -> str:
    digests = on_host("hub", f"docker image inspect -f '{{{{json .RepoDigests}}}}' {tag}")
    found = re.findall(rf"{re.escape(REGISTRY)}/swarmhub/notebook@sha256:[0-9a-f]{{64}}", digests)
    assert found, digests
    return found[0]


def test_anonymous_requests_are_refused_over_tls(first_deploy):
    for host in ("hub", "node1", "node2"):
        # the engine's CA file makes the certificate check pass; no login: 401
        assert status(host, f"--cacert {CA} https://{REGISTRY}/v2/") == "401"
        assert status(host, f"--cacert {CA} https://{REGISTRY}/v2/_catalog") == "401"
    # a push starts with a blob upload; a delete names a manifest
    upload = f"https://{REGISTRY}/v2/swarmhub/notebook/blobs/uploads/"
    assert status("node1", f"--cacert {CA} -X POST {upload}") == "401"
    digest = pushed_digest(notebook_tag()).rsplit("@", 1)[1]
    manifest = f"https://{REGISTRY}/v2/swarmhub/notebook/manifests/{digest}"
    assert status("node1", f"--cacert {CA} -X DELETE {manifest}") == "401"
    # a wrong password is refused like none
    assert status("node1", f"--cacert {CA} -u swarmhub-pull:wrong https://{REGISTRY}/v2/") == "401"
    # without the cluster's CA the certificate is not trusted: no HTTP answer at all
    assert status("node1", f"https://{REGISTRY}/v2/") == "000"


def test_plain_http_gets_no_image_list(first_deploy):
    for path in ("/v2/", "/v2/_catalog", "/v2/swarmhub/notebook/tags/list"):
        body = on_host("node1", f"curl -s --max-time 10 http://{REGISTRY}{path}", check=False)
        assert "swarmhub/" not in body and "repositories" not in body and "tags" not in body
        # Go's TLS server answers plain HTTP with 400
        assert status("node1", f"http://{REGISTRY}{path}") in ("400", "000")


def test_an_engine_without_the_login_cannot_push_or_pull(first_deploy):
    tag = notebook_tag()
    impostor = f"{REGISTRY}/swarmhub/intruder:probe"
    on_host("node1", "mkdir -p /tmp/no-login && echo '{}' > /tmp/no-login/config.json")
    try:
        on_host("node1", f"docker tag {shlex.quote(pushed_digest(tag))} {impostor}")
        push = on_host("node1", f"docker --config /tmp/no-login push {impostor} 2>&1", check=False)
        assert "no basic auth credentials" in push or "unauthorized" in push, push
        pull = on_host("node1", f"docker --config /tmp/no-login pull {tag} 2>&1", check=False)
        assert "no basic auth credentials" in pull or "unauthorized" in pull, pull
    finally:
        on_host("node1", f"docker rmi {impostor}; rm -rf /tmp/no-login", check=False)
    catalog = on_host(
        "hub",
        f"curl -s --cacert {CA} -u swarmhub-push:$(cat {SECRETS}/swarmhub-push.password) "
        f"https://{REGISTRY}/v2/_catalog",
    )
    assert "swarmhub/notebook" in catalog and "intruder" not in catalog


def test_nodes_pull_with_their_own_login(first_deploy):
    tag = notebook_tag()
    for node in trial.NODES:
        # the login the deploy stored for the node's engine: the pull account
        auths = on_host(node, "cat /root/.docker/config.json")
        assert REGISTRY in auths
        assert on_host(node, "stat -c %a /root/.docker/config.json") == "600"
        # the engine fetches the manifest from the registry with it (layers are there)
        pulled = on_host(node, f"docker pull {tag} 2>&1", check=False)
        assert "Status:" in pulled and "unauthorized" not in pulled, pulled
        # (the tag stays: untagging the last tag of a repository drops its digests too)
        # the pre-pulled image is there by digest
        assert on_host(node, f"docker image inspect -f ok {pushed_digest(tag)}") == "ok"
    # the push password is on the hub only
    push_password = passwords()["swarmhub-push"]
    for node in trial.NODES:
        assert push_password not in on_host(node, "cat /root/.docker/config.json")
        assert on_host(node, f"grep -rl {shlex.quote(push_password)} /etc /root", check=False) == ""


def test_servers_run_their_image_by_digest_and_a_push_does_not_replace_it(first_deploy, new_page):
    tag = notebook_tag()
    digest_ref = pushed_digest(tag)
    image_id = on_host("hub", f"docker image inspect -f '{{{{.Id}}}}' {tag}")
    # an impostor (the hub's own image) pushed to the notebook's tag with the
    # hub's own login, as a rebuild or an intruder holding a password would
    impostor = on_host("hub", "docker inspect -f '{{.Config.Image}}' jupyterhub")
    on_host("hub", f"docker tag {impostor} {tag} && docker push {tag}")
    try:
        page = new_page()
        jupyter_ui.log_in_to_hub(page, "dora@example.org")
        if not jupyter_ui.server_state(page, "dora"):
            jupyter_ui.start_server(page, "dora")
        spec_image = on_host(
            "hub",
            "docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' jupyter-dora",
        )
        assert BY_DIGEST.match(spec_image), spec_image
        assert spec_image == digest_ref
        task = trial.running_task("jupyter-dora")
        container = on_host(
            task["Node"],
            "docker ps -q --filter label=com.docker.swarm.service.name=jupyter-dora",
        )
        assert on_host(task["Node"], f"docker inspect -f '{{{{.Image}}}}' {container}") == image_id
        jupyter_ui.stop_server(page, "dora")
    finally:
        # the tag back on the real image, in the registry too
        on_host("hub", f"docker tag {image_id} {tag} && docker push {tag}")
    assert pushed_digest(tag) == digest_ref


def test_no_registry_password_in_containers_or_processes(first_deploy, new_page):
    secrets = passwords()
    page = new_page()
    jupyter_ui.log_in_to_hub(page, "dora@example.org")
    if not jupyter_ui.server_state(page, "dora"):
        jupyter_ui.start_server(page, "dora")
    task = trial.running_task("jupyter-dora")
    node = task["Node"]
    container = on_host(
        node, "docker ps -q --filter label=com.docker.swarm.service.name=jupyter-dora"
    )
    seen = {
        "server's docker inspect": on_host(node, f"docker inspect {container}"),
        "server's service": on_host("hub", "docker service inspect jupyter-dora"),
        "server's environment": trial.exec_in_server("dora", "env").stdout,
        "hub's containers": on_host(
            "hub",
            "docker inspect jupyterhub swarmhub-culler swarmhub-stats swarmhub-backup",
            check=False,
        ),
    }
    for host in ("hub", *trial.NODES):
        seen[f"processes on {host}"] = on_host(host, "ps -eo args")
    for where, text in seen.items():
        for user, password in secrets.items():
            assert password not in text, f"{user}'s password in the {where}"
    # the hub's Docker client holds no login: it sends no credentials with a service
    assert (
        on_host("hub", "docker exec jupyterhub sh -c 'ls -A ~/.docker 2>/dev/null'", check=False)
        == ""
    )
    # a user's server cannot read the node's login
    assert "600" == on_host(node, "stat -c %a /root/.docker/config.json")
    jupyter_ui.stop_server(page, "dora")
