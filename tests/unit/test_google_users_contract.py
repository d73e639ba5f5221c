"""Who may log in with Google is checked twice, by the validate play (on the control
machine, from group_vars) and by the hub at start (from its settings): both refuse
the same sites. The settings are made from group_vars as hub.json.j2 makes them."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
from test_hubconfig import configured
from test_hubconfig import secrets as secrets  # noqa: F401 - fixture
from test_hubconfig import settings as settings  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]


def validate_filter():
    spec = importlib.util.spec_from_file_location(
        "swarmhub_validate_filters", ROOT / "roles/validate/filter_plugins/swarmhub_validate.py"
    )
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    return plugin.FilterModule().filters()["swarmhub_google_users_problems"]


def hub_settings(base, allowed_users, hosted_domain, email_map):
    """What roles/jupyterhub/templates/hub.json.j2 renders from these group_vars."""
    settings = copy.deepcopy(base)
    names, emails = [], dict(email_map)
    for entry in allowed_users:
        if isinstance(entry, dict):
            names.append(entry["name"])
            emails[entry["email"].lower()] = entry["name"]
        else:
            names.append(entry)
    settings["allowed_users"] = names
    settings["auth"]["hosted_domain"] = hosted_domain
    settings["auth"]["email_map"] = emails
    return settings


ANN = {"email": "ann.lee@gmail.com", "name": "ann"}
SITES = {
    "no domain, nobody": ([], [], {}, False),
    "no domain, a bare name": ([ANN, "bob"], [], {}, False),
    "no domain, full emails": ([ANN, {"email": "bob@x.org", "name": "bob"}], [], {}, True),
    "one domain, anyone in it": ([], ["example.org"], {}, True),
    "one domain, bare names": (["bob", "cara"], ["example.org"], {}, True),
    "one domain, a map": ([], ["example.org"], {"ada-lovelace@example.org": "alovelace"}, True),
    "a map to a bad name": ([], ["example.org"], {"ada@example.org": "ada--l"}, False),
    "one name, two emails": ([ANN, {"email": "ann@gmail.com", "name": "ann"}], [], {}, False),
    "a bad bare name": (["bob-"], ["example.org"], {}, False),
}


@pytest.mark.parametrize("site", sorted(SITES))
def test_the_validate_play_and_the_hub_refuse_the_same_sites(settings, site):  # noqa: F811
    allowed, domains, email_map, good = SITES[site]
    problems = validate_filter()(allowed, domains, email_map)
    assert (problems == []) == good, problems
    hub = hub_settings(settings, allowed, domains, email_map)
    if good:
        configured(hub)
    else:
        with pytest.raises(ValueError):
            configured(hub)
