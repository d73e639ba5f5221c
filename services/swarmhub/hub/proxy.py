"""The hub's side of a configurable-http-proxy that runs in a container of its own.

The hub neither starts nor stops that proxy (should_start is False), so a hub restart
or upgrade leaves users' open connections to their servers alone. The proxy keeps its
routing table in memory only: when the proxy itself restarts (a crash, a new proxy
image) it comes back empty. JupyterHub fills it again only at its next activity check
(minutes); this class looks every few seconds and gives a proxy that lost its route
to the hub every route back at once.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.proxy import ConfigurableHTTPProxy
from tornado.ioloop import PeriodicCallback
from traitlets import Integer, default


class ExternalProxy(ConfigurableHTTPProxy):
    """configurable-http-proxy run apart from the hub, whose routes the hub restores."""

    route_check_seconds = Integer(
        10, config=True, help="Seconds between looks for a proxy that came back empty."
    )

    @default("should_start")
    def _should_start_default(self) -> bool:
        return False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._route_watch: PeriodicCallback | None = None
        if self.route_check_seconds > 0:
            self._route_watch = PeriodicCallback(
                self.restore_routes_if_lost, 1e3 * self.route_check_seconds
            )
            self._route_watch.start()

    async def restore_routes_if_lost(self) -> bool:
        """Give every route back to a proxy without the hub's route; True when it did."""
        try:
            routes = await self.get_all_routes()
        except Exception as e:  # the proxy is down or restarting: look again later
            self.log.warning("The proxy's routes could not be read (%s); looking again soon", e)
            return False
        if self.app.hub.routespec in routes:
            return False
        self.log.warning(
            "The proxy has no route to the hub (it restarted, and lost its table): "
            "restoring the routes of the hub, the servers and the services"
        )
        await self.restore_routes()
        return True
