"""The hosts as systemd-nspawn machines: the lab ssh key, each host's overlay disk and identity,
booting it, waiting until it is ready, powering it off and removing it."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from . import cgroups
from .network import LabPart
from .plan import LAB_PY, Host, LabError, render_etc_hosts
from .proc import is_mounted, mounts_under, pid_alive, process_running, read_pid, run, tail, write_if_changed

SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=3",
)


class Machines(LabPart):
    """The nspawn hosts of one lab."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stop_requested: set = set()  # nspawn pids already sent SIGTERM (request_stop)

    # ---- ssh key

    def ensure_key(self) -> None:
        key = self.paths.key
        if key.is_file():
            key.chmod(0o600)
            return
        key.parent.mkdir(parents=True, exist_ok=True)
        key.parent.chmod(0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubeseed-lab", "-f", str(key)])
        key.chmod(0o600)
        self.progress.changed(f"ssh: generated lab key {key}")

    # ---- hosts

    def host_pid(self, name: str) -> int | None:
        pid = read_pid(self.paths.pid_file(name))
        if pid is not None and pid_alive(pid, f"--machine={self.paths.machine(name)} "):
            return pid
        return None

    def ensure_host_disk(self, host: Host, hosts: Sequence[Host], rootfs: Path) -> None:
        hdir = self.paths.host_dir(host.name)
        merged = self.paths.merged(host.name)
        for sub in ("upper", "work", "merged", "containerd", "kubelet"):
            (hdir / sub).mkdir(parents=True, exist_ok=True)
        base_file = hdir / "base"
        if base_file.is_file() and base_file.read_text(encoding="utf-8").strip() != str(rootfs):
            raise LabError(f"{host.name} was made from another base image ({base_file.read_text(encoding='utf-8').strip()}); "
                           f"run `lab.py down` first to change the distribution or recipe")
        base_file.write_text(str(rootfs) + "\n", encoding="utf-8")
        if not is_mounted(merged):
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={rootfs},upperdir={hdir / 'upper'},workdir={hdir / 'work'}", str(merged)])
            self.progress.changed(f"{host.name}: mounted overlay disk")
        changed = []
        machine_id = merged / "etc/machine-id"
        if not machine_id.read_text(encoding="utf-8").strip():
            machine_id.write_text(uuid.uuid4().hex + "\n", encoding="utf-8")
            changed.append("machine-id")
        if not (merged / "etc/ssh/ssh_host_ed25519_key").exists():
            run(["ssh-keygen", "-A", "-f", str(merged)])
            for pub in (merged / "etc/ssh").glob("ssh_host_*.pub"):
                text = pub.read_text(encoding="utf-8").split()
                pub.write_text(" ".join(text[:2] + [f"root@{host.name}"]) + "\n", encoding="utf-8")
            changed.append("ssh host keys")
        prefix = ipaddress.ip_network(self.subnet).prefixlen
        files = {
            "etc/hostname": (host.name + "\n", 0o644),
            "etc/hosts": (render_etc_hosts(host, hosts), 0o644),
            "etc/resolv.conf": ("# kubeseed lab: names of lab hosts are in /etc/hosts; no resolver answers here\n"
                                f"nameserver {self.gateway}\n", 0o644),
            "etc/kubeseed-lab/network": (f"ADDRESS={host.address}/{prefix}\nGATEWAY={self.gateway}\n", 0o644),
            "root/.ssh/authorized_keys": (self.paths.key.with_suffix(".pub").read_text(encoding="utf-8"), 0o600),
        }
        (merged / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
        (merged / "root/.ssh").chmod(0o700)
        for rel, (content, mode) in files.items():
            if write_if_changed(merged / rel, content, mode):
                changed.append(rel)
        if changed:
            self.progress.changed(f"{host.name}: wrote {', '.join(changed)}")

    def launch(self, host: Host) -> None:
        """Boot a host: lab.py re-executes itself (`_exec`) to join the host's cgroups, then becomes systemd-nspawn."""
        hdir = self.paths.host_dir(host.name)
        merged = self.paths.merged(host.name)
        machine_id = (merged / "etc/machine-id").read_text(encoding="utf-8").strip()
        host_cgroups = cgroups.create_cgroups(self.paths, host.name)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, str(LAB_PY), "_exec", ",".join(str(c) for c in host_cgroups), "--",
            "systemd-nspawn", "-b", "-D", str(merged), f"--machine={self.paths.machine(host.name)}", f"--hostname={host.name}",
            f"--uuid={uuid.UUID(machine_id)}", "--register=no", "--keep-unit", f"--network-bridge={self.bridge}",
            "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--capability=all", "--console=pipe",
            "--bind=/dev/kmsg", f"--bind={hdir / 'containerd'}:/var/lib/containerd",
            f"--bind={hdir / 'kubelet'}:/var/lib/kubelet",
        ]
        env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="1", SYSTEMD_SECCOMP="0")
        log_path = self.paths.logs / f"{host.name}.console.log"
        with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
            # pylint: disable-next=consider-using-with
            proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        self.paths.pid_file(host.name).write_text(f"{proc.pid}\n", encoding="utf-8")
        self.progress.changed(f"{host.name}: booting (pid {proc.pid}, console log {log_path})")

    def ssh(self, host: Host, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = ["ssh", "-i", str(self.paths.key), *SSH_OPTIONS, f"root@{host.address}", command]
        try:
            return subprocess.run(cmd, check=False, text=True, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, 255, "", "timeout")

    def wait_ready(self, host: Host, index: int, total: int, timeout: float = 240) -> None:
        """Ready: sshd answers with the lab key and systemd finished booting."""
        deadline = time.monotonic() + timeout
        last_note = 0.0
        pid = read_pid(self.paths.pid_file(host.name))
        while True:
            if pid is None or not process_running(pid):
                log = self.paths.logs / f"{host.name}.console.log"
                raise LabError(f"{host.name}: systemd-nspawn exited during boot; see {log}:\n{tail(log)}")
            result = self.ssh(host, "systemctl is-system-running --wait", timeout=max(5.0, deadline - time.monotonic()))
            state = result.stdout.strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise LabError(f"{host.name}: not ready after {timeout:.0f}s (ssh: {result.returncode}, "
                               f"state: {state or result.stderr.strip()})")
            if time.monotonic() - last_note > 15:
                last_note = time.monotonic()
                self.progress.say(f"host {index}/{total} {host.name}: waiting for ssh and boot")
            time.sleep(1)
        if state == "degraded":
            failed = self.ssh(host, "systemctl list-units --failed --plain --no-legend").stdout.strip()
            self.progress.say(f"host {index}/{total} {host.name}: ready (degraded: {failed})")
        else:
            self.progress.say(f"host {index}/{total} {host.name}: ready")

    def request_stop(self, name: str) -> None:
        """Ask a host to power off (SIGTERM to nspawn) without waiting: `down` asks every host first, so their shutdowns
        (each stops its kubelet and containers, seconds) run at the same time instead of one after the other."""
        pid = self.host_pid(name)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return  # it ended meanwhile
            self.stop_requested.add(pid)

    def stop_host(self, name: str) -> bool:
        """Power a host off (SIGTERM to nspawn), then clean its runtime leftovers."""
        stopped = False
        merged = self.paths.merged(name)
        lock = None
        if merged.is_dir():
            info = merged.stat()
            lock = Path(f"/run/systemd/nspawn/locks/inode-{info.st_dev}:{info.st_ino}")
        pid = self.host_pid(name)
        if pid is not None:
            if pid not in self.stop_requested:  # asked once only (nspawn's shutdown is under way)
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass  # it ended meanwhile
            needle = f"--machine={self.paths.machine(name)} "
            deadline = time.monotonic() + 30
            while pid_alive(pid, needle) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid, needle):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid, needle):
                    time.sleep(0.1)
            stopped = True
        self.paths.pid_file(name).unlink(missing_ok=True)
        cgroups.remove_host_cgroups(self.paths, name)
        if lock is not None:
            lock.unlink(missing_ok=True)
        for leftover in Path("/run/systemd/nspawn").glob(f"*/{self.paths.machine(name)}"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        return stopped

    def remove_host(self, name: str) -> None:
        self.stop_host(name)
        hdir = self.paths.host_dir(name)
        for point in reversed(mounts_under(hdir)):
            run(["umount", point], check=False)
        for point in reversed(mounts_under(hdir)):
            run(["umount", "-l", point])
        if hdir.exists():
            shutil.rmtree(hdir)
