"""The one error the backup commands report: what happened and what to do."""

from __future__ import annotations


class BackupError(Exception):
    """A refused or failed backup or restore; the CLI prints it and exits non-zero."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
