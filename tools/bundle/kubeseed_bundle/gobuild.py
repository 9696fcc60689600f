"""Go builds from the module proxy: wrapper modules, Kubernetes version ldflags and the cached Go parts."""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from .cache import PART_REVISIONS, Part, cache_root, short_hash
from .errors import BundleError
from .pins import ARCH, KUBERNETES_COMMANDS, Pins
from .proc import Progress, capture, peak_child_rss_mib, run
from .shared import TOOL_DIR, sha256_file

GO_TOOLS_DIR = TOOL_DIR / "go"
# The etcd binaries and their Go modules (same version as etcd): etcdutl restores snapshots, which etcdctl 3.6+ no longer does.
ETCD_MODULES = {
    "etcd": "go.etcd.io/etcd/server/v3",
    "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
    "etcdutl": "go.etcd.io/etcd/etcdutl/v3",
}


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
        flags: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        """Build ``packages`` (full import paths) of module@version into ``outdir`` with one go build (``flags``: more go build
        flags, ``env``: more environment, e.g. cgo)."""
        work = cache_root() / "work" / f"{part}-{version}"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        log = work / "build.log"
        (work / "go.mod").write_text(self.wrapper_gomod(module, version, local_version), encoding="utf-8")
        env = dict(self.env, GOFLAGS="-mod=mod -buildvcs=false", **(env or {}))
        self.progress.say(f"  resolving {module}@{version} ({len(packages)} packages) in {work}")
        run(["go", "get", *[f"{pkg}@{version}" for pkg in packages]], progress=self.progress, label=f"go get {part}", log=log, cwd=work, env=env)
        tmp = outdir.with_name(outdir.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.progress.say(f"  go build {part} ({', '.join(p.rsplit('/', 1)[-1] for p in packages)}); log {log}")
        # -v lists each package as it is compiled: the heartbeat shows the latest one.
        cmd = ["go", "build", "-v", "-trimpath", *flags, "-ldflags", ldflags, "-o", str(tmp) + "/", *packages]
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
    """Build etcd, etcdctl and etcdutl (each module has relative replaces, so one wrapper each)."""
    version = f"v{pins.etcd}"
    ldflags = "-s -w"
    part = go_part(builder, f"etcd-{pins.etcd}", ldflags, sorted(ETCD_MODULES.items()))
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    part.path.mkdir(parents=True, exist_ok=True)
    for binary, module in ETCD_MODULES.items():
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


# The container runtime (issue 19): containerd's daemon, its runc shim and ctr, pure Go (no btrfs, devmapper or zfs
# snapshotters: they need C libraries, and overlayfs is the one the roles configure); runc with cgo (its nsenter is C) and
# libseccomp (Debian's libseccomp-dev) linked in statically, so that the binary runs on any glibc the hosts have.
CONTAINERD_COMMANDS = {"containerd": "cmd/containerd", "containerd-shim-runc-v2": "cmd/containerd-shim-runc-v2", "ctr": "cmd/ctr"}
CONTAINERD_TAGS = "no_btrfs no_devmapper no_zfs"
RUNC_TAGS = "seccomp netgo osusergo urfave_cli_no_docs"
LIBSECCOMP_STATIC = Path("/usr/lib/x86_64-linux-gnu/libseccomp.a")


def build_containerd(builder: GoBuilder, pins: Pins) -> Part:
    """Build containerd, containerd-shim-runc-v2 and ctr from github.com/containerd/containerd/v2."""
    module = "github.com/containerd/containerd/v2"
    ldflags = (f"-s -w -X {module}/version.Version=v{pins.containerd} -X {module}/version.Revision=kubeseed"
               f" -X {module}/version.Package=github.com/containerd/containerd/v2")
    part = go_part(builder, f"containerd-{pins.containerd}", sorted(CONTAINERD_COMMANDS.items()), ldflags, CONTAINERD_TAGS)
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    packages = [f"{module}/{sub}" for sub in CONTAINERD_COMMANDS.values()]
    builder.build(part="containerd", module=module, version=f"v{pins.containerd}", packages=packages, ldflags=ldflags,
                  outdir=part.path, flags=["-tags", CONTAINERD_TAGS])
    part.mark_done({"version": pins.containerd, "go": builder.goversion})
    return part


def build_runc(builder: GoBuilder, pins: Pins) -> Part:
    """Build runc (cgo, seccomp) as a static PIE from github.com/opencontainers/runc."""
    ldflags = f"-s -w -X main.version={pins.runc} -X main.gitCommit=kubeseed -extldflags -static-pie"
    part = go_part(builder, f"runc-{pins.runc}", RUNC_TAGS, ldflags)
    if part.done:
        builder.progress.say(f"  cached: {part.path}")
        return part
    if shutil.which("gcc") is None or not LIBSECCOMP_STATIC.exists():
        raise BundleError(f"runc needs gcc and {LIBSECCOMP_STATIC}: apt-get install gcc libc6-dev libseccomp-dev pkg-config "
                          "(make system-deps installs them)")
    builder.build(part="runc", module="github.com/opencontainers/runc", version=f"v{pins.runc}",
                  packages=["github.com/opencontainers/runc"], ldflags=ldflags, outdir=part.path,
                  flags=["-tags", RUNC_TAGS, "-buildmode=pie"], env={"CGO_ENABLED": "1"})
    part.mark_done({"version": pins.runc, "go": builder.goversion})
    return part


def build_tools(builder: GoBuilder, pins: Pins) -> Part:
    """Build the bundle's own helpers: imagepack (image writer), pause, the demo service, the serving-certificate approver and
    the storage add-on's volume helper."""
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
        ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp) + "/", "./cmd/imagepack", "./cmd/pause", "./cmd/demo", "./cmd/approver",
         "./cmd/volumehelper"],
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
