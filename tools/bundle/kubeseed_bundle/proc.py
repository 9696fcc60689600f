"""Running commands: progress lines, heartbeats with the tail of the log, quick captured commands."""
from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import BundleError

HEARTBEAT_SECONDS = 20


class Progress:
    """Prints ``[bundle] step i/N`` lines and heartbeats with elapsed time."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self.started = time.monotonic()

    def elapsed(self) -> int:
        """Seconds since the build started."""
        return int(time.monotonic() - self.started)

    def step(self, name: str) -> None:
        """Announce the next step."""
        self.index += 1
        self.say(f"step {self.index}/{self.total} {name} ... (elapsed {self.elapsed()}s)")

    def say(self, message: str) -> None:
        """Print one progress line."""
        print(f"[bundle] {message}", flush=True)


def last_line(path: Path) -> str:
    """Return the last non-empty line of a log file (for heartbeats)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            lines = [line for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:160] if lines else ""


def run(
    cmd: Sequence[str],
    *,
    progress: Progress,
    label: str,
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run a command with output to ``log``; print a heartbeat while it runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        with subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT) as proc:
            next_beat = started + HEARTBEAT_SECONDS
            while True:
                try:
                    code = proc.wait(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= next_beat:
                        next_beat += HEARTBEAT_SECONDS
                        tail = last_line(log)
                        progress.say(
                            f"  ... {label}: running {int(time.monotonic() - started)}s (elapsed {progress.elapsed()}s)" + (f" | {tail}" if tail else "")
                        )
    if code != 0:
        with log.open("rb") as handle:
            tail_text = handle.read().decode(errors="replace").splitlines()[-25:]
        raise BundleError(f"{label} failed (exit {code}); log: {log}\n" + "\n".join(tail_text))


def capture(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a quick command and return its stdout, raising BundleError on failure."""
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def peak_child_rss_mib() -> int:
    """Largest RSS of any finished child process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
