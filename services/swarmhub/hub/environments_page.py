"""The hub's environments page (/hub/environments) and its API
(/hub/api/environments...), for admins only: add an environment built from a git
repository, follow its build, rebuild it at another ref, remove it.

Registered with JupyterHub.extra_handlers, so they run in the hub with its login
and xsrf checks. The builder (swarmhub/envbuild, a unix socket) keeps the catalog
and runs the builds; the hub adds what only it knows: who asks, the deploy's own
environments (listed, never removable here), and which servers use which
environment (removal is refused while one does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from tornado import web
from tornado.iostream import StreamClosedError

from .builder_client import BuilderClient, BuilderUnavailable, environment_path

if TYPE_CHECKING:
    from .node_images import NodeImages

ENDED = ("built", "failed")
LOG_WAIT_S = 20


def environments_handlers(
    builder_socket: str,
    deploy_environments: Sequence[Mapping[str, Any]],
    node_images: NodeImages | None = None,
) -> list[tuple[str, type, dict[str, Any]]]:
    """Routes for JupyterHub.extra_handlers (relative to /hub/); none without a builder."""
    if not builder_socket:
        return []
    kwargs = {
        "builder": BuilderClient(builder_socket),
        "deploy_environments": [dict(e) for e in deploy_environments],
        "node_images": node_images,
    }
    return [
        (r"/environments", EnvironmentsPage, kwargs),
        (r"/api/environments", EnvironmentsAPI, kwargs),
        (r"/api/environments/([a-z][a-z0-9_-]*)", EnvironmentAPI, kwargs),
        (r"/api/environments/([a-z][a-z0-9_-]*)/builds", BuildsAPI, kwargs),
        (r"/api/environments/([a-z][a-z0-9_-]*)/events", BuildEvents, kwargs),
    ]


class _EnvironmentsMixin:
    builder: BuilderClient
    deploy_environments: list[dict[str, Any]]
    node_images: NodeImages | None
    current_user: Any
    users: Any

    def initialize(
        self,
        builder: BuilderClient,
        deploy_environments: list[dict[str, Any]],
        node_images: NodeImages | None,
    ) -> None:
        self.builder = builder
        self.deploy_environments = deploy_environments
        self.node_images = node_images

    def require_admin(self) -> Any:
        user = self.current_user
        if user is None:
            raise web.HTTPError(403, "Log in as an admin to manage environments.")
        if not user.admin:
            raise web.HTTPError(403, "Only the hub's admins manage environments.")
        return user

    def servers_using(self, name: str) -> list[str]:
        """The running servers of environment `name`, as "user" or "user/server"."""
        using = []
        for user in self.users.values():
            for server_name, spawner in user.spawners.items():
                if spawner.active and (spawner.user_options or {}).get("environment") == name:
                    using.append(f"{user.name}/{server_name}" if server_name else user.name)
        return sorted(using)

    async def builder_call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            status, answer = await self.builder.call(method, path, body)
        except BuilderUnavailable as e:
            raise web.HTTPError(503, str(e)) from None
        if status >= 400:
            error = web.HTTPError(status, answer.get("error") or f"the builder said {status}")
            error.field = answer.get("field")  # type: ignore[attr-defined]
            raise error
        return answer


class EnvironmentsPage(_EnvironmentsMixin, BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.require_admin()
        html = await self.render_template(
            "environments.html", deploy_environments=self.deploy_environments
        )
        self.finish(html)


class _API(_EnvironmentsMixin, APIHandler):
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # the page shows "error" next to the form's "field"
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        field = getattr(exc, "field", None)
        self.finish(json.dumps({"status": status_code, "error": message, "field": field}))


class EnvironmentsAPI(_API):
    async def get(self) -> None:
        self.require_admin()
        answer = await self.builder_call("GET", "/api/environments")
        for env in answer["environments"]:
            env["servers"] = self.servers_using(env["request"]["name"])
            if env.get("image") and self.node_images:
                env["nodes"] = self.node_images.state(env["image"])
        deploy = [
            {
                "name": e["name"],
                "description": e.get("description") or "",
                "image": e["image"],
                "servers": self.servers_using(e["name"]),
            }
            for e in self.deploy_environments
        ]
        self.finish({"deploy": deploy, **answer})

    async def post(self) -> None:
        user = self.require_admin()
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "Send the environment as JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "Send the environment as a JSON object.")
        body["added_by"] = user.name  # who asks is the hub's answer, not the page's
        answer = await self.builder_call("POST", "/api/environments", body)
        self.log.info("%s added environment %s", user.name, body.get("name"))
        self.set_status(202)
        self.finish(answer)


class EnvironmentAPI(_API):
    async def delete(self, name: str) -> None:
        user = self.require_admin()
        if any(e["name"] == name for e in self.deploy_environments):
            raise web.HTTPError(
                409, f"{name} is the deploy's (swarmhub_environments): remove it there."
            )
        using = self.servers_using(name)
        if using:
            raise web.HTTPError(
                409,
                f"{name} is in use by {len(using)} running server(s): {', '.join(using)}. "
                "Remove it once they have stopped.",
            )
        answer = await self.builder_call("DELETE", environment_path(name))
        self.log.info("%s removed environment %s", user.name, name)
        self.finish(answer)


class BuildsAPI(_API):
    async def post(self, name: str) -> None:
        user = self.require_admin()
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "Send the ref as JSON.") from None
        answer = await self.builder_call(
            "POST", environment_path(name, "builds"), {"ref": body.get("ref")}
        )
        self.log.info("%s rebuilds environment %s at %s", user.name, name, body.get("ref"))
        self.set_status(202)
        self.finish(answer)


class BuildEvents(_API):
    """The current build's log as server-sent events, as BinderHub's build API sends
    them: data: {"phase": ..., "message": ...}; the last one's phase is built or
    failed. The log so far comes first, so a page opened late sees it all."""

    async def get(self, name: str) -> None:
        self.require_admin()
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass each event on at once
        since = 0
        while True:
            answer = await self.builder_call(
                "GET", environment_path(name, "log") + f"?since={since}&wait={LOG_WAIT_S}"
            )
            events = [json.dumps(line) for line in answer["lines"]]
            if answer["state"] == "queued":
                waiting = f"Waiting for the builds before it ({answer['queue_position']} in line)."
                events.append(json.dumps({"phase": "waiting", "message": waiting}))
            since = answer["next"]
            ended = answer["state"] in ENDED and not events
            if ended:
                final = {"phase": answer["state"], "message": answer["message"], "final": True}
                events.append(json.dumps(final))
            try:
                self.write("".join(f"data: {event}\n\n" for event in events) or ": waiting\n\n")
                await self.flush()
            except StreamClosedError:
                return  # the page went away
            if ended:
                self.finish()
                return
