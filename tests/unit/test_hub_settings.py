"""The hub's settings schema (swarmhub.hub.settings): what the deploy's check on the
control machine and the hub at start both apply. hubconfig's tests cover each rule
as the hub applies it; these cover the schema's own promises."""

from __future__ import annotations

import pytest

from swarmhub.hub import settings as schema

MINIMAL = {
    "hub_connect_host": "10.213.128.2",
    "network": "swarmhub",
    "environments": [{"name": "python", "image": "notebook"}],
    "passwd_file": "/etc/swarmhub/host/passwd",
    "home_root": "/home",
    "db_url": "sqlite:////srv/jupyterhub/data/jupyterhub.sqlite",
    "cookie_secret_file": "/srv/jupyterhub/secrets/cookie_secret",
    "auth": {"kind": "shared_password", "password_file": "/srv/jupyterhub/secrets/pw"},
}


def test_minimal_settings_pass_and_every_default_is_filled_in_nested_entries_too():
    result, problems = schema.check(dict(MINIMAL, services=[{"name": "stats", "token_file": "/t"}]))
    assert problems == []
    assert result["hub_api_port"] == 8081
    assert result["pids_limit"] == 1024
    assert result["environments"][0]["seed_from"] == "/home/jovyan"
    assert result["environments"][0]["mem_limit"] is None
    assert result["services"][0] == {
        "name": "stats",
        "token_file": "/t",
        "scopes": [],
        "url": None,
        "access_groups": [],
        "for_instructors": False,
    }
    assert result["auth"]["admin_password_file"] is None


def test_every_problem_is_listed_at_once_each_with_its_key():
    bad = dict(MINIMAL, hub_api_port=0, named_server_limit=-1, colour="blue")
    del bad["network"]
    bad["auth"] = dict(MINIMAL["auth"], kind="shared_password", password_file=7)
    _, problems = schema.check(bad)
    assert problems == [
        "unknown key(s) colour; known keys are " + ", ".join(sorted(schema.SETTINGS)),
        "hub_api_port must be a port number, not 0",
        "missing key network",
        "named_server_limit must be 0 (no limit) or more, not -1",
        "auth.password_file must be a string, not 7",
    ]
    with pytest.raises(schema.SettingsError) as raised:
        schema.checked(bad)
    message = str(raised.value)
    assert message.startswith("hub settings have 5 problems:\n- unknown key(s) colour")
    assert message.endswith(schema.FIX_HINT)


def test_one_problem_is_said_on_one_line():
    with pytest.raises(schema.SettingsError, match=r"^hub settings: missing key db_url; fix"):
        schema.checked({k: v for k, v in MINIMAL.items() if k != "db_url"})


@pytest.mark.parametrize(
    ("size", "expected"),
    [(1024, 1024), ("1K", 1024), ("1.5G", 1610612736), ("768M", 805306368)],
)
def test_sizes_read_as_jupyterhub_reads_them(size, expected):
    from jupyterhub.traitlets import ByteSpecification

    assert schema.byte_size(size) == expected == ByteSpecification().validate(None, size)


def test_a_number_of_bytes_may_be_given_as_text_too():
    # JupyterHub refuses "2048"; the hub gets the number, so it never sees the text
    assert schema.byte_size("2048") == 2048


@pytest.mark.parametrize("size", ["lots", "1Q", "", True])
def test_what_is_no_size_is_refused(size):
    with pytest.raises(ValueError):
        schema.byte_size(size)


def test_the_readme_lists_the_hub_settings_as_the_schema_has_them():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("<!-- hub-settings:")
    start = readme.index("\n", start) + 1
    listed = readme[start : readme.index("<!-- /hub-settings -->")].strip()
    assert listed == schema.markdown_table(), (
        "README's hub settings differ from the schema; replace them with:\n"
        + schema.markdown_table()
    )


def test_every_variable_the_table_names_is_one_the_role_writes_the_settings_from():
    from pathlib import Path

    template = (
        Path(__file__).resolve().parents[2] / "roles/jupyterhub/templates/hub.json.j2"
    ).read_text()
    for key, spec in schema.SETTINGS.items():
        if spec.ansible:
            assert spec.ansible in template, key


def test_a_filled_default_is_a_copy_the_caller_may_change():
    first = schema.filled(MINIMAL)
    first["placement_constraints"].append("node.labels.gpu == yes")
    assert schema.filled(MINIMAL)["placement_constraints"] == []
