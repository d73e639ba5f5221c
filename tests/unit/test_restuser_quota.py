"""restuser's quota pieces: sizes, the overrides file, the setquota command line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from swarmhub.restuser import Quota, format_size, make_quota, parse_size
from swarmhub.restuser.__main__ import config_from_args, parse_args
from swarmhub.restuser.quota import (
    OverridesFile,
    find_mount_point,
    load_overrides_text,
    setquota_argv,
)

GIB = 1024 * 1024  # in KiB


@pytest.mark.parametrize(
    "text, kib",
    [
        ("5G", 5 * GIB),
        ("5g", 5 * GIB),
        ("512M", 512 * 1024),
        ("100K", 100),
        ("2T", 2 * 1024 * GIB),
        (" 6G ", 6 * GIB),
        ("0", 0),
        (0, 0),
        ("0G", 0),
    ],
)
def test_sizes_are_read_in_kib(text, kib):
    assert parse_size(text, "quota") == kib


@pytest.mark.parametrize(
    "value, complaint",
    [
        ("5", "has no unit"),  # KiB to setquota, bytes to most people: refused
        (5000, "has no unit"),
        ("5GB", "is not a size"),
        ("5.5G", "is not a size"),
        ("-1G", "is not a size"),
        ("5P", "is not a size"),
        ("", "is not a size"),
        ("lots", "is not a size"),
        (True, "is not a size"),
        (None, "is not a size"),
        ([5], "is not a size"),
    ],
)
def test_bad_sizes_say_what_to_write(value, complaint):
    with pytest.raises(ValueError) as e:
        parse_size(value, "users file: ann quota soft")
    message = str(e.value)
    assert message.startswith("users file: ann quota soft: ")
    assert complaint in message
    assert 'e.g. "5G"' in message


@pytest.mark.parametrize("kib", [0, 1, 100, 1024, 5 * GIB, 6 * GIB + 1, 3 * 1024 * GIB, 1536])
def test_format_size_reads_back_the_same(kib):
    text = format_size(kib)
    assert parse_size(text, "x") == kib


def test_format_size_uses_the_largest_exact_unit():
    assert [format_size(k) for k in (0, 512, 2048, 5 * GIB, 1536 * 1024)] == [
        "0",
        "512K",
        "2M",
        "5G",
        "1536M",
    ]


def test_soft_above_hard_is_refused():
    with pytest.raises(ValueError, match="soft limit 7G is above the hard limit 6G"):
        make_quota("7G", "6G", "ann")
    # no hard limit: any soft limit is fine
    assert make_quota("7G", 0, "ann") == Quota(7 * GIB, 0)
    assert make_quota("5G", "6G", "ann").as_json() == {"soft": "5G", "hard": "6G"}


def test_setquota_command_line():
    argv = setquota_argv("/usr/sbin/setquota", 1001, Quota(5 * GIB, 6 * GIB), "/home")
    assert argv == ["/usr/sbin/setquota", "-u", "1001", "5242880", "6291456", "0", "0", "/home"]
    with pytest.raises(ValueError):
        setquota_argv("/usr/sbin/setquota", -1, Quota(), "/home")


DEFAULT = Quota(5 * GIB, 6 * GIB)


def test_overrides_json_and_yaml_read_alike():
    as_json = '{"ann": {"soft": "10G", "hard": "12G"}, "bob": {"hard": "8G"}}'
    as_yaml = "ann: {soft: 10G, hard: 12G}\nbob:\n  hard: 8G\n"
    expected = {"ann": Quota(10 * GIB, 12 * GIB), "bob": Quota(5 * GIB, 8 * GIB)}
    assert load_overrides_text(as_json, DEFAULT, "f") == expected
    assert load_overrides_text("", DEFAULT, "f") == {}
    assert load_overrides_text("{}", DEFAULT, "f") == {}
    # YAML only where PyYAML is installed (restuser itself needs just the stdlib)
    pytest.importorskip("yaml")
    assert load_overrides_text(as_yaml, DEFAULT, "f") == expected


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("[1, 2]", "must be a map of user name"),
        ('{"ann": "10G"}', "the entry of 'ann' must be a map"),
        ('{"ann": {"soft": "10G", "hrad": "12G"}}', "unknown key(s) hrad"),
        ('{"ann": {"soft": "10"}}', "'ann' soft: '10' has no unit"),
        ('{"ann": {"soft": "13G", "hard": "12G"}}', "soft limit 13G is above the hard limit"),
    ],
)
def test_bad_overrides_name_the_file_and_the_user(text, complaint):
    with pytest.raises(ValueError) as e:
        load_overrides_text(text, DEFAULT, "/etc/swarmhub/quota-overrides.json")
    assert str(e.value).startswith("/etc/swarmhub/quota-overrides.json")
    assert complaint in str(e.value)


def test_a_file_that_is_neither_json_nor_yaml_says_so(monkeypatch):
    try:
        import yaml  # noqa: F401
    except ImportError:
        expected = "not valid JSON (Expecting value: line 1 column 1 (char 0)); write it as JSON"
    else:
        expected = "neither JSON nor YAML"
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_overrides_text("ann: [unclosed", DEFAULT, "overrides.json")


def test_the_overrides_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "overrides.json"
    overrides = OverridesFile(path, DEFAULT)
    assert overrides.get() == {}  # no file: no overrides
    path.write_text('{"ann": {"soft": "1G", "hard": "2G"}}')
    assert overrides.get() == {"ann": Quota(GIB, 2 * GIB)}
    # replaced the way Ansible does it: a new file renamed over the old one
    new = tmp_path / "new.json"
    new.write_text('{"ann": {"soft": "3G", "hard": "4G"}}')
    new.rename(path)
    assert overrides.get() == {"ann": Quota(3 * GIB, 4 * GIB)}
    path.write_text("{broken")
    with pytest.raises(ValueError, match="overrides.json"):
        overrides.get()
    path.unlink()
    assert overrides.get() == {}


def test_find_mount_point(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    mount = find_mount_point(deep)
    assert os.path.ismount(mount)
    assert deep.resolve().is_relative_to(mount)
    assert find_mount_point(Path("/")) == Path("/")
    with pytest.raises(FileNotFoundError):
        find_mount_point(tmp_path / "missing")


def test_quota_flags():
    args = parse_args(
        [
            "--socket",
            "s",
            "--quota-enabled",
            "--quota-soft",
            "5G",
            "--quota-hard",
            "6G",
            "--quota-overrides",
            "/etc/swarmhub/quota-overrides.json",
        ]
    )
    config = config_from_args(args)
    assert config.quota_enabled
    assert config.default_quota == Quota(5 * GIB, 6 * GIB)
    assert config.quota_overrides == "/etc/swarmhub/quota-overrides.json"
    assert (config.setquota, config.quota_filesystem) == ("/usr/sbin/setquota", None)
    off = config_from_args(parse_args(["--socket", "s"]))
    assert not off.quota_enabled and off.default_quota == Quota(0, 0)


@pytest.mark.parametrize(
    "flags, complaint",
    [
        (["--quota-soft", "5"], "--quota-soft/--quota-hard soft: '5' has no unit"),
        (["--quota-soft", "7G", "--quota-hard", "6G"], "soft limit 7G is above"),
        (["--quota-overrides", "relative.json"], "quota_overrides must be an absolute path"),
    ],
)
def test_bad_quota_flags_are_refused(flags, complaint):
    with pytest.raises(ValueError) as e:
        config_from_args(parse_args(["--socket", "s", "--quota-enabled", *flags]))
    assert complaint in str(e.value)
