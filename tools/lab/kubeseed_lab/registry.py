"""The lab's container registry: the CNCF distribution registry (built from its Go module with the lab's own tool,
tools/lab/go/cmd/labregistry), on the bridge address over TLS with a lab CA and basic auth, loaded with the bundle's
application images as a team's private images (<gateway>:<port>/team/<name>:<tag>).

What the hosts and the tests need is in <lab>/registry: ca.crt (public), credentials.json (0600: user name and
password), and `lab.py registry status` prints where they are."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import ssl
import subprocess
import time
from pathlib import Path

from .plan import REPO_ROOT, LabError, Paths
from .proc import Progress, pid_alive, read_pid, run, terminate, write_if_changed

DEFAULT_REGISTRY_PORT = 5443
GO_DIR = REPO_ROOT / "tools" / "lab" / "go"
USER = "team"


def tool_recipe() -> str:
    """Hash of the tool's sources: the cached binary is rebuilt when they change."""
    digest = hashlib.sha256()
    for path in sorted([GO_DIR / "go.mod", GO_DIR / "go.sum", *sorted((GO_DIR / "cmd").rglob("*.go"))]):
        digest.update(path.relative_to(GO_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


class Registry:
    """One lab's registry."""

    def __init__(self, paths: Paths, gateway: str, port: int, progress: Progress) -> None:
        self.paths = paths
        self.gateway = gateway
        self.port = port
        self.progress = progress
        self.dir = paths.own / "registry"
        self.pid_file = paths.run / "registry.pid"

    @property
    def host(self) -> str:
        return f"{self.gateway}:{self.port}"

    def binary(self) -> Path:
        """The labregistry binary, built once per version of its sources (cached beside the lab's base images)."""
        out = self.paths.lab / "tools" / f"labregistry-{tool_recipe()}"
        if out.is_file():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.progress.say(f"registry: building {out.name} (the distribution registry from its Go module) ...")
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false")
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(tmp), "./cmd/labregistry"], cwd=GO_DIR, env=env,
            timeout=1800)
        tmp.replace(out)
        self.progress.changed(f"registry: built {out} in {time.monotonic() - started:.0f}s")
        return out

    def pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid, "labregistry") and pid_alive(pid, str(self.dir / "config.yml")):
            return pid
        return None

    def credentials(self) -> dict[str, str]:
        path = self.dir / "credentials.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or not data.get("password"):
            data = {"username": USER, "password": secrets.token_urlsafe(18)}
            self.dir.mkdir(parents=True, exist_ok=True)
            write_if_changed(path, json.dumps(data) + "\n", mode=0o600)
        return {"username": str(data.get("username") or USER), "password": str(data["password"])}

    def config(self) -> str:
        return (
            "version: 0.1\n"
            "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n  delete:\n    enabled: false\n"
            f"http:\n  addr: {self.host}\n  tls:\n    certificate: {self.dir / 'tls' / 'server.crt'}\n"
            f"    key: {self.dir / 'tls' / 'server.key'}\n"
            f"auth:\n  htpasswd:\n    realm: kubeseed-lab\n    path: {self.dir / 'htpasswd'}\n"
        )

    def wait_ready(self, proc: subprocess.Popen | None, log: Path) -> None:
        context = ssl.create_default_context(cafile=str(self.dir / "tls" / "ca.crt"))
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((self.gateway, self.port), timeout=1) as sock:
                    with context.wrap_socket(sock, server_hostname=self.gateway):
                        return
            except OSError as exc:
                if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
                    raise LabError(f"the registry did not answer on {self.host} ({exc}); see {log}") from exc
                time.sleep(0.2)

    def ensure_certs(self) -> Path:
        """The lab CA and the bridge address's server certificate (made once; the lab's mirror serves with them too)."""
        run([str(self.binary()), "certs", "-dir", str(self.dir / "tls"), "-ip", self.gateway])
        return self.dir / "tls"

    def up(self, bundle: Path | None, upstream: bool = False) -> dict[str, object]:
        """Start the registry (idempotent) and push the bundle's application images into it; with upstream, also the
        cluster's images under their upstream names (<host>/registry.k8s.io/kube-apiserver:v1.37.2, <host>/kubeseed.local/...):
        a company's mirror of registry.k8s.io, for online installs (a containerd mirror with that path)."""
        tool = self.binary()
        creds = self.credentials()
        self.ensure_certs()
        # written on every up from the password file (a new bcrypt salt each time, the same password): the two never
        # disagree, and a running registry accepts the password either way
        htpasswd = run([str(tool), "htpasswd", creds["username"]], input_text=creds["password"] + "\n").stdout
        write_if_changed(self.dir / "htpasswd", htpasswd, mode=0o600)
        config_changed = write_if_changed(self.dir / "config.yml", self.config(), mode=0o600)
        pid = self.pid()
        if pid is not None and config_changed:
            self.stop()
            pid = None
        log = self.paths.logs / "registry.log"
        proc = None
        if pid is None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as out, open(os.devnull, "rb") as devnull:
                # pylint: disable-next=consider-using-with
                proc = subprocess.Popen([str(tool), "serve", str(self.dir / "config.yml")], stdin=devnull, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            self.paths.run.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
        self.wait_ready(proc, log)
        if proc is not None:
            self.progress.changed(f"registry: https://{self.host} (pid {proc.pid}, data {self.dir / 'data'})")
        if bundle is not None:
            self.push(tool, creds, bundle, upstream)
        return self.status()

    def push(self, tool: Path, creds: dict[str, str], bundle: Path, upstream: bool = False) -> None:
        try:
            manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LabError(f"registry: cannot read the bundle's manifest in {bundle}: {exc}") from exc
        pushed = self.dir / "pushed.json"
        try:
            done = json.loads(pushed.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            done = {}
        for image in manifest.get("images", []) + manifest.get("addon_images", []) + manifest.get("app_images", []) if upstream else []:
            ref = f"{self.host}/{image['name']}"
            if isinstance(done.get(ref), dict) and done[ref].get("source") == image["digest"]:
                continue
            out = run([str(tool), "push", "-tar", str(bundle / image["file"]), "-ref", ref, "-ca", str(self.dir / "tls" / "ca.crt"),
                       "-user", creds["username"]], input_text=creds["password"] + "\n", timeout=900)
            done[ref] = {"source": image["digest"], "digest": json.loads(out.stdout)["digest"]}
            write_if_changed(pushed, json.dumps(done, indent=2, sort_keys=True) + "\n")
            self.progress.changed(f"registry: pushed {ref} (the bundle's {image['name']})")
        for image in manifest.get("app_images", []):
            ref = f"{self.host}/team/{image['name'].rsplit('/', 1)[-1]}"
            if isinstance(done.get(ref), dict) and done[ref].get("source") == image["digest"]:
                continue
            # A copy with a label of its own, so another image ID: a kubelet (1.35+, KubeletEnsureSecretPulledImages)
            # that pulled an image with credentials asks for credentials for that image ID under every name, so the
            # bundle's own image, preloaded on the nodes under its kubeseed.local name, would need a pull afterwards.
            out = run([str(tool), "push", "-tar", str(bundle / image["file"]), "-ref", ref, "-ca",
                       str(self.dir / "tls" / "ca.crt"), "-user", creds["username"],
                       "-label", f"org.kubeseed.lab.copy-of={image['name']}"], input_text=creds["password"] + "\n")
            digest = json.loads(out.stdout)["digest"]
            done[ref] = {"source": image["digest"], "digest": digest}
            write_if_changed(pushed, json.dumps(done, indent=2, sort_keys=True) + "\n")
            self.progress.changed(f"registry: pushed {ref} ({digest}, a copy of {image['name']})")

    def status(self) -> dict[str, object]:
        """Where the registry is and what a client needs (the password stays in the 0600 file)."""
        try:
            pushed = json.loads((self.dir / "pushed.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pushed = {}
        return {
            "registry": self.host,
            "running": "yes" if self.pid() is not None else "no",
            "ca_file": str(self.dir / "tls" / "ca.crt"),
            "credentials_file": str(self.dir / "credentials.json"),
            "images": sorted(pushed),
            "digests": {ref: entry["digest"] for ref, entry in sorted(pushed.items()) if isinstance(entry, dict)},
        }

    def stop(self) -> bool:
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, "labregistry")
        return True
