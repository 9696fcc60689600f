"""kubeseed lab: real Linux hosts as systemd-nspawn machines on one controller.

The command line of tools/lab/lab.py: `up` boots control-plane and worker hosts on a private
bridge, serves the offline bundle to them over that bridge and writes an Ansible inventory to
inventories/lab/. `down` removes everything `up` made. See docs/lab.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cgroups import exec_in_cgroups
from .commands import Lab
from .plan import DEFAULT_BRIDGE, DEFAULT_DISTRIBUTION, DEFAULT_PORT, DEFAULT_SUBNET, REPO_ROOT, LabError, Paths


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
    parser.add_argument("--run-dir", default=os.environ.get("KUBESEED_LAB_RUN", "/run/kubeseed-lab"),
                        help="runtime state (pid files)")
    parser.add_argument("--inventory", default=str(REPO_ROOT / "inventories" / "lab"), help="inventory dir to write")
    parser.add_argument("--subnet", default=DEFAULT_SUBNET)
    parser.add_argument("--bridge", default=DEFAULT_BRIDGE)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="bundle server port on the bridge address")
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
    for verb, text in (("stop", "power a host off"), ("start", "boot a stopped host"),
                       ("isolate", "cut a host off the bridge"), ("reconnect", "put an isolated host back")):
        fault = sub.add_parser(verb, help=text)
        fault.add_argument("host")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # ip, iptables and friends live in sbin, which a plain user PATH lacks
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path])
    if argv[:1] == ["_exec"] and len(argv) >= 4 and argv[2] == "--":
        exec_in_cgroups(argv[1], argv[3:])
    args = build_parser().parse_args(argv)
    paths = Paths(cache=Path(args.cache), run=Path(args.run_dir), inventory=Path(args.inventory))
    lab = Lab(paths, args.subnet, args.bridge, args.port)
    try:
        if args.command == "up":
            bundle_root = Path(args.bundle_root) if args.bundle_root else paths.cache / "bundles"
            lab.up(args.control_planes, args.workers, args.distribution, args.mirror or default_mirror(),
                   bundle_root.resolve())
        elif args.command == "down":
            lab.down(args.purge)
        elif args.command == "status":
            return lab.status()
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
