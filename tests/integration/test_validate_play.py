"""A broken inventory or a missing secret stops ./script/deploy in the
validate play, with a message that says what to fix, before any host is
contacted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Unreachable on purpose: if validation ever let a run through, the next
# play would fail to connect rather than change anything.
NOWHERE = {"ansible_host": "127.0.0.1", "ansible_port": 1}


def write_inventory(tmp_path: Path, groups: dict, all_vars: dict) -> Path:
    inventory = {
        "all": {
            "vars": all_vars,
            "children": {
                group: {"hosts": {host: NOWHERE for host in hosts}}
                for group, hosts in groups.items()
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def deploy(inventory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./script/deploy", "-i", str(inventory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


GOOD_GROUPS = {"proxy": ["proxy1"], "hub": ["hub1"], "nodes": ["node1", "node2"]}
GOOGLE = {
    "swarmhub_auth": "google",
    "jupyterhub_google_client_id": "id.apps.example",
    "vault_google_client_secret": "s3cret-from-the-vault",
}


def assert_stopped_before_any_host(proc: subprocess.CompletedProcess) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Gathering Facts" not in output, "a host was contacted"
    for host in ("proxy1", "hub1", "node1", "node2"):
        assert f"[{host}]" not in output
    return output


def test_missing_nodes_group_is_refused(tmp_path):
    groups = {k: v for k, v in GOOD_GROUPS.items() if k != "nodes"}
    output = assert_stopped_before_any_host(deploy(write_inventory(tmp_path, groups, GOOGLE)))
    assert "group 'nodes' must hold at least 1 host(s); it holds 0" in output


def test_two_hubs_are_refused(tmp_path):
    groups = dict(GOOD_GROUPS, hub=["hub1", "hub2"])
    output = assert_stopped_before_any_host(deploy(write_inventory(tmp_path, groups, GOOGLE)))
    assert "group 'hub' must hold 1 host(s); it holds 2 (hub1, hub2)" in output


def test_missing_google_secret_is_refused(tmp_path):
    no_secret = {k: v for k, v in GOOGLE.items() if k != "vault_google_client_secret"}
    proc = deploy(write_inventory(tmp_path, GOOD_GROUPS, no_secret))
    output = assert_stopped_before_any_host(proc)
    assert "Missing secret: Google login needs" in output
    assert "vault_google_client_secret" in output


def test_missing_backup_passphrase_is_refused(tmp_path):
    proc = deploy(write_inventory(tmp_path, GOOD_GROUPS, GOOGLE))
    output = assert_stopped_before_any_host(proc)
    assert "Missing secret: backups are encrypted with vault_backup_passphrase" in output


def test_short_backup_passphrase_is_refused(tmp_path):
    short = dict(GOOGLE, vault_backup_passphrase="too-short")
    output = assert_stopped_before_any_host(deploy(write_inventory(tmp_path, GOOD_GROUPS, short)))
    assert "16 characters or more" in output
    assert "too-short" not in output


# --- Google login: one Google identity per name -----------------------------------------

GOOGLE_WITH_BACKUP = dict(GOOGLE, vault_backup_passphrase="a-long-enough-passphrase")


def write_site(tmp_path: Path, site_vars: dict) -> Path:
    """An inventory whose group_vars/all hold `site_vars`, as a real site's do."""
    inventory = write_inventory(tmp_path, GOOD_GROUPS, GOOGLE_WITH_BACKUP)
    folder = tmp_path / "group_vars" / "all"
    folder.mkdir(parents=True)
    (folder / "main.yml").write_text(yaml.safe_dump(site_vars))
    return inventory


def test_google_without_hosted_domain_refuses_bare_user_names(tmp_path):
    settings = dict(
        swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}, "bob"],
    )
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, settings)))
    assert "Google login: 1 problem(s) with who may log in; nothing was changed" in output
    assert (
        "Google login without jupyterhub_google_hosted_domain admits only accounts given "
        "by full email with their user name; give these as {email: EMAIL, name: NAME}: bob"
    ) in output


def test_google_without_hosted_domain_or_users_is_refused(tmp_path):
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, {})))
    assert "with no swarmhub_allowed_users admits nobody" in output


def test_one_name_for_two_google_accounts_is_refused(tmp_path):
    settings = dict(
        jupyterhub_google_hosted_domain=["example.org"],
        jupyterhub_google_email_map={"ada-lovelace@example.org": "ada--l"},
        swarmhub_allowed_users=[
            {"email": "ann.lee@gmail.com", "name": "ann"},
            {"email": "ann@gmail.com", "name": "ann"},
        ],
    )
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, settings)))
    assert "Google login: 2 problem(s)" in output
    assert "'ada--l' is not a valid user name" in output
    assert (
        "swarmhub_allowed_users entry 2: the name ann is also given to ann.lee@gmail.com"
    ) in output


def test_google_users_given_by_full_email_pass_the_validation(tmp_path):
    settings = dict(
        swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}],
    )
    proc = deploy(write_site(tmp_path, settings))
    output = proc.stdout + proc.stderr
    # the validate play passed; the next play then fails to reach the (nowhere) hosts
    assert proc.returncode != 0, output
    assert "Google login:" not in output
    assert "Docker engine on every host" in output, output


def test_the_secret_never_reaches_the_output(tmp_path):
    # a run that passes the validate play, every check of the secret included,
    # and then fails on the (nowhere) hosts
    settings = dict(swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}])
    proc = deploy(write_site(tmp_path, settings))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Docker engine on every host" in output, "the validate play did not pass"
    assert "s3cret-from-the-vault" not in output
    assert "a-long-enough-passphrase" not in output


def test_user_subdomains_without_a_wildcard_certificate_are_refused(tmp_path):
    settings = dict(
        swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}],
        swarmhub_public_url="https://hub.example.org",
        swarmhub_user_subdomains=True,
        proxy_tls_mode="letsencrypt",
    )
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, settings)))
    assert "Let's Encrypt's HTTP challenge cannot issue one" in output


def test_user_subdomains_of_an_address_are_refused(tmp_path):
    settings = dict(
        swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}],
        swarmhub_public_url="https://192.0.2.10",
        swarmhub_user_subdomains=True,
    )
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, settings)))
    assert "not an address: '192.0.2.10'" in output


def test_a_setting_in_the_inventory_files_own_vars_overrides_the_products_default(tmp_path):
    # Ansible's normal precedence: inventory vars rank above role defaults (roles/swarmhub)
    inventory = write_inventory(
        tmp_path, GOOD_GROUPS, dict(GOOGLE_WITH_BACKUP, swarmhub_allowed_users=["bob"])
    )
    output = assert_stopped_before_any_host(deploy(inventory))
    assert "give these as {email: EMAIL, name: NAME}: bob" in output


def test_a_setting_under_its_old_name_is_refused_with_the_new_one(tmp_path):
    settings = dict(
        swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}],
        quotas_soft="2G",
        jupyterhub_data_dir="/data/hub",
    )
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, settings)))
    assert "sets jupyterhub_data_dir, quotas_soft, renamed to" in output, output
    assert "swarmhub_hub_data_dir, swarmhub_quota_soft" in output


def test_a_hub_setting_against_its_schema_is_refused_with_the_key(tmp_path):
    settings = dict(
        swarmhub_allowed_users=[{"email": "ann.lee@gmail.com", "name": "ann"}],
        jupyterhub_project_limit=0,
        swarmhub_environments=[
            {"name": "python", "image": "notebook", "mem_limit": "lots"},
            {"name": "python", "image": "notebook"},
        ],
    )
    output = assert_stopped_before_any_host(deploy(write_site(tmp_path, settings)))
    assert "The hub's settings have 4 problem(s); nothing was changed" in output, output
    assert "project_limit must be at least 1, not 0" in output
    assert "environments[0].mem_limit 'lots' is not a size" in output
    # hub.json.j2 reserves an environment's memory limit unless told otherwise
    assert "environments[0].mem_reservation 'lots' is not a size" in output
    assert "environment name 'python' is taken" in output
