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
    python3 tools/bundle/bundle.py aptrepo --out DIR --gpg-home DIR [--kubernetes-version 1.37.2] [--revision 1.1]

``aptrepo`` makes a signed apt repository in the official layout from the bundle's binaries (``aptrepo.py``).

Cache root: ``${KUBESEED_CACHE:-$HOME/.cache/kubeseed}``.  Each expensive part
is cached under ``parts/`` by its own key, the bundle itself under
``bundles/<version>-<recipehash12>/``.

The code is the package ``kubeseed_bundle`` next to this file: ``pins``
(versions), ``cache`` (parts, recipe hash, bundle directory), ``proc``
(commands and progress), ``gobuild``, ``debs``, ``images``, ``manifest``
(written and checked with the collection's ``plugins/module_utils/_bundle.py``,
see ``shared``), ``build`` (the steps) and ``cli``.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kubeseed_bundle.cli import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
    sys.exit(main())
