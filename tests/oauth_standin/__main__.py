"""Run the Google OAuth stand-in: python -m tests.oauth_standin --host H --port P ...

Binds only to --host. Prints one line once the socket is listening, so a
caller can wait for it instead of sleeping.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from werkzeug.serving import make_server

from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.oauth_standin",
        description="Local stand-in for Google's OAuth 2.0 endpoints (tests only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (only this one)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = create_app(client_id=args.client_id, client_secret=args.client_secret)
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"oauth stand-in listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
