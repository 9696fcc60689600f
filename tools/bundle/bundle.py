"""Build, locate and verify a kubeseed offline bundle.

The bundle holds everything an air-gapped Debian bookworm host needs to run a
pinned Kubernetes: the seven Kubernetes binaries, etcd, crictl, CNI plugins,
container images for every image ``kubeadm config images list`` names, and
Debian .deb files (containerd, runc and the host tools kubeadm needs).  All of
it is built from the Go module proxy and the Debian mirror: no registry, no
Docker.  ``manifest.json`` describes every file with its sha256.

Usage::

    python3 tools/bundle/bundle.py build  [--kubernetes-version 1.37.2]
    python3 tools/bundle/bundle.py path   [--kubernetes-version 1.37.2]
    python3 tools/bundle/bundle.py verify [--kubernetes-version 1.37.2]

Cache root: ``${KUBESEED_CACHE:-$HOME/.cache/kubeseed}``.  Each expensive part
is cached under ``parts/`` by its own key, the bundle itself under
``bundles/<version>-<recipehash12>/``.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import gzip
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence

HERE = Path(__file__).resolve().parent
GO_TOOLS_DIR = HERE / "go"
DEFAULT_VERSION = "1.37.2"
SCHEMA = 1
HEARTBEAT_SECONDS = 20
ARCH = "amd64"

# Bumping a revision rebuilds only that part (the key of every part includes it).
PART_REVISIONS = {
    "kubernetes": 1,
    "etcd": 1,
    "coredns": 1,
    "crictl": 1,
    "cni": 1,
    "tools": 1,
    "debs": 1,
    "image": 1,
}

# The demo service image (tools/bundle/go/cmd/demo), shipped for the demo applications and e2e checks.
DEMO_IMAGE = "kubeseed.local/demo:0.1.0"
KUBERNETES_COMMANDS = (
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)
CNI_PLUGINS = {
    "bridge": "plugins/main/bridge",
    "loopback": "plugins/main/loopback",
    "host-local": "plugins/ipam/host-local",
    "portmap": "plugins/meta/portmap",
}
# Debian packages a bare bookworm host installs from the bundle (kubeadm's
# preflight needs conntrack; socat, ebtables and ethtool are checked too;
# python3-yaml lets kubeseed.cluster.kubeadm_init compare the live ClusterConfiguration).
HOST_DEBS = ("containerd", "runc", "conntrack", "socat", "ebtables", "ethtool", "iptables", "python3-yaml")
# Assumed present on every target: a `debootstrap --variant=minbase` bookworm
# host with these packages.  They and their dependency closure are not shipped
# (nor are Essential or Priority: required packages, which minbase installs).
# Anything else the roots need is shipped, even if a typical host has it.
HOST_BASE_PACKAGES = frozenset({"systemd", "iproute2", "iptables", "python3", "ca-certificates", "kmod", "procps"})
# Userland of the kube-proxy image (closure from an empty root).
KUBE_PROXY_IMAGE_DEBS = ("iptables", "conntrack")
RECIPE_SUFFIXES = frozenset({".py", ".go", ".mod", ".sum"})
IMAGE_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclasses.dataclass(frozen=True)
class Pins:
    """Versions built for one Kubernetes release (binaries; image tags come from kubeadm)."""

    kubernetes: str
    etcd: str
    coredns: str
    crictl: str
    cni_plugins: str
    pause: str
    gotoolchain: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return the pins as a plain dictionary."""
        return dataclasses.asdict(self)


# etcd/coredns/pause are the versions kubeadm of that release names (its
# constants.go); every one of them is served by the Go module proxy.
PINS: dict[str, Pins] = {
    "1.37.2": Pins(kubernetes="1.37.2", etcd="3.7.0", coredns="1.14.6", crictl="1.37.0", cni_plugins="1.10.0", pause="3.10.2"),
    "1.36.3": Pins(kubernetes="1.36.3", etcd="3.6.8", coredns="1.14.2", crictl="1.37.0", cni_plugins="1.10.0", pause="3.10.2"),
}


class BundleError(Exception):
    """A failure with a message that says what to do."""


def cache_root() -> Path:
    """Return the cache root (``$KUBESEED_CACHE`` or ``~/.cache/kubeseed``)."""
    value = os.environ.get("KUBESEED_CACHE")
    return Path(value) if value else Path.home() / ".cache" / "kubeseed"


def normalize_version(version: str) -> str:
    """Accept ``1.37.2`` or ``v1.37.2``; return ``1.37.2``."""
    version = version.strip()
    return version[1:] if version.startswith("v") else version


def pins_for(version: str) -> Pins:
    """Return the pins of a supported Kubernetes version or raise."""
    version = normalize_version(version)
    if version not in PINS:
        raise BundleError(f"Kubernetes {version} is not pinned; supported: {', '.join(sorted(PINS))} (add it to PINS in {__file__})")
    return PINS[version]


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def short_hash(*parts: object) -> str:
    """Return a 12 character hash of JSON-serialisable parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def recipe_hash(pins: Pins) -> str:
    """Hash the builder's own source files and the version pins."""
    digest = hashlib.sha256()
    for path in sorted(HERE.rglob("*")):
        # Sources only: caches, editor files or test output never change the recipe.
        if not path.is_file() or path.suffix not in RECIPE_SUFFIXES or "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(HERE)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(pins.as_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:12]


def bundle_dir(pins: Pins) -> Path:
    """Return the final bundle directory for the pins and the current recipe."""
    return cache_root() / "bundles" / f"{pins.kubernetes}-{recipe_hash(pins)}"


class Progress:
    """Prints ``[bundle] step i/N`` lines and heartbeats with elapsed time."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self.started = time.monotonic()

    def elapsed(self) -> int:
        """Seconds since the build started."""
        return int(time.monotonic() - self.started)

    def step(self, name: str) -> None:
        """Announce the next step."""
        self.index += 1
        self.say(f"step {self.index}/{self.total} {name} ... (elapsed {self.elapsed()}s)")

    def say(self, message: str) -> None:
        """Print one progress line."""
        print(f"[bundle] {message}", flush=True)


def last_line(path: Path) -> str:
    """Return the last non-empty line of a log file (for heartbeats)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = [line for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:160] if lines else ""


def run(
    cmd: Sequence[str],
    *,
    progress: Progress,
    label: str,
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run a command with output to ``log``; print a heartbeat while it runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        with subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT) as proc:
            next_beat = started + HEARTBEAT_SECONDS
            while True:
                try:
                    code = proc.wait(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= next_beat:
                        next_beat += HEARTBEAT_SECONDS
                        tail = last_line(log)
                        progress.say(
                            f"  ... {label}: running {int(time.monotonic() - started)}s (elapsed {progress.elapsed()}s)" + (f" | {tail}" if tail else "")
                        )
    if code != 0:
        with log.open("rb") as handle:
            tail_text = handle.read().decode(errors="replace").splitlines()[-25:]
        raise BundleError(f"{label} failed (exit {code}); log: {log}\n" + "\n".join(tail_text))


def capture(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a quick command and return its stdout, raising BundleError on failure."""
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


# --------------------------------------------------------------------------- Go


class GoBuilder:
    """Builds Go main packages from module proxy versions in wrapper modules."""

    def __init__(self, pins: Pins, progress: Progress) -> None:
        self.pins = pins
        self.progress = progress
        self.env = dict(os.environ, CGO_ENABLED="0", GOOS="linux", GOARCH=ARCH, GOFLAGS="-buildvcs=false")
        if pins.gotoolchain:
            self.env["GOTOOLCHAIN"] = pins.gotoolchain
        if shutil.which("go") is None:
            raise BundleError("the go command is not on PATH; install Go 1.26 or newer")
        self.goversion = capture(["go", "env", "GOVERSION"], env=self.env).strip()

    def module_info(self, module: str, version: str) -> dict[str, str]:
        """Download a module (if needed) and return ``go mod download -json`` output."""
        env = dict(self.env, GOFLAGS="-mod=mod -buildvcs=false")
        info = json.loads(capture(["go", "mod", "download", "-json", f"{module}@{version}"], env=env, cwd=cache_root()))
        if "Error" in info:
            raise BundleError(f"{module}@{version}: {info['Error']}")
        return info

    def wrapper_gomod(self, module: str, version: str, local_version: Callable[[str], str] | None) -> str:
        """A go.mod requiring module@version, with the module's local-path replaces mapped to proxy versions."""
        gomod = Path(self.module_info(module, version)["GoMod"]).read_text(encoding="utf-8")
        lines = ["module kubeseed.local/build", "", "go 1.26", "", f"require {module} {version}", ""]
        replaces = derive_replaces(gomod, local_version)
        if replaces:
            lines.append("replace (")
            lines.extend(f"\t{left} => {left} {pinned}" for left, pinned in replaces)
            lines.append(")")
        return "\n".join(lines) + "\n"

    def build(
        self,
        *,
        part: str,
        module: str,
        version: str,
        packages: Sequence[str],
        ldflags: str,
        outdir: Path,
        local_version: Callable[[str], str] | None = None,
    ) -> None:
        """Build ``packages`` (full import paths) of module@version into ``outdir`` with one go build."""
        work = cache_root() / "work" / f"{part}-{version}"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        log = work / "build.log"
        (work / "go.mod").write_text(self.wrapper_gomod(module, version, local_version), encoding="utf-8")
        env = dict(self.env, GOFLAGS="-mod=mod -buildvcs=false")
        self.progress.say(f"  resolving {module}@{version} ({len(packages)} packages) in {work}")
        run(["go", "get", *[f"{pkg}@{version}" for pkg in packages]], progress=self.progress, label=f"go get {part}", log=log, cwd=work, env=env)
        tmp = outdir.with_name(outdir.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.progress.say(f"  go build {part} ({', '.join(p.rsplit('/', 1)[-1] for p in packages)}); log {log}")
        # -v lists each package as it is compiled: the heartbeat shows the latest one.
        cmd = ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(tmp) + "/", *packages]
        run(cmd, progress=self.progress, label=f"go build {part}", log=log, cwd=work, env=env)
        self.progress.say(f"  peak RSS of a build process so far: {peak_child_rss_mib()} MiB")
        if outdir.exists():
            shutil.rmtree(outdir)
        tmp.rename(outdir)


def derive_replaces(gomod: str, local_version: Callable[[str], str] | None) -> list[tuple[str, str]]:
    """Proxy versions for the modules a go.mod replaces with local paths (``X => ./staging/...``, ``X => ../api``).

    Only modules the go.mod also requires are kept.  A required ``v0.0.0``
    (Kubernetes' staging modules) is mapped by ``local_version``; any other
    required version (etcd's sibling modules) is used as it is.
    """
    required = dict(re.findall(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)(?:\s*//.*)?$", gomod, re.MULTILINE))
    replaces: dict[str, str] = {}
    for left in re.findall(r"^\s*(?:replace\s+)?(\S+)(?:\s+v\S+)?\s+=>\s+\.\.?/\S*\s*$", gomod, re.MULTILINE):
        if left not in required:
            continue
        pinned = required[left]
        if pinned.startswith("v0.0.0") and local_version is not None:
            pinned = local_version(left)
        replaces[left] = pinned
    return sorted(replaces.items())


def peak_child_rss_mib() -> int:
    """Largest RSS of any finished child process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


def module_time(builder: GoBuilder, module: str, version: str) -> str:
    """The release time the proxy records for a module version (RFC 3339, UTC)."""
    info = json.loads(Path(builder.module_info(module, version)["Info"]).read_text(encoding="utf-8"))
    stamp = datetime.datetime.fromisoformat(info["Time"].replace("Z", "+00:00"))
    return stamp.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def kubernetes_ldflags(version: str, build_date: str) -> str:
    """Version ldflags Kubernetes' own build sets (kubeadm reads them)."""
    major, minor = version.split(".")[:2]
    values = {
        "gitVersion": f"v{version}",
        "gitMajor": major,
        "gitMinor": minor,
        "gitCommit": "0" * 40,
        "gitTreeState": "archive",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags.extend(f"-X {pkg}.{key}={value}" for key, value in values.items())
    return " ".join(flags)


@dataclasses.dataclass
class Part:
    """A cached build output directory; ``done`` marks it complete."""

    name: str
    key: str

    @property
    def path(self) -> Path:
        """Directory of the part."""
        return cache_root() / "parts" / f"{self.name}-{self.key}"

    @property
    def done(self) -> bool:
        """True when the part finished building."""
        return (self.path / ".done").exists()

    def mark_done(self, meta: dict[str, object]) -> None:
        """Record completion and metadata."""
        (self.path / ".done").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def meta(self) -> dict[str, object]:
        """Metadata written by ``mark_done``."""
        return json.loads((self.path / ".done").read_text(encoding="utf-8"))


def go_part(builder: GoBuilder, name: str, *recipe: object) -> Part:
    """A part keyed by its recipe, the Go version and the part revision."""
    return Part(name, short_hash(name, PART_REVISIONS[name.split("-")[0]], builder.goversion, *recipe))


def build_kubernetes(builder: GoBuilder, pins: Pins) -> Part:
    """Build the seven Kubernetes binaries in one go build."""
    version = pins.kubernetes
    packages = [f"k8s.io/kubernetes/cmd/{cmd}" for cmd in KUBERNETES_COMMANDS]
    date = module_time(builder, "k8s.io/kubernetes", f"v{version}")
    ldflags = kubernetes_ldflags(version, date)
    part = go_part(builder, f"kubernetes-{version}", packages, ldflags)
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    minor_patch = version.split(".", 1)[1]
    builder.build(
        part="kubernetes",
        module="k8s.io/kubernetes",
        version=f"v{version}",
        packages=packages,
        ldflags=ldflags,
        outdir=part.path,
        local_version=lambda _module: f"v0.{minor_patch}",
    )
    part.mark_done({"version": version, "build_date": date, "go": builder.goversion})
    return part


def build_etcd(builder: GoBuilder, pins: Pins) -> Part:
    """Build etcd and etcdctl (each module has relative replaces, so one wrapper each)."""
    version = f"v{pins.etcd}"
    ldflags = "-s -w"
    part = go_part(builder, f"etcd-{pins.etcd}", ldflags)
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    part.path.mkdir(parents=True, exist_ok=True)
    for module, binary in (("go.etcd.io/etcd/server/v3", "etcd"), ("go.etcd.io/etcd/etcdctl/v3", "etcdctl")):
        out = cache_root() / "work" / f"etcd-out-{binary}-{version}"
        builder.build(part=f"etcd-{binary}", module=module, version=version, packages=[module], ldflags=ldflags, outdir=out)
        produced = list(out.iterdir())
        if len(produced) != 1:
            raise BundleError(f"expected one binary from {module}, got {produced}")
        os.replace(produced[0], part.path / binary)
        shutil.rmtree(out)
    part.mark_done({"version": pins.etcd, "go": builder.goversion})
    return part


def build_simple(builder: GoBuilder, name: str, module: str, version: str, packages: dict[str, str], ldflags: str) -> Part:
    """Build binaries named like the keys of ``packages`` from one module."""
    part = go_part(builder, f"{name}-{version}", sorted(packages.items()), ldflags)
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    full = {binary: f"{module}/{sub}" if sub else module for binary, sub in packages.items()}
    builder.build(part=name, module=module, version=f"v{version}", packages=list(full.values()), ldflags=ldflags, outdir=part.path)
    for binary, pkg in full.items():
        produced = part.path / pkg.rstrip("/").rsplit("/", 1)[-1]
        if produced.name != binary:
            produced.rename(part.path / binary)
    part.mark_done({"version": version, "go": builder.goversion})
    return part


def build_tools(builder: GoBuilder, pins: Pins) -> Part:
    """Build the bundle's own helpers: imagepack (image writer), pause and the demo service."""
    sources = sorted((str(p.relative_to(GO_TOOLS_DIR)), sha256_file(p)) for p in GO_TOOLS_DIR.rglob("*") if p.is_file())
    ldflags = f"-s -w -X main.version={pins.pause}"
    part = go_part(builder, "tools", sources, ldflags)
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    tmp = part.path.with_name(part.path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    log = cache_root() / "work" / "tools-build.log"
    run(
        ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp) + "/", "./cmd/imagepack", "./cmd/pause", "./cmd/demo"],
        progress=builder.progress,
        label="go build tools",
        log=log,
        cwd=GO_TOOLS_DIR,
        env=builder.env,
    )
    if part.path.exists():
        shutil.rmtree(part.path)
    tmp.rename(part.path)
    part.mark_done({"pause": pins.pause, "go": builder.goversion})
    return part


# ------------------------------------------------------------------------ Debian


@dataclasses.dataclass(frozen=True)
class Deb:
    """One resolved Debian binary package (candidate version)."""

    name: str
    version: str
    filename: str
    sha256: str
    depends: tuple[tuple[str, ...], ...]
    required: bool

    @property
    def deb_file(self) -> str:
        """File name as ``apt-get download`` writes it (epoch colon is %3a)."""
        return Path(self.filename).name


def parse_depends(value: str) -> tuple[tuple[str, ...], ...]:
    """Parse a Depends field into groups of alternatives (names only)."""
    groups = []
    for group in value.split(","):
        names = tuple(re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0] for alt in group.split("|"))
        names = tuple(name for name in names if name)
        if names:
            groups.append(names)
    return tuple(groups)


class Apt:
    """Resolves dependency closures with the host's apt (a Debian bookworm host)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.cache: dict[str, Deb | None] = {}
        self.providers: dict[str, list[str]] = {}
        if shutil.which("apt-cache") is None or shutil.which("apt-get") is None:
            raise BundleError("apt-get/apt-cache not found: build the bundle on Debian bookworm")
        release = Path("/etc/os-release").read_text(encoding="utf-8")
        if "VERSION_CODENAME=bookworm" not in release:
            raise BundleError("the .debs must come from Debian bookworm: build the bundle on a bookworm host")

    def update_if_stale(self) -> None:
        """Run apt-get update unless this builder did so in the last 6 hours (stamp in the cache)."""
        stamp = cache_root() / "work" / "apt-updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < 6 * 3600:
            return
        self.progress.say("  apt-get update")
        run(["apt-get", "update", "-q"], progress=self.progress, label="apt-get update", log=cache_root() / "work" / "apt.log")
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()

    def show(self, names: Iterable[str]) -> None:
        """Load candidates of many packages with one apt-cache call (virtual ones become None)."""
        wanted = sorted({name for name in names if name not in self.cache})
        if not wanted:
            return
        out = capture(["apt-cache", "show", "--no-all-versions", *wanted])
        for stanza in out.split("\n\n"):
            fields: dict[str, str] = {}
            key = ""
            for line in stanza.splitlines():
                if line[:1].isspace() and key:
                    fields[key] += " " + line.strip()
                elif ":" in line:
                    key, _sep, value = line.partition(":")
                    fields[key] = value.strip()
            if "Package" not in fields or fields["Package"] in self.cache:
                continue
            depends = parse_depends(fields.get("Pre-Depends", "")) + parse_depends(fields.get("Depends", ""))
            required = fields.get("Essential") == "yes" or fields.get("Priority") == "required"
            self.cache[fields["Package"]] = Deb(fields["Package"], fields["Version"], fields["Filename"], fields["SHA256"], depends, required)
        for name in wanted:
            self.cache.setdefault(name, None)

    def provider(self, name: str) -> str | None:
        """First real package providing a virtual one."""
        proc = subprocess.run(["apt-cache", "showpkg", name], capture_output=True, text=True, check=False)
        text = proc.stdout.split("Reverse Provides:", 1)
        if len(text) < 2:
            return None
        for line in text[1].splitlines():
            if line.strip():
                return line.split()[0]
        return None

    def closure(self, roots: Iterable[str], present: frozenset[str], skip_required: bool) -> list[Deb]:
        """Dependency closure of ``roots`` (Depends + Pre-Depends, no Recommends).

        Packages in ``present`` (and, with ``skip_required``, Essential or
        Priority: required packages) are assumed installed: not shipped, not
        followed.  Roots are always shipped.
        """
        chosen: dict[str, Deb] = {}
        level = sorted(set(roots))
        root_set = set(level)
        while level:
            self.show(level)
            self.show(alt for name in level if self.cache.get(name) for group in self.cache[name].depends for alt in group)
            following: list[str] = []
            for name in level:
                deb = self.cache.get(name)
                if deb is None:
                    raise BundleError(f"Debian package {name} not found (apt-get update?)")
                if name in chosen or (name not in root_set and (name in present or (skip_required and deb.required))):
                    continue
                chosen[name] = deb
                for group in deb.depends:
                    if any(alt in chosen or alt in present or alt in following for alt in group):
                        continue
                    pick = next((alt for alt in group if self.cache.get(alt) is not None), None)
                    if pick is None:
                        pick = next((real for real in map(self.provider, group) if real), None)
                    if pick is None:
                        raise BundleError(f"cannot satisfy dependency {' | '.join(group)} of {name}")
                    following.append(pick)
            level = sorted(set(following) - set(chosen))
        return sorted(chosen.values(), key=lambda d: d.name)

    def download(self, debs: Sequence[Deb], part: Part, label: str) -> None:
        """Download exact versions into the part directory and check their sha256."""
        tmp = part.path.with_name(part.path.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        os.chmod(tmp, 0o755)
        run(
            ["apt-get", "download", "-q", *[f"{d.name}={d.version}" for d in debs]],
            progress=self.progress,
            label=label,
            log=cache_root() / "work" / f"{label.replace(' ', '-')}.log",
            cwd=tmp,
        )
        for deb in debs:
            path = tmp / deb.deb_file
            if not path.exists():
                candidates = list(tmp.glob(f"{deb.name}_*.deb"))
                if len(candidates) != 1:
                    raise BundleError(f"apt-get download did not produce {deb.deb_file}")
                candidates[0].rename(path)
            if sha256_file(path) != deb.sha256:
                raise BundleError(f"sha256 mismatch for {path}")
        if part.path.exists():
            shutil.rmtree(part.path)
        tmp.rename(part.path)


def deb_part(apt: Apt, name: str, debs: Sequence[Deb], label: str) -> Part:
    """Download (or reuse) a set of exact .deb versions."""
    part = Part(name, short_hash(name, PART_REVISIONS["debs"], [(d.name, d.version, d.sha256) for d in debs]))
    if part.done:
        apt.progress.say(f"  cached: {part.path}")
        return part
    apt.download(debs, part, label)
    part.mark_done({"debs": {d.deb_file: {"name": d.name, "version": d.version} for d in debs}})
    return part


def deb_control(path: Path) -> str:
    """The control file of a .deb (via dpkg-deb)."""
    return capture(["dpkg-deb", "-f", str(path)])


def write_packages_index(debdir: Path) -> None:
    """Write ``Packages`` and ``Packages.gz`` so the directory is a flat apt repository."""
    stanzas = []
    for path in sorted(debdir.glob("*.deb")):
        control = deb_control(path).rstrip("\n")
        data = path.read_bytes()
        stanzas.append(
            f"{control}\nFilename: ./{path.name}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    text = "\n".join(stanzas).encode()
    (debdir / "Packages").write_bytes(text)
    with gzip.GzipFile(debdir / "Packages.gz", "wb", mtime=0) as handle:
        handle.write(text)


# ------------------------------------------------------------------------ images


@dataclasses.dataclass
class ImageSpec:
    """What goes into one image: files (bundle path -> image path) and a config."""

    ref: str
    file: str
    component: str
    binary_version: str
    files: dict[str, Path]
    entrypoint: list[str]
    debs: list[Path] = dataclasses.field(default_factory=list)


def image_basename(ref: str) -> str:
    """``registry.k8s.io/coredns/coredns:v1.14.6`` -> ``coredns``."""
    return ref.rsplit(":", 1)[0].rsplit("/", 1)[-1]


def kubeadm_images(kubeadm: Path, version: str) -> list[str]:
    """Images kubeadm names for the version (never contacts the internet: version is set)."""
    out = capture([str(kubeadm), "config", "images", "list", "--kubernetes-version", f"v{version}"])
    return [line.strip() for line in out.splitlines() if line.strip()]


BASE_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}
IPTABLES_LINKS = {
    "usr/sbin/iptables": "iptables-nft",
    "usr/sbin/iptables-save": "iptables-nft-save",
    "usr/sbin/iptables-restore": "iptables-nft-restore",
    "usr/sbin/ip6tables": "ip6tables-nft",
    "usr/sbin/ip6tables-save": "ip6tables-nft-save",
    "usr/sbin/ip6tables-restore": "ip6tables-nft-restore",
}


def image_rootfs(spec: ImageSpec, root: Path) -> None:
    """Lay out the image's root filesystem in ``root``."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for rel, text in BASE_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    for deb in spec.debs:
        capture(["dpkg-deb", "-x", str(deb), str(root)])
    if spec.debs:
        for rel, target in IPTABLES_LINKS.items():
            link = root / rel
            if not link.exists() and (link.parent / target).exists():
                link.symlink_to(target)
        for rel in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian"):
            shutil.rmtree(root / rel, ignore_errors=True)
    for rel, source in spec.files.items():
        dest = root / rel.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        os.chmod(dest, 0o755)


def pack_image(spec: ImageSpec, imagepack: Path, created: str, progress: Progress) -> tuple[Path, dict[str, str]]:
    """Pack (or reuse) one image; returns the tarball and imagepack's JSON."""
    inputs = sorted((rel, sha256_file(src)) for rel, src in spec.files.items())
    inputs += sorted((deb.name, sha256_file(deb)) for deb in spec.debs)
    key = short_hash(PART_REVISIONS["image"], spec.ref, spec.entrypoint, inputs, sha256_file(imagepack), created, BASE_FILES, IPTABLES_LINKS)
    part = Part(f"image-{image_basename(spec.ref)}", key)
    tarball = part.path / "image.tar"
    if part.done:
        progress.say(f"  cached: {spec.ref}")
        return tarball, {str(k): str(v) for k, v in part.meta().items()}
    if part.path.exists():
        shutil.rmtree(part.path)
    part.path.mkdir(parents=True)
    root = part.path / "rootfs"
    image_rootfs(spec, root)
    cmd = [str(imagepack), "-ref", spec.ref, "-tree", str(root), "-out", str(tarball), "-created", created, "-env", IMAGE_PATH_ENV]
    for element in spec.entrypoint:
        cmd += ["-entrypoint", element]
    progress.say(f"  packing {spec.ref}")
    result = json.loads(capture(cmd))
    shutil.rmtree(root)
    part.mark_done(result)
    return tarball, result


# ---------------------------------------------------------------------- assembly


@dataclasses.dataclass
class Entry:
    """A file to place in the bundle."""

    path: str
    source: Path
    kind: str
    component: str
    version: str


def place(source: Path, dest: Path) -> None:
    """Hard-link (same file system) or copy a file into the staging bundle."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time per cache (builds share work directories and two cores)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".build.lock").open("w", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[bundle] waiting for another build in {root} to finish ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build(version: str) -> Path:
    """Build the bundle for a version (a no-op when it already exists)."""
    pins = pins_for(version)
    final = bundle_dir(pins)
    if (final / "manifest.json").exists():
        print(f"[bundle] up to date: {final}", flush=True)
        return final
    with build_lock():
        if (final / "manifest.json").exists():
            print(f"[bundle] up to date: {final}", flush=True)
            return final
        return build_locked(pins, final)


def build_locked(pins: Pins, final: Path) -> Path:
    """Build the bundle; the caller holds the build lock."""
    progress = Progress(total=9)
    progress.say(f"building Kubernetes v{pins.kubernetes} bundle into {final}")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)

    progress.step("kubernetes binaries (cold: about 10-15 min on 2 cores)")
    builder = GoBuilder(pins, progress)
    kube = build_kubernetes(builder, pins)

    progress.step(f"etcd {pins.etcd}")
    etcd = build_etcd(builder, pins)

    progress.step(f"coredns {pins.coredns}")
    coredns = build_simple(builder, "coredns", "github.com/coredns/coredns", pins.coredns, {"coredns": ""}, "-s -w")

    progress.step(f"crictl {pins.crictl}")
    crictl = build_simple(
        builder, "crictl", "sigs.k8s.io/cri-tools", pins.crictl, {"crictl": "cmd/crictl"},
        f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v{pins.crictl}",
    )

    progress.step(f"cni plugins {pins.cni_plugins}")
    cni = build_simple(
        builder, "cni", "github.com/containernetworking/plugins", pins.cni_plugins, CNI_PLUGINS,
        f"-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v{pins.cni_plugins}",
    )

    progress.step("bundle tools (imagepack, pause, demo)")
    tools = build_tools(builder, pins)

    progress.step("debian packages")
    apt = Apt(progress)
    apt.update_if_stale()
    host_base = HOST_BASE_PACKAGES | {d.name for d in apt.closure(HOST_BASE_PACKAGES, frozenset(), skip_required=False)}
    host_debs = apt.closure(HOST_DEBS, frozenset(host_base), skip_required=True)
    progress.say(f"  host packages: {', '.join(f'{d.name}={d.version}' for d in host_debs)}")
    host_part = deb_part(apt, "debs-host", host_debs, "apt-get download host debs")
    proxy_debs = apt.closure(KUBE_PROXY_IMAGE_DEBS, frozenset(), skip_required=False)
    proxy_part = deb_part(apt, "debs-kube-proxy-image", proxy_debs, "apt-get download image debs")

    progress.step("container images")
    kubeadm = kube.path / "kubeadm"
    created = str(kube.meta()["build_date"])
    specs = []
    for ref in kubeadm_images(kubeadm, pins.kubernetes):
        base = image_basename(ref)
        spec = ImageSpec(ref=ref, file=f"images/{base}.tar", component=base, binary_version=pins.kubernetes, files={}, entrypoint=[])
        if base in KUBERNETES_COMMANDS:
            spec.files = {f"usr/local/bin/{base}": kube.path / base}
            spec.entrypoint = [f"/usr/local/bin/{base}"]
            if base == "kube-proxy":
                spec.debs = [proxy_part.path / d.deb_file for d in proxy_debs]
        elif base == "etcd":
            spec.files = {"usr/local/bin/etcd": etcd.path / "etcd", "usr/local/bin/etcdctl": etcd.path / "etcdctl"}
            spec.entrypoint, spec.binary_version = ["/usr/local/bin/etcd"], pins.etcd
        elif base == "coredns":
            spec.files = {"coredns": coredns.path / "coredns"}
            spec.entrypoint, spec.binary_version = ["/coredns"], pins.coredns
        elif base == "pause":
            spec.files = {"pause": tools.path / "pause"}
            spec.entrypoint, spec.binary_version = ["/pause"], pins.pause
        else:
            raise BundleError(f"kubeadm names an image this builder does not know how to make: {ref}")
        specs.append(spec)
    # Workload images (not kubeadm's): the demo service, for the demo applications and the e2e checks.
    demo = ImageSpec(ref=DEMO_IMAGE, file="images/kubeseed-demo.tar", component="kubeseed-demo", binary_version=pins.pause,
                     files={"demo": tools.path / "demo"}, entrypoint=["/demo"])
    images = []
    app_images = []
    entries: list[Entry] = []
    for spec in specs:
        tarball, result = pack_image(spec, tools.path / "imagepack", created, progress)
        tag = spec.ref.rsplit(":", 1)[1]
        entries.append(Entry(spec.file, tarball, "image", spec.component, tag))
        record = {
            "name": spec.ref,
            "file": spec.file,
            "digest": result["digest"],
            "config_digest": result["config_digest"],
            "binary_version": spec.binary_version,
        }
        if spec.debs:
            record["debs"] = [f"{d.name}={d.version}" for d in proxy_debs]
        images.append(record)
    tarball, result = pack_image(demo, tools.path / "imagepack", created, progress)
    entries.append(Entry(demo.file, tarball, "app-image", demo.component, DEMO_IMAGE.rsplit(":", 1)[1]))
    app_images.append({"name": demo.ref, "file": demo.file, "digest": result["digest"], "config_digest": result["config_digest"]})

    progress.step("assemble and write manifest")
    for cmd in KUBERNETES_COMMANDS:
        entries.append(Entry(f"bin/{cmd}", kube.path / cmd, "binary", cmd, pins.kubernetes))
    entries.append(Entry("bin/etcd", etcd.path / "etcd", "binary", "etcd", pins.etcd))
    entries.append(Entry("bin/etcdctl", etcd.path / "etcdctl", "binary", "etcdctl", pins.etcd))
    entries.append(Entry("bin/crictl", crictl.path / "crictl", "binary", "crictl", pins.crictl))
    for plugin in CNI_PLUGINS:
        entries.append(Entry(f"cni/{plugin}", cni.path / plugin, "cni", plugin, pins.cni_plugins))
    for deb in host_debs:
        entries.append(Entry(f"debs/{deb.deb_file}", host_part.path / deb.deb_file, "deb", deb.name, deb.version))

    staging = root / "bundles" / f".staging-{final.name}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    for entry in entries:
        place(entry.source, staging / entry.path)
    write_packages_index(staging / "debs")
    for index in ("Packages", "Packages.gz"):
        entries.append(Entry(f"debs/{index}", staging / "debs" / index, "index", "apt", "flat"))
    versions = {d.name: d.version for d in host_debs}
    manifest = {
        "schema": SCHEMA,
        "kubernetes_version": pins.kubernetes,
        "recipe": final.name.rsplit("-", 1)[1],
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "arch": ARCH,
        "go_version": builder.goversion,
        "files": [
            {
                "path": e.path,
                "sha256": sha256_file(staging / e.path),
                "size": (staging / e.path).stat().st_size,
                "kind": e.kind,
                "component": e.component,
                "version": e.version,
            }
            for e in entries
        ],
        "images": images,
        "app_images": app_images,
        "debs": sorted(versions),
        "debs_install": list(HOST_DEBS),
        "components": {
            "kubernetes": pins.kubernetes,
            "etcd": pins.etcd,
            "coredns": pins.coredns,
            "containerd": versions.get("containerd", ""),
            "runc": versions.get("runc", ""),
            "crictl": pins.crictl,
            "cni_plugins": pins.cni_plugins,
            "pause": pins.pause,
        },
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if bundle_dir(pins) != final:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError("the builder's source files changed during the build: run the build again")
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if (final / "manifest.json").exists():
            progress.say(f"another build finished first: {final}")
            return final
        raise BundleError(f"cannot move {staging} to {final}: {exc}") from exc
    size = sum(f["size"] for f in manifest["files"])
    progress.say(f"done in {progress.elapsed()}s: {final} ({size / 2**20:.0f} MiB, {len(entries)} files); peak child RSS {peak_child_rss_mib()} MiB")
    return final


def verify(version: str) -> list[str]:
    """Re-check every manifest entry of the bundle; return a list of problems."""
    pins = pins_for(version)
    final = bundle_dir(pins)
    manifest_path = final / "manifest.json"
    if not manifest_path.exists():
        return [f"no bundle at {final}: run `python3 {__file__} build --kubernetes-version {pins.kubernetes}`"]
    return verify_dir(final)


def verify_dir(final: Path) -> list[str]:
    """Check files against manifest.json: sha256, size, no missing and no unlisted files."""
    manifest = json.loads((final / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    listed = set()
    for item in manifest["files"]:
        path = final / item["path"]
        listed.add(item["path"])
        if not path.is_file():
            problems.append(f"missing: {item['path']}")
        elif path.stat().st_size != item["size"] or sha256_file(path) != item["sha256"]:
            problems.append(f"checksum mismatch: {item['path']}")
    for path in final.rglob("*"):
        rel = str(path.relative_to(final))
        if path.is_file() and rel != "manifest.json" and rel not in listed:
            problems.append(f"not in manifest: {rel}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("command", choices=("build", "path", "verify"))
    parser.add_argument("--kubernetes-version", default=os.environ.get("KUBESEED_KUBERNETES_VERSION", DEFAULT_VERSION))
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build(args.kubernetes_version))
            return 0
        pins = pins_for(args.kubernetes_version)
        if args.command == "path":
            final = bundle_dir(pins)
            print(final)
            if not (final / "manifest.json").exists():
                print(f"bundle not built yet: run `python3 {__file__} build --kubernetes-version {pins.kubernetes}`", file=sys.stderr)
                return 1
            return 0
        problems = verify(args.kubernetes_version)
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"ok: {bundle_dir(pins)}")
        return 1 if problems else 0
    except BundleError as exc:
        print(f"[bundle] error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
