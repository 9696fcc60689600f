"""Building a bundle: every part (cached or built), then the staging directory, the manifest and the rename into place."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .cache import bundle_dir, build_lock, cache_root, place
from .debs import Apt, deb_part, write_packages_index
from .errors import BundleError
from .gobuild import (CONTAINERD_COMMANDS, ETCD_MODULES, GoBuilder, build_containerd, build_etcd, build_kubernetes, build_runc, build_simple,
                      build_tools)
from .images import ImageSpec, image_basename, kubeadm_images, pack_image
from .manifest import Entry, write_manifest
from .pins import (APPROVER_IMAGE, BASE_ALTERNATIVES, CNI_PLUGINS, DEB_SETS, DEMO_IMAGE, HOST_BASE_PACKAGES, HOST_DEBS,
                   KUBE_PROXY_IMAGE_DEBS, KUBERNETES_COMMANDS, LOCAL_PATH_PROVISIONER_IMAGE, METRICS_SERVER_IMAGE, Pins,
                   VOLUME_HELPER_IMAGE, pins_for)
from .proc import Progress, peak_child_rss_mib


def build(version: str) -> Path:
    """Build the bundle for a version (a no-op when it already exists); the version's stable name points at it."""
    pins = pins_for(version)
    final = bundle_dir(pins)
    if (final / "manifest.json").exists():
        print(f"[bundle] up to date: {final}", flush=True)
        point_stable_name(final)
        return final
    with build_lock():
        if not (final / "manifest.json").exists():
            final = build_locked(pins, final)
        else:
            print(f"[bundle] up to date: {final}", flush=True)
        point_stable_name(final)
        return final


def stable_name(final: Path) -> Path:
    """bundles/<version>: the name that stays when the builder changes (a served bundle's URL in an inventory)."""
    return final.with_name(final.name.rsplit("-", 1)[0])


def point_stable_name(final: Path) -> None:
    """bundles/<version> -> <version>-<recipe>, the bundle built last for that version (replaced atomically)."""
    link = stable_name(final)
    if link.is_symlink() and os.readlink(link) == final.name:
        return
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(final.name, tmp)
    os.replace(tmp, link)
    print(f"[bundle] {link} -> {final.name}", flush=True)


def build_locked(pins: Pins, final: Path) -> Path:
    """Build the bundle; the caller holds the build lock."""
    progress = Progress(total=13)
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

    progress.step(f"metrics-server {pins.metrics_server}")
    metrics = build_simple(
        builder, "metrics-server", "sigs.k8s.io/metrics-server", pins.metrics_server, {"metrics-server": "cmd/metrics-server"},
        f"-s -w -X k8s.io/client-go/pkg/version.gitVersion=v{pins.metrics_server}",
    )

    progress.step(f"local-path-provisioner {pins.local_path_provisioner}")
    local_path = build_simple(
        builder, "local-path-provisioner", "github.com/rancher/local-path-provisioner", pins.local_path_provisioner,
        {"local-path-provisioner": ""}, f"-s -w -X main.VERSION=v{pins.local_path_provisioner}",
    )

    progress.step(f"containerd {pins.containerd}")
    containerd = build_containerd(builder, pins)

    progress.step(f"runc {pins.runc}")
    runc = build_runc(builder, pins)

    progress.step("bundle tools (imagepack, pause, demo, approver, volumehelper)")
    tools = build_tools(builder, pins)

    progress.step("debian packages")
    apt = Apt(progress)
    apt.update_if_stale()
    host_base = HOST_BASE_PACKAGES | {d.name for d in apt.closure(HOST_BASE_PACKAGES, frozenset(), skip_required=False,
                                                                  prefer=BASE_ALTERNATIVES)}
    host_debs = apt.closure(HOST_DEBS, frozenset(host_base), skip_required=True)
    progress.say(f"  host packages: {', '.join(f'{d.name}={d.version}' for d in host_debs)}")
    host_part = deb_part(apt, "debs-host", host_debs, "apt-get download host debs")
    set_debs = {}
    for set_name, roots in sorted(DEB_SETS.items()):
        closure = apt.closure(roots, frozenset(host_base) | {d.name for d in host_debs}, skip_required=True)
        progress.say(f"  set {set_name}: {', '.join(f'{d.name}={d.version}' for d in closure)}")
        set_debs[set_name] = (closure, deb_part(apt, f"debs-{set_name}", closure, f"apt-get download {set_name} debs"))
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
    # The cluster's own workloads (not kubeadm's): the serving-certificate approver and the add-ons.
    addons = [
        ImageSpec(ref=APPROVER_IMAGE, file="images/kubelet-serving-approver.tar", component="kubelet-serving-approver",
                  binary_version=APPROVER_IMAGE.rsplit(":", 1)[1], files={"approver": tools.path / "approver"}, entrypoint=["/approver"]),
        ImageSpec(ref=f"{METRICS_SERVER_IMAGE}:v{pins.metrics_server}", file="images/metrics-server.tar", component="metrics-server",
                  binary_version=pins.metrics_server, files={"metrics-server": metrics.path / "metrics-server"}, entrypoint=["/metrics-server"]),
        # where the upstream image has it, so that the add-on's command is the same with either image
        ImageSpec(ref=f"{LOCAL_PATH_PROVISIONER_IMAGE}:v{pins.local_path_provisioner}", file="images/local-path-provisioner.tar",
                  component="local-path-provisioner", binary_version=pins.local_path_provisioner,
                  files={"usr/bin/local-path-provisioner": local_path.path / "local-path-provisioner"},
                  entrypoint=["/usr/bin/local-path-provisioner"]),
        ImageSpec(ref=VOLUME_HELPER_IMAGE, file="images/local-path-helper.tar", component="local-path-helper",
                  binary_version=VOLUME_HELPER_IMAGE.rsplit(":", 1)[1], files={"volumehelper": tools.path / "volumehelper"},
                  entrypoint=["/volumehelper"]),
    ]
    images = []
    app_images = []
    addon_images = []
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
    for spec in addons:
        tarball, result = pack_image(spec, tools.path / "imagepack", created, progress)
        entries.append(Entry(spec.file, tarball, "addon-image", spec.component, spec.ref.rsplit(":", 1)[1]))
        addon_images.append({"name": spec.ref, "file": spec.file, "digest": result["digest"], "config_digest": result["config_digest"],
                             "binary_version": spec.binary_version})

    progress.step("assemble and write manifest")
    for cmd in KUBERNETES_COMMANDS:
        entries.append(Entry(f"bin/{cmd}", kube.path / cmd, "binary", cmd, pins.kubernetes))
    for binary in ETCD_MODULES:
        entries.append(Entry(f"bin/{binary}", etcd.path / binary, "binary", binary, pins.etcd))
    entries.append(Entry("bin/crictl", crictl.path / "crictl", "binary", "crictl", pins.crictl))
    for binary in CONTAINERD_COMMANDS:
        entries.append(Entry(f"runtime/{binary}", containerd.path / binary, "runtime", binary, pins.containerd))
    entries.append(Entry("runtime/runc", runc.path / "runc", "runtime", "runc", pins.runc))
    for plugin in CNI_PLUGINS:
        entries.append(Entry(f"cni/{plugin}", cni.path / plugin, "cni", plugin, pins.cni_plugins))
    for deb in host_debs:
        entries.append(Entry(f"debs/{deb.deb_file}", host_part.path / deb.deb_file, "deb", deb.name, deb.version))
    for set_name, (closure, part) in sorted(set_debs.items()):
        for deb in closure:
            entries.append(Entry(f"debs/{deb.deb_file}", part.path / deb.deb_file, f"deb-{set_name}", deb.name, deb.version))

    staging = root / "bundles" / f".staging-{final.name}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    for entry in entries:
        place(entry.source, staging / entry.path)
    write_packages_index(staging / "debs")
    for index in ("Packages", "Packages.gz"):
        entries.append(Entry(f"debs/{index}", staging / "debs" / index, "index", "apt", "flat"))
    try:
        manifest = write_manifest(
            staging,
            pins=pins,
            recipe=final.name.rsplit("-", 1)[1],
            go_version=builder.goversion,
            entries=entries,
            images=images,
            app_images=app_images,
            addon_images=addon_images,
            debs={d.name: d.version for d in host_debs},
        )
    except BundleError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
