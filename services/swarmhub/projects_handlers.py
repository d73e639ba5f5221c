"""The hub's projects page (/hub/projects) and API (/hub/api/users/NAME/projects[/P]).

Registered with JupyterHub.extra_handlers, so they run in the hub with its login,
tokens and xsrf checks. A user manages their own projects; admins anyone's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from tornado import web

from .projects import ProjectError, delete_project, list_projects

PROJECTS_TEMPLATES = str(Path(__file__).with_name("templates"))


def projects_handlers(hub_home_root: str) -> list[tuple[str, type, dict[str, Any]]]:
    """Routes for JupyterHub.extra_handlers (relative to /hub/)."""
    if not hub_home_root:
        return []
    kwargs = {"home_root": hub_home_root}
    return [
        (r"/projects", ProjectsPage, kwargs),
        (r"/api/users/([^/]+)/projects", ProjectsAPI, kwargs),
        (r"/api/users/([^/]+)/projects/([^/]+)", ProjectAPI, kwargs),
    ]


class _ProjectsMixin:
    home_root: str

    def initialize(self, home_root: str) -> None:
        self.home_root = home_root

    def project_in_use(self, user: Any, project: str) -> str | None:
        """The name of a running server of `user` working in `project`, if any."""
        for name, spawner in user.spawners.items():
            if spawner.active and (spawner.user_options or {}).get("project") == project:
                return name or "default"
        return None

    def remove(self, user: Any, project: str) -> None:
        server = self.project_in_use(user, project)
        if server is not None:
            raise web.HTTPError(
                409, f"Project {project!r} is open in server {server!r}: stop that server first."
            )
        try:
            delete_project(Path(self.home_root) / user.name, project)
        except ProjectError as e:
            raise web.HTTPError(404, str(e)) from None
        self.log.info("Deleted project %s of %s", project, user.name)  # type: ignore[attr-defined]


class ProjectsPage(_ProjectsMixin, BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        projects = list_projects(Path(self.home_root) / user.name)
        self.finish(await self.render_template("projects.html", projects=projects, message=""))

    @web.authenticated
    async def post(self) -> None:
        user = self.current_user
        project = self.get_body_argument("delete", "")
        try:
            self.remove(user, project)
            message = f"Deleted project {project}."
        except web.HTTPError as e:
            message = e.log_message or "Could not delete the project."
            self.set_status(e.status_code)
        projects = list_projects(Path(self.home_root) / user.name)
        self.finish(await self.render_template("projects.html", projects=projects, message=message))


class _ProjectsAPIBase(_ProjectsMixin, APIHandler):
    def target_user(self, name: str) -> Any:
        me = self.current_user
        if me is None or not hasattr(me, "spawners"):
            raise web.HTTPError(403, "Log in as a user to manage projects.")
        if me.name != name and not me.admin:
            raise web.HTTPError(403, "You may manage only your own projects.")
        user = self.find_user(name)
        if user is None:
            raise web.HTTPError(404, f"No user {name!r}.")
        return self.users[user]


class ProjectsAPI(_ProjectsAPIBase):
    async def get(self, name: str) -> None:
        user = self.target_user(name)
        self.write({"projects": list_projects(Path(self.home_root) / user.name)})


class ProjectAPI(_ProjectsAPIBase):
    async def delete(self, name: str, project: str) -> None:
        user = self.target_user(name)
        self.remove(user, project)
        self.set_status(204)
        self.finish()
