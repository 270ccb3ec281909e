"""Small helpers about detached processes, pid files, log tails and ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int, cmdline_marker: str | None = None) -> bool:
    """True if ``pid`` runs and is not a zombie.

    ``cmdline_marker`` guards against a stale pid file whose pid the kernel has given to an unrelated
    process since: we must neither report it as our server nor signal it.
    """
    try:
        # Reaps the process if it is our own child that already exited; otherwise a zombie would
        # look alive to kill(pid, 0) until this Python process ends.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user (postgres runs as its own user when we are root)
    proc = Path(f"/proc/{pid}")
    if not proc.exists():  # not Linux: kill(pid, 0) is all we can tell
        return True
    try:
        # Field 3 of /proc/<pid>/stat is the state; the command name before it may hold spaces.
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    if state == "Z":
        return False
    return cmdline_marker is None or cmdline_marker in cmdline


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def stop_gently(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM (the process's own shutdown runs), then SIGKILL if it has not ended within ``timeout``."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def port_in_use(host: str, port: int) -> bool:
    """Something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:  # refused, unreachable, timed out or unknown host
        return False


def tail(path: Path, lines: int = 40) -> str:
    """Last lines of a log file, for error messages ('' when there is no such file)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, outside the kernel's ephemeral range.

    Port 0 would give one inside that range, where a client reconnecting to a restarted server can be
    handed the very port it is dialling and connect to itself (a TCP self-connect: Kafka clients then
    read their own requests as answers, and the restarted broker cannot bind). Below the range that
    cannot happen."""
    import random

    low, _high = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(20_000, min(low, 32_768))
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port found between 20000 and {low}")


def free_ports(count: int, host: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive free ports outside the ephemeral range (a local Kafka cluster numbers
    its brokers' ports from one base)."""
    for _ in range(200):
        base = free_port(host)
        taken = False
        for port in range(base + 1, base + count):
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return base
    raise OSError(f"no {count} consecutive free ports found")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999
