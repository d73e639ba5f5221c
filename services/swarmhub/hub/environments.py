"""Environments: the images users choose from, each with its own folder and limits.

An environment is a name, an image, a description, memory and CPU limits, and the
folder inside the image whose files seed /home/USER/NAME on its first start.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common.environment_catalog import Catalog
from ..common.environment_requests import ENVIRONMENT_NAME

DEFAULT_SEED_FROM = "/home/jovyan"


class UnknownEnvironment(ValueError):
    """A user asked for an environment that does not exist."""


@dataclass(frozen=True)
class Environment:
    name: str
    image: str
    description: str = ""
    mem_limit: int | None = None
    cpu_limit: float | None = None
    # memory swarm sets aside for each server (a node takes no more than it has)
    mem_reservation: int | None = None
    seed_from: str = DEFAULT_SEED_FROM


def parse_environments(entries: Sequence[Mapping[str, Any]]) -> list[Environment]:
    """Environments from settings; raises ValueError naming the bad entry."""
    if not entries:
        raise ValueError("hub settings: environments must list at least one environment")
    seen: set[str] = set()
    result = []
    for i, entry in enumerate(entries):
        where = f"environments[{i}]"
        name = entry.get("name")
        if not isinstance(name, str) or not ENVIRONMENT_NAME.match(name):
            raise ValueError(
                f"hub settings: {where}.name {name!r} must be lower-case letters, digits, "
                "'-' or '_' (it names a folder in every home)"
            )
        if name in seen or name == "projects":
            raise ValueError(f"hub settings: {where}: environment name {name!r} is taken")
        seen.add(name)
        image = entry.get("image")
        if not isinstance(image, str) or not image:
            raise ValueError(f"hub settings: {where}.image must name an image")
        seed_from = entry.get("seed_from") or DEFAULT_SEED_FROM
        if not isinstance(seed_from, str) or not seed_from.startswith("/"):
            raise ValueError(f"hub settings: {where}.seed_from must be an absolute path")
        result.append(
            Environment(
                name=name,
                image=image,
                description=str(entry.get("description") or ""),
                mem_limit=entry.get("mem_limit"),
                cpu_limit=entry.get("cpu_limit"),
                mem_reservation=entry.get("mem_reservation"),
                seed_from=seed_from,
            )
        )
    return result


def built_environments(catalog_file: str, deploy_names: Sequence[str]) -> list[dict[str, Any]]:
    """The environments built from git that users may start (those with an image), as
    the spawner's environment dicts, after the deploy's (whose names win). Raises
    CatalogError or OSError when the catalog cannot be read."""
    if not catalog_file:
        return []
    result = []
    for env in Catalog.load(Path(catalog_file)):
        if not env.usable or env.name in deploy_names:
            continue
        request = env.request
        shown = request.display_name
        result.append(
            {
                "name": env.name,
                "image": env.image,
                "description": f"{shown}: {request.description}" if request.description else shown,
                "mem_limit": request.mem_limit,
                "mem_reservation": request.mem_limit,
                "cpu_limit": request.cpu_limit,
                "seed_from": DEFAULT_SEED_FROM,
            }
        )
    return result


def choose_environment(environments: Sequence[Environment], name: str | None) -> Environment:
    """The environment called `name`, or the first (the default) when none is named."""
    if not name:
        return environments[0]
    for env in environments:
        if env.name == name:
            return env
    choices = ", ".join(e.name for e in environments)
    raise UnknownEnvironment(f"There is no environment {name!r}. Choose one of: {choices}.")


# The form's script: a start the hub turns away (too many starting at once) asks
# again by itself, with the same choices.
SPAWN_RETRY_SCRIPT = (Path(__file__).with_name("templates") / "spawn_retry.js").read_text()


def environments_form(environments: Sequence[Environment], projects: Sequence[str]) -> str:
    """The spawn page's form: an environment, and optionally a project to work in."""
    env_options = "\n".join(
        f'<option value="{html.escape(e.name)}"{" selected" if i == 0 else ""}>'
        f"{html.escape(e.name)}{' - ' + html.escape(e.description) if e.description else ''}"
        "</option>"
        for i, e in enumerate(environments)
    )
    project_options = "\n".join(
        f'<option value="{html.escape(p)}">{html.escape(p)}</option>' for p in projects
    )
    return f"""
<div class="form-group mb-3">
  <label for="swarmhub-environment" class="form-label">Environment</label>
  <select class="form-select form-control" id="swarmhub-environment" name="environment">
{env_options}
  </select>
  <small class="form-text">Its files are in the folder of the same name in your home.</small>
</div>
<div class="form-group mb-3">
  <label for="swarmhub-project" class="form-label">Project (optional)</label>
  <select class="form-select form-control" id="swarmhub-project" name="project">
<option value="" selected>No project: start in the environment's folder</option>
{project_options}
  </select>
  <label for="swarmhub-new-project" class="form-label">or a new project named</label>
  <input class="form-control" id="swarmhub-new-project" name="new_project" type="text"
         placeholder="e.g. thesis" pattern="[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}">
  <small class="form-text">Projects live in /projects; manage them at
    <a href="../projects">your projects page</a>.</small>
</div>
<script>
{SPAWN_RETRY_SCRIPT}</script>
"""


def options_from_form(formdata: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """user_options from the spawn form: environment, and project (a new one wins)."""

    def first(key: str) -> str:
        values = formdata.get(key) or [""]
        return values[0].strip()

    options = {"environment": first("environment")}
    project = first("new_project") or first("project")
    if project:
        options["project"] = project
    return options
