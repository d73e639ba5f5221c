"""One node's part of a job the hub runs on every node: pull an image built from git
with the node's own registry login, or remove it (node_images.py starts these).

Run as `python3 -c SCRIPT ACTION IMAGE` in a container of the notebook image with
the node's engine socket and its registry login (/root/.docker/config.json) mounted.
Standard library only: it runs in an image that knows nothing of swarmhub. Exits 0
when the node has the image (pull) or no longer has it, or it is in use (remove).
"""

import base64
import http.client
import json
import socket
import sys
import urllib.parse

ENGINE_SOCKET = "/var/run/docker.sock"
LOGIN_FILE = "/root/.docker/config.json"


class EngineConnection(http.client.HTTPConnection):
    def __init__(self) -> None:
        super().__init__("localhost", timeout=1800)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(ENGINE_SOCKET)


def registry_auth(image: str) -> str:
    """The X-Registry-Auth header for the image's registry, from the node's login."""
    registry = image.split("/", 1)[0]
    with open(LOGIN_FILE) as f:
        auths = json.load(f).get("auths", {})
    user, _, password = base64.b64decode(auths[registry]["auth"]).decode().partition(":")
    login = {"username": user, "password": password, "serveraddress": registry}
    return base64.urlsafe_b64encode(json.dumps(login).encode()).decode()


def pull(image: str) -> int:
    engine = EngineConnection()
    query = urllib.parse.urlencode({"fromImage": image})
    engine.request(
        "POST", f"/images/create?{query}", headers={"X-Registry-Auth": registry_auth(image)}
    )
    response = engine.getresponse()
    body = response.read().decode(errors="replace")
    # the engine answers 200 and then reports a failure in the stream
    errors = [json.loads(line).get("error") for line in body.splitlines() if '"error"' in line]
    if response.status != 200 or errors:
        print(f"pull of {image} failed: {errors or body.strip()}", file=sys.stderr)
        return 1
    print(f"pulled {image}")
    return 0


def remove(image: str) -> int:
    engine = EngineConnection()
    engine.request("DELETE", f"/images/{urllib.parse.quote(image, safe='/:@')}")
    response = engine.getresponse()
    body = response.read().decode(errors="replace").strip()
    if response.status == 409:
        print(f"{image} is still in use here, kept: {body}")
    elif response.status not in (200, 404):
        print(f"removal of {image} failed: {response.status} {body}", file=sys.stderr)
        return 1
    else:
        print(f"{image} is not on this node (any more)")
    return 0


if __name__ == "__main__":
    action, image = sys.argv[1], sys.argv[2]
    sys.exit(pull(image) if action == "pull" else remove(image))
