"""The quotas role's probe (roles/quotas/library/swarmhub_quota_probe.py): its verdict
on filesystems and kernels this machine does not have."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "swarmhub_quota_probe", ROOT / "roles/quotas/library/swarmhub_quota_probe.py"
)
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)

GOOD_KERNEL = {"CONFIG_QUOTA": "y", "CONFIG_QFMT_V2": "m", "CONFIG_XFS_QUOTA": "y"}


def facts(**changes):
    base = {
        "path": "/home",
        "kernel": "6.1.0-28-amd64",
        "kernel_quota": True,
        "kernel_config": dict(GOOD_KERNEL),
        "mount_point": "/home",
        "fstype": "ext4",
        "device": "/dev/sdb1",
        "options": ["rw", "relatime", "rw", "quota", "usrquota"],
        "ext_features": ["has_journal", "extent"],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    "changes, mode",
    [
        ({}, "files"),
        ({"options": ["rw", "usrjquota=aquota.user", "jqfmt=vfsv0"]}, "files"),
        ({"options": ["rw"], "ext_features": ["has_journal", "quota"]}, "journaled"),
        ({"kernel_config": {}}, "files"),  # config unreadable: quotaon will tell
        ({"fstype": "xfs", "options": ["rw", "usrquota"]}, "xfs"),
        ({"fstype": "xfs", "options": ["rw", "uqnoenforce"]}, "xfs"),
    ],
)
def test_filesystems_that_can_have_quotas(changes, mode):
    assert probe.decide(facts(**changes)) == (mode, [])


@pytest.mark.parametrize(
    "changes, expected",
    [
        (
            {"options": ["rw", "relatime"]},
            [
                "/home is on /home (ext4 on /dev/sdb1), mounted without user quotas: add "
                "usrquota to its options in /etc/fstab and remount it"
            ],
        ),
        ({"kernel_quota": False}, ["was built without quota support (CONFIG_QUOTA)"]),
        (
            # this machine: quota support, but no quota format for ext4
            {"kernel_config": {"CONFIG_QUOTA": "y", "CONFIG_QFMT_V2": "n"}},
            ["not the quota format ext4 uses (CONFIG_QFMT_V2)"],
        ),
        (
            {"kernel_config": {"CONFIG_QUOTA": "y", "CONFIG_QFMT_V2": "n"}, "options": ["rw"]},
            ["(CONFIG_QFMT_V2)", "mounted without user quotas"],
        ),
        (
            {"fstype": "xfs", "options": ["rw"]},
            ["XFS turns them on only at mount time: add usrquota to its options in /etc/fstab"],
        ),
        (
            {"fstype": "xfs", "kernel_config": {"CONFIG_XFS_QUOTA": "n"}},
            ["no XFS quota support (CONFIG_XFS_QUOTA)"],
        ),
        ({"fstype": "overlay"}, ["sets user quotas on ext4 and xfs only"]),
        ({"fstype": "nfs4"}, ["sets user quotas on ext4 and xfs only"]),
    ],
)
def test_what_cannot_have_quotas_says_what_to_do(changes, expected):
    mode, problems = probe.decide(facts(**changes))
    assert mode is None
    assert len(problems) == len(expected)
    for problem, text in zip(problems, expected, strict=True):
        assert text in problem
        assert problem.endswith(
            "or set swarmhub_quotas_enabled: false (in your inventory's group_vars) "
            "to run without quotas"
        )


def test_the_mount_of_a_path_is_its_deepest(tmp_path):
    mount = probe.find_mount(str(tmp_path))
    assert Path(tmp_path).resolve().is_relative_to(mount["mount_point"])
    assert mount["fstype"] and mount["options"]
    assert probe.find_mount("/")["mount_point"] == "/"


def test_the_kernel_config_is_read(tmp_path):
    config = tmp_path / "config-6.1.0"
    config.write_text("CONFIG_QUOTA=y\n# CONFIG_QFMT_V2 is not set\nCONFIG_XFS_QUOTA=m\n")
    assert probe.read_kernel_config([str(tmp_path / "missing"), str(config)]) == {
        "CONFIG_QUOTA": "y",
        "CONFIG_QFMT_V2": "n",
        "CONFIG_XFS_QUOTA": "m",
    }
    assert probe.read_kernel_config([]) == {}
