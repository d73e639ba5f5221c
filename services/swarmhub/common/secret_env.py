"""Run a command with secrets read from files into its environment.

    python -m swarmhub.common.secret_env NAME=FILE [NAME=FILE ...] -- COMMAND [ARG ...]

Sidecars get their tokens as read-only mounted files, so `docker inspect`
shows no secret; tools that read a token only from their environment
(jupyterhub-idle-culler, HubOAuth) get it here, in their own process only.
Standard library only.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence

_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


class SecretEnvError(Exception):
    """Bad arguments or an unreadable secret file; the message says which."""


def parse_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """({NAME: FILE}, COMMAND) from NAME=FILE ... -- COMMAND ..."""
    if "--" not in argv:
        raise SecretEnvError("usage: secret_env NAME=FILE [NAME=FILE ...] -- COMMAND [ARG ...]")
    cut = list(argv).index("--")
    files: dict[str, str] = {}
    for item in argv[:cut]:
        name, sep, path = item.partition("=")
        if not sep or not _NAME.fullmatch(name) or not path:
            raise SecretEnvError(f"{item!r} is not NAME=FILE (NAME in capitals)")
        files[name] = path
    command = list(argv[cut + 1 :])
    if not command:
        raise SecretEnvError("no command after --")
    return files, command


def read_secrets(files: Mapping[str, str]) -> dict[str, str]:
    """Each file's content without its trailing newline; empty files are refused."""
    values = {}
    for name, path in files.items():
        try:
            with open(path, encoding="utf-8") as f:
                value = f.read().rstrip("\n")
        except OSError as e:
            raise SecretEnvError(f"cannot read {path} for {name}: {e.strerror}") from None
        if not value or "\n" in value:
            raise SecretEnvError(f"{path} for {name} must hold one non-empty line")
        values[name] = value
    return values


def main(argv: Sequence[str] | None = None) -> None:
    try:
        files, command = parse_args(sys.argv[1:] if argv is None else argv)
        env = {**os.environ, **read_secrets(files)}
    except SecretEnvError as e:
        sys.exit(f"secret_env: {e}")
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
