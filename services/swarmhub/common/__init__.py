"""What every wing shares: the standard library only (import-linter checks it)."""
