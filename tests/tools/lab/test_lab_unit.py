"""Unit tests of the lab (tools/lab/lab.py and its package tools/lab/kubeseed_lab/): the parts that need
neither root nor a lab."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parents[3] / "tools" / "lab"
LAB_PY = LAB_DIR / "lab.py"
# the package lives next to its CLI entry lab.py, which puts this directory on sys.path the same way
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))

from kubeseed_lab import base, commands, mirror, network, plan, proc, registry  # noqa: E402  pylint: disable=wrong-import-position


def test_plan_names_and_addresses() -> None:
    hosts = plan.plan_hosts("10.117.0.0/24", 1, 2)
    assert [(h.name, h.role, h.address) for h in hosts] == [
        ("ks-cp1", "control_plane", "10.117.0.11"),
        ("ks-w1", "workers", "10.117.0.101"),
        ("ks-w2", "workers", "10.117.0.102"),
    ]
    assert plan.gateway_of("10.117.0.0/24") == "10.117.0.1"


@pytest.mark.parametrize("control_planes,workers,subnet", [(0, 2, "10.117.0.0/24"), (10, 0, "10.117.0.0/24"),
                                                           (1, 100, "10.117.0.0/24"), (1, 2, "10.117.0.0/25"),
                                                           (1, 2, "fd00::/64")])
def test_plan_rejects_bad_sizes(control_planes: int, workers: int, subnet: str) -> None:
    with pytest.raises(plan.LabError):
        plan.plan_hosts(subnet, control_planes, workers)


def test_inventory_groups_and_connection_vars() -> None:
    yaml = pytest.importorskip("yaml")
    hosts = plan.plan_hosts("10.117.0.0/24", 1, 2)
    data = yaml.safe_load(plan.render_hosts_yml(hosts, Path("/cache/lab/ssh/id_ed25519")))
    children = data["all"]["children"]
    assert list(children["control_plane"]["hosts"]) == ["ks-cp1"]
    assert list(children["workers"]["hosts"]) == ["ks-w1", "ks-w2"]
    w2 = children["workers"]["hosts"]["ks-w2"]
    assert w2["ansible_host"] == "10.117.0.102"
    assert w2["ansible_user"] == "root"
    assert w2["ansible_ssh_private_key_file"] == "/cache/lab/ssh/id_ed25519"
    assert "UserKnownHostsFile=/dev/null" in w2["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=no" in w2["ansible_ssh_common_args"]


def test_inventory_without_workers_is_valid() -> None:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(plan.render_hosts_yml(plan.plan_hosts("10.117.0.0/24", 1, 0), Path("/k")))
    assert data["all"]["children"]["workers"]["hosts"] == {}


def test_group_vars_contract() -> None:
    yaml = pytest.importorskip("yaml")
    with_url = yaml.safe_load(plan.render_group_vars("http://10.117.0.1:8080/1.37.2-abc"))
    assert with_url == {
        "kubeseed_package_source": "offline",
        "kubeseed_offline_bundle_url": "http://10.117.0.1:8080/1.37.2-abc",
        "kubeseed_workaround_cgroup_v1": True,
        "kubeseed_workaround_no_kernel_modules": True,
        "kubeseed_workaround_restrict_oom_score_adj": True,
        "kubeseed_workaround_conntrack_max_per_core_zero": True,
        "kubeseed_workaround_shared_disk": True,
    }
    without = yaml.safe_load(plan.render_group_vars(None))
    assert "kubeseed_offline_bundle_url" not in without
    assert without["kubeseed_package_source"] == "offline"
    assert "kubeseed_control_plane_vip" not in with_url


def test_several_control_planes_get_a_free_virtual_ip() -> None:
    """The virtual IP is in the subnet, below the first control plane and no host's address or the bridge's."""
    yaml = pytest.importorskip("yaml")
    vip = plan.vip_of("10.117.0.0/24")
    assert vip == "10.117.0.10"
    hosts = plan.plan_hosts("10.117.0.0/24", 3, 8)
    assert vip not in {h.address for h in hosts} | {plan.gateway_of("10.117.0.0/24")}
    data = yaml.safe_load(plan.render_group_vars("http://10.117.0.1:8080/x", vip))
    assert data["kubeseed_control_plane_vip"] == "10.117.0.10"
    assert data["kubeseed_offline_bundle_url"] == "http://10.117.0.1:8080/x"


def test_etc_hosts_names_every_host() -> None:
    hosts = plan.plan_hosts("10.117.0.0/24", 1, 2)
    text = plan.render_etc_hosts(hosts[0], hosts)
    assert "127.0.0.1\tlocalhost" in text
    for host in hosts:
        assert f"{host.address}\t{host.name}" in text.splitlines()


def test_recipe_hash_depends_on_distribution() -> None:
    assert base.recipe_hash("bookworm") == base.recipe_hash("bookworm")
    assert base.recipe_hash("bookworm") != base.recipe_hash("trixie")


def test_overlaps_found_on_other_interfaces_only() -> None:
    addrs = [
        {"ifname": "eth0", "addr_info": [{"local": "10.117.0.5", "prefixlen": 16}]},
        {"ifname": "ksbr0", "addr_info": [{"local": "10.117.0.1", "prefixlen": 24}]},
        {"ifname": "eth1", "addr_info": [{"local": "192.0.2.2", "prefixlen": 24}]},
    ]
    routes = [
        {"dst": "default", "dev": "eth1"},
        {"dst": "10.117.0.128/25", "dev": "tun0"},
        {"dst": "10.117.0.0/24", "dev": "ksbr0"},
        {"dst": "10.118.0.0/24", "dev": "tun0"},
    ]
    found = network.find_overlaps("10.117.0.0/24", "ksbr0", addrs, routes)
    assert found == ["address 10.117.0.5/16 on eth0", "route 10.117.0.128/25 dev tun0"]
    assert not network.find_overlaps("10.200.0.0/24", "ksbr0", addrs, routes)


def test_write_if_changed(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    assert proc.write_if_changed(target, "x\n", 0o600)
    assert not proc.write_if_changed(target, "x\n", 0o600)
    assert (target.stat().st_mode & 0o777) == 0o600
    assert proc.write_if_changed(target, "y\n", 0o600)
    assert target.read_text(encoding="utf-8") == "y\n"


def test_not_root_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands.os, "geteuid", lambda: 1000)
    paths = plan.Paths(cache=tmp_path, run=tmp_path / "run", inventory=tmp_path / "inv")
    with pytest.raises(plan.LabError, match="needs root"):
        commands.Lab(paths, "10.117.0.0/24", "ksbr0", 8080).preflight(0)


def test_missing_command_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands.os, "geteuid", lambda: 0)
    monkeypatch.setattr(commands.shutil, "which", lambda cmd: None if cmd == "systemd-nspawn" else "/usr/bin/" + cmd)
    paths = plan.Paths(cache=tmp_path, run=tmp_path / "run", inventory=tmp_path / "inv")
    with pytest.raises(plan.LabError, match=r"systemd-nspawn \(apt-get install systemd-container\)"):
        commands.Lab(paths, "10.117.0.0/24", "ksbr0", 8080).preflight(0)


def test_not_enough_disk_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands.os, "geteuid", lambda: 0)
    monkeypatch.setattr(commands.shutil, "which", lambda cmd: "/usr/bin/" + cmd)
    monkeypatch.setattr(commands, "free_bytes", lambda path: plan.GIB // 2)
    paths = plan.Paths(cache=tmp_path, run=tmp_path / "run", inventory=tmp_path / "inv")
    with pytest.raises(plan.LabError, match="not enough free disk"):
        commands.Lab(paths, "10.117.0.0/24", "ksbr0", 8080).preflight(3 * plan.GIB)


def test_cli_entry_runs_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(LAB_PY), "--help"], check=False, text=True, capture_output=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lab.py ")
    assert "{up,down,status,registry,mirror,stop,start,isolate,reconnect}" in result.stdout


def test_package_finds_the_files_next_to_it() -> None:
    # lab.py is what a booting host re-executes (`lab.py _exec`); the base files and the template stay in tools/lab
    assert plan.LAB_PY == LAB_PY and LAB_PY.is_file()
    assert plan.GROUP_VARS_TEMPLATE.is_file()
    assert base.BASE_FILES == LAB_DIR / "base-files" and (base.BASE_FILES / "etc" / "systemd" / "system").is_dir()
    assert plan.REPO_ROOT == LAB_DIR.parent.parent


def test_another_lab_keeps_its_hosts_state_cgroups_and_rules_apart_and_shares_the_base(tmp_path: Path) -> None:
    default = plan.Paths(cache=tmp_path, run=tmp_path / "run", inventory=tmp_path / "inv")
    other = plan.Paths(cache=tmp_path, run=tmp_path / "run-ha", inventory=tmp_path / "inv-ha", name="ha")
    assert default.state_file == tmp_path / "lab" / "lab.json" and default.hosts == tmp_path / "lab" / "hosts"
    assert other.state_file == tmp_path / "lab" / "labs" / "ha" / "lab.json"
    assert other.hosts == tmp_path / "lab" / "labs" / "ha" / "hosts" and other.logs == tmp_path / "lab" / "labs" / "ha" / "logs"
    assert (other.bases, other.key) == (default.bases, default.key)
    assert (default.machine("ks-cp1"), other.machine("ks-cp1")) == ("ks-cp1", "ha-ks-cp1")
    assert (default.tag, other.tag) == ("kubeseed-lab", "kubeseed-lab-ha")
    # nspawn's link name keeps every host of a 4-letter lab apart within 15 characters
    assert network.veth(plan.Paths(tmp_path, tmp_path, tmp_path, name="abcd").machine("ks-w99")) == "vb-abcd-ks-w99"
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(plan.render_group_vars("http://10.118.0.1:8080/x", None, "ha"))
    assert data["kubeseed_kubeconfig_dest"] == "~/.kube/kubeseed-lab-ha.conf"
    assert "kubeseed_kubeconfig_dest" not in yaml.safe_load(plan.render_group_vars("http://10.117.0.1:8080/x"))


def test_a_rule_is_removed_only_by_the_lab_that_tagged_it() -> None:
    rule = shlex.split("-A FORWARD -i ksbr-ha ! -o ksbr-ha -m comment --comment kubeseed-lab-ha -j REJECT")
    assert network.rule_comment(rule) == "kubeseed-lab-ha"
    assert network.rule_comment(shlex.split("-A INPUT -i ksbr0 -j REJECT")) is None


def _cli_lab(tmp_path: Path, *argv: str):
    from kubeseed_lab import cli  # noqa: E402  pylint: disable=import-outside-toplevel
    return cli.make_lab(cli.build_parser().parse_args(["--cache", str(tmp_path), *argv]))


def test_another_lab_needs_a_subnet_of_its_own_then_remembers_its_network(tmp_path: Path) -> None:
    with pytest.raises(plan.LabError, match="give it a subnet of its own"):
        _cli_lab(tmp_path, "--name", "ha", "up")
    with pytest.raises(plan.LabError, match="--name must be 1-4"):
        _cli_lab(tmp_path, "--name", "Too-long", "down")
    lab = _cli_lab(tmp_path, "--name", "ha", "--subnet", "10.118.0.0/24", "up")
    assert (lab.subnet, lab.bridge, lab.port, lab.gateway) == ("10.118.0.0/24", "ksbr-ha", 8080, "10.118.0.1")
    assert lab.paths.inventory.name == "lab-ha" and str(lab.paths.run) == "/run/kubeseed-lab-ha"
    lab.paths.state_file.parent.mkdir(parents=True)
    lab.paths.state_file.write_text('{"subnet": "10.118.0.0/24", "bridge": "ksbr-ha", "port": 8081, "hosts": []}', encoding="utf-8")
    again = _cli_lab(tmp_path, "--name", "ha", "stop", "ks-cp1")
    assert (again.subnet, again.bridge, again.port) == ("10.118.0.0/24", "ksbr-ha", 8081)
    default = _cli_lab(tmp_path, "status")
    assert (default.subnet, default.bridge, default.paths.inventory.name) == ("10.117.0.0/24", "ksbr0", "lab")
    (tmp_path / "lab" / "lab.json").write_text('{"hosts": [{"name": "ks-cp1"}, {"name": "ks-w1"}]}', encoding="utf-8")
    assert again.other_labs_hosts() == 2 and default.other_labs_hosts() == 0


def test_the_registry_keeps_its_password_in_a_0600_file_and_its_config_names_its_files(tmp_path: Path) -> None:
    from kubeseed_lab import registry  # noqa: E402  pylint: disable=import-outside-toplevel
    paths = plan.Paths(cache=tmp_path / "cache", run=tmp_path / "run", inventory=tmp_path / "inv", name="t3")
    reg = registry.Registry(paths, "10.120.0.1", registry.DEFAULT_REGISTRY_PORT, proc.Progress())
    assert reg.dir == tmp_path / "cache" / "lab" / "labs" / "t3" / "registry" and reg.host == "10.120.0.1:5443"
    first = reg.credentials()
    assert first["username"] == "team" and len(first["password"]) >= 20
    assert (reg.dir / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert reg.credentials() == first  # kept: the hosts' pull secrets stay valid
    config = reg.config()
    assert "addr: 10.120.0.1:5443" in config and f"path: {reg.dir / 'htpasswd'}" in config
    assert f"certificate: {reg.dir / 'tls' / 'server.crt'}" in config and "delete:\n    enabled: false" in config
    assert first["password"] not in config
    assert reg.status()["running"] == "no" and reg.stop() is False


def test_the_registry_holds_a_labelled_copy_of_each_app_image_pushed_once_per_bundle_digest(tmp_path: Path, monkeypatch) -> None:
    """The team's image is a copy with a label (another image ID): a kubelet that pulled it with credentials would
    otherwise ask for credentials for the bundle's preloaded image of the same ID (KubeletEnsureSecretPulledImages)."""
    import json  # noqa: E402  pylint: disable=import-outside-toplevel
    from kubeseed_lab import registry  # noqa: E402  pylint: disable=import-outside-toplevel
    paths = plan.Paths(cache=tmp_path / "cache", run=tmp_path / "run", inventory=tmp_path / "inv", name="t4")
    reg = registry.Registry(paths, "10.120.0.1", registry.DEFAULT_REGISTRY_PORT, proc.Progress())
    bundle = tmp_path / "bundle"
    bundle.mkdir()

    def manifest(digest: str) -> None:
        (bundle / "manifest.json").write_text(json.dumps({"app_images": [
            {"name": "kubeseed.local/demo:0.3.0", "file": "images/demo.tar", "digest": digest}]}), encoding="utf-8")
    calls = []

    def fake_run(argv, input_text=None, **_kwargs):
        calls.append((argv, input_text))
        return subprocess.CompletedProcess(argv, 0, stdout='{"digest": "sha256:copy%d"}\n' % len(calls), stderr="")
    monkeypatch.setattr(registry, "run", fake_run)
    creds = {"username": "team", "password": "pw-not-in-argv"}
    reg.dir.mkdir(parents=True)
    manifest("sha256:bundle1")
    reg.push(Path("/tool"), creds, bundle)
    [(argv, stdin)] = calls
    assert argv[argv.index("-label") + 1] == "org.kubeseed.lab.copy-of=kubeseed.local/demo:0.3.0"
    assert argv[argv.index("-ref") + 1] == "10.120.0.1:5443/team/demo:0.3.0" and stdin == "pw-not-in-argv\n"
    assert "pw-not-in-argv" not in " ".join(argv)
    reg.push(Path("/tool"), creds, bundle)
    assert len(calls) == 1  # the same bundle image: not pushed again
    status = reg.status()
    assert status["images"] == ["10.120.0.1:5443/team/demo:0.3.0"]
    assert status["digests"] == {"10.120.0.1:5443/team/demo:0.3.0": "sha256:copy1"}
    manifest("sha256:bundle2")  # a new bundle: pushed again
    reg.push(Path("/tool"), creds, bundle)
    assert len(calls) == 2 and reg.status()["digests"] == {"10.120.0.1:5443/team/demo:0.3.0": "sha256:copy2"}


def test_the_registry_tool_is_rebuilt_when_its_sources_change() -> None:
    from kubeseed_lab import registry  # noqa: E402  pylint: disable=import-outside-toplevel
    recipe = registry.tool_recipe()
    assert len(recipe) == 12 and recipe == registry.tool_recipe()
    assert (registry.GO_DIR / "cmd" / "labregistry" / "main.go").is_file()


def test_write_if_changed_creates_a_private_file_private(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    assert proc.write_if_changed(target, "{}\n", mode=0o600) is True
    assert target.stat().st_mode & 0o777 == 0o600 and not (tmp_path / "secret.json.tmp").exists()
    assert proc.write_if_changed(target, "{}\n", mode=0o600) is False


def test_mirror_points_each_hosts_apt_at_the_labs_debian_repository_once(tmp_path: Path) -> None:
    paths = plan.Paths(cache=tmp_path, run=tmp_path / "run", inventory=tmp_path / "inv")
    progress = proc.Progress()
    lab_mirror = mirror.Mirror(paths, "10.117.0.1", registry.Registry(paths, "10.117.0.1", 5443, progress), progress)
    (lab_mirror.www / "debian").mkdir(parents=True)
    (lab_mirror.www / "debian" / "Release.key").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n", encoding="utf-8")
    hosts = [plan.Host("ks-w1", "worker", "10.117.0.101"), plan.Host("ks-w2", "worker", "10.117.0.102")]
    (paths.merged("ks-w1") / "etc" / "apt").mkdir(parents=True)  # ks-w2 is not mounted: left alone
    lab_mirror.configure_hosts(hosts)
    root = paths.merged("ks-w1")
    assert (root / "etc/apt/sources.list.d/kubeseed-lab-debian.list").read_text(encoding="utf-8").splitlines()[-1] == \
        "deb [signed-by=/etc/apt/keyrings/kubeseed-lab-mirror.asc] http://10.117.0.1:8081/debian/ /"
    assert (root / "etc/apt/keyrings/kubeseed-lab-mirror.asc").read_text(encoding="utf-8").startswith("-----BEGIN PGP PUBLIC KEY")
    assert not paths.merged("ks-w2").exists()
    progress.changes.clear()
    lab_mirror.configure_hosts(hosts)
    assert progress.changes == []
    status = lab_mirror.status()
    assert status["running"] == "no" and status["repository_base_url"] == "https://10.117.0.1:8443/core:/stable:"
    assert status["ca_file"] == str(paths.own / "registry" / "tls" / "ca.crt")
