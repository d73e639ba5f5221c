#!/usr/bin/python3
"""Ansible module: can the filesystem holding a folder have user quotas, and how?

Read-only. Looks at the mount (/proc/self/mountinfo), the kernel (/proc/sys/fs/quota
and, where readable, its build config) and, for ext4, the superblock features
(tune2fs -l). Fails with every problem found and what to do about each; otherwise
returns how quotas work there (mode: files, journaled or xfs).

The decision is the plain function `decide`, tested on its own (tests/unit).
"""

from __future__ import annotations

import gzip
import os
import subprocess
from typing import Any

DOCUMENTATION = r"""
module: swarmhub_quota_probe
short_description: Check that user quotas can work on the filesystem holding a path
options:
  path: {description: A folder on the filesystem to check., type: path, required: true}
  kernel_config_files:
    description: Where the kernel's build config may be (the first readable one is used).
    type: list
    elements: path
    default: []
"""

EXT = ("ext4", "ext3", "ext2")
USRQUOTA_OPTIONS = ("usrquota", "quota", "usrjquota")
XFS_USRQUOTA_OPTIONS = ("usrquota", "uquota", "quota", "uqnoenforce", "qnoenforce")
CONFIG_KEYS = ("CONFIG_QUOTA", "CONFIG_QFMT_V2", "CONFIG_XFS_QUOTA")
OFF_HINT = "or set swarmhub_quotas_enabled: false (in your inventory's group_vars) to run without quotas"


def decide(facts: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(mode, problems) from the facts gathered by `gather`.

    mode is "files" (ext4 mounted with usrquota: quota files, quotacheck and
    quotaon), "journaled" (ext4 quota feature: quotaon only) or "xfs" (on at mount).
    """
    problems: list[str] = []
    fstype, mount, device = facts["fstype"], facts["mount_point"], facts["device"]
    options = set(facts["options"])
    option_names = {option.split("=", 1)[0] for option in options}
    config = facts.get("kernel_config") or {}
    where = f"{facts['path']} is on {mount} ({fstype} on {device})"

    if fstype in EXT:
        if not facts["kernel_quota"] or config.get("CONFIG_QUOTA") == "n":
            problems.append(
                f"this kernel ({facts['kernel']}) was built without quota support "
                "(CONFIG_QUOTA): run the hub on a kernel with it (Debian's stock kernels "
                f"have it), {OFF_HINT}"
            )
        elif config and config.get("CONFIG_QFMT_V2") not in ("y", "m"):
            problems.append(
                f"this kernel ({facts['kernel']}) has quota support but not the quota "
                "format ext4 uses (CONFIG_QFMT_V2): quotaon would fail with 'Quota format "
                f"not supported in kernel'; run the hub on a kernel with it, {OFF_HINT}"
            )
        journaled = "quota" in facts.get("ext_features", [])
        if journaled:
            mode = "journaled"
        elif option_names & set(USRQUOTA_OPTIONS):
            mode = "files"
        else:
            mode = None
            problems.append(
                f"{where}, mounted without user quotas: add usrquota to its options in "
                f"/etc/fstab and remount it (mount -o remount {mount}), or turn on the ext4 "
                f"quota feature (tune2fs -O quota {device}, while unmounted), {OFF_HINT}"
            )
        return (mode if not problems else None), problems

    if fstype == "xfs":
        if config and config.get("CONFIG_XFS_QUOTA") not in ("y", "m"):
            problems.append(
                f"this kernel ({facts['kernel']}) has no XFS quota support "
                f"(CONFIG_XFS_QUOTA): run the hub on a kernel with it, {OFF_HINT}"
            )
        if not option_names & set(XFS_USRQUOTA_OPTIONS):
            problems.append(
                f"{where}, mounted without user quotas: XFS turns them on only at mount "
                "time: add usrquota to its options in /etc/fstab (for the root filesystem: "
                f"rootflags=usrquota on the kernel command line) and reboot, {OFF_HINT}"
            )
        return ("xfs" if not problems else None), problems

    problems.append(
        f"{where}: the quotas role sets user quotas on ext4 and xfs only; put the homes "
        f"on one of them, {OFF_HINT}"
    )
    return None, problems


def gather(path: str, kernel_config_files: list[str]) -> dict[str, Any]:
    """What decide() needs, read from this host."""
    mount = find_mount(path)
    facts: dict[str, Any] = {
        "path": path,
        "kernel": os.uname().release,
        "kernel_quota": os.path.isdir("/proc/sys/fs/quota"),
        "kernel_config": read_kernel_config(kernel_config_files),
        **mount,
        "ext_features": [],
    }
    if mount["fstype"] in EXT and mount["device"].startswith("/dev/"):
        facts["ext_features"] = ext_features(mount["device"])
    return facts


def find_mount(path: str) -> dict[str, Any]:
    """The mountinfo entry of the filesystem holding `path` (its deepest mount)."""
    target = os.path.realpath(path)
    best: dict[str, Any] | None = None
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            mount_point = _unescape(fields[4])
            inside = target == mount_point or target.startswith(
                mount_point.rstrip("/") + "/"
            )
            if inside and (
                best is None or len(mount_point) >= len(best["mount_point"])
            ):
                best = {
                    "mount_point": mount_point,
                    "fstype": tail[0],
                    "device": _unescape(tail[1]),
                    # per-mount options and the filesystem's own (usrquota is there)
                    "options": fields[5].split(",") + tail[2].split(","),
                }
    if best is None:
        raise OSError(f"no mount holds {path}")
    return best


def read_kernel_config(files: list[str]) -> dict[str, str]:
    for name in files:
        try:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rt", encoding="utf-8", errors="replace") as config:
                text = config.read()
        except OSError:
            continue
        values = {}
        for line in text.splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                key, _, value = line.partition("=")
                values[key] = value
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                values[line[2:].split()[0]] = "n"
        return values
    return {}


def ext_features(device: str) -> list[str]:
    try:
        result = subprocess.run(
            ["tune2fs", "-l", device],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    for line in result.stdout.splitlines():
        if line.startswith("Filesystem features:"):
            return line.split(":", 1)[1].split()
    return []


def _unescape(text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes
    for code, char in (
        ("\\040", " "),
        ("\\011", "\t"),
        ("\\012", "\n"),
        ("\\134", "\\"),
    ):
        text = text.replace(code, char)
    return text


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "kernel_config_files": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    try:
        facts = gather(module.params["path"], module.params["kernel_config_files"])
    except OSError as e:
        module.fail_json(
            msg=f"cannot look at the filesystem of {module.params['path']}: {e}"
        )
    mode, problems = decide(facts)
    config = facts.pop("kernel_config")
    facts["kernel_config"] = (
        {key: config.get(key) for key in CONFIG_KEYS} if config else None
    )
    # not "path" or "mode": Ansible would take those for a file and add its attributes
    facts["checked"] = facts.pop("path")
    result = {"changed": False, "quota_mode": mode, "problems": problems, **facts}
    if problems:
        module.fail_json(
            msg="User quotas cannot work here:\n- " + "\n- ".join(problems), **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
