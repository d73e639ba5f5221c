"""Issue 3: environment folders seeded from the image, and shared folders at
each access level, checked from inside real servers."""

from __future__ import annotations

import json
import subprocess

from tests.cluster import jupyter_ui, trial
from tests.cluster.trial import on_host


def logged_in(new_page, name):
    page = new_page()
    jupyter_ui.log_in_to_hub(page, f"{name}@example.org")
    return page


def restart(page, name, **options):
    if jupyter_ui.server_state(page, name):
        jupyter_ui.stop_server(page, name)
    jupyter_ui.start_server(page, name, **options)


def course_image_ref() -> str:
    settings = json.loads(on_host("hub", "cat /etc/swarmhub/hub.json"))
    return next(e["image"] for e in settings["environments"] if e["name"] == "course")


def test_environment_folder_is_seeded_once_and_never_overwritten(first_deploy, new_page):
    page = logged_in(new_page, "ann")
    restart(page, "ann", environment="course")
    uid = on_host("hub", "id -u ann")
    # first start: the image's files, owned by ann, and the server starts there
    assert "Welcome to the course" in on_host("hub", "cat /home/ann/course/welcome.md")
    assert on_host("hub", "stat -c %u /home/ann/course/welcome.md") == uid
    assert trial.server_cwd("ann") == "/home/ann/course"
    # the rest of the home stays reachable
    assert trial.exec_in_server("ann", "ls /home/ann").stdout.split().count("course") == 1

    trial.exec_in_server("ann", "echo 'my notes' >> /home/ann/course/welcome.md")
    restart(page, "ann", environment="course")
    assert on_host("hub", "tail -n1 /home/ann/course/welcome.md") == "my notes"

    # a new version of the image, as a site's update deploys it: a new digest in the
    # hub's settings (a push under the old tag changes nothing: test_registry.py)
    ref = course_image_ref()
    repo = ref.split("@")[0]  # by digest; by tag in older settings:
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    settings_before = on_host("hub", "cat /etc/swarmhub/hub.json")
    on_host("hub", "cp -p /etc/swarmhub/hub.json /root/hub.json.before-data-test")
    try:
        new_ref = on_host(
            "hub",
            "set -e; d=$(mktemp -d); cd $d; "
            f"printf 'FROM {ref}\\nRUN echo v2 > /home/jovyan/welcome.md "
            "&& echo new > /home/jovyan/added.md\\n' > Dockerfile; "
            f"docker build -q -t {repo}:data-test-v2 . >/dev/null; "
            f"docker push -q {repo}:data-test-v2 >/dev/null; "
            f"docker image inspect -f '{{{{index .RepoDigests 0}}}}' {repo}:data-test-v2",
            timeout=300,
        )
        for node in trial.NODES:  # as the images role pre-pulls (nodes never pull alone)
            on_host(node, f"docker pull -q {new_ref} >/dev/null", timeout=300)
        set_hub_settings(settings_before.replace(ref, new_ref))
        restart(page, "ann", environment="course")
        # the server runs the new image, and the folder is as ann left it
        assert trial.exec_in_server("ann", "cat /home/jovyan/welcome.md").stdout.strip() == "v2"
        assert on_host("hub", "tail -n1 /home/ann/course/welcome.md") == "my notes"
        # the new image's new file is not copied into the kept folder either
        assert on_host("hub", "test -e /home/ann/course/added.md || echo absent") == "absent"
    finally:
        jupyter_ui.stop_server(page, "ann")
        # byte for byte as the deploy wrote it (the next deploy must change nothing)
        on_host("hub", "cat /root/hub.json.before-data-test > /etc/swarmhub/hub.json")
        set_hub_settings(None)


def set_hub_settings(text: str | None) -> None:
    """Rewrite the hub's settings in place (the hub container mounts that one file,
    so its inode must stay; None: as they are) and restart the hub, as a deploy would."""
    if text is not None:
        subprocess.run(
            ["docker", "exec", "-i", "hub", "sh", "-c", "cat > /etc/swarmhub/hub.json"],
            input=text + "\n",
            text=True,
            check=True,
            timeout=60,
        )
    on_host("hub", "docker restart jupyterhub >/dev/null")
    on_host(
        "hub",
        "for i in $(seq 120); do curl -fsS -o /dev/null "
        "http://$(hostname -i | cut -d' ' -f1):8000/hub/health && exit 0; sleep 1; done; exit 1",
        timeout=180,
    )


def shares_seen(name):
    return set(trial.exec_in_server(name, "ls /srv/shares 2>/dev/null || true").stdout.split())


def test_share_access_levels_from_inside_servers(first_deploy, new_page):
    pages = {name: logged_in(new_page, name) for name in ("ann", "bob", "cara")}
    for name, page in pages.items():
        restart(page, name)

    # who sees what: ann all three, bob the public and his private one, cara the public
    assert shares_seen("ann") == {"handouts", "grades", "exam"}
    assert shares_seen("bob") == {"handouts", "grades"}
    assert shares_seen("cara") == {"handouts"}

    # a writer writes
    trial.exec_in_server("ann", "echo 'A+' > /srv/shares/grades/ann.txt")
    trial.exec_in_server("ann", "echo 'read me' > /srv/shares/handouts/week1.txt")
    # the hub's unix modes agree: the writers' group owns what writers make
    assert on_host("hub", "stat -c %G /srv/shares/grades/ann.txt") == "share-grades-w"
    assert on_host("hub", "stat -c %a /srv/shares/grades") == "2770"

    # a reader reads but cannot write
    assert trial.exec_in_server("bob", "cat /srv/shares/grades/ann.txt").stdout.strip() == "A+"
    denied = trial.exec_in_server("bob", "echo x > /srv/shares/grades/bob.txt", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert on_host("hub", "test -e /srv/shares/grades/bob.txt || echo absent") == "absent"
    # everyone reads the public share; its non-writers cannot change it
    assert trial.exec_in_server("cara", "cat /srv/shares/handouts/week1.txt").stdout.strip() == (
        "read me"
    )
    assert trial.exec_in_server("cara", "touch /srv/shares/handouts/x", check=False).returncode

    # a secret share leaves no trace for those it is not for
    for name in ("bob", "cara"):
        trace = trial.exec_in_server(
            name, "env; cat /proc/self/mountinfo; ls -a /srv /srv/shares; id", check=False
        )
        assert "exam" not in trace.stdout + trace.stderr, f"{name} can tell 'exam' exists"
        user = jupyter_ui.hub_api(pages[name], "GET", f"/users/{name}").text()
        assert "exam" not in user
    # the data folder is there for all, read-only
    on_host("hub", "echo 'course data' > /srv/data/README")
    assert trial.exec_in_server("cara", "cat /srv/data/README").stdout.strip() == "course data"
    assert trial.exec_in_server("cara", "touch /srv/data/x", check=False).returncode
    for name, page in pages.items():
        jupyter_ui.stop_server(page, name)
