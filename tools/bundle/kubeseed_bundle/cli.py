"""Build, locate and verify a kubeseed offline bundle.

The command line of ``tools/bundle/bundle.py`` (see its docstring for usage).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .build import build
from .cache import CLI, bundle_dir
from .errors import BundleError
from .manifest import verify
from .pins import DEFAULT_VERSION, pins_for


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
