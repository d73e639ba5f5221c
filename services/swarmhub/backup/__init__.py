"""Encrypted duplicity backups of /home and restores of one home.

`python -m swarmhub.backup run|serve|status|list|restore ...` (see __main__).
The core is plain functions: `runner.run_backup`, `restore.restore_home`,
`duplicity.*` (command lines and output parsing), `status.*` (the status file).
"""
