"""The registry role (issue 8, item 6): TLS with the cluster's CA, htpasswd accounts,
no deletes; engines trust the CA and keep no insecure registry; user servers' images
by digest.

Templates and expressions are rendered with Ansible's own templating (the venv's
ansible-core), from the roles' defaults and the group_vars, as a deploy would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "registry"
HUB = "10.213.7.11"
REGISTRY = f"{HUB}:5000"
GROUPS = {"hub": ["hub"], "nodes": ["node1", "node2"], "proxy": ["proxy"]}


def trusted(value: Any) -> Any:
    """Values as Ansible trusts variables from files: templates inside are rendered."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(v) for v in value]
    if isinstance(value, dict):
        return {k: trusted(v) for k, v in value.items()}
    return value


# the shared settings every role depends on (roles/swarmhub)
SHARED_DEFAULTS = ROOT / "roles" / "swarmhub" / "defaults" / "main.yml"


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def templar(host: str = "hub", **extra: Any) -> Templar:
    variables = {
        **load(SHARED_DEFAULTS),
        **load(ROLE / "defaults" / "main.yml"),
        "swarmhub_registry": REGISTRY,
        "inventory_hostname": host,
        "groups": GROUPS,
        **extra,
    }
    return Templar(loader=DataLoader(), variables=trusted(variables))


def render(text: str, host: str = "hub", **extra: Any) -> Any:
    return templar(host, **extra).template(trust_as_template(text))


def registry_config(**extra: Any) -> dict[str, Any]:
    return yaml.safe_load(render((ROLE / "templates" / "config.yml.j2").read_text(), **extra))


def test_the_registry_serves_tls_only_and_asks_for_a_login():
    config = registry_config()
    assert config["http"]["addr"] == REGISTRY
    assert config["http"]["tls"] == {
        "certificate": "/etc/docker/registry/registry.crt",
        "key": "/etc/docker/registry/registry.key",
    }
    assert config["auth"] == {
        "htpasswd": {"realm": "swarmhub registry", "path": "/etc/docker/registry/htpasswd"}
    }
    # nothing else would let a request in without the htpasswd check
    assert set(config["auth"]) == {"htpasswd"}
    assert "proxy" not in config  # not a pull-through cache of another registry
    assert config["storage"]["filesystem"]["rootdirectory"] == "/var/lib/docker-registry"


def test_deletes_are_off_unless_asked_for():
    assert registry_config()["storage"]["delete"]["enabled"] is False
    on = registry_config(registry_delete_enabled=True)
    assert on["storage"]["delete"]["enabled"] is True


def test_the_realm_is_quoted_whatever_it_holds():
    config = registry_config(registry_auth_realm='a "quoted": realm')
    assert config["auth"]["htpasswd"]["realm"] == 'a "quoted": realm'


def test_the_certificate_names_the_address_engines_use():
    assert render("{{ registry_tls_host }}") == HUB
    assert render("{{ registry_tls_subject_alt_names }}") == [f"IP:{HUB}"]
    named = "registry.example.org:5000"
    assert render("{{ registry_tls_subject_alt_names }}", swarmhub_registry=named) == [
        "DNS:registry.example.org"
    ]


def test_each_engine_trusts_the_ca_for_the_registry_only():
    # certs.d/HOST:PORT: the engine uses it for that registry, not system-wide
    assert render("{{ registry_client_ca_file }}") == f"/etc/docker/certs.d/{REGISTRY}/ca.crt"


def test_the_hub_pushes_and_nodes_log_in_with_the_pull_account():
    assert render("{{ registry_client_user }}", host="hub") == "swarmhub-push"
    for node in GROUPS["nodes"]:
        assert render("{{ registry_client_user }}", host=node) == "swarmhub-pull"


def test_secrets_and_the_ca_key_stay_in_root_only_folders():
    defaults = load(ROLE / "defaults" / "main.yml")
    assert defaults["registry_ca_dir"].startswith("/etc/swarmhub/")
    assert defaults["registry_secrets_dir"].startswith("/etc/swarmhub/")
    tls = yaml.safe_load((ROLE / "tasks" / "tls.yml").read_text())
    folders = next(t for t in tls if "ansible.builtin.file" in t)["ansible.builtin.file"]
    assert folders["mode"] == "0700" and folders["owner"] == "root"
    module = "community.crypto.openssl_privatekey"
    keys = [t[module] for t in tls if module in t]
    ca_key, registry_key = keys
    assert ca_key["path"].startswith("{{ registry_ca_dir }}") and ca_key["mode"] == "0600"
    # the registry runs as its own user: its key is group-readable, never world-readable
    assert registry_key["mode"] == "0640"
    assert registry_key["group"] == "{{ registry_system_user }}"


def test_passwords_are_made_once_and_never_logged():
    auth = yaml.safe_load((ROLE / "tasks" / "auth.yml").read_text())
    made = auth[0]
    assert made["ansible.builtin.copy"]["force"] is False
    assert made["ansible.builtin.copy"]["mode"] == "0600"
    assert made["no_log"] is True
    # the htpasswd step reads passwords from their files, never from its command line
    script = auth[1]["ansible.builtin.shell"]["cmd"]
    assert "lookup(" not in script and "password_file" in script
    assert "htpasswd -B" in script  # bcrypt: the only hash the registry takes
    client = yaml.safe_load((ROLE / "tasks" / "client.yml").read_text())
    for task in client:
        if "community.docker.docker_login" in task or "registry_client_password" in str(
            task.get("register", "")
        ):
            assert task.get("no_log") is True, task["name"]


def test_every_registry_setting_has_a_comment():
    lines = (ROLE / "defaults" / "main.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+:", line):
            assert line.startswith("registry_"), line
            assert lines[number - 1].startswith("#"), f"no comment above {line}"


def test_engines_keep_no_insecure_registry():
    docker = load(ROOT / "roles" / "docker" / "defaults" / "main.yml")
    assert docker["docker_insecure_registries"] == []
    for vars_file in (ROOT / "group_vars").rglob("*.yml"):
        assert "docker_insecure_registries" not in load(vars_file), vars_file
    for vars_file in (ROOT / "inventory").rglob("*.yml"):
        assert "insecure" not in vars_file.read_text(), vars_file


# --- images by digest ---------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32
OLD_DIGEST = "sha256:" + "cd" * 32
TAGGED = f"{REGISTRY}/swarmhub/notebook:0123456789ab"


def digest_expression() -> dict[str, str]:
    tasks = yaml.safe_load((ROOT / "roles" / "images" / "tasks" / "digests.yml").read_text())
    fact = next(t for t in tasks if "ansible.builtin.set_fact" in t)
    return fact["vars"]


@pytest.mark.parametrize(
    "digests, expected",
    [
        ([f"{REGISTRY}/swarmhub/notebook@{DIGEST}"], f"{REGISTRY}/swarmhub/notebook@{DIGEST}"),
        # a digest of another repository or registry holding the same image is not ours
        (
            [
                f"other.example:5000/swarmhub/notebook@{OLD_DIGEST}",
                f"{REGISTRY}/swarmhub/notebook@{DIGEST}",
            ],
            f"{REGISTRY}/swarmhub/notebook@{DIGEST}",
        ),
        # dots in the address are not wildcards
        ([f"10x213x7x11:5000/swarmhub/notebook@{OLD_DIGEST}"], ""),
        ([], ""),
    ],
)
def test_the_digest_is_the_one_pushed_to_the_clusters_registry(digests, expected):
    exprs = digest_expression()
    pushed = {
        "images": [
            {"RepoTags": ["swarmhub/base:bookworm"], "RepoDigests": []},
            {"RepoTags": [TAGGED], "RepoDigests": digests},
        ]
    }
    t = templar(
        item="notebook",
        images_ref={"notebook": TAGGED},
        images_pushed_info=pushed,
        **exprs,
    )
    assert t.template(trust_as_template("{{ digests | first | default('') }}")) == expected


def test_an_image_never_pushed_has_no_digest():
    exprs = digest_expression()
    t = templar(
        item="notebook",
        images_ref={"notebook": TAGGED},
        images_pushed_info={"images": []},
        **exprs,
    )
    assert t.template(trust_as_template("{{ digests | first | default('') }}")) == ""


def hub_environments(**extra: Any) -> list[dict[str, Any]]:
    """The environments roles/jupyterhub/templates/hub.json.j2 writes."""
    variables = {
        **load(SHARED_DEFAULTS),
        **load(ROOT / "roles" / "jupyterhub" / "defaults" / "main.yml"),
        "swarmhub_public_url": "https://10.213.7.10",
        "swarmhub_auth": "shared_password",
        **extra,
    }
    t = Templar(loader=DataLoader(), variables=trusted(variables))
    text = (ROOT / "roles" / "jupyterhub" / "templates" / "hub.json.j2").read_text()
    return json.loads(t.template(trust_as_template(text)))["environments"]


def test_user_servers_run_the_clusters_images_by_digest():
    by_digest = f"{REGISTRY}/swarmhub/notebook@{DIGEST}"
    envs = hub_environments(
        images_ref={"notebook": TAGGED},
        images_digest_ref={"notebook": by_digest},
        swarmhub_environments=[
            {"name": "python", "image": "notebook"},
            {"name": "r", "image": "quay.io/jupyter/r-notebook@sha256:" + "ef" * 32},
        ],
    )
    assert envs[0]["image"] == by_digest
    # an image this deployment does not build is taken as given
    assert envs[1]["image"] == "quay.io/jupyter/r-notebook@sha256:" + "ef" * 32


def test_the_hub_role_refuses_to_write_an_environment_without_its_digest():
    tasks = yaml.safe_load((ROOT / "roles" / "jupyterhub" / "tasks" / "config.yml").read_text())
    check = next(t for t in tasks if "digests" in t["name"])
    assert check["ansible.builtin.assert"]["that"] == (
        "images_digest_ref is defined and item.image in images_digest_ref"
    )
    # it comes before the settings file
    settings = next(
        i
        for i, t in enumerate(tasks)
        if t.get("ansible.builtin.template", {}).get("src") == "hub.json.j2"
    )
    assert tasks.index(check) < settings


def test_nodes_pull_by_digest_and_only_when_missing():
    pull = yaml.safe_load((ROOT / "roles" / "images" / "tasks" / "pull.yml").read_text())
    module = pull[0]["community.docker.docker_image_pull"]
    assert module["name"] == "{{ images_digest_ref[item] }}"
    assert module["pull"] == "not_present"


def test_uninstall_removes_the_registrys_files_and_logins():
    defaults = load(ROOT / "roles" / "uninstall" / "defaults" / "main.yml")
    for name in ("registry.key", "registry.crt", "registry.csr", "htpasswd"):
        assert f"/etc/docker/registry/{name}" in defaults["uninstall_hub_paths"]
    assert "/etc/swarmhub" in defaults["uninstall_hub_paths"]  # the CA and the passwords
    client = (ROOT / "roles" / "uninstall" / "tasks" / "registry_client.yml").read_text()
    assert "certs.d/{{ swarmhub_registry }}" in client and "state: absent" in client
    playbook = (ROOT / "uninstall.yml").read_text()
    assert playbook.count("tasks_from: registry_client") == 2  # nodes and hub


# --- what the hub sends when it creates a server ------------------------------------------


def create_service_request(monkeypatch, tmp_path, docker_config: dict | None):
    """The headers and body docker-py sends for a user server's service."""
    import docker

    from swarmhub.common.accounts import Account
    from swarmhub.hub.service_spec import service_create_kwargs

    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    if docker_config is not None:
        (home / ".docker" / "config.json").write_text(json.dumps(docker_config))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    client = docker.APIClient(base_url="tcp://127.0.0.1:9", version="1.41")
    sent = {}

    def post_json(url, data, headers=None, **kwargs):
        sent.update(url=url, data=data, headers=headers or {})
        raise RuntimeError("not sent")

    monkeypatch.setattr(client, "_post_json", post_json)
    kwargs = service_create_kwargs(
        name="jupyter-alice",
        image=f"{REGISTRY}/swarmhub/notebook@{DIGEST}",
        account=Account(name="alice", uid=1001, gid=1001, home="/home/alice"),
        home_root="/home",
        network="swarmhub",
        env={},
    )
    with pytest.raises(RuntimeError, match="not sent"):
        client.create_service(**kwargs)
    return sent


def test_the_hub_sends_no_registry_credentials_with_a_server(monkeypatch, tmp_path):
    # the hub container has no Docker login: the service carries no X-Registry-Auth,
    # and the workers run the pre-pulled image by digest without pulling
    sent = create_service_request(monkeypatch, tmp_path, docker_config=None)
    assert "X-Registry-Auth" not in sent["headers"]
    image = sent["data"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image == f"{REGISTRY}/swarmhub/notebook@{DIGEST}"


def test_a_login_in_the_hubs_docker_config_would_travel_with_every_server(monkeypatch, tmp_path):
    # why the hub container must never get a Docker login: docker-py would attach it
    # to each service, where the swarm keeps it for the workers
    login = {"auths": {REGISTRY: {"auth": "c3dhcm1odWItcHVzaDpzZWNyZXQ="}}}
    sent = create_service_request(monkeypatch, tmp_path, docker_config=login)
    assert "X-Registry-Auth" in sent["headers"]


def test_only_the_images_the_nodes_run_are_pushed():
    # the hub's own images run from the engine that built them, on the registry's host
    defaults = load(ROOT / "roles" / "images" / "defaults" / "main.yml")
    environments = [{"name": "python", "image": "notebook"}, {"name": "r", "image": "ext/r:1"}]
    t = templar(
        images_names=["jupyterhub", "proxy", "notebook", "backup", "course"],
        swarmhub_environments=environments,
        images_node_prepull=defaults["images_node_prepull"],
    )
    assert t.template(trust_as_template(defaults["images_pushed"])) == ["notebook"]
    build = (ROOT / "roles" / "images" / "tasks" / "build.yml").read_text()
    assert 'push: "{{ item in images_pushed }}"' in build
