"""kubeseed lab: real Linux hosts as systemd-nspawn machines on one controller.

The command line of tools/lab/lab.py: `up` boots control-plane and worker hosts on a private
bridge, serves the offline bundle to them over that bridge and writes an Ansible inventory to
inventories/lab/. `down` removes everything `up` made. `--name` runs another lab beside it (its own
bridge, subnet and inventory). See docs/lab.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .cgroups import exec_in_cgroups
from .commands import Lab
from .plan import DEFAULT_BRIDGE, DEFAULT_DISTRIBUTION, DEFAULT_NAME, DEFAULT_PORT, DEFAULT_SUBNET, LAB_NAME, REPO_ROOT, LabError, Paths


def default_mirror() -> str:
    """The Debian mirror apt on the controller uses, else deb.debian.org."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text(encoding="utf-8").splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def build_parser() -> argparse.ArgumentParser:
    cache_default = os.environ.get("KUBESEED_CACHE") or str(Path.home() / ".cache" / "kubeseed")
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--cache", default=cache_default, help="cache dir (KUBESEED_CACHE; default ~/.cache/kubeseed)")
    parser.add_argument("--name", default=os.environ.get("KUBESEED_LAB_NAME") or DEFAULT_NAME,
                        help=f"which lab (KUBESEED_LAB_NAME; default {DEFAULT_NAME}): another name (1-4 lower-case letters or "
                             "digits) is a second lab beside the default one, with its own --subnet, bridge and inventory")
    parser.add_argument("--run-dir", default=None,
                        help="runtime state (pid files; default /run/kubeseed-lab, or /run/kubeseed-lab-<name>)")
    parser.add_argument("--inventory", default=None,
                        help="inventory dir to write (default inventories/lab, or inventories/lab-<name>)")
    parser.add_argument("--subnet", default=None,
                        help=f"the hosts' IPv4 /24 (default: what the lab is up with, else {DEFAULT_SUBNET}; another lab must give one)")
    parser.add_argument("--bridge", default=None, help=f"the bridge (default: what the lab is up with, else {DEFAULT_BRIDGE} or ksbr-<name>)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"bundle server port on the bridge address (default: what the lab is up with, else {DEFAULT_PORT})")
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
    registry = sub.add_parser("registry", help="the lab's container registry (TLS with a lab CA, basic auth) on its bridge")
    registry.add_argument("action", choices=["up", "down", "status"],
                          help="up: start it and push the bundle's application images; down: stop it (its data stays "
                               "until the lab's down); status: where it is (exit 1 unless it runs)")
    registry.add_argument("--upstream-images", action="store_true",
                          help="up: also push the cluster's images under their upstream names (<registry>/registry.k8s.io/...): "
                               "a mirror of registry.k8s.io for online installs")
    mirror = sub.add_parser("mirror", help="the lab's package mirror (Kubernetes apt repository over HTTPS, Debian packages)")
    mirror.add_argument("action", choices=["up", "down", "status"],
                        help="up: make the signed repositories from the bundle, serve them, point the hosts' apt at the "
                             "Debian one; down: stop serving (its files stay until the lab's down); status: where it is")
    for verb, text in (("stop", "power a host off"), ("start", "boot a stopped host"),
                       ("isolate", "cut a host off the bridge"), ("reconnect", "put an isolated host back")):
        fault = sub.add_parser(verb, help=text)
        fault.add_argument("host")
    return parser


def make_lab(args: argparse.Namespace) -> Lab:
    """The lab the options name: the default one, or another by --name; the network settings not given are those the lab
    is up with (its state file), else the defaults."""
    name = args.name
    default = name == DEFAULT_NAME
    if not default and not LAB_NAME.match(name):
        raise LabError(f"--name must be 1-4 lower-case letters or digits starting with a letter (or {DEFAULT_NAME}), got {name!r}")
    run_dir = args.run_dir or (os.environ.get("KUBESEED_LAB_RUN") if default else None) or (
        "/run/kubeseed-lab" if default else f"/run/kubeseed-lab-{name}")
    inventory = args.inventory or str(REPO_ROOT / "inventories" / ("lab" if default else f"lab-{name}"))
    paths = Paths(cache=Path(args.cache), run=Path(run_dir), inventory=Path(inventory), name=name)
    try:
        state = json.loads(paths.state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    state = state if isinstance(state, dict) else {}
    subnet = args.subnet or state.get("subnet")
    if not subnet:
        if not default and args.command == "up":
            raise LabError(f"the lab {name} is not the default one: give it a subnet of its own, e.g. --subnet 10.118.0.0/24 "
                           f"(the default lab uses {DEFAULT_SUBNET})")
        subnet = DEFAULT_SUBNET
    bridge = args.bridge or state.get("bridge") or (DEFAULT_BRIDGE if default else f"ksbr-{name}")
    port = args.port or state.get("port") or DEFAULT_PORT
    return Lab(paths, str(subnet), str(bridge), int(port))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # ip, iptables and friends live in sbin, which a plain user PATH lacks
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path])
    if argv[:1] == ["_exec"] and len(argv) >= 4 and argv[2] == "--":
        exec_in_cgroups(argv[1], argv[3:])
    args = build_parser().parse_args(argv)
    try:
        lab = make_lab(args)
    except LabError as exc:
        print(f"lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    paths = lab.paths
    try:
        if args.command == "up":
            bundle_root = Path(args.bundle_root) if args.bundle_root else paths.cache / "bundles"
            lab.up(args.control_planes, args.workers, args.distribution, args.mirror or default_mirror(),
                   bundle_root.resolve())
        elif args.command == "down":
            lab.down(args.purge)
        elif args.command == "status":
            return lab.status()
        elif args.command in ("registry", "mirror"):
            return lab.service_command(args.command, args.action, getattr(args, "upstream_images", False))
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
