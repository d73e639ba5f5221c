"""The kernel tier's VMs: QEMU under software emulation, on a bridge of their own.

Each VM boots Debian's cloud kernel from the image build-image makes, on a
copy-on-write overlay of its disk, with one network card on the bridge
``swhk0`` (10.213.9.0/24; this machine is .1). The bridge has no route out and
no NAT: the VMs reach this machine and each other, nothing else (the one
iptables rule added lets frames between the VMs through, nothing more). Nothing here
runs as a daemon: the QEMU processes belong to the test session.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BRIDGE = "swhk0"
BRIDGE_ADDRESS = "10.213.9.1/24"
SSH_OPTIONS = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "BatchMode=yes",
]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kwargs)


# Frames between the VMs cross the bridge; with the container engine running,
# br_netfilter passes them through iptables' FORWARD chain, whose policy the
# engine sets to DROP (a per-bridge nf_call_iptables 0 cannot override the
# engine's global setting). This rule lets the bridge's own traffic through.
FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]


def bridge_up() -> None:
    """The bridge, made once, and its traffic let through iptables if there is one."""
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "address", "add", BRIDGE_ADDRESS, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    if shutil.which("iptables") and not _forward_rule("-C"):
        run(["iptables", "-I", *FORWARD_RULE])


def bridge_down() -> None:
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
    while shutil.which("iptables") and _forward_rule("-C"):
        run(["iptables", "-D", *FORWARD_RULE])


def _forward_rule(action: str) -> bool:
    return subprocess.run(["iptables", action, *FORWARD_RULE], capture_output=True).returncode == 0


def tap_up(name: str) -> None:
    subprocess.run(["ip", "link", "delete", name], capture_output=True)
    run(["ip", "tuntap", "add", "dev", name, "mode", "tap"])
    run(["ip", "link", "set", name, "master", BRIDGE])
    run(["ip", "link", "set", name, "up"])


@dataclass
class VM:
    """One VM: name (its hostname), host (the last byte of its address and MAC)."""

    name: str
    host: int
    image: Path
    workdir: Path
    memory_mb: int = 768
    extra_disks: list[Path] = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"10.213.9.{self.host}"

    @property
    def tap(self) -> str:
        return f"swhk-{self.name}"

    @property
    def console(self) -> Path:
        return self.workdir / f"{self.name}.console.log"

    def start(self) -> None:
        overlay = self.workdir / f"{self.name}.qcow2"
        if not overlay.exists():
            run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    "raw",
                    "-b",
                    str(self.image / "rootfs.img"),
                    str(overlay),
                ]
            )
        tap_up(self.tap)
        disks = [overlay, *self.extra_disks]
        argv = [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-m",
            str(self.memory_mb),
            "-smp",
            "1",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-kernel",
            str(self.image / "vmlinuz"),
            "-initrd",
            str(self.image / "initrd.img"),
            "-append",
            f"root=/dev/vda rw console=ttyS0 systemd.hostname={self.name} quiet",
            "-netdev",
            f"tap,id=net0,ifname={self.tap},script=no,downscript=no",
            "-device",
            f"virtio-net-pci,netdev=net0,mac=52:54:00:5a:00:{self.host}",
            "-serial",
            f"file:{self.console}",
        ]
        for disk in disks:
            fmt = "qcow2" if disk.suffix == ".qcow2" else "raw"
            argv += ["-drive", f"file={disk},if=virtio,format={fmt},cache=unsafe"]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / f"{self.name}.qemu.log").open("w"),
        )

    def ssh_argv(self, command: str) -> list[str]:
        key = self.image / "id_ed25519"
        return ["ssh", "-i", str(key), *SSH_OPTIONS, f"root@{self.address}", command]

    def sh(
        self, command: str, *, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        """Run a shell command in the VM as root; its output, text."""
        done = subprocess.run(
            self.ssh_argv(command), text=True, capture_output=True, timeout=timeout
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{self.name}: {command!r} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def as_user(
        self, uid: int, gids: list[int], command: str, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run a command as a uid and groups that have no account in this VM, the way
        a user's server on a node does (numbers only, over NFS's AUTH_SYS)."""
        groups = ",".join(str(g) for g in gids)
        wrapped = (
            f"setpriv --reuid={uid} --regid={gids[0]} --groups={groups} "
            f"sh -c {shlex.quote(command)}"
        )
        return self.sh(wrapped, **kwargs)

    def wait_ssh(self, timeout: float = 600) -> float:
        """Seconds until sshd answers; fails with the console's tail."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process is not None and self.process.poll() is not None:
                break
            probe = subprocess.run(self.ssh_argv("true"), capture_output=True, timeout=30)
            if probe.returncode == 0:
                return time.monotonic() - start
            time.sleep(3)
        tail = self.console.read_text(errors="replace")[-3000:] if self.console.exists() else ""
        raise AssertionError(f"{self.name} did not answer SSH in {timeout:.0f} s; console:\n{tail}")

    def wait_gone(self, timeout: float = 120) -> None:
        """Until SSH stops answering (a reboot has begun)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if (
                subprocess.run(self.ssh_argv("true"), capture_output=True, timeout=30).returncode
                != 0
            ):
                return
            time.sleep(1)
        raise AssertionError(f"{self.name} still answers SSH {timeout:.0f} s after the reboot")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        subprocess.run(["ip", "link", "delete", self.tap], capture_output=True)
