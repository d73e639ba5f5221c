"""python -m swarmhub.exchange --port P: serve the course exchange (waitress).

Settings from the environment: SWARMHUB_EXCHANGE_ROOT (the courses' exchange
folders), SWARMHUB_COURSES_FILE, SWARMHUB_GROUP_FILE; and the hub's service
variables HubAuth reads (JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN,
JUPYTERHUB_SERVICE_NAME).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .web import ExchangeSettings, create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swarmhub.exchange")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = ExchangeSettings(
        root=Path(os.environ.get("SWARMHUB_EXCHANGE_ROOT", "/srv/exchange")),
        courses_file=Path(
            os.environ.get("SWARMHUB_COURSES_FILE", "/etc/swarmhub/courses/courses.json")
        ),
        group_file=Path(os.environ.get("SWARMHUB_GROUP_FILE", "/etc/swarmhub/host/group")),
    )
    from waitress import serve

    # uploads are streamed to disk as they come: no request body held in memory
    serve(
        create_app(settings),
        host="0.0.0.0",
        port=args.port,
        threads=8,
        max_request_body_size=200 * 2**20,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
