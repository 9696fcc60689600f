"""The lab commands (up, down, status, start, stop, isolate/reconnect): the lab state file, the
preflight checks and the generated inventory, with the pieces of the other modules put together."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

from . import cgroups
from .base import base_dir, ensure_base
from .bundle_server import BundleServer
from .machines import Machines
from .network import Network, remove_fw_rules, veth
from .plan import GIB, Host, LabError, Paths, gateway_of, plan_hosts, render_group_vars, render_hosts_yml, vip_of
from .proc import Progress, dir_usage, free_bytes, mounts_under, run, write_if_changed
from .mirror import Mirror
from .registry import DEFAULT_REGISTRY_PORT, Registry

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


# inotify needs of one lab host (systemd, containerd, kubelet, cAdvisor); the machine's limits are raised to this times the hosts.
INOTIFY_PER_HOST = {"max_user_instances": 128, "max_user_watches": 65536}


class Lab:
    """All lab operations; one instance per command."""

    def __init__(self, paths: Paths, subnet: str, bridge: str, port: int) -> None:
        self.paths = paths
        self.subnet = subnet
        self.bridge = bridge
        self.port = port
        self.gateway = gateway_of(subnet)
        self.progress = Progress()
        self.network = Network(paths, subnet, bridge, self.progress)
        self.machines = Machines(paths, subnet, bridge, self.progress)
        self.server = BundleServer(paths, self.gateway, port, self.progress)
        self.registry = Registry(paths, self.gateway, DEFAULT_REGISTRY_PORT, self.progress)
        self.mirror = Mirror(paths, self.gateway, self.registry, self.progress)

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

    def other_labs_hosts(self) -> int:
        """How many hosts the other labs on this machine have (their state files)."""
        files = [self.paths.lab / "lab.json", *sorted((self.paths.lab / "labs").glob("*/lab.json"))]
        count = 0
        for path in files:
            if path == self.paths.state_file:
                continue
            try:
                hosts = json.loads(path.read_text(encoding="utf-8")).get("hosts", [])
            except (OSError, ValueError, AttributeError):
                continue
            count += len(hosts) if isinstance(hosts, list) else 0
        return count

    def ensure_inotify(self, count: int) -> None:
        """Every lab host's systemd, containerd and kubelet count against this machine's inotify limits (one kernel): with the
        default 128 instances a ninth host's kubelet fails with "inotify_init: too many open files". Raise them, never lower."""
        for name, per_host in INOTIFY_PER_HOST.items():
            path = Path("/proc/sys/fs/inotify") / name
            want = per_host * max(count, 4)
            have = int(path.read_text(encoding="utf-8"))
            if have < want:
                path.write_text(str(want), encoding="utf-8")
                self.progress.changed(f"fs.inotify.{name}: {have} -> {want} (shared by the {count} lab hosts)")

    def check_network_free(self) -> None:
        """Refuse to touch a bridge or subnet that someone else uses."""
        self.network.check_network_free()

    # ---- inventory

    def write_inventory(self, hosts: Sequence[Host], bundle_url: str | None) -> None:
        inv = self.paths.inventory
        if write_if_changed(inv / "hosts.yml", render_hosts_yml(hosts, self.paths.key)):
            self.progress.changed(f"inventory: wrote {inv / 'hosts.yml'}")
        control_planes = sum(1 for h in hosts if h.role == "control_plane")
        vip = vip_of(self.subnet) if control_planes > 1 else None
        if write_if_changed(inv / "group_vars" / "all" / "lab.yml", render_group_vars(bundle_url, vip, self.paths.name)):
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
        need = (0 if (base_dir(self.paths, distribution) / "complete").is_file() else GIB) + GIB * len(new_hosts)
        self.progress.say(f"step 1/6 preflight ({len(hosts)} hosts: "
                          f"{', '.join(h.name for h in hosts)})")
        self.preflight(need)
        self.ensure_inotify(len(hosts) + self.other_labs_hosts())
        if not self.paths.bridge_marker.is_file():
            self.check_network_free()
        self.progress.say("step 2/6 base image")
        # the base image and the key are shared by every lab: one `up` at a time makes them
        self.paths.lab.mkdir(parents=True, exist_ok=True)
        with open(self.paths.lab / "shared.lock", "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            rootfs = ensure_base(self.paths, self.progress, distribution, mirror)
            self.machines.ensure_key()
        self.progress.say(f"step 3/6 network: bridge {self.bridge} {self.gateway}, subnet {self.subnet}")
        self.network.ensure_bridge()
        for old in self.state_hosts():
            if old.name not in {h.name for h in hosts}:
                self.machines.remove_host(old.name)
                self.progress.changed(f"{old.name}: removed (not in the requested lab)")
        self.save_state({"subnet": self.subnet, "bridge": self.bridge, "port": self.port, "distribution": distribution,
                         "bundle_root": str(bundle_root), "hosts": [dataclasses.asdict(h) for h in hosts]})
        self.progress.say("step 4/6 hosts: disks and boot")
        booting = []
        for index, host in enumerate(hosts, 1):
            self.progress.say(f"host {index}/{len(hosts)} {host.name} {host.address}")
            self.machines.ensure_host_disk(host, hosts, rootfs)
            if self.machines.host_pid(host.name) is None:
                self.machines.stop_host(host.name)
                self.machines.launch(host)
                booting.append(host)
        for index, host in enumerate(hosts, 1):
            self.machines.wait_ready(host, index, len(hosts), timeout=240 if host in booting else 30)
        self.progress.say(f"step 5/6 bundle server on {self.gateway}:{self.port} serving {bundle_root}")
        self.server.ensure_http(bundle_root)
        self.progress.say("step 6/6 inventory")
        self.write_inventory(hosts, self.server.bundle_url(bundle_root))
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
            names |= {p.stem for p in self.paths.run.glob("*.pid") if p.stem not in ("http", "registry", "mirror")}
        for name in sorted(names):
            self.machines.request_stop(name)  # all at once; each is then waited for and removed in turn
        for index, name in enumerate(sorted(names), 1):
            self.progress.say(f"host {index}/{len(names)} {name}: stopping and removing")
            self.machines.remove_host(name)
        for root in cgroups.lab_cgroup_roots(self.paths):
            cgroups.remove_cgroup_tree(root)
        if self.server.stop_http():
            self.progress.say("bundle server: stopped")
        if self.mirror.stop():
            self.progress.say("mirror: stopped")
        if self.mirror.dir.is_dir():
            shutil.rmtree(self.mirror.dir)
            self.progress.say(f"mirror: removed {self.mirror.dir} (its repositories and signing key)")
        if self.registry.stop():
            self.progress.say("registry: stopped")
        if self.registry.dir.is_dir():
            shutil.rmtree(self.registry.dir)
            self.progress.say(f"registry: removed {self.registry.dir} (its images, CA and credentials)")
        removed = remove_fw_rules(self.paths.tag)
        if removed:
            self.progress.say(f"firewall: removed {removed} rules")
        self.network.remove_bridge()
        self.remove_inventory()
        self.paths.state_file.unlink(missing_ok=True)
        if self.paths.hosts.is_dir() and not any(self.paths.hosts.iterdir()):
            self.paths.hosts.rmdir()
        if self.paths.run.is_dir() and not any(self.paths.run.iterdir()):
            self.paths.run.rmdir()
        # the default lab's purge removes what every lab shares (refused while another lab's hosts are mounted there),
        # another lab's only its own logs
        purged = self.paths.lab if self.paths.own == self.paths.lab else self.paths.own
        if purge and purged.exists():
            leftovers = mounts_under(purged)
            if leftovers:
                raise LabError(f"refusing to purge: still mounted: {leftovers}")
            shutil.rmtree(purged)
            self.progress.say(f"purged {purged} ({'base images, lab key, logs' if purged == self.paths.lab else 'logs'})")
        print(f"lab down: done in {self.progress.elapsed():.1f}s", flush=True)

    def service_command(self, name: str, action: str, upstream: bool = False) -> int:
        """`registry up|down|status` (registry.py) and `mirror up|down|status` (mirror.py): a service of the lab on its
        bridge; up prints where it is, status too (exit 1 unless it runs)."""
        service = self.registry if name == "registry" else self.mirror
        if action == "up":
            self.preflight(0)
            if not self.state_hosts() or not self.paths.bridge_marker.exists():
                raise LabError(f"the lab {self.paths.name} is not up: run `lab.py up` first (the {name} listens on its bridge)")
            status = self.registry.up(self.server.bundle_path(), upstream) if name == "registry" else self.mirror.up(self.state_hosts())
            print(json.dumps(status, indent=2, sort_keys=True), flush=True)
        elif action == "down":
            if service.stop():
                self.progress.changed(f"{name}: stopped")
        else:
            status = service.status()
            print(json.dumps(status, indent=2, sort_keys=True), flush=True)
            return 0 if status["running"] == "yes" else 1
        return 0

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
        bridge_up = self.network.bridge_exists()
        print(f"lab: {state.get('distribution')} on bridge {self.bridge} "
              f"({'up' if bridge_up else 'MISSING'}) {self.subnet}")
        http = self.server.http_pid()
        print(f"bundle server: {'pid ' + str(http) if http else 'stopped'} "
              f"http://{self.gateway}:{self.port}/ -> {state.get('bundle_root')}")
        print(f"inventory: {self.paths.inventory / 'hosts.yml'}")
        print(f"{'HOST':<10} {'ROLE':<14} {'ADDRESS':<15} {'STATE':<10} {'SSH':<5} DISK")
        all_ok = bridge_up and http is not None
        for host in hosts:
            pid = self.machines.host_pid(host.name)
            link = run(["ip", "-o", "link", "show", "dev", veth(self.paths.machine(host.name))], check=False).stdout
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
        rootfs = base_dir(self.paths, str(state.get("distribution"))) / "rootfs"
        self.network.ensure_bridge()
        self.machines.ensure_host_disk(host, self.state_hosts(), rootfs)
        if self.machines.host_pid(name) is None:
            self.machines.stop_host(name)
            self.machines.launch(host)
            self.machines.wait_ready(host, 1, 1)
        else:
            print(f"{name}: already running")

    def stop(self, name: str) -> None:
        self.preflight(0)
        self.host_by_name(name)
        if self.machines.stop_host(name):
            print(f"{name}: stopped in {self.progress.elapsed():.1f}s")
        else:
            print(f"{name}: was not running")

    def isolate(self, name: str, cut: bool) -> None:
        self.preflight(0)
        self.host_by_name(name)
        if self.machines.host_pid(name) is None:
            raise LabError(f"{name} is not running; `lab.py start {name}` first")
        self.network.isolate(name, cut)
