"""Issue 8, item 4: user containers are hardened, checked from inside real servers.

What code in a notebook could try: no capability (bounding set empty), no new
privileges, no setuid file to run, a pids limit; no way to the node it runs on,
to any other cluster host, to link-local addresses or over IPv6; the hub's API
answers, another user's server does not without that user's token.

Link-local 169.254.0.0/16 is never probed (it answers on these machines and is
not ours): the rule that drops it is checked on the node instead.
"""

from __future__ import annotations

import json
import re
import shlex

import yaml

from swarmhub.hub import settings as settings_schema
from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host

INVENTORY = trial.ROOT / "inventory" / "local" / "hosts.yml"
DROP_TIMEOUT = 3  # seconds a connection may take before it counts as dropped
NO_CAPABILITIES = "0000000000000000"
SERVER_PROCESS = "$(pgrep -o jupyterhub-sing)"  # as trial.server_cwd finds it


# --- helpers ---------------------------------------------------------------------------


def logged_in(new_page, name):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, f"{name}@example.org")
    return page


def running(page, name, environment: str | None = None) -> None:
    """The user's default server, running (in `environment` if one is named)."""
    state = jupyter_ui.server_state(page, name)
    if state.get("ready"):
        chosen = (state.get("user_options") or {}).get("environment")
        if environment is None or chosen == environment:
            return
        jupyter_ui.stop_server(page, name)
    elif state:
        jupyter_ui.stop_server(page, name)
    options = {"environment": environment} if environment else {}
    jupyter_ui.start_server(page, name, **options)


def hub_settings() -> dict:
    """The hub's settings as it reads them: hub.json with the schema's defaults."""
    return settings_schema.filled(json.loads(on_host("hub", "cat /etc/swarmhub/hub.json")))


def trial_addresses() -> dict[str, str]:
    """Each trial host's address on the trial network, by short name (hub, node1, ...)."""
    inventory = yaml.safe_load(INVENTORY.read_text())
    addresses = {}
    for group in inventory["all"]["children"].values():
        for name, host_vars in (group.get("hosts") or {}).items():
            addresses[name.split(".")[0]] = host_vars["ansible_host"]
    return addresses


def server_node(name: str) -> str:
    task = trial.running_task(f"jupyter-{name}")
    assert task, f"jupyter-{name} has no running task"
    return task["Node"]


def server_container(name: str) -> tuple[str, str]:
    node = server_node(name)
    service = f"jupyter-{name}"
    container = on_host(
        node, f"docker ps -q --filter label=com.docker.swarm.service.name={service}"
    )
    assert container, f"no container of {service} on {node}"
    return node, container


def overlay_address(name: str) -> str:
    """The server's address on the overlay network, from its swarm task (as the hub reads it)."""
    task = trial.running_task(f"jupyter-{name}")
    assert task, f"jupyter-{name} has no running task"
    network = hub_settings()["network"]
    inspected = json.loads(on_host("hub", f"docker inspect {task['ID']}"))[0]
    for attachment in inspected.get("NetworksAttachments") or []:
        if attachment["Network"]["Spec"]["Name"] == network:
            return attachment["Addresses"][0].split("/")[0]
    raise AssertionError(f"jupyter-{name} has no address on {network}: {inspected}")


def python_in_server(name: str, code: str, *args: str) -> str:
    """Run Python code in the user's server, as the user; its stdout."""
    quoted = " ".join(shlex.quote(a) for a in args)
    proc = trial.exec_in_server(name, f"python3 - {quoted} <<'PY'\n{code}\nPY")
    return proc.stdout.strip()


# Connects to each (host, port) at once, DROP_TIMEOUT seconds at most each.
PROBE = r"""
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor

def probe(target):
    host, port = target
    try:
        with socket.create_connection((host, port), timeout=float(sys.argv[2])):
            return "open"
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error: " + (e.strerror or str(e))

targets = [tuple(t) for t in json.loads(sys.argv[1])]
with ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps([[h, p, r] for (h, p), r in zip(targets, pool.map(probe, targets))]))
"""


def probe_from(name: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    out = python_in_server(name, PROBE, json.dumps(targets), str(DROP_TIMEOUT))
    return {(host, port): result for host, port, result in json.loads(out)}


# The default route's gateway, read in the container (the image has no `ip`).
GATEWAY = r"""
import socket, struct
for line in open("/proc/net/route").read().splitlines()[1:]:
    fields = line.split()
    if fields[1] == "00000000":
        print(socket.inet_ntoa(struct.pack("<L", int(fields[2], 16))))
        break
"""

# Start threads until the pids limit refuses one, at most LIMIT + 64; all end after.
THREADS = r"""
import sys, threading
limit = int(sys.argv[1])
threading.stack_size(64 * 1024)
stop = threading.Event()
started = 0
try:
    for _ in range(limit + 64):
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
except RuntimeError:
    pass
finally:
    stop.set()
print(started)
"""


def status_fields(name: str, pid: str) -> dict[str, str]:
    fields = "CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs"
    out = trial.exec_in_server(name, f"grep -E '^({fields}):' /proc/{pid}/status").stdout
    return dict(re.findall(r"^(\w+):\s+(\S+)$", out, re.M))


# --- privileges ------------------------------------------------------------------------


def test_a_server_has_no_capabilities_and_no_new_privileges(first_deploy, new_page):
    page = logged_in(new_page, "bob")
    running(page, "bob")

    # the server and what it starts (kernels, terminals), and a process started
    # in the container from outside (docker exec: only the engine's setting applies)
    for pid in (SERVER_PROCESS, "self"):
        status = status_fields("bob", pid)
        for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert status[field] == NO_CAPABILITIES, f"{field} of {pid}: {status}"
        assert status["NoNewPrivs"] == "1", f"NoNewPrivs of {pid}: {status}"

    # what the engine was asked for, and what the container got
    template = json.loads(
        on_host("hub", "docker service inspect -f '{{json .Spec.TaskTemplate}}' jupyter-bob")
    )
    assert template["ContainerSpec"]["CapabilityDrop"] == ["ALL"]
    limit = hub_settings()["pids_limit"]
    assert template["Resources"]["Limits"]["Pids"] == limit
    node, container = server_container("bob")
    host_config = json.loads(
        on_host(node, f"docker inspect -f '{{{{json .HostConfig}}}}' {container}")
    )
    assert host_config["CapDrop"] == ["ALL"] and host_config["PidsLimit"] == limit
    daemon = json.loads(on_host(node, "cat /etc/docker/daemon.json"))
    assert daemon["no-new-privileges"] is True


def test_no_setuid_or_setgid_file_in_either_image(first_deploy, new_page):
    bob = logged_in(new_page, "bob")
    cara = logged_in(new_page, "cara")
    running(bob, "bob", "python")
    running(cara, "cara", "course")
    for name in ("bob", "cara"):
        found = trial.exec_in_server(
            name, "find / -xdev -perm /6000 -type f 2>/dev/null", check=False
        )
        assert found.stdout.strip() == "", f"in {name}'s server: {found.stdout}"
        # the terminal's tools still work without them
        # with the server's own environment (nss_wrapper names the uid: ssh wants a name)
        tools = trial.exec_in_server(
            name,
            "export $(tr '\\0' '\\n' < /proc/$(pgrep -o jupyterhub-sing)/environ "
            "| grep -E '^(LD_PRELOAD|NSS_WRAPPER_[A-Z]+)='); "
            "ssh -V 2>&1; git --version; bash -c 'echo bash ok'",
        )
        assert "OpenSSH" in tools.stdout and "git version" in tools.stdout
        assert "bash ok" in tools.stdout


def test_the_pids_limit_holds(first_deploy, new_page):
    page = logged_in(new_page, "bob")
    running(page, "bob")
    limit = hub_settings()["pids_limit"]
    seen = trial.exec_in_server(
        "bob", "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"
    )
    assert seen.stdout.strip() == str(limit)
    # bounded: at most limit + 64 threads, all released at once
    started = int(python_in_server("bob", THREADS, str(limit)))
    print(f"\nthreads started under a pids limit of {limit}: {started}")
    assert 0 < started < limit
    # and the server is still there
    assert jupyter_ui.server_state(page, "bob").get("ready")


# --- network ---------------------------------------------------------------------------


def test_a_server_reaches_no_cluster_host_only_the_hub_api(first_deploy, new_page):
    page = logged_in(new_page, "bob")
    running(page, "bob")
    hosts = trial_addresses()
    node = server_node("bob")
    other_node = next(n for n in trial.NODES if n != node)

    # every address of its own node (trial network, docker_gwbridge, docker0, ...)
    own = sorted(a for a in on_host(node, "hostname -I").split() if ":" not in a)
    gateway = python_in_server("bob", GATEWAY)
    assert gateway in own, f"the default gateway {gateway} is not {node}'s: {own}"
    targets: list[tuple[str, int]] = [(a, p) for a in own for p in (22, 2377, 7946)]
    targets += [(hosts["hub"], p) for p in (22, 2377, 7946, 5000, 8000, 2049)]
    targets += [(hosts[other_node], p) for p in (22, 7946)]
    targets += [(hosts["proxy"], p) for p in (22, 443)]
    results = probe_from("bob", targets)
    answered = {t: r for t, r in results.items() if r != "timeout"}
    assert answered == {}, f"from bob's server on {node}, these did not time out: {answered}"

    # the hub's API answers, on the overlay network
    api_url = trial.exec_in_server("bob", "echo $JUPYTERHUB_API_URL").stdout.strip()
    settings = hub_settings()
    assert api_url == f"http://{settings['hub_connect_host']}:{settings['hub_api_port']}/hub/api"
    reply = python_in_server(
        "bob",
        "import json, os, urllib.request\n"
        "with urllib.request.urlopen(os.environ['JUPYTERHUB_API_URL'], timeout=10) as r:\n"
        "    print(r.status, json.load(r).get('version'))",
    )
    assert reply.startswith("200 "), reply


def test_the_node_drops_link_local_and_ipv6_from_containers(first_deploy, new_page):
    page = logged_in(new_page, "bob")
    running(page, "bob")
    node = server_node("bob")
    # 169.254.0.0/16: the rule, never a probe
    forward = on_host(node, "iptables -S DOCKER-USER")
    for bridge in ("docker_gwbridge", "docker0"):
        # (iptables -S prints the destination before the interface)
        assert f"-A DOCKER-USER -d 169.254.0.0/16 -i {bridge} -j DROP" in forward
    incoming = on_host(node, "iptables -S INPUT")
    for bridge in ("docker_gwbridge", "docker0"):
        assert re.search(
            rf"^-A INPUT -i {bridge} -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP$",
            incoming,
            re.M,
        ), incoming

    if on_host(node, "test -e /proc/net/if_inet6 && echo yes", check=False) != "yes":
        return  # no IPv6 on this kernel
    incoming6 = on_host(node, "ip6tables -S INPUT")
    forward6 = on_host(node, "ip6tables -S FORWARD")
    for bridge in ("docker_gwbridge", "docker0"):
        assert f"-A INPUT -i {bridge} -j DROP" in incoming6
        assert f"-A FORWARD -i {bridge} -j DROP" in forward6
    # the node's link-local address on docker_gwbridge, on each of the container's links
    shown = on_host(node, "ip -6 -o addr show dev docker_gwbridge scope link", check=False)
    link_local = re.findall(r"inet6 (fe80::[0-9a-f:]+)/", shown)
    if link_local:
        links = trial.exec_in_server("bob", "ls /sys/class/net").stdout.split()
        targets = [(f"{link_local[0]}%{link}", 22) for link in links if link != "lo"]
        results = probe_from("bob", targets)
        assert "open" not in results.values(), results


def test_another_users_server_does_not_answer_without_her_token(first_deploy, new_page):
    bob = logged_in(new_page, "bob")
    cara = logged_in(new_page, "cara")
    running(bob, "bob")
    running(cara, "cara")
    trial.exec_in_server("cara", "echo private > ~/cara-only.txt")
    address = overlay_address("cara")
    base = f"http://{address}:8888/user/cara"

    fetch = r"""
import json, os, sys, urllib.error, urllib.request

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

opener = urllib.request.build_opener(NoRedirect)
results = {}
for url, token in json.loads(sys.argv[1]):
    headers = {"Authorization": "token " + os.environ[token]} if token else {}
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as r:
            results[url + " " + token] = [r.status, "", r.read().decode(errors="replace")]
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        results[url + " " + token] = [e.code, e.headers.get("Location", ""), body]
print(json.dumps(results))
"""
    requests = [
        (f"{base}/api/contents", ""),
        (f"{base}/api/kernels", ""),
        (f"{base}/api/terminals", ""),
        (f"{base}/files/cara-only.txt", ""),
        (f"{base}/lab", ""),
        # bob's own server token is no key to cara's server
        (f"{base}/api/contents", "JUPYTERHUB_API_TOKEN"),
    ]
    answers = json.loads(python_in_server("bob", fetch, json.dumps(requests)))
    seen = {key: answer[:2] for key, answer in answers.items()}
    print(f"\ncara's server, asked from bob's: {seen}")
    for key, (status, location, body) in answers.items():
        assert "cara-only" not in body and "private" not in body, key
        if "/api/" in key:
            # the REST API (jupyter_server's APIHandler): refused outright
            assert status == 403, (key, status, body[:200])
        else:
            # pages and files: sent to the hub to log in (OAuth), nothing of cara's shown
            assert status == 302 and "/hub/api/oauth2/authorize" in location, (key, status)
