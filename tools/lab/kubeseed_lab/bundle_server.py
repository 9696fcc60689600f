"""The bundle server: `python3 -m http.server` on the bridge address, serving the offline bundle
directory to the hosts, and the bundle URL the inventory gets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from .plan import REPO_ROOT, LabError, Paths
from .proc import Progress, pid_alive, read_pid, terminate


class BundleServer:
    """The http server of one lab, listening on gateway:port."""

    def __init__(self, paths: Paths, gateway: str, port: int, progress: Progress) -> None:
        self.paths = paths
        self.gateway = gateway
        self.port = port
        self.progress = progress

    def http_pid(self) -> int | None:
        pid = read_pid(self.paths.http_pid)
        if pid is not None and pid_alive(pid, "http.server") and pid_alive(pid, f"--bind {self.gateway}"):
            return pid
        return None

    def ensure_http(self, root: Path) -> None:
        pid = self.http_pid()
        if pid is not None:
            if pid_alive(pid, f"--directory {root} "):
                return
            self.stop_http()
        root.mkdir(parents=True, exist_ok=True)
        log_path = self.paths.logs / "http.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "http.server", "--bind", self.gateway, str(self.port), "--directory", str(root)]
        with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
            # pylint: disable-next=consider-using-with
            proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.paths.run.mkdir(parents=True, exist_ok=True)
        self.paths.http_pid.write_text(f"{proc.pid}\n", encoding="utf-8")
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection((self.gateway, self.port), timeout=1):
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LabError(f"bundle server did not start on {self.gateway}:{self.port} ({exc}); "
                                   f"see {log_path}") from exc
                time.sleep(0.2)
        self.progress.changed(f"bundle server: http://{self.gateway}:{self.port}/ serves {root} (pid {proc.pid})")

    def stop_http(self) -> bool:
        pid = self.http_pid()
        self.paths.http_pid.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, "http.server")
        return True

    def bundle_path(self) -> Path | None:
        """The bundle the bundle builder reports (`tools/bundle/bundle.py path`), None when there is none."""
        tool = REPO_ROOT / "tools" / "bundle" / "bundle.py"
        if not tool.is_file():
            return None
        try:
            result = subprocess.run([sys.executable, str(tool), "path"], check=False, text=True,
                                    capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            self.progress.say("bundle: `bundle.py path` timed out")
            return None
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            self.progress.say("bundle: no bundle reported by tools/bundle/bundle.py path")
            return None
        return Path(lines[-1].strip()).resolve()

    def bundle_url(self, root: Path) -> str | None:
        """URL of the bundle the bundle builder reports, if it lies in root."""
        path = self.bundle_path()
        if path is None:
            self.progress.say("bundle: the inventory has no bundle URL")
            return None
        try:
            rel = path.relative_to(root.resolve())
        except ValueError:
            self.progress.say(f"bundle: {path} is not under the served root {root}; inventory has no bundle URL")
            return None
        # the version's stable name (bundles/1.37.2 -> 1.37.2-<recipe>, kept by the builder): the inventory's URL stays the
        # same when the builder changes
        stable = path.with_name(path.name.rsplit("-", 1)[0])
        if stable.is_symlink() and stable.resolve() == path:
            rel = rel.with_name(stable.name)
        return f"http://{self.gateway}:{self.port}/{rel.as_posix()}"
