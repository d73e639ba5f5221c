"""The hub's projects page (/hub/projects) and API (/hub/api/users/NAME/projects[/P]).

Registered with JupyterHub.extra_handlers, so they run in the hub with its login,
tokens and xsrf checks. The page is the logged-in user's own; the API asks for
access:servers on the user (a project's files are as open to whoever may use
the user's servers, and to nobody else): users get it for themselves, admins
for everyone, and a token only if it was given that scope.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from .projects import HomeMissing, NoSuchProject, ProjectError, delete_project, list_projects

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

    def projects_of(self, user: Any) -> list[str]:
        try:
            return list_projects(Path(self.home_root), user.name)
        except ProjectError as e:
            raise _http_error(e) from None

    async def remove(self, user: Any, project: str) -> None:
        server = self.project_in_use(user, project)
        if server is not None:
            raise web.HTTPError(
                409, f"Project {project!r} is open in server {server!r}: stop that server first."
            )
        try:
            # a big tree takes a while: not on the hub's event loop
            await asyncio.to_thread(delete_project, Path(self.home_root), user.name, project)
        except ProjectError as e:
            self.log.warning("Project %s of %s not deleted: %s", project, user.name, e)  # type: ignore[attr-defined]
            raise _http_error(e) from None
        self.log.info("Deleted project %s of %s", project, user.name)  # type: ignore[attr-defined]


def _http_error(e: ProjectError) -> web.HTTPError:
    """A missing project or name is a 404, a missing home the hub's fault (500), else 400."""
    if isinstance(e, HomeMissing):
        return web.HTTPError(500, str(e))
    if isinstance(e, NoSuchProject):
        return web.HTTPError(404, str(e))
    return web.HTTPError(400, str(e))


class ProjectsPage(_ProjectsMixin, BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        user = self.current_user
        try:
            projects, message = self.projects_of(user), ""
        except web.HTTPError as e:
            projects, message = [], e.log_message or "Your projects cannot be listed."
            self.set_status(e.status_code)
        self.finish(await self.render_template("projects.html", projects=projects, message=message))

    @web.authenticated
    async def post(self) -> None:
        user = self.current_user
        project = self.get_body_argument("delete", "")
        try:
            await self.remove(user, project)
            message = f"Deleted project {project}."
        except web.HTTPError as e:
            message = e.log_message or "Could not delete the project."
            self.set_status(e.status_code)
        try:
            projects = self.projects_of(user)
        except web.HTTPError:
            projects = []
        self.finish(await self.render_template("projects.html", projects=projects, message=message))


class _ProjectsAPIBase(_ProjectsMixin, APIHandler):
    def target_user(self, name: str) -> Any:
        """The hub user `name`; the scope check (needs_scope) has already passed."""
        user = self.find_user(name)
        if user is None:
            raise web.HTTPError(404, f"No user {name!r}.")
        return self.users[user]


class ProjectsAPI(_ProjectsAPIBase):
    @needs_scope("access:servers")
    async def get(self, user_name: str) -> None:
        user = self.target_user(user_name)
        self.write({"projects": self.projects_of(user)})


class ProjectAPI(_ProjectsAPIBase):
    @needs_scope("access:servers")
    async def delete(self, user_name: str, project: str) -> None:
        user = self.target_user(user_name)
        await self.remove(user, project)
        self.set_status(204)
        self.finish()
