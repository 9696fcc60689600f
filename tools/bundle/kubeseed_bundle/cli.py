"""Build, locate and verify a kubeseed offline bundle.

The command line of ``tools/bundle/bundle.py`` (see its docstring for usage).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .aptrepo import DEFAULT_REVISION, make_host_repository, make_repository
from .build import build
from .cache import CLI, bundle_dir
from .errors import BundleError
from .manifest import verify
from .pins import DEFAULT_VERSION, pins_for


def say(message: str) -> None:
    """A progress line on stderr (stdout carries the result)."""
    print(f"[bundle] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("command", choices=("build", "path", "verify", "aptrepo"))
    parser.add_argument("--kubernetes-version", default=os.environ.get("KUBESEED_KUBERNETES_VERSION", DEFAULT_VERSION))
    parser.add_argument("--out", type=Path, help="aptrepo: the repository root (core:/stable:/v<minor>/deb/ is made under it)")
    parser.add_argument("--gpg-home", type=Path, help="aptrepo: GnuPG home of the signing key (a key is made there if none)")
    parser.add_argument("--revision", default=DEFAULT_REVISION, help="aptrepo: package revision (version 1.37.2-<revision>)")
    parser.add_argument("--with-host-debs", action="store_true",
                        help="aptrepo: also <out>/debian/, a repository of the bundle's host packages (a Debian mirror's part)")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build(args.kubernetes_version))
            return 0
        pins = pins_for(args.kubernetes_version)
        if args.command == "aptrepo":
            if args.out is None or args.gpg_home is None:
                parser.error("aptrepo needs --out and --gpg-home")
            final = bundle_dir(pins)
            if not (final / "manifest.json").exists():
                raise BundleError(f"bundle not built yet: run `python3 {CLI} build --kubernetes-version {pins.kubernetes}`")
            if args.with_host_debs:
                make_host_repository(final, args.out, args.gpg_home, say=say)
            print(make_repository(final, args.out, args.gpg_home, args.revision, say=say))
            return 0
        if args.command == "path":
            final = bundle_dir(pins)
            print(final)
            if not (final / "manifest.json").exists():
                print(f"bundle not built yet: run `python3 {CLI} build --kubernetes-version {pins.kubernetes}`", file=sys.stderr)
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
