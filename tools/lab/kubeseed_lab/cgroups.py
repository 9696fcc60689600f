"""Cgroups of the hosts: one kubeseed-lab/<host> cgroup (kubeseed-lab-<name>/<host> for a lab other than the default)
in every hierarchy (cgroup v1 and v2), so the hosts do not share a cgroup root; emptying and removing them again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from .plan import LabError, Paths

CGROUP_MOUNT_FLAGS = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children",
                      "noprefix", "xattr"}


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


def create_cgroups(paths: Paths, name: str) -> list[Path]:
    """A cgroup of its own for one host in every hierarchy (else all hosts
    share one cgroup root and collide on kubepods)."""
    created = []
    for mount, own in cgroup_hierarchies():
        parent = mount / own.lstrip("/") / paths.tag
        target = parent / name
        for directory in (parent, target):
            if not directory.is_dir():
                directory.mkdir()
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    if (directory / knob).exists() and not (directory / knob).read_text(encoding="utf-8").strip():
                        value = (directory.parent / knob).read_text(encoding="utf-8").strip()
                        (directory / knob).write_text(value + "\n", encoding="utf-8")
        created.append(target)
    paths.cgroups_file(name).write_text("\n".join(str(p) for p in created) + "\n", encoding="utf-8")
    return created


def lab_cgroup_roots(paths: Paths) -> list[Path]:
    """Every cgroup directory of this lab we may have made."""
    roots = {mount / own.lstrip("/") / paths.tag for mount, own in cgroup_hierarchies()}
    for record in paths.run.glob("*.cgroups") if paths.run.is_dir() else []:
        for line in record.read_text(encoding="utf-8").splitlines():
            if line.strip():
                roots.add(Path(line.strip()).parent)
    return sorted(r for r in roots if r.is_dir())


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


def remove_cgroup_tree(top: Path) -> None:
    """Remove a cgroup directory tree bottom-up after emptying it."""
    if not top.is_dir():
        return
    kill_cgroup_tree(top)
    dirs = sorted((Path(root) for root, _dirs, _files in os.walk(top)), key=lambda p: len(p.parts), reverse=True)
    for directory in dirs:
        for attempt in range(50):
            try:
                directory.rmdir()
                break
            except OSError:
                kill_cgroup_tree(directory)
                time.sleep(0.1 if attempt < 20 else 0.5)
        else:
            raise LabError(f"could not remove cgroup {directory}")


def remove_host_cgroups(paths: Paths, name: str) -> None:
    """Remove the cgroups recorded for one host, then the record."""
    record = paths.cgroups_file(name)
    if record.is_file():
        for line in record.read_text(encoding="utf-8").splitlines():
            if line.strip():
                remove_cgroup_tree(Path(line.strip()))
        record.unlink()


def exec_in_cgroups(cgroups: str, command: list[str]) -> None:
    """Internal (`lab.py _exec`): join the host's cgroups, then become systemd-nspawn."""
    for directory in filter(None, cgroups.split(",")):
        (Path(directory) / "cgroup.procs").write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.execvp(command[0], command)
