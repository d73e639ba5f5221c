"""python -m swarmhub.envbuild: the environment builder's API on a unix socket
(waitress), and its queue of builds.

Settings from the environment (the role sets them):
  SWARMHUB_ENVBUILD_SOCKET       the socket (default /run/swarmhub-envbuild/api.sock)
  SWARMHUB_ENVBUILD_STATE        the catalog and build logs (default /srv/envbuild/state)
  SWARMHUB_ENVBUILD_REGISTRY     the cluster's registry, host:port
  SWARMHUB_ENVBUILD_NOTEBOOK_IMAGE  the notebook image, by digest
  SWARMHUB_ENVBUILD_AT_ONCE      builds at once (default 1)
  SWARMHUB_ENVBUILD_TIMEOUT_MIN  a build's time limit in minutes (default 30)
  SWARMHUB_ENVBUILD_MAX_MEM, SWARMHUB_ENVBUILD_MAX_CPU  the largest limits (8G, 4)
  SWARMHUB_ENVBUILD_SCHEMES      git URL schemes allowed (default https)
  SWARMHUB_ENVBUILD_DEPLOY_NAMES the deploy's environments' names, one a line
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from ..common.environment_requests import SCHEMES, Limits, parse_mem
from .builder import BuilderSettings
from .service import BuildService
from .web import create_app


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    env = os.environ
    schemes = tuple(
        s for s in env.get("SWARMHUB_ENVBUILD_SCHEMES", "https").split(",") if s in SCHEMES
    )
    settings = BuilderSettings(
        registry=env["SWARMHUB_ENVBUILD_REGISTRY"],
        notebook_image=env["SWARMHUB_ENVBUILD_NOTEBOOK_IMAGE"],
        timeout_s=60 * int(env.get("SWARMHUB_ENVBUILD_TIMEOUT_MIN", "30")),
        schemes=schemes or ("https",),
    )
    limits = Limits(
        max_mem=parse_mem(env.get("SWARMHUB_ENVBUILD_MAX_MEM", "8G")),
        max_cpu=float(env.get("SWARMHUB_ENVBUILD_MAX_CPU", "4")),
        schemes=settings.schemes,
    )
    service = BuildService(
        settings,
        Path(env.get("SWARMHUB_ENVBUILD_STATE", "/srv/envbuild/state")),
        at_once=int(env.get("SWARMHUB_ENVBUILD_AT_ONCE", "1")),
        deploy_names=env.get("SWARMHUB_ENVBUILD_DEPLOY_NAMES", "").split(),
    )
    service.start_due()  # builds queued before a restart
    from waitress import serve

    serve(
        create_app(service, limits),
        unix_socket=env.get("SWARMHUB_ENVBUILD_SOCKET", "/run/swarmhub-envbuild/api.sock"),
        unix_socket_perms="660",
        threads=16,  # each page following a log holds one while it waits
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
