"""What a bundle contains: pinned versions per Kubernetes release and the fixed lists of binaries, plugins and packages."""
from __future__ import annotations

import dataclasses

from .errors import BundleError

DEFAULT_VERSION = "1.37.2"
ARCH = "amd64"

# The demo service image (tools/bundle/go/cmd/demo), shipped for the demo applications and e2e checks.
DEMO_IMAGE = "kubeseed.local/demo:0.3.0"
# The approver of the kubelets' serving certificates (tools/bundle/go/cmd/approver), deployed by the control_plane role
# when kubeseed_kubelet_serving_certificates is on; keep the tag equal to the role's default.
APPROVER_IMAGE = "kubeseed.local/kubelet-serving-approver:0.1.0"
# Add-on images (role addons): image name -> the Pins field of its version.
METRICS_SERVER_IMAGE = "registry.k8s.io/metrics-server/metrics-server"
LOCAL_PATH_PROVISIONER_IMAGE = "kubeseed.local/local-path-provisioner"
# The storage add-on's helper (tools/bundle/go/cmd/volumehelper): makes and removes the volumes' directories on the nodes,
# in place of the busybox shell image upstream uses; keep the tag equal to the addons role's.
VOLUME_HELPER_IMAGE = "kubeseed.local/local-path-helper:0.1.0"
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
# containerd and runc are not among them: the bundle builds its own (a current containerd 2.x, issue 19; Debian's 1.6
# is too old for the Kubernetes versions here).
HOST_DEBS = ("conntrack", "socat", "ebtables", "ethtool", "iptables", "python3-yaml")
# Package sets installed only where asked (bundle_debs' sets option), each closed over what the host packages leave out:
# ha is keepalived, for the API server's virtual IP on the control planes (kubeseed_control_plane_vip).
DEB_SETS = {"ha": ("keepalived",)}
# Assumed present on every target: a `debootstrap --variant=minbase` bookworm
# host with these packages.  They and their dependency closure are not shipped
# (nor are Essential or Priority: required packages, which minbase installs).
# Anything else the roots need is shipped, even if a typical host has it.
HOST_BASE_PACKAGES = frozenset({"systemd", "iproute2", "iptables", "python3", "ca-certificates", "kmod", "procps"})
# Where debootstrap installs another alternative than the first of a dependency: init-system-helpers depends on
# "usrmerge | usr-is-merged" and a merged-/usr bookworm root has usr-is-merged (usrmerge would bring perl, whose
# libperl5.36 is then wrongly taken as present on every host: libsnmp40 of the ha set needs it).
BASE_ALTERNATIVES = {"usrmerge": "usr-is-merged"}
# Userland of the kube-proxy image (closure from an empty root).
KUBE_PROXY_IMAGE_DEBS = ("iptables", "conntrack")


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
    # add-ons (role addons): the same for every Kubernetes version here, hence defaults
    metrics_server: str = "0.8.0"
    local_path_provisioner: str = "0.0.30"
    # the container runtime, built from source (containerd's table of Kubernetes versions: 1.36 needs 2.2.0+, 1.37 2.3.0+)
    containerd: str = "2.4.2"
    runc: str = "1.5.3"

    def as_dict(self) -> dict[str, str]:
        """Return the pins as a plain dictionary."""
        return dataclasses.asdict(self)


# etcd/coredns/pause are the versions kubeadm of that release names (its
# constants.go); every one of them is served by the Go module proxy.
PINS: dict[str, Pins] = {
    "1.37.2": Pins(kubernetes="1.37.2", etcd="3.7.0", coredns="1.14.6", crictl="1.37.0", cni_plugins="1.10.0", pause="3.10.2"),
    "1.36.3": Pins(kubernetes="1.36.3", etcd="3.6.8", coredns="1.14.2", crictl="1.37.0", cni_plugins="1.10.0", pause="3.10.2"),
}


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
