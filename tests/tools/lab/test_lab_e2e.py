"""The lab for real: up, Ansible ping, checks inside the hosts, faults, down.

Needs root (skips otherwise). Runs against the default lab state dir
(KUBESEED_CACHE), so it replaces any lab that is up. Order matters: the last
test takes the lab down and checks nothing is left.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
LAB_PY = REPO / "tools" / "lab" / "lab.py"
# the lab's package (tools/lab/kubeseed_lab) lives next to its CLI entry lab.py
if str(LAB_PY.parent) not in sys.path:
    sys.path.insert(0, str(LAB_PY.parent))
INVENTORY = REPO / "inventories" / "lab"
CACHE = Path(os.environ.get("KUBESEED_CACHE") or Path.home() / ".cache" / "kubeseed")
LAB_DIR = CACHE / "lab"
KEY = LAB_DIR / "ssh" / "id_ed25519"
RUN_DIR = Path(os.environ.get("KUBESEED_LAB_RUN", "/run/kubeseed-lab"))
GATEWAY = "10.117.0.1"
BRIDGE = "ksbr0"
HOSTS = {"ks-cp1": "10.117.0.11", "ks-w1": "10.117.0.101", "ks-w2": "10.117.0.102"}
HELLO_REF = "kubeseed.test/hello:1"
HELLO_TEXT = b"kubeseed-lab-ok\n"


def load_lab_module() -> ModuleType:
    """The lab's commands module (tools/lab/kubeseed_lab/commands.py): Lab, and the Paths and LabError it uses."""
    return importlib.import_module("kubeseed_lab.commands")


@dataclasses.dataclass
class Bundle:
    """What the lab serves and what the containerd test installs from it."""

    root: Path
    name: str
    debs: list[str]
    image: str
    image_ref: str
    runs_forever: bool
    # the bundle's own runtime (runtime/containerd, ctr, the shim and runc) instead of .debs
    runtime: bool = False


def lab(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LAB_PY), *args], check=False, text=True, capture_output=True,
                          timeout=timeout)


def ssh(address: str, command: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-i", str(KEY), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                           f"root@{address}", command], check=False, text=True, capture_output=True, timeout=timeout,
                          input=stdin)


def tcp_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def ansible_bin(name: str) -> str:
    for candidate in (REPO / ".venv" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: create the project venv (.venv) with ansible-core")
    return found


# ------------------------------------------------------------ test image


def hello_elf() -> bytes:
    """A static x86-64 Linux program that prints HELLO_TEXT and exits 0."""
    base, header_size = 0x400000, 64 + 56
    code = (b"\xb8\x01\x00\x00\x00"            # mov eax, 1 (write)
            b"\xbf\x01\x00\x00\x00"            # mov edi, 1 (stdout)
            b"\x48\x8d\x35\x10\x00\x00\x00"    # lea rsi, [rip+16] (the text)
            + b"\xba" + struct.pack("<I", len(HELLO_TEXT))  # mov edx, len
            + b"\x0f\x05"                      # syscall
            b"\xb8\x3c\x00\x00\x00"            # mov eax, 60 (exit)
            b"\x31\xff"                        # xor edi, edi
            b"\x0f\x05")                       # syscall
    body = code + HELLO_TEXT
    size = header_size + len(body)
    ident = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    elf_header = struct.pack("<16sHHIQQQIHHHHHH", ident, 2, 0x3E, 1, base + header_size, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return elf_header + program_header + body


def tar_bytes(members: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_hello_image(path: Path) -> None:
    """A docker-archive image tarball made by hand (no Docker here)."""
    layer = tar_bytes({"hello": (hello_elf(), 0o755)})
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [HELLO_REF], "Layers": ["layer.tar"]}]).encode()
    path.write_bytes(tar_bytes({"manifest.json": (manifest, 0o644), "config.json": (config, 0o644),
                                "layer.tar": (layer, 0o644)}))


def image_ref_of(tarball: Path) -> str:
    """The image name recorded in a docker-archive or OCI image tarball."""
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
        if "manifest.json" in names:
            member = archive.extractfile("manifest.json")
            assert member is not None
            tags = json.load(member)[0].get("RepoTags") or []
            if tags:
                return str(tags[0])
        member = archive.extractfile("index.json")
        assert member is not None
        annotations = json.load(member)["manifests"][0].get("annotations", {})
    return str(annotations.get("io.containerd.image.name") or annotations["org.opencontainers.image.ref.name"])


def current_bundle() -> Path | None:
    """The bundle `tools/bundle/bundle.py path` reports, if that tool exists."""
    tool = REPO / "tools" / "bundle" / "bundle.py"
    if not tool.is_file():
        return None
    result = subprocess.run([sys.executable, str(tool), "path"], check=False, text=True, capture_output=True, timeout=60)
    lines = result.stdout.strip().splitlines()
    return Path(lines[-1]) if result.returncode == 0 and lines else None


RUNTIME_FILES = ("containerd", "containerd-shim-runc-v2", "ctr", "runc")


def find_bundle() -> Bundle:
    """The real offline bundle (its runtime/ files, or containerd debs of a bundle built before them), else a test bundle
    with Debian's containerd and runc and a hand-made image."""
    bundles = CACHE / "bundles"
    candidates = sorted(bundles.glob("*/manifest.json")) if bundles.is_dir() else []
    reported = current_bundle()
    if reported is not None and (reported / "manifest.json").is_file():
        candidates.insert(0, reported / "manifest.json")
    for manifest in candidates:
        pause = manifest.parent / "images" / "pause.tar"
        if all((manifest.parent / "runtime" / name).is_file() for name in RUNTIME_FILES) and pause.is_file():
            return Bundle(bundles, manifest.parent.name, [], "images/pause.tar", image_ref_of(pause), True, runtime=True)
        debs = sorted(p.name for p in manifest.parent.glob("debs/*.deb")
                      if p.name.startswith(("containerd", "runc")))
        pause = manifest.parent / "images" / "pause.tar"
        if any(d.startswith("containerd") for d in debs) and pause.is_file():
            return Bundle(bundles, manifest.parent.name, debs, "images/pause.tar", image_ref_of(pause), True)
    root = CACHE / "lab-test-bundle"
    bundle = root / "apt-containerd-runc"
    debs_dir = bundle / "debs"
    debs_dir.mkdir(parents=True, exist_ok=True)
    if not list(debs_dir.glob("containerd_*.deb")) or not list(debs_dir.glob("runc_*.deb")):
        result = subprocess.run(["apt-get", "download", "containerd", "runc"], cwd=debs_dir, check=False, text=True,
                                capture_output=True, timeout=600)
        assert result.returncode == 0, f"apt-get download containerd runc failed:\n{result.stderr}"
    (bundle / "images").mkdir(exist_ok=True)
    write_hello_image(bundle / "images" / "hello.tar")
    debs = sorted(p.name for p in debs_dir.glob("*.deb"))
    return Bundle(root, bundle.name, debs, "images/hello.tar", HELLO_REF, False)


# ------------------------------------------------------------ fixtures


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the lab needs root (systemd-nspawn, bridge, mounts), and CI must run every tier")
        pytest.skip("the lab needs root (systemd-nspawn, bridge, mounts)")


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    require_root()
    return find_bundle()


@pytest.fixture(scope="module")
def lab_up(bundle: Bundle) -> Iterator[str]:  # pylint: disable=redefined-outer-name
    require_root()
    started = time.monotonic()
    # from bare hosts, as the e2e's fresh_lab: `lab up` keeps hosts that already run (and whatever a cluster left on them)
    lab("down")
    result = lab("up", "--control-planes", "1", "--workers", "2", "--bundle-root", str(bundle.root))
    output = result.stdout + result.stderr
    print(output)
    if result.returncode != 0:
        lab("down")
        pytest.fail(f"lab up failed ({result.returncode}) after {time.monotonic() - started:.0f}s:\n{output}")
    yield output
    lab("down")


# ------------------------------------------------------------ tests (in order)


def test_ansible_ping_all_hosts(lab_up: str) -> None:  # pylint: disable=redefined-outer-name
    assert "3 hosts ready" in lab_up
    result = subprocess.run([ansible_bin("ansible"), "-i", str(INVENTORY), "all", "-m", "ping"], check=False,
                            text=True, capture_output=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in HOSTS:
        assert f"{name} | SUCCESS" in result.stdout


def test_inventory_groups(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    result = subprocess.run([ansible_bin("ansible-inventory"), "-i", str(INVENTORY), "--list"], check=False,
                            text=True, capture_output=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["control_plane"]["hosts"] == ["ks-cp1"]
    assert sorted(data["workers"]["hosts"]) == ["ks-w1", "ks-w2"]
    host_vars = data["_meta"]["hostvars"]["ks-w1"]
    reported = current_bundle()
    if reported is not None and reported.parent == CACHE / "bundles":
        # the version's stable name the builder keeps (bundles/1.37.2 -> 1.37.2-<recipe>): the URL outlives a builder change
        stable = reported.parent / reported.name.rsplit("-", 1)[0]
        assert stable.is_symlink() and stable.resolve() == reported, stable
        assert host_vars["kubeseed_offline_bundle_url"] == f"http://{GATEWAY}:8080/{stable.name}"
    assert host_vars["ansible_host"] == HOSTS["ks-w1"]
    assert host_vars["kubeseed_package_source"] == "offline"
    assert host_vars["kubeseed_workaround_cgroup_v1"] is True
    assert (KEY.stat().st_mode & 0o777) == 0o600


def test_second_up_changes_nothing(lab_up: str, bundle: Bundle) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    inventory_mtime = (INVENTORY / "hosts.yml").stat().st_mtime_ns
    result = lab("up", "--control-planes", "1", "--workers", "2", "--bundle-root", str(bundle.root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lab up: no changes, 3 hosts ready" in result.stdout
    assert (INVENTORY / "hosts.yml").stat().st_mtime_ns == inventory_mtime


def test_systemd_running_and_identity(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    machine_ids, host_keys = set(), set()
    for name, address in HOSTS.items():
        state = ssh(address, "systemctl is-system-running")
        failed = ssh(address, "systemctl list-units --failed --plain --no-legend").stdout.strip()
        assert state.stdout.strip() == "running", f"{name}: {state.stdout} failed units: {failed}"
        assert ssh(address, "hostname").stdout.strip() == name
        machine_ids.add(ssh(address, "cat /etc/machine-id").stdout.strip())
        host_keys.add(ssh(address, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1])
        assert ssh(address, "test -c /dev/kmsg && head -c0 /dev/kmsg").returncode == 0, f"{name}: /dev/kmsg"
    assert len(machine_ids) == len(HOSTS) and "" not in machine_ids
    assert len(host_keys) == len(HOSTS)


def test_network_names_and_no_way_out(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    cp = HOSTS["ks-cp1"]
    for name, address in HOSTS.items():
        assert ssh(cp, f"getent hosts {name}").stdout.split()[:1] == [address]
    # a lab host reaches another one by name
    probe = ssh(cp, "python3 -c \"import socket; socket.create_connection(('ks-w2', 22), timeout=5); print('ok')\"")
    assert probe.stdout.strip() == "ok", probe.stderr
    for name, address in HOSTS.items():
        routes = ssh(address, "ip -4 route show table all type unicast").stdout.strip().splitlines()
        assert routes, name
        for route in routes:
            assert "dev host0" in route, f"{name}: route off the bridge: {route}"
            if route.startswith("default"):
                assert f"via {GATEWAY} " in route + " ", f"{name}: default route not via the lab gateway: {route}"
    # the controller rejects anything from the bridge that is not for the lab
    for rule in (["FORWARD", "-i", BRIDGE, "!", "-o", BRIDGE], ["FORWARD", "-o", BRIDGE, "!", "-i", BRIDGE]):
        check = subprocess.run(["iptables", "-C", *rule, "-m", "comment", "--comment", "kubeseed-lab", "-j", "REJECT"],
                               check=False, capture_output=True)
        assert check.returncode == 0, f"missing firewall rule {rule}"


def test_cgroups_writable_and_real_disks(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    script = (
        "set -e; for c in cpu cpuacct cpuset memory devices freezer blkio pids systemd; do "
        "mkdir /sys/fs/cgroup/$c/kubeseed-probe; rmdir /sys/fs/cgroup/$c/kubeseed-probe; done; "
        "mkdir /sys/fs/cgroup/memory/kubeseed-probe; "
        "echo 104857600 > /sys/fs/cgroup/memory/kubeseed-probe/memory.limit_in_bytes; "
        "cat /sys/fs/cgroup/memory/kubeseed-probe/memory.limit_in_bytes; rmdir /sys/fs/cgroup/memory/kubeseed-probe; "
        "stat -f -c %T /var/lib/containerd /var/lib/kubelet /"
    )
    for name, address in HOSTS.items():
        result = ssh(address, script)
        assert result.returncode == 0, f"{name}: {result.stderr}"
        lines = result.stdout.split()
        assert lines[0] == "104857600"
        assert lines[1:] == ["ext2/ext3", "ext2/ext3", "overlayfs"], f"{name}: {lines}"


def test_containerd_from_bundle_runs_a_container(lab_up: str, bundle: Bundle) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    address = HOSTS["ks-w1"]
    base = f"http://{GATEWAY}:8080/{bundle.name}"
    files = [f"runtime/{name}" for name in RUNTIME_FILES] if bundle.runtime else [f"debs/{deb}" for deb in bundle.debs]
    urls = [f"{base}/{path}" for path in files] + [f"{base}/{bundle.image}"]
    fetch = ("import sys, urllib.request\n"
             "for url in sys.argv[1:]:\n"
             "    urllib.request.urlretrieve(url, '/root/lab-test/' + url.rsplit('/', 1)[1])\n")
    # the bundle's runtime as the containerd role installs it, containerd started as a transient unit (no configuration:
    # its defaults); or Debian's packages, with their unit
    setup = ("install -m 0755 containerd containerd-shim-runc-v2 ctr /usr/local/bin/; install -m 0755 runc /usr/local/sbin/; "
             "systemd-run --unit=lab-test-containerd --property=Delegate=yes /usr/local/bin/containerd; "
             if bundle.runtime else "DEBIAN_FRONTEND=noninteractive dpkg -i *.deb >/dev/null; systemctl start containerd; ")
    install = (f"set -e; rm -rf /root/lab-test; mkdir /root/lab-test; cd /root/lab-test; "
               f"python3 -c \"{fetch}\" {' '.join(urls)}; {setup}"
               "for i in $(seq 60); do ctr version >/dev/null 2>&1 && break; sleep 1; done; "
               f"ctr -n kubeseed images import {bundle.image.rsplit('/', 1)[1]} >/dev/null")
    result = ssh(address, install, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    log = (LAB_DIR / "logs" / "http.log").read_text(encoding="utf-8")
    assert f'{address} - - ' in log and files[0] in log, "the runtime did not come over the lab bridge"
    if bundle.runtime:
        version = ssh(address, "ctr version")
        assert version.returncode == 0 and "Version:  v2." in version.stdout, version.stdout + version.stderr
    if bundle.runs_forever:
        run = ssh(address, f"set -e; ctr -n kubeseed run -d {bundle.image_ref} lab-probe; sleep 2; "
                           "ctr -n kubeseed task ls; ctr -n kubeseed task kill -s SIGKILL lab-probe; sleep 1; "
                           "ctr -n kubeseed task rm -f lab-probe; ctr -n kubeseed containers rm lab-probe")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "RUNNING" in run.stdout
    else:
        run = ssh(address, f"ctr -n kubeseed run --rm {bundle.image_ref} lab-probe")
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout == HELLO_TEXT.decode()
    snapshots = ssh(address, "ls /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots | wc -l")
    assert int(snapshots.stdout.strip() or 0) >= 1


def test_fault_helpers(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    address = HOSTS["ks-w2"]
    result = lab("isolate", "ks-w2")
    assert result.returncode == 0, result.stderr
    assert not tcp_open(address, 22)
    assert "isolated" in lab("status").stdout
    assert lab("reconnect", "ks-w2").returncode == 0
    assert ssh(address, "true").returncode == 0
    result = lab("stop", "ks-w2")
    assert result.returncode == 0, result.stderr
    assert not tcp_open(address, 22)
    status = lab("status")
    assert status.returncode == 1 and "stopped" in status.stdout
    result = lab("start", "ks-w2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ssh(address, "systemctl is-system-running").stdout.strip() == "running"
    assert lab("status").returncode == 0


def test_refuses_network_in_use(lab_up: str, tmp_path: Path) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    """A bridge or subnet the lab did not make is never touched."""
    lab_module = load_lab_module()
    paths = lab_module.Paths(cache=tmp_path, run=tmp_path / "run", inventory=tmp_path / "inv")
    with pytest.raises(lab_module.LabError, match="already in use"):
        lab_module.Lab(paths, "10.117.0.0/25", "kstest1", 8080).check_network_free()
    subprocess.run(["ip", "link", "add", "kstest0", "type", "bridge"], check=True)
    try:
        with pytest.raises(lab_module.LabError, match="kstest0 already exists"):
            lab_module.Lab(paths, "10.118.0.0/24", "kstest0", 8080).check_network_free()
    finally:
        subprocess.run(["ip", "link", "del", "kstest0"], check=True)


def test_resize_removes_and_adds_hosts(lab_up: str, bundle: Bundle) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    result = lab("up", "--workers", "1", "--bundle-root", str(bundle.root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ks-w2: removed" in result.stdout
    assert "ks-w2" not in (INVENTORY / "hosts.yml").read_text(encoding="utf-8")
    assert not (LAB_DIR / "hosts" / "ks-w2").exists()
    result = lab("up", "--workers", "2", "--bundle-root", str(bundle.root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ssh(HOSTS["ks-w2"], "systemctl is-system-running").stdout.strip() == "running"


def test_another_lab_runs_beside_apart_and_its_down_leaves_this_one(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    """`--name` (tools/lab): a second lab on its own bridge and subnet, with the same host names; the labs cannot reach each
    other; its `down` leaves the default lab's hosts, rules and cgroups alone."""
    other = ["--name", "t2"]
    assert lab(*other, "up", "--control-planes", "1", "--workers", "0").returncode == 2  # no subnet of its own: refused
    try:
        result = lab(*other, "--subnet", "10.119.0.0/24", "up", "--control-planes", "1", "--workers", "0")
        assert result.returncode == 0, result.stdout + result.stderr
        assert ssh("10.119.0.11", "hostname").stdout.strip() == "ks-cp1"
        inventory = (REPO / "inventories" / "lab-t2" / "group_vars" / "all" / "lab.yml").read_text(encoding="utf-8")
        assert "kubeseed_kubeconfig_dest: ~/.kube/kubeseed-lab-t2.conf" in inventory
        # the default lab's ks-cp1 cannot open a connection to the other lab's ks-cp1 (and the other way round)
        probe = "python3 -c \"import socket; socket.create_connection(('%s', 22), timeout=3)\" && echo reached || echo refused"
        assert ssh(HOSTS["ks-cp1"], probe % "10.119.0.11").stdout.strip() == "refused"
        assert ssh("10.119.0.11", probe % HOSTS["ks-cp1"]).stdout.strip() == "refused"
        assert "ks-cp1" in lab(*other, "status").stdout and lab(*other, "status").returncode == 0
    finally:
        down = lab(*other, "down", "--purge")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (REPO / "inventories" / "lab-t2").exists() and not (LAB_DIR / "labs" / "t2").exists()
    assert lab("status").returncode == 0  # the default lab: every host still answers
    assert ssh(HOSTS["ks-cp1"], "systemctl is-system-running").stdout.strip() == "running"
    rules = subprocess.run(["iptables", "-S"], check=True, text=True, capture_output=True).stdout
    assert "kubeseed-lab-t2" not in rules and "--comment kubeseed-lab " in rules


def test_registry_serves_the_bundles_app_images_over_tls_with_basic_auth(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    """`registry up` (tools/lab): the distribution registry built from its Go module on the bridge address, TLS with the
    lab's CA, basic auth; a host that trusts the CA and gives the password lists the demo image; without the password the
    registry answers 401, without the CA the TLS handshake fails; `registry down` stops it."""
    result = lab("registry", "up", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout[result.stdout.index("{"):])
    assert status["registry"] == f"{GATEWAY}:5443" and status["running"] == "yes", status
    assert status["images"] == [f"{GATEWAY}:5443/team/demo:0.3.0"], status
    # a copy of the bundle's demo image with a label: another digest than the bundle's (another image ID on the nodes)
    path = subprocess.run([sys.executable, str(REPO / "tools" / "bundle" / "bundle.py"), "path"], check=True, text=True,
                          capture_output=True).stdout.strip().splitlines()[-1]
    bundle_demo = [i for i in json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))["app_images"]
                   if i["name"] == "kubeseed.local/demo:0.3.0"][0]
    copy = status["digests"][f"{GATEWAY}:5443/team/demo:0.3.0"]
    assert copy.startswith("sha256:") and copy != bundle_demo["digest"], (copy, bundle_demo)
    credentials = Path(status["credentials_file"])
    assert credentials.stat().st_mode & 0o777 == 0o600
    password = json.loads(credentials.read_text(encoding="utf-8"))["password"]
    ca = Path(status["ca_file"]).read_text(encoding="utf-8")
    probe = (
        "import base64, ssl, sys, urllib.request, urllib.error\n"
        "req = urllib.request.Request('https://%s:5443/v2/_catalog')\n"
        "if sys.argv[2]: req.add_header('Authorization', 'Basic ' + base64.b64encode(sys.argv[2].encode()).decode())\n"
        "ctx = ssl.create_default_context(cafile=sys.argv[1] or None)\n"
        "try:\n    print(urllib.request.urlopen(req, context=ctx, timeout=10).read().decode())\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n"
        "except (ssl.SSLError, urllib.error.URLError) as e:\n    print('tls', e)\n" % GATEWAY)
    assert ssh(HOSTS["ks-w1"], "cat > /tmp/registry-ca.crt", stdin=ca).returncode == 0
    assert ssh(HOSTS["ks-w1"], "cat > /tmp/probe.py", stdin=probe).returncode == 0
    answer = ssh(HOSTS["ks-w1"], f"python3 /tmp/probe.py /tmp/registry-ca.crt team:{password}").stdout.strip()
    assert json.loads(answer) == {"repositories": ["team/demo"]}, answer
    assert ssh(HOSTS["ks-w1"], "python3 /tmp/probe.py /tmp/registry-ca.crt team:wrong").stdout.strip() == "401"
    assert ssh(HOSTS["ks-w1"], "python3 /tmp/probe.py /tmp/registry-ca.crt ''").stdout.strip() == "401"
    assert ssh(HOSTS["ks-w1"], f"python3 /tmp/probe.py '' team:{password}").stdout.startswith("tls ")
    assert lab("registry", "status").returncode == 0
    again = lab("registry", "up")
    assert again.returncode == 0 and "pushed" not in again.stdout, again.stdout  # already there: nothing pushed again
    assert lab("registry", "down").returncode == 0
    assert lab("registry", "status").returncode == 1


def status_of(result: subprocess.CompletedProcess[str]) -> dict:
    """The status `registry up` or `mirror up` prints as indented JSON after its progress lines."""
    lines = result.stdout.splitlines()
    return json.loads("\n".join(lines[lines.index("{"):]))


def run_role(tmp_path: Path, host: str, role_vars: dict, *args: str,
             roles: tuple[str, ...] = ("node", "kube_packages")) -> subprocess.CompletedProcess[str]:
    """ansible-playbook of roles of the collection (node and kube_packages) on one lab host, with the lab inventory and
    these variables over its group_vars."""
    book = tmp_path / "role.yml"
    book.write_text(json.dumps([{"hosts": host, "gather_facts": False, "roles": [f"kubeseed.cluster.{r}" for r in roles]}]),
                    encoding="utf-8")
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(role_vars), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".ansible" / "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([ansible_bin("ansible-playbook"), "-i", str(INVENTORY), str(book), "-e", f"@{extra}", *args],
                          check=False, text=True, capture_output=True, timeout=900, cwd=REPO, env=env)


def recap_of(output: str, host: str) -> dict[str, int]:
    for line in output.splitlines():
        if line.startswith(host + " ") and "ok=" in line:
            return {k: int(v) for k, v in (item.split("=") for item in line.split(":", 1)[1].split())}
    raise AssertionError(f"no recap line for {host}:\n{output}")


def test_mirror_serves_the_kubernetes_packages_the_online_role_installs(  # pylint: disable=redefined-outer-name,unused-argument
        lab_up: str, tmp_path: Path) -> None:
    """`mirror up` (tools/lab): the Kubernetes apt repository made from the bundle (real .debs, Release signed with the
    lab's key) over HTTPS with the lab CA, the bundle's host packages as the hosts' Debian mirror. The roles node (the OS
    packages from the host's Debian mirror) and kube_packages, online against it (kubeseed_online_repository_base_url,
    _ca; the key fetched from the repository), install conntrack and the rest, then kubeadm, kubelet and kubectl on a
    bare host with the packages' own units and scripts; a second run and --check report
    changed=0; a CA that did not sign the server's certificate fails the run on another host, naming the URL, with
    nothing installed there."""
    result = lab("mirror", "up", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    status = status_of(result)
    assert status["running"] == "yes" and status["minors"] == ["v1.37"], status
    assert status["repository_base_url"] == f"https://{GATEWAY}:8443/core:/stable:"
    ca = Path(status["ca_file"]).read_text(encoding="utf-8")
    online = {"kubeseed_package_source": "online", "kubeseed_online_repository_base_url": status["repository_base_url"],
              "kubeseed_online_repository_ca": ca}
    first = run_role(tmp_path, "ks-w2", online)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap_of(first.stdout, "ks-w2")["changed"] > 0
    assert ssh(HOSTS["ks-w2"], "kubeadm version -o short").stdout.strip() == "v1.37.2"
    assert "conntrack v" in ssh(HOSTS["ks-w2"], "conntrack --version").stdout
    versions = ssh(HOSTS["ks-w2"], "dpkg-query -W -f '${Package}=${Version} ' kubeadm kubelet kubectl cri-tools kubernetes-cni").stdout
    assert sorted(versions.split()) == ["cri-tools=1.37.0-1.1", "kubeadm=1.37.2-1.1", "kubectl=1.37.2-1.1", "kubelet=1.37.2-1.1",
                                        "kubernetes-cni=1.10.0-1.1"], versions
    assert sorted(ssh(HOSTS["ks-w2"], "apt-mark showhold").stdout.split()) == ["kubeadm", "kubectl", "kubelet"]
    # the packages' unit and kubeadm's drop-in, the kubelet enabled by its package (it waits for kubeadm in a restart loop)
    assert ssh(HOSTS["ks-w2"], "systemctl is-enabled kubelet").stdout.strip() == "enabled"
    assert ssh(HOSTS["ks-w2"], "systemctl cat kubelet").stdout.count("/usr/bin/kubelet") == 2
    again = run_role(tmp_path, "ks-w2", online)
    assert again.returncode == 0 and recap_of(again.stdout, "ks-w2")["changed"] == 0, again.stdout
    check = run_role(tmp_path, "ks-w2", online, "--check", "--diff")
    assert check.returncode == 0 and recap_of(check.stdout, "ks-w2")["changed"] == 0, check.stdout
    # --check on a bare host predicts the CA, the key's download, the repository and the install, and changes nothing
    fresh = run_role(tmp_path, "ks-w1", online, "--check")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert recap_of(fresh.stdout, "ks-w1")["changed"] >= 4, fresh.stdout
    assert "a run installs kubeadm=1.37.2-1.1 kubelet=1.37.2-1.1 kubectl=1.37.2-1.1 cri-tools kubernetes-cni" in " ".join(fresh.stdout.split())
    assert ssh(HOSTS["ks-w1"], "ls /etc/apt/keyrings/kubernetes.asc /etc/apt/sources.list.d/kubernetes.list 2>&1 | grep -c 'No such'").stdout.strip() == "2"
    # another CA: the key's download is refused, naming its URL; with the key given, apt's update is (apt itself only
    # warns and exits 0): the run fails with apt's message for the repository; nothing installed
    other_ca = next(p for p in sorted(Path("/etc/ssl/certs").glob("*.pem")) if "BEGIN CERTIFICATE" in p.read_text(encoding="utf-8"))
    wrong_ca = dict(online, kubeseed_online_repository_ca=other_ca.read_text(encoding="utf-8"))
    wrong = run_role(tmp_path, "ks-w1", wrong_ca)
    assert wrong.returncode != 0
    said = " ".join(wrong.stdout.split())
    assert "CERTIFICATE_VERIFY_FAILED" in said and f"url: {status['repository_base_url']}/v1.37/deb/Release.key" in said, wrong.stdout
    key = Path(status["key_file"]).read_text(encoding="utf-8")  # the lab's signing key (both repositories)
    wrong = run_role(tmp_path, "ks-w1", dict(wrong_ca, kubeseed_online_repository_key=key))
    said = " ".join(wrong.stdout.split())
    assert wrong.returncode != 0 and "Certificate verification failed: The certificate is NOT trusted" in said, wrong.stdout
    assert f"W: Failed to fetch {status['repository_base_url']}/v1.37/deb/InRelease" in said, wrong.stdout
    assert ssh(HOSTS["ks-w1"], "command -v kubeadm || echo none").stdout.strip() == "none"
    assert lab("mirror", "down").returncode == 0
    assert lab("mirror", "status").returncode == 1


def test_containerd_pulls_with_node_credentials_that_no_output_shows(  # pylint: disable=redefined-outer-name,unused-argument
        lab_up: str, tmp_path: Path) -> None:
    """kubeseed_containerd_registry_credentials: the role containerd (from the bundle) writes the lab registry's
    hosts.toml with an Authorization header (0600, no_log): crictl pulls the team's private image with no credentials of
    its own; -vvv holds neither the password nor its base64; a second run and --check report changed=0. Removed from the
    inventory: --check --diff shows the change with the old header hidden, the run writes the file without it, and the
    pull is refused again."""
    result = lab("registry", "up", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    status = status_of(result)
    creds = json.loads(Path(status["credentials_file"]).read_text(encoding="utf-8"))
    secrets = [creds["password"], base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()]
    registry = status["registry"]
    ca = {"kubeseed_containerd_registry_ca": {registry: Path(status["ca_file"]).read_text(encoding="utf-8")}}
    with_creds = dict(ca, kubeseed_containerd_registry_credentials={registry: creds})
    image = f"{registry}/team/demo:0.3.0"
    first = run_role(tmp_path, "ks-w2", with_creds, "-vvv", roles=("containerd",))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert not [s for s in secrets if s in first.stdout + first.stderr]
    assert ssh(HOSTS["ks-w2"], f"stat -c %a /etc/containerd/certs.d/{registry}/hosts.toml").stdout.strip() == "600"
    pulled = ssh(HOSTS["ks-w2"], f"crictl pull {image}", timeout=300)
    assert pulled.returncode == 0 and "Image is up to date" in pulled.stdout, pulled.stdout + pulled.stderr
    for args in ((), ("--check", "--diff")):
        again = run_role(tmp_path, "ks-w2", with_creds, *args, roles=("containerd",))
        assert again.returncode == 0 and recap_of(again.stdout, "ks-w2")["changed"] == 0, again.stdout
    removed = run_role(tmp_path, "ks-w2", ca, "--check", "--diff", "-vvv", roles=("containerd",))
    assert removed.returncode == 0 and recap_of(removed.stdout, "ks-w2")["changed"] == 1, removed.stdout[-3000:]
    assert "<a line hidden (hidden_lines)>" in removed.stdout
    assert not [s for s in secrets if s in removed.stdout + removed.stderr]
    removed = run_role(tmp_path, "ks-w2", ca, "--diff", roles=("containerd",))
    assert removed.returncode == 0 and not [s for s in secrets if s in removed.stdout + removed.stderr]
    assert ssh(HOSTS["ks-w2"], f"crictl rmi {image}").returncode == 0
    refused = ssh(HOSTS["ks-w2"], f"crictl pull {image}", timeout=300)
    assert refused.returncode != 0 and "no basic auth credentials" in refused.stdout + refused.stderr
    assert lab("registry", "down").returncode == 0


def leftovers() -> list[str]:
    """Everything the lab could leave behind on the controller."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ("systemd-nspawn" in cmdline and "--machine=ks-" in cmdline) or \
                ("http.server" in cmdline and f"--bind {GATEWAY}" in cmdline) or \
                ("labregistry serve" in cmdline and str(LAB_DIR / "registry") in cmdline) or \
                ("mirror_server.py" in cmdline and str(LAB_DIR / "mirror") in cmdline):
            found.append(f"process {proc.name}: {cmdline}")
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        point = line.split()[4]
        if point.startswith(str(LAB_DIR) + "/"):
            found.append(f"mount {point}")
    links = subprocess.run(["ip", "-o", "link", "show"], check=True, text=True, capture_output=True).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name == BRIDGE or name.startswith("vb-ks-"):
            found.append(f"link {name}")
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for root, dirs, _files in os.walk(hierarchy):
            if "kubeseed-lab" in dirs:
                found.append(f"cgroup {root}/kubeseed-lab")
            if root.count("/") - str(hierarchy).count("/") >= 2:
                dirs.clear()
    rules = subprocess.run(["iptables", "-S"], check=True, text=True, capture_output=True).stdout
    found += [f"iptables {line}" for line in rules.splitlines() if "--comment kubeseed-lab " in line + " "]
    found += [f"nspawn runtime {p}" for p in Path("/run/systemd/nspawn").glob("*/ks-*")]
    found += [f"file {p}" for p in (INVENTORY / "hosts.yml", INVENTORY / "group_vars" / "all" / "lab.yml",
                                    LAB_DIR / "hosts", LAB_DIR / "registry", LAB_DIR / "mirror", RUN_DIR) if p.exists()]
    return found


def test_down_leaves_nothing(lab_up: str) -> None:  # pylint: disable=redefined-outer-name,unused-argument
    before = leftovers()  # the lab is up: the check must see it
    assert any(item.startswith("mount") for item in before) and any(item.startswith("process") for item in before)
    result = lab("down", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert leftovers() == []
    assert lab("status").returncode == 1
    # the cached base image and lab key stay for a warm next `up`
    assert list((LAB_DIR / "base").glob("*/complete")) and KEY.is_file()
