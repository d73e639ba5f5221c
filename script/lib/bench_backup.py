"""Backup benchmark (script/bench backup): duplicity through the swarmhub runner
against GNU tar on the same generated home tree, in the same run.

  full         `python -m swarmhub.backup run` (a first, full backup; encrypted)
               vs `tar --listed-incremental -czf` level 0
  incremental  after changing CHANGED% of the files: the runner again
               vs `tar --listed-incremental -czf` level 1
  restore      `restore USER --into DIR` of the latest backup
               vs `tar -xzf` level 0 then level 1

Both sides compress; duplicity also encrypts (gpg, AES256) and keeps rsync
signatures. The tree: FILES files in a few hundred folders of one home,
SIZE in all, each half random bytes and half text (so compression matters
as it does for notebooks and data). Runs as root (owners are restored).
Usage: python bench_backup.py [--size-mb 1024] [--files 10000] [--changed-pct 1]
       [--workdir /var/tmp] [--duplicity PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".venv" / "backup-tools"
UID = GID = 2001


def ensure_duplicity() -> str:
    """duplicity as the image pins it, in .venv/backup-tools (as the integration tests)."""
    requirements = ROOT / "images" / "backup" / "requirements.txt"
    stamp = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp_file = TOOLS / ".stamp"
    if not (stamp_file.exists() and stamp_file.read_text() == stamp):
        print("installing duplicity into .venv/backup-tools", file=sys.stderr)
        shutil.rmtree(TOOLS, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        pip = [
            str(TOOLS / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
        ]
        subprocess.run([*pip, "--no-deps", "-r", str(requirements)], check=True)
        stamp_file.write_text(stamp)
    return str(TOOLS / "bin" / "duplicity")


def generate(home: Path, size: int, files: int, rng: random.Random) -> list[Path]:
    text = b"".join(
        f"cell {i}: print('analysis of week {i % 13}', sum(range({i})))\n".encode()
        for i in range(4000)
    )
    per_file = max(1, size // files)
    paths = []
    for i in range(files):
        folder = home / f"course{i % 7}" / f"week{i % 13:02d}" / f"part{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{i:05d}.dat"
        # sizes vary around the mean: many small files and some large ones
        n = max(1, int(per_file * rng.choice((0.1, 0.5, 1, 1, 1.5, 1.9))))
        half = n // 2
        body = rng.randbytes(half) + (text * (1 + (n - half) // len(text)))[: n - half]
        path.write_bytes(body)
        paths.append(path)
    for path in [home, *home.rglob("*")]:
        os.lchown(path, UID, GID)
    return paths


def change(paths: list[Path], pct: float, rng: random.Random) -> int:
    chosen = rng.sample(paths, max(1, int(len(paths) * pct / 100)))
    for path in chosen:
        data = bytearray(path.read_bytes())
        # rewrite a quarter of the file in the middle, as an edit would
        start, length = len(data) // 3, max(1, len(data) // 4)
        data[start : start + length] = rng.randbytes(length)[: len(data) - start]
        path.write_bytes(bytes(data))
    return len(chosen)


def timed(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> float:
    start = time.monotonic()
    result = subprocess.run(
        argv, check=False, env=env, cwd=cwd, capture_output=True, text=True
    )
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(
            f"bench: {argv[:4]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return elapsed


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    parser.add_argument("--workdir", default="/var/tmp")
    parser.add_argument(
        "--duplicity", help="duplicity to use (default: as the image pins it)"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (restores set owners)")
    duplicity = args.duplicity or ensure_duplicity()
    rng = random.Random(4)
    base = Path(tempfile.mkdtemp(prefix="swarmhub-bench-backup-", dir=args.workdir))
    try:
        home_root = base / "home"
        home = home_root / "ann"
        print(
            f"generating {args.size_mb} MB in {args.files} files ...", file=sys.stderr
        )
        paths = generate(home, args.size_mb * 1024 * 1024, args.files, rng)
        size = du(home)
        (base / "passphrase").write_text("bench passphrase, long enough\n")
        env = {
            **os.environ,
            "SWARMHUB_BACKUP_TARGET_URL": f"file://{base / 'target'}",
            "SWARMHUB_BACKUP_SOURCE": str(home_root),
            "SWARMHUB_BACKUP_ARCHIVE_DIR": str(base / "cache"),
            "SWARMHUB_BACKUP_STATE_DIR": str(base / "state"),
            "SWARMHUB_BACKUP_PASSPHRASE_FILE": str(base / "passphrase"),
            "SWARMHUB_BACKUP_PASSWD_FILE": "",
            "SWARMHUB_BACKUP_DUPLICITY": duplicity,
            "PYTHONPATH": str(ROOT / "services"),
        }
        runner = [sys.executable, "-m", "swarmhub.backup"]
        tar = base / "tar"
        tar.mkdir()
        snapshot = tar / "snapshot"
        results = []
        subprocess.run(["sync"], check=True)

        print("full backups ...", file=sys.stderr)
        dup_full = timed([*runner, "run"], env)
        tar_full = timed(["tar", "--listed-incremental", str(snapshot), "-czf",
                          str(tar / "level0.tgz"), "-C", str(home_root), "ann"])  # fmt: skip
        results.append(("full backup", dup_full, tar_full, "tar -czf (level 0)"))
        dup_full_size = du(base / "target")

        changed = change(paths, args.changed_pct, rng)
        print(f"changed {changed} files; incremental backups ...", file=sys.stderr)
        dup_inc = timed([*runner, "run"], env)
        tar_inc = timed(["tar", "--listed-incremental", str(snapshot), "-czf",
                         str(tar / "level1.tgz"), "-C", str(home_root), "ann"])  # fmt: skip
        results.append(("incremental", dup_inc, tar_inc, "tar -czf (level 1)"))
        dup_inc_size = du(base / "target") - dup_full_size

        print("restores ...", file=sys.stderr)
        dup_restore = timed(
            [*runner, "restore", "ann", "--into", str(base / "restored")], env
        )
        out = base / "untar"
        out.mkdir()

        def untar() -> None:
            for level in ("level0.tgz", "level1.tgz"):
                subprocess.run(["tar", "--listed-incremental=/dev/null", "-xzf",
                                str(tar / level), "-C", str(out)], check=True)  # fmt: skip

        start = time.monotonic()
        untar()
        tar_restore = time.monotonic() - start
        results.append(("restore", dup_restore, tar_restore, "tar -xzf (both levels)"))

        restored = next((base / "restored").iterdir())
        for path in rng.sample(paths, min(50, len(paths))):  # a spot check
            rel = path.relative_to(home)
            if (restored / rel).read_bytes() != path.read_bytes():
                sys.exit(f"bench: restored {rel} differs from the original")

        mb = size / 1e6
        print(f"\nbackup benchmark: {mb:.0f} MB in {len(paths)} files, {changed} changed "
              f"({args.changed_pct:g}%), {os.cpu_count()} cores, duplicity via swarmhub.backup")  # fmt: skip
        print(f"{'':<13}{'duplicity':>11}{'baseline':>11}{'ratio':>8}  baseline")
        for what, d, b, name in results:
            print(f"{what:<13}{d:>10.1f}s{b:>10.1f}s{d / b:>7.2f}x  {name}")
        print(f"stored: full {dup_full_size / 1e6:.0f} MB (tar {du(tar) / 1e6:.0f} MB both "
              f"levels), incremental {dup_inc_size / 1e6:.2f} MB")  # fmt: skip
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
