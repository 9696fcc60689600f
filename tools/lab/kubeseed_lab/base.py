"""The base image every host boots from: debootstrap plus tools/lab/base-files, cached under
<cache>/lab/base/<distribution>-<recipe hash>/."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

from .plan import TOOL_DIR, LabError, Paths
from .proc import Progress, dir_usage, last_line, tail

BASE_FILES = TOOL_DIR / "base-files"

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


def base_dir(paths: Paths, distribution: str) -> Path:
    return paths.bases / f"{distribution}-{recipe_hash(distribution)}"


def ensure_base(paths: Paths, progress: Progress, distribution: str, mirror: str) -> Path:
    """The rootfs of the cached base image, built with debootstrap if it is missing."""
    base = base_dir(paths, distribution)
    rootfs = base / "rootfs"
    if (base / "complete").is_file():
        progress.say(f"base image: cached {base.name}")
        return rootfs
    progress.changed(f"base image: building {base.name} with debootstrap from {mirror} (about 1-3 min)")
    tmp = base.with_name(base.name + ".building")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log_path = paths.logs / f"debootstrap-{base.name}.log"
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
                    progress.say(f"base image: still building ({last - started:.0f}s; {last_line(log_path)})")
    if proc.returncode != 0:
        raise LabError(f"debootstrap failed ({proc.returncode}); see {log_path}:\n{tail(log_path)}")
    customize_base(tmp / "rootfs")
    (tmp / "complete").write_text(json.dumps({"distribution": distribution, "packages": BASE_PACKAGES,
                                              "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n",
                                  encoding="utf-8")
    if base.exists():
        shutil.rmtree(base)
    tmp.rename(base)
    progress.say(f"base image: built in {time.monotonic() - started:.0f}s, {dir_usage(base) / 2**20:.0f} MiB")
    return base / "rootfs"


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
