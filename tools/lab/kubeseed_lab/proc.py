"""Running commands, processes, files, mounts and disk use, and the progress lines every command prints."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .plan import LabError


class Progress:
    """Prints steps with elapsed seconds so nobody stares at a silent terminal."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.changes: list[str] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", flush=True)

    def changed(self, message: str) -> None:
        self.changes.append(message)
        self.say(message)


def run(cmd: Sequence[str], check: bool = True, capture: bool = True, timeout: float | None = None,
        env: dict[str, str] | None = None, cwd: Path | None = None,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (input_text on its stdin, e.g. a password, never an argument); on failure raise LabError with its
    output."""
    result = subprocess.run(list(cmd), check=False, text=True, timeout=timeout, env=env, cwd=cwd, input=input_text,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.PIPE if capture else None)
    if check and result.returncode != 0:
        detail = ((result.stderr or "") + (result.stdout or "")).strip()
        raise LabError(f"command failed ({result.returncode}): {shlex.join(cmd)}\n{detail}")
    return result


def write_if_changed(path: Path, content: str, mode: int = 0o644) -> bool:
    """Write a file only when its content differs; True if it was written."""
    if path.is_file() and not path.is_symlink() and path.read_text(encoding="utf-8") == content:
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    # created with its mode (a 0600 file is never readable by others, not even for a moment)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w", encoding="utf-8") as handle:
        handle.write(content)
    tmp.chmod(mode)
    tmp.replace(path)
    return True


def last_line(path: Path) -> str:
    """The last line of a log (cut to 100 characters), for progress notes."""
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return lines[-1][:100] if lines else "no output yet"


def tail(path: Path) -> str:
    """The last 15 lines of a log, for error messages."""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])


def pid_alive(pid: int, needle: str) -> bool:
    """True if pid runs and its command line contains needle."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return needle in cmdline


def terminate(pid: int, needle: str) -> None:
    """SIGTERM to pid (a process of the lab whose command line holds needle), SIGKILL when it still runs 5 s later."""
    os.kill(pid, signal.SIGTERM)
    for _attempt in range(50):
        if not pid_alive(pid, needle):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def process_running(pid: int) -> bool:
    """True while pid exists and is not a zombie (works during exec, when
    /proc/PID/cmdline can briefly read empty)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of this mount namespace, in mount order."""
    result = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        left, _sep, right = line.partition(" - ")
        point = left.split()[4].replace("\\040", " ")
        result.append((point, right.split()[0]))
    return result


def is_mounted(path: Path) -> bool:
    return any(point == str(path) for point, _fstype in mounts())


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    return [point for point, _fstype in mounts() if point.startswith(prefix) or point == str(path)]


def free_bytes(path: Path) -> int:
    probe = path
    while not probe.exists():
        probe = probe.parent
    stat = os.statvfs(probe)
    return stat.f_bavail * stat.f_frsize


def dir_usage(path: Path) -> int:
    """Bytes allocated under path (like du -s), not following mounts."""
    total = 0
    if not path.exists():
        return 0
    device = path.stat().st_dev
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == device]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total
