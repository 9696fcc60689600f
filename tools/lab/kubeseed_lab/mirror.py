"""The lab's package mirror: what a company's mirrors of pkgs.k8s.io and of Debian serve, made from the offline bundle.

- https://<gateway>:8443/core:/stable:/v<minor>/deb/: the Kubernetes apt repository in the official layout (kubeadm,
  kubelet, kubectl, cri-tools, kubernetes-cni as real .deb packages of the bundle's binaries, `bundle.py aptrepo`),
  Release signed with the lab's own OpenPGP key, over HTTPS with a certificate of the lab CA (the registry's).
- http://<gateway>:8081/debian/: the bundle's host packages (conntrack, socat, ...) as a flat repository signed with the
  same key: the Debian mirror a company's hosts already use. `mirror up` points each lab host's apt at it (the hosts
  reach nothing else), as a company's host image would.

Everything lives in <lab>/mirror (the signing key in gnupg/, 0700); `lab down` removes it.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .plan import REPO_ROOT, Host, LabError, Paths
from .proc import Progress, pid_alive, read_pid, terminate, write_if_changed
from .registry import Registry

MIRROR_HTTPS_PORT = 8443
MIRROR_HTTP_PORT = 8081
BUNDLE_TOOL = REPO_ROOT / "tools" / "bundle" / "bundle.py"
SERVER = Path(__file__).resolve().parent / "mirror_server.py"
HOST_KEY = "/etc/apt/keyrings/kubeseed-lab-mirror.asc"
HOST_SOURCES = "/etc/apt/sources.list.d/kubeseed-lab-debian.list"


class Mirror:
    """One lab's package mirror."""

    def __init__(self, paths: Paths, gateway: str, registry: Registry, progress: Progress) -> None:
        self.paths = paths
        self.gateway = gateway
        self.registry = registry
        self.progress = progress
        self.dir = paths.own / "mirror"
        self.www = self.dir / "www"
        self.gnupg = self.dir / "gnupg"
        self.pid_file = paths.run / "mirror.pid"

    @property
    def base_url(self) -> str:
        """kubeseed_online_repository_base_url of the lab's mirror."""
        return f"https://{self.gateway}:{MIRROR_HTTPS_PORT}/core:/stable:"

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid, "mirror_server.py") and pid_alive(pid, str(self.www)):
            return pid
        return None

    def build(self) -> list[Path]:
        """The repositories from the bundle (`bundle.py aptrepo --with-host-debs`): packages cached per bundle, indices
        signed again; its progress lines go to stderr."""
        started = time.monotonic()
        self.progress.say("mirror: making the package repositories from the bundle (bundle.py aptrepo) ...")
        result = subprocess.run([sys.executable, str(BUNDLE_TOOL), "aptrepo", "--out", str(self.www), "--gpg-home",
                                 str(self.gnupg), "--with-host-debs"], stdout=subprocess.PIPE, text=True, check=False,
                                timeout=1800)
        if result.returncode != 0:
            raise LabError("mirror: bundle.py aptrepo failed (its message is above); build the bundle first with `make bundle`")
        repo = Path(result.stdout.strip().splitlines()[-1])
        self.progress.say(f"mirror: repositories ready in {time.monotonic() - started:.0f}s")
        return [repo, self.www / "debian"]

    def ensure_server(self, tls: Path) -> None:
        if self.pid() is not None:
            return
        log = self.paths.logs / "mirror.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(SERVER), "--bind", self.gateway, "--https-port", str(MIRROR_HTTPS_PORT), "--http-port",
               str(MIRROR_HTTP_PORT), "--directory", str(self.www), "--cert", str(tls / "server.crt"), "--key",
               str(tls / "server.key")]
        with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
            # pylint: disable-next=consider-using-with
            proc = subprocess.Popen(cmd, stdin=devnull, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
        context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((self.gateway, MIRROR_HTTPS_PORT), timeout=1) as sock:
                    with context.wrap_socket(sock, server_hostname=self.gateway):
                        break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LabError(f"the mirror did not answer on {self.gateway}:{MIRROR_HTTPS_PORT} ({exc}); see {log}") from exc
                time.sleep(0.2)
        self.progress.changed(f"mirror: {self.base_url}/ and http://{self.gateway}:{MIRROR_HTTP_PORT}/debian/ (pid {proc.pid})")

    def configure_hosts(self, hosts: Sequence[Host]) -> None:
        """Each host's apt gets the lab's Debian repository (and its key), as a company's host image has its mirror."""
        key = (self.www / "debian" / "Release.key").read_text(encoding="utf-8")
        sources = (f"# kubeseed lab (lab.py mirror up): the bundle's host packages, the Debian mirror of this lab\n"
                   f"deb [signed-by={HOST_KEY}] http://{self.gateway}:{MIRROR_HTTP_PORT}/debian/ /\n")
        for host in hosts:
            root = self.paths.merged(host.name)
            if not (root / "etc" / "apt").is_dir():
                continue
            changed = write_if_changed(root / HOST_KEY.lstrip("/"), key)
            changed = write_if_changed(root / HOST_SOURCES.lstrip("/"), sources) or changed
            if changed:
                self.progress.changed(f"mirror: {host.name} uses the lab's Debian repository")

    def up(self, hosts: Sequence[Host]) -> dict[str, object]:
        tls = self.registry.ensure_certs()
        self.build()
        self.ensure_server(tls)
        self.configure_hosts(hosts)
        return self.status()

    def status(self) -> dict[str, object]:
        repos = sorted(p.parent.name for p in (self.www / "core:" / "stable:").glob("v*/deb"))
        return {
            "running": "yes" if self.pid() is not None else "no",
            "repository_base_url": self.base_url,
            "minors": repos,
            "ca_file": str(self.registry.dir / "tls" / "ca.crt"),
            "key_file": str(self.www / "debian" / "Release.key"),
            "debian_url": f"http://{self.gateway}:{MIRROR_HTTP_PORT}/debian/",
        }

    def stop(self) -> bool:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, "mirror_server.py")
        return True
