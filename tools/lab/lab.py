#!/usr/bin/env python
"""kubeseed lab: real Linux hosts as systemd-nspawn machines on one controller.

`up` boots control-plane and worker hosts on a private bridge, serves the
offline bundle to them over that bridge and writes an Ansible inventory to
inventories/lab/. `down` removes everything `up` made. See docs/lab.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

TOOL_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOL_DIR.parent.parent
BASE_FILES = TOOL_DIR / "base-files"
GROUP_VARS_TEMPLATE = TOOL_DIR / "lab_group_vars.yml.tmpl"

DEFAULT_SUBNET = "10.117.0.0/24"
DEFAULT_BRIDGE = "ksbr0"
DEFAULT_PORT = 8080
DEFAULT_DISTRIBUTION = "bookworm"
FW_COMMENT = "kubeseed-lab"
CGROUP_GROUP = "kubeseed-lab"
CP_OFFSET = 10
WORKER_OFFSET = 100
MAX_CONTROL_PLANES = 9
MAX_WORKERS = 99
GIB = 1024 ** 3
CGROUP_MOUNT_FLAGS = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children",
                      "noprefix", "xattr"}

# The base image: what debootstrap installs plus our own files. Any change here
# or in base-files/ changes the recipe hash and so builds a new cached base.
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2",
    "iptables", "ca-certificates", "sudo", "libpam-systemd", "procps", "kmod",
)
BASE_MASKED_UNITS = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "e2scrub_reap.service",
    "fstrim.timer", "systemd-networkd.service", "systemd-networkd-wait-online.service",
    "systemd-timesyncd.service", "getty@tty1.service",
    # Records boots in utmp, which nothing in the lab reads; it failed once at boot in CI and left the host degraded.
    "systemd-update-utmp.service", "systemd-update-utmp-runlevel.service",
)
BASE_ENABLED_UNITS = ("kubeseed-lab-cgroups.service", "kubeseed-lab-network.service")
RECIPE_VERSION = "1"

# command -> Debian package that provides it
REQUIRED_COMMANDS = {
    "ip": "iproute2",
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "iptables": "iptables",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
    "umount": "mount",
    "mountpoint": "util-linux",
}

SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=3",
)


class LabError(Exception):
    """An error the user can act on; printed without a traceback."""


@dataclasses.dataclass(frozen=True)
class Host:
    """One lab host."""

    name: str
    role: str
    address: str


@dataclasses.dataclass
class Paths:
    """Where the lab keeps its state."""

    cache: Path
    run: Path
    inventory: Path

    @property
    def lab(self) -> Path:
        return self.cache / "lab"

    @property
    def state_file(self) -> Path:
        return self.lab / "lab.json"

    @property
    def key(self) -> Path:
        return self.lab / "ssh" / "id_ed25519"

    @property
    def bases(self) -> Path:
        return self.lab / "base"

    @property
    def hosts(self) -> Path:
        return self.lab / "hosts"

    @property
    def logs(self) -> Path:
        return self.lab / "logs"

    def host_dir(self, name: str) -> Path:
        return self.hosts / name

    def merged(self, name: str) -> Path:
        return self.hosts / name / "merged"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def cgroups_file(self, name: str) -> Path:
        return self.run / f"{name}.cgroups"

    @property
    def http_pid(self) -> Path:
        return self.run / "http.pid"

    @property
    def bridge_marker(self) -> Path:
        return self.run / "bridge"


class Progress:
    """Prints steps with elapsed seconds so nobody stares at a silent terminal."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.changes: list[str] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)

    def changed(self, message: str) -> None:
        self.changes.append(message)
        self.say(message)


# ---------------------------------------------------------------- helpers


def run(cmd: Sequence[str], check: bool = True, capture: bool = True, timeout: float | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise LabError with its output."""
    result = subprocess.run(list(cmd), check=False, text=True, timeout=timeout, env=env,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None)
    if check and result.returncode != 0:
        detail = ((result.stderr or "") + (result.stdout or "")).strip()
        raise LabError(f"command failed ({result.returncode}): {shlex.join(cmd)}\n{detail}")
    return result


def write_if_changed(path: Path, content: str, mode: int = 0o644) -> bool:
    """Write a file only when its content differs; True if it was written."""
    if path.is_file() and not path.is_symlink() and path.read_text(encoding="utf-8") == content:
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.chmod(mode)
    tmp.replace(path)
    return True


def pid_alive(pid: int, needle: str) -> bool:
    """True if pid runs and its command line contains needle."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return needle in cmdline


def process_running(pid: int) -> bool:
    """True while pid exists and is not a zombie (works during exec, when
    /proc/PID/cmdline can briefly read empty)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of this mount namespace, in mount order."""
    result = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        left, _sep, right = line.partition(" - ")
        point = left.split()[4].replace("\\040", " ")
        result.append((point, right.split()[0]))
    return result


def is_mounted(path: Path) -> bool:
    return any(point == str(path) for point, _fstype in mounts())


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    return [point for point, _fstype in mounts() if point.startswith(prefix) or point == str(path)]


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists():
        probe = probe.parent
    stat = os.statvfs(probe)
    return stat.f_bavail * stat.f_frsize


def dir_usage(path: Path) -> int:
    """Bytes allocated under path (like du -s), not following mounts."""
    total = 0
    if not path.exists():
        return 0
    device = path.stat().st_dev
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == device]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


# ---------------------------------------------------------------- plan


def plan_hosts(subnet: str, control_planes: int, workers: int) -> list[Host]:
    """Names and addresses: ks-cpN at .10+N, ks-wN at .100+N of the subnet."""
    if not 1 <= control_planes <= MAX_CONTROL_PLANES:
        raise LabError(f"--control-planes must be 1..{MAX_CONTROL_PLANES}, got {control_planes}")
    if not 0 <= workers <= MAX_WORKERS:
        raise LabError(f"--workers must be 0..{MAX_WORKERS}, got {workers}")
    net = ipaddress.ip_network(subnet)
    if net.version != 4 or net.prefixlen > 24:
        raise LabError(f"--subnet must be an IPv4 /24 or larger, got {subnet}")
    hosts = [Host(f"ks-cp{i}", "control_plane", str(net.network_address + CP_OFFSET + i))
             for i in range(1, control_planes + 1)]
    hosts += [Host(f"ks-w{i}", "workers", str(net.network_address + WORKER_OFFSET + i))
              for i in range(1, workers + 1)]
    return hosts


def gateway_of(subnet: str) -> str:
    return str(ipaddress.ip_network(subnet).network_address + 1)


def render_hosts_yml(hosts: Sequence[Host], key: Path) -> str:
    """The generated inventory (YAML written by hand: stdlib only)."""
    lines = [
        "---",
        "# Generated by tools/lab/lab.py up; do not edit. `lab.py down` removes it.",
        "all:",
        "  children:",
    ]
    for group in ("control_plane", "workers"):
        members = [h for h in hosts if h.role == group]
        lines.append(f"    {group}:")
        if not members:
            lines.append("      hosts: {}")
            continue
        lines.append("      hosts:")
        for host in members:
            lines += [
                f"        {host.name}:",
                f"          ansible_host: {host.address}",
                "          ansible_user: root",
                f"          ansible_ssh_private_key_file: {json.dumps(str(key))}",
                "          ansible_ssh_common_args: \"-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\"",
                "          ansible_python_interpreter: /usr/bin/python3",
            ]
    return "\n".join(lines) + "\n"


def render_group_vars(bundle_url: str | None) -> str:
    template = string.Template(GROUP_VARS_TEMPLATE.read_text(encoding="utf-8"))
    line = f"kubeseed_offline_bundle_url: {bundle_url}\n" if bundle_url else ""
    return template.substitute(bundle_url_line=line)


def render_etc_hosts(host: Host, hosts: Sequence[Host]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             f"# kubeseed lab hosts (this is {host.name})"]
    lines += [f"{h.address}\t{h.name}" for h in hosts]
    return "\n".join(lines) + "\n"


def recipe_hash(distribution: str) -> str:
    """Identity of a base image: distribution, packages and our own base files."""
    digest = hashlib.sha256()
    digest.update(json.dumps([RECIPE_VERSION, distribution, BASE_PACKAGES, BASE_MASKED_UNITS,
                              BASE_ENABLED_UNITS]).encode())
    for path in sorted(BASE_FILES.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(BASE_FILES)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def overlaps_in_use(subnet: str, bridge: str) -> list[str]:
    """Addresses or routes on other interfaces that overlap the lab subnet."""
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]")
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    return find_overlaps(subnet, bridge, addrs, routes)


def find_overlaps(subnet: str, bridge: str, addrs: list[dict[str, object]], routes: list[dict[str, object]]) -> list[str]:
    """From `ip -j` output: what, besides our bridge, uses part of subnet."""
    net = ipaddress.ip_network(subnet)
    found = []
    for link in addrs:
        infos = link.get("addr_info", [])
        for info in infos if isinstance(infos, list) else []:
            iface = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            if link.get("ifname") != bridge and iface.network.overlaps(net):
                found.append(f"address {iface} on {link.get('ifname')}")
    for route in routes:
        dst = str(route.get("dst", ""))
        if dst in ("default", "") or route.get("dev") == bridge or route.get("type") in ("local", "broadcast"):
            continue
        try:
            if ipaddress.ip_network(dst, strict=False).overlaps(net):
                found.append(f"route {dst} dev {route.get('dev')}")
        except ValueError:
            continue
    return found


# ---------------------------------------------------------------- the lab


class Lab:
    """All lab operations; one instance per command."""

    def __init__(self, paths: Paths, subnet: str, bridge: str, port: int) -> None:
        self.paths = paths
        self.subnet = subnet
        self.bridge = bridge
        self.port = port
        self.gateway = gateway_of(subnet)
        self.progress = Progress()

    # ---- state

    def load_state(self) -> dict[str, object]:
        try:
            data = json.loads(self.paths.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def state_hosts(self) -> list[Host]:
        raw = self.load_state().get("hosts", [])
        return [Host(**h) for h in raw] if isinstance(raw, list) else []

    def save_state(self, data: dict[str, object]) -> None:
        if write_if_changed(self.paths.state_file, json.dumps(data, indent=2, sort_keys=True) + "\n"):
            self.progress.changed("state: wrote " + str(self.paths.state_file))

    # ---- preflight

    def preflight(self, need_bytes: int) -> None:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (bridges, mounts, cgroups, systemd-nspawn): run it with sudo or as root")
        missing = [f"{cmd} (apt-get install {pkg})" for cmd, pkg in REQUIRED_COMMANDS.items() if not shutil.which(cmd)]
        if missing:
            raise LabError("missing commands: " + ", ".join(missing))
        if "overlay" not in Path("/proc/filesystems").read_text(encoding="utf-8"):
            raise LabError("the kernel has no overlay filesystem; the lab needs it for per-host disks")
        if need_bytes:
            free = free_bytes(self.paths.lab)
            if free < need_bytes:
                raise LabError(f"not enough free disk under {self.paths.lab}: {free / GIB:.1f} GiB free, "
                               f"{need_bytes / GIB:.1f} GiB needed; free some space or set KUBESEED_CACHE elsewhere")

    def check_network_free(self) -> None:
        """Refuse to touch a bridge or subnet that someone else uses."""
        link = run(["ip", "-j", "link", "show", "dev", self.bridge], check=False)
        ours = self.paths.bridge_marker.is_file()
        if link.returncode == 0 and not ours:
            raise LabError(f"interface {self.bridge} already exists and was not made by the lab; "
                           f"remove it or choose another --bridge")
        clashes = overlaps_in_use(self.subnet, self.bridge)
        if clashes:
            raise LabError(f"subnet {self.subnet} is already in use ({'; '.join(clashes)}); "
                           f"choose another --subnet")

    # ---- base image

    def base_dir(self, distribution: str) -> Path:
        return self.paths.bases / f"{distribution}-{recipe_hash(distribution)}"

    def ensure_base(self, distribution: str, mirror: str) -> Path:
        base = self.base_dir(distribution)
        rootfs = base / "rootfs"
        if (base / "complete").is_file():
            self.progress.say(f"base image: cached {base.name}")
            return rootfs
        self.progress.changed(f"base image: building {base.name} with debootstrap from {mirror} (about 1-3 min)")
        tmp = base.with_name(base.name + ".building")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        log_path = self.paths.logs / f"debootstrap-{base.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
               distribution, str(tmp / "rootfs"), mirror]
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            with subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT) as proc:
                last = started
                while proc.poll() is None:
                    time.sleep(1)
                    if time.monotonic() - last >= 15:
                        last = time.monotonic()
                        self.progress.say(f"base image: still building ({last - started:.0f}s; {self._last_line(log_path)})")
        if proc.returncode != 0:
            raise LabError(f"debootstrap failed ({proc.returncode}); see {log_path}:\n{self._tail(log_path)}")
        self.customize_base(tmp / "rootfs")
        (tmp / "complete").write_text(json.dumps({"distribution": distribution, "packages": BASE_PACKAGES,
                                                  "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n",
                                      encoding="utf-8")
        if base.exists():
            shutil.rmtree(base)
        tmp.rename(base)
        self.progress.say(f"base image: built in {time.monotonic() - started:.0f}s, {dir_usage(base) / 2**20:.0f} MiB")
        return base / "rootfs"

    @staticmethod
    def _last_line(path: Path) -> str:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return lines[-1][:100] if lines else "no output yet"

    @staticmethod
    def _tail(path: Path) -> str:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])

    @staticmethod
    def customize_base(rootfs: Path) -> None:
        """Make the debootstrapped tree a template for many hosts."""
        for src in sorted(BASE_FILES.rglob("*")):
            if src.is_file():
                dst = rootfs / src.relative_to(BASE_FILES)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        # identity is per host: empty machine-id, no ssh host keys
        (rootfs / "etc/machine-id").write_text("", encoding="utf-8")
        dbus_id = rootfs / "var/lib/dbus/machine-id"
        if dbus_id.exists() or dbus_id.is_symlink():
            dbus_id.unlink()
        dbus_id.parent.mkdir(parents=True, exist_ok=True)
        dbus_id.symlink_to("/etc/machine-id")
        for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        # air-gapped: no package mirrors; everything comes from the offline bundle
        (rootfs / "etc/apt/sources.list").write_text(
            "# kubeseed lab: no mirrors reachable; packages come from the offline bundle\n", encoding="utf-8")
        for extra in (rootfs / "etc/apt/sources.list.d").glob("*"):
            extra.unlink()
        system = rootfs / "etc/systemd/system"
        for unit in BASE_MASKED_UNITS:
            link = system / unit
            if link.exists() or link.is_symlink():
                link.unlink()
            link.symlink_to("/dev/null")
        wants = system / "sysinit.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        for unit in BASE_ENABLED_UNITS:
            link = wants / unit
            if not link.is_symlink():
                link.symlink_to(f"/etc/systemd/system/{unit}")

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

    # ---- bridge and firewall

    def fw_rules(self) -> list[list[str]]:
        """Rules that keep the lab inside: nothing from the bridge is forwarded
        beyond it, and the controller only answers on the lab subnet."""
        tag = ["-m", "comment", "--comment", FW_COMMENT]
        return [
            ["FORWARD", "-i", self.bridge, "!", "-o", self.bridge, *tag, "-j", "REJECT"],
            ["FORWARD", "-o", self.bridge, "!", "-i", self.bridge, *tag, "-j", "REJECT"],
            ["INPUT", "-i", self.bridge, "!", "-d", self.subnet, *tag, "-j", "REJECT"],
        ]

    def ensure_bridge(self) -> None:
        gw_cidr = f"{self.gateway}/{ipaddress.ip_network(self.subnet).prefixlen}"
        if run(["ip", "link", "show", "dev", self.bridge], check=False).returncode != 0:
            self.check_network_free()
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
            self.paths.run.mkdir(parents=True, exist_ok=True)
            self.paths.bridge_marker.write_text(self.bridge + "\n", encoding="utf-8")
            self.progress.changed(f"network: created bridge {self.bridge}")
        elif not self.paths.bridge_marker.is_file():
            self.check_network_free()
        disable_v6 = Path(f"/proc/sys/net/ipv6/conf/{self.bridge}/disable_ipv6")
        if disable_v6.exists() and disable_v6.read_text(encoding="utf-8").strip() != "1":
            disable_v6.write_text("1\n", encoding="utf-8")
        addrs = run(["ip", "-4", "-o", "addr", "show", "dev", self.bridge]).stdout
        if gw_cidr not in addrs:
            run(["ip", "addr", "replace", gw_cidr, "dev", self.bridge])
            self.progress.changed(f"network: {self.bridge} has {gw_cidr}")
        link = json.loads(run(["ip", "-j", "link", "show", "dev", self.bridge]).stdout)
        if "UP" not in link[0].get("flags", []):
            run(["ip", "link", "set", self.bridge, "up"])
        for rule in self.fw_rules():
            if run(["iptables", "-C", *rule], check=False).returncode != 0:
                run(["iptables", "-I", *rule])
                self.progress.changed("firewall: iptables -I " + shlex.join(rule))

    def remove_fw_rules(self) -> int:
        removed = 0
        for chain in ("FORWARD", "INPUT"):
            listing = run(["iptables", "-S", chain], check=False).stdout or ""
            for line in listing.splitlines():
                if FW_COMMENT in line and line.startswith("-A "):
                    run(["iptables", "-D", *shlex.split(line)[1:]])
                    removed += 1
        return removed

    # ---- cgroups

    @staticmethod
    def cgroup_hierarchies() -> list[tuple[Path, str]]:
        """(mount point, this process's cgroup path in it) for every hierarchy."""
        own: dict[str, str] = {}
        for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
            _hid, controllers, path = line.split(":", 2)
            own[controllers] = path
        result = []
        for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
            left, _sep, right = line.partition(" - ")
            fields = right.split()
            fstype, options = fields[0], fields[2] if len(fields) > 2 else ""
            point = left.split()[4]
            if fstype == "cgroup2":
                result.append((Path(point), own.get("", "/")))
            elif fstype == "cgroup":
                mounted = {o for o in options.split(",") if o not in CGROUP_MOUNT_FLAGS}
                path = next((p for c, p in own.items() if c and set(c.split(",")) == mounted), "/")
                result.append((Path(point), path))
        return result

    def create_cgroups(self, name: str) -> list[Path]:
        """A cgroup of its own for one host in every hierarchy (else all hosts
        share one cgroup root and collide on kubepods)."""
        created = []
        for mount, own in self.cgroup_hierarchies():
            parent = mount / own.lstrip("/") / CGROUP_GROUP
            target = parent / name
            for directory in (parent, target):
                if not directory.is_dir():
                    directory.mkdir()
                    for knob in ("cpuset.cpus", "cpuset.mems"):
                        if (directory / knob).exists() and not (directory / knob).read_text(encoding="utf-8").strip():
                            value = (directory.parent / knob).read_text(encoding="utf-8").strip()
                            (directory / knob).write_text(value + "\n", encoding="utf-8")
            created.append(target)
        self.paths.cgroups_file(name).write_text("\n".join(str(p) for p in created) + "\n", encoding="utf-8")
        return created

    def lab_cgroup_roots(self) -> list[Path]:
        """Every kubeseed-lab cgroup directory we may have made."""
        roots = {mount / own.lstrip("/") / CGROUP_GROUP for mount, own in self.cgroup_hierarchies()}
        for record in self.paths.run.glob("*.cgroups") if self.paths.run.is_dir() else []:
            for line in record.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    roots.add(Path(line.strip()).parent)
        return sorted(r for r in roots if r.is_dir())

    @staticmethod
    def kill_cgroup_tree(top: Path) -> None:
        """SIGKILL every process left in a host's cgroup tree (ours: a host
        whose nspawn died leaves its container init running), until empty."""
        deadline = time.monotonic() + 30
        while True:
            pids = set()
            for root, _dirs, files in os.walk(top):
                if "cgroup.procs" in files:
                    pids.update(Path(root, "cgroup.procs").read_text(encoding="utf-8").split())
            if not pids:
                return
            if time.monotonic() > deadline:
                raise LabError(f"processes {sorted(pids)} in {top} survive SIGKILL")
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)

    @classmethod
    def remove_cgroup_tree(cls, top: Path) -> None:
        """Remove a cgroup directory tree bottom-up after emptying it."""
        if not top.is_dir():
            return
        cls.kill_cgroup_tree(top)
        dirs = sorted((Path(root) for root, _dirs, _files in os.walk(top)), key=lambda p: len(p.parts), reverse=True)
        for directory in dirs:
            for attempt in range(50):
                try:
                    directory.rmdir()
                    break
                except OSError:
                    cls.kill_cgroup_tree(directory)
                    time.sleep(0.1 if attempt < 20 else 0.5)
            else:
                raise LabError(f"could not remove cgroup {directory}")

    # ---- hosts

    def host_pid(self, name: str) -> int | None:
        pid = read_pid(self.paths.pid_file(name))
        if pid is not None and pid_alive(pid, f"--machine={name}"):
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
        hdir = self.paths.host_dir(host.name)
        merged = self.paths.merged(host.name)
        machine_id = (merged / "etc/machine-id").read_text(encoding="utf-8").strip()
        cgroups = self.create_cgroups(host.name)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, str(Path(__file__).resolve()), "_exec", ",".join(str(c) for c in cgroups), "--",
            "systemd-nspawn", "-b", "-D", str(merged), f"--machine={host.name}", f"--hostname={host.name}",
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
                raise LabError(f"{host.name}: systemd-nspawn exited during boot; see {log}:\n{self._tail(log)}")
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
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while pid_alive(pid, f"--machine={name}") and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid, f"--machine={name}"):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid, f"--machine={name}"):
                    time.sleep(0.1)
            stopped = True
        self.paths.pid_file(name).unlink(missing_ok=True)
        record = self.paths.cgroups_file(name)
        if record.is_file():
            for line in record.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.remove_cgroup_tree(Path(line.strip()))
            record.unlink()
        if lock is not None:
            lock.unlink(missing_ok=True)
        for leftover in Path("/run/systemd/nspawn").glob(f"*/{name}"):
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

    def veth(self, name: str) -> str:
        return f"vb-{name}"[:15]

    # ---- bundle server

    def http_pid(self) -> int | None:
        pid = read_pid(self.paths.http_pid)
        if pid is not None and pid_alive(pid, "http.server") and pid_alive(pid, f"--bind {self.gateway}"):
            return pid
        return None

    def ensure_http(self, root: Path) -> None:
        pid = self.http_pid()
        if pid is not None:
            if pid_alive(pid, f"--directory {root} "):
                return
            self.stop_http()
        root.mkdir(parents=True, exist_ok=True)
        log_path = self.paths.logs / "http.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "http.server", "--bind", self.gateway, str(self.port), "--directory", str(root)]
        with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
            # pylint: disable-next=consider-using-with
            proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.paths.http_pid.write_text(f"{proc.pid}\n", encoding="utf-8")
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection((self.gateway, self.port), timeout=1):
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LabError(f"bundle server did not start on {self.gateway}:{self.port} ({exc}); "
                                   f"see {log_path}") from exc
                time.sleep(0.2)
        self.progress.changed(f"bundle server: http://{self.gateway}:{self.port}/ serves {root} (pid {proc.pid})")

    def stop_http(self) -> bool:
        pid = self.http_pid()
        self.paths.http_pid.unlink(missing_ok=True)
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        for _attempt in range(50):
            if not pid_alive(pid, "http.server"):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        return True

    def bundle_url(self, root: Path) -> str | None:
        """URL of the bundle the bundle builder reports, if it lies in root."""
        tool = REPO_ROOT / "tools" / "bundle" / "bundle.py"
        if not tool.is_file():
            return None
        try:
            result = subprocess.run([sys.executable, str(tool), "path"], check=False, text=True,
                                    capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.progress.say("bundle: `bundle.py path` timed out; inventory has no bundle URL")
            return None
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            self.progress.say("bundle: no bundle reported by tools/bundle/bundle.py path; inventory has no bundle URL")
            return None
        path = Path(lines[-1].strip()).resolve()
        try:
            rel = path.relative_to(root.resolve())
        except ValueError:
            self.progress.say(f"bundle: {path} is not under the served root {root}; inventory has no bundle URL")
            return None
        return f"http://{self.gateway}:{self.port}/{rel.as_posix()}"

    # ---- inventory

    def write_inventory(self, hosts: Sequence[Host], bundle_url: str | None) -> None:
        inv = self.paths.inventory
        if write_if_changed(inv / "hosts.yml", render_hosts_yml(hosts, self.paths.key)):
            self.progress.changed(f"inventory: wrote {inv / 'hosts.yml'}")
        if write_if_changed(inv / "group_vars" / "all" / "lab.yml", render_group_vars(bundle_url)):
            self.progress.changed(f"inventory: wrote {inv / 'group_vars/all/lab.yml'}")

    def remove_inventory(self) -> None:
        inv = self.paths.inventory
        for rel in ("hosts.yml", "group_vars/all/lab.yml"):
            (inv / rel).unlink(missing_ok=True)
        for rel in ("group_vars/all", "group_vars", ""):
            directory = inv / rel if rel else inv
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()

    # ---- commands

    def up(self, control_planes: int, workers: int, distribution: str, mirror: str, bundle_root: Path) -> None:
        hosts = plan_hosts(self.subnet, control_planes, workers)
        state = self.load_state()
        if state and (state.get("subnet"), state.get("bridge")) != (self.subnet, self.bridge):
            raise LabError(f"a lab is up with subnet {state.get('subnet')} on {state.get('bridge')}; "
                           f"run `lab.py down` first")
        if state.get("distribution") not in (None, distribution):
            raise LabError(f"a lab of {state.get('distribution')} is up; run `lab.py down` first")
        new_hosts = [h for h in hosts if not self.paths.host_dir(h.name).is_dir()]
        need = (0 if (self.base_dir(distribution) / "complete").is_file() else GIB) + GIB * len(new_hosts)
        self.progress.say(f"step 1/6 preflight ({len(hosts)} hosts: "
                          f"{', '.join(h.name for h in hosts)})")
        self.preflight(need)
        if not self.paths.bridge_marker.is_file():
            self.check_network_free()
        self.progress.say("step 2/6 base image")
        rootfs = self.ensure_base(distribution, mirror)
        self.ensure_key()
        self.progress.say(f"step 3/6 network: bridge {self.bridge} {self.gateway}, subnet {self.subnet}")
        self.ensure_bridge()
        for old in self.state_hosts():
            if old.name not in {h.name for h in hosts}:
                self.remove_host(old.name)
                self.progress.changed(f"{old.name}: removed (not in the requested lab)")
        self.save_state({"subnet": self.subnet, "bridge": self.bridge, "port": self.port, "distribution": distribution,
                         "bundle_root": str(bundle_root), "hosts": [dataclasses.asdict(h) for h in hosts]})
        self.progress.say("step 4/6 hosts: disks and boot")
        booting = []
        for index, host in enumerate(hosts, 1):
            self.progress.say(f"host {index}/{len(hosts)} {host.name} {host.address}")
            self.ensure_host_disk(host, hosts, rootfs)
            if self.host_pid(host.name) is None:
                self.stop_host(host.name)
                self.launch(host)
                booting.append(host)
        for index, host in enumerate(hosts, 1):
            self.wait_ready(host, index, len(hosts), timeout=240 if host in booting else 30)
        self.progress.say(f"step 5/6 bundle server on {self.gateway}:{self.port} serving {bundle_root}")
        self.ensure_http(bundle_root)
        self.progress.say("step 6/6 inventory")
        self.write_inventory(hosts, self.bundle_url(bundle_root))
        total = self.progress.elapsed()
        if self.progress.changes:
            print(f"lab up: {len(hosts)} hosts ready, {len(self.progress.changes)} changes, {total:.1f}s; "
                  f"try: ansible -i {self.paths.inventory} all -m ping", flush=True)
        else:
            print(f"lab up: no changes, {len(hosts)} hosts ready, {total:.1f}s", flush=True)

    def down(self, purge: bool) -> None:
        self.preflight(0)
        hosts = self.state_hosts()
        names = {h.name for h in hosts}
        if self.paths.hosts.is_dir():
            names |= {p.name for p in self.paths.hosts.iterdir() if p.is_dir()}
        if self.paths.run.is_dir():
            names |= {p.stem for p in self.paths.run.glob("*.pid") if p.stem != "http"}
        for index, name in enumerate(sorted(names), 1):
            self.progress.say(f"host {index}/{len(names)} {name}: stopping and removing")
            self.remove_host(name)
        for root in self.lab_cgroup_roots():
            self.remove_cgroup_tree(root)
        if self.stop_http():
            self.progress.say("bundle server: stopped")
        removed = self.remove_fw_rules()
        if removed:
            self.progress.say(f"firewall: removed {removed} rules")
        if self.paths.bridge_marker.is_file():
            if run(["ip", "link", "show", "dev", self.bridge], check=False).returncode == 0:
                run(["ip", "link", "del", self.bridge])
                self.progress.say(f"network: removed bridge {self.bridge}")
            self.paths.bridge_marker.unlink()
        self.remove_inventory()
        self.paths.state_file.unlink(missing_ok=True)
        if self.paths.hosts.is_dir() and not any(self.paths.hosts.iterdir()):
            self.paths.hosts.rmdir()
        if self.paths.run.is_dir() and not any(self.paths.run.iterdir()):
            self.paths.run.rmdir()
        if purge and self.paths.lab.exists():
            leftovers = mounts_under(self.paths.lab)
            if leftovers:
                raise LabError(f"refusing to purge: still mounted: {leftovers}")
            shutil.rmtree(self.paths.lab)
            self.progress.say(f"purged {self.paths.lab} (base images, lab key, logs)")
        print(f"lab down: done in {self.progress.elapsed():.1f}s", flush=True)

    def host_by_name(self, name: str) -> Host:
        for host in self.state_hosts():
            if host.name == name:
                return host
        raise LabError(f"no lab host named {name}; hosts: {', '.join(h.name for h in self.state_hosts()) or 'none'}")

    def status(self) -> int:
        hosts = self.state_hosts()
        if not hosts:
            print("lab: down")
            return 1
        state = self.load_state()
        bridge_up = run(["ip", "link", "show", "dev", self.bridge], check=False).returncode == 0
        print(f"lab: {state.get('distribution')} on bridge {self.bridge} "
              f"({'up' if bridge_up else 'MISSING'}) {self.subnet}")
        http = self.http_pid()
        print(f"bundle server: {'pid ' + str(http) if http else 'stopped'} "
              f"http://{self.gateway}:{self.port}/ -> {state.get('bundle_root')}")
        print(f"inventory: {self.paths.inventory / 'hosts.yml'}")
        print(f"{'HOST':<10} {'ROLE':<14} {'ADDRESS':<15} {'STATE':<10} {'SSH':<5} DISK")
        all_ok = bridge_up and http is not None
        for host in hosts:
            pid = self.host_pid(host.name)
            link = run(["ip", "-o", "link", "show", "dev", self.veth(host.name)], check=False).stdout
            if pid is None:
                status = "stopped"
            elif f"master {self.bridge}" not in link:
                status = "isolated"
            else:
                status = "running"
            ssh_ok = False
            if status == "running":
                try:
                    with socket.create_connection((host.address, 22), timeout=1):
                        ssh_ok = True
                except OSError:
                    ssh_ok = False
            all_ok = all_ok and ssh_ok
            disk = dir_usage(self.paths.host_dir(host.name) / "upper") + dir_usage(
                self.paths.host_dir(host.name) / "containerd") + dir_usage(self.paths.host_dir(host.name) / "kubelet")
            print(f"{host.name:<10} {host.role:<14} {host.address:<15} {status:<10} {'yes' if ssh_ok else 'no':<5} "
                  f"{disk / 2**20:.0f} MiB")
        return 0 if all_ok else 1

    def start(self, name: str) -> None:
        self.preflight(0)
        host = self.host_by_name(name)
        state = self.load_state()
        rootfs = self.base_dir(str(state.get("distribution"))) / "rootfs"
        self.ensure_bridge()
        self.ensure_host_disk(host, self.state_hosts(), rootfs)
        if self.host_pid(name) is None:
            self.stop_host(name)
            self.launch(host)
            self.wait_ready(host, 1, 1)
        else:
            print(f"{name}: already running")

    def stop(self, name: str) -> None:
        self.preflight(0)
        self.host_by_name(name)
        if self.stop_host(name):
            print(f"{name}: stopped in {self.progress.elapsed():.1f}s")
        else:
            print(f"{name}: was not running")

    def isolate(self, name: str, cut: bool) -> None:
        self.preflight(0)
        self.host_by_name(name)
        if self.host_pid(name) is None:
            raise LabError(f"{name} is not running; `lab.py start {name}` first")
        veth = self.veth(name)
        if cut:
            run(["ip", "link", "set", "dev", veth, "nomaster"])
            run(["ip", "link", "set", "dev", veth, "down"])
            print(f"{name}: cut off the bridge ({veth} detached)")
        else:
            run(["ip", "link", "set", "dev", veth, "master", self.bridge])
            run(["ip", "link", "set", "dev", veth, "up"])
            print(f"{name}: reconnected to {self.bridge}")


# ---------------------------------------------------------------- CLI


def default_mirror() -> str:
    """The Debian mirror apt on the controller uses, else deb.debian.org."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text(encoding="utf-8").splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def exec_in_cgroups(cgroups: str, command: list[str]) -> None:
    """Internal: join the host's cgroups, then become systemd-nspawn."""
    for directory in filter(None, cgroups.split(",")):
        (Path(directory) / "cgroup.procs").write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.execvp(command[0], command)


def build_parser() -> argparse.ArgumentParser:
    cache_default = os.environ.get("KUBESEED_CACHE") or str(Path.home() / ".cache" / "kubeseed")
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--cache", default=cache_default, help="cache dir (KUBESEED_CACHE; default ~/.cache/kubeseed)")
    parser.add_argument("--run-dir", default=os.environ.get("KUBESEED_LAB_RUN", "/run/kubeseed-lab"),
                        help="runtime state (pid files)")
    parser.add_argument("--inventory", default=str(REPO_ROOT / "inventories" / "lab"), help="inventory dir to write")
    parser.add_argument("--subnet", default=DEFAULT_SUBNET)
    parser.add_argument("--bridge", default=DEFAULT_BRIDGE)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="bundle server port on the bridge address")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="boot the lab (idempotent)")
    up.add_argument("--control-planes", type=int, default=1)
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--distribution", default=DEFAULT_DISTRIBUTION)
    up.add_argument("--mirror", default=None, help="Debian mirror for the base image (default: the controller's)")
    up.add_argument("--bundle-root", default=None, help="directory served to the hosts (default: <cache>/bundles)")
    down = sub.add_parser("down", help="remove everything up made (keeps the cached base image)")
    down.add_argument("--purge", action="store_true", help="also remove base images, lab key and logs")
    sub.add_parser("status", help="show the lab (exit 1 unless every host answers)")
    for verb, text in (("stop", "power a host off"), ("start", "boot a stopped host"),
                       ("isolate", "cut a host off the bridge"), ("reconnect", "put an isolated host back")):
        fault = sub.add_parser(verb, help=text)
        fault.add_argument("host")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # ip, iptables and friends live in sbin, which a plain user PATH lacks
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path])
    if argv[:1] == ["_exec"] and len(argv) >= 4 and argv[2] == "--":
        exec_in_cgroups(argv[1], argv[3:])
    args = build_parser().parse_args(argv)
    paths = Paths(cache=Path(args.cache), run=Path(args.run_dir), inventory=Path(args.inventory))
    lab = Lab(paths, args.subnet, args.bridge, args.port)
    try:
        if args.command == "up":
            bundle_root = Path(args.bundle_root) if args.bundle_root else paths.cache / "bundles"
            lab.up(args.control_planes, args.workers, args.distribution, args.mirror or default_mirror(),
                   bundle_root.resolve())
        elif args.command == "down":
            lab.down(args.purge)
        elif args.command == "status":
            return lab.status()
        elif args.command == "start":
            lab.start(args.host)
        elif args.command == "stop":
            lab.stop(args.host)
        else:
            lab.isolate(args.host, cut=args.command == "isolate")
    except LabError as exc:
        print(f"lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lab {args.command}: interrupted; run `lab.py down` to clean up", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
