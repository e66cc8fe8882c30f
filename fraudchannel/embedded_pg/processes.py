"""The server's processes: what ``postmaster.pid`` says, /proc inspection, orphans, stale
pid files a hard-killed server left behind."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path

import structlog

log = structlog.get_logger("fraudchannel.embedded_pg")  # one logger name for the package

_ORPHAN_GRACE_S = 5.0


@dataclasses.dataclass(frozen=True)
class _PidFile:
    """What ``postmaster.pid`` says: pid, port and status (``ready``, ``starting``, ...)."""

    pid: int
    port: int | None
    status: str


def _read_pid_file(cluster: Path) -> _PidFile | None:
    try:
        lines = (cluster / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    status = lines[7].strip() if len(lines) > 7 else ""
    return _PidFile(pid, port, status)


def _serves(pid: int, cluster: Path) -> bool:
    """Tell whether process ``pid`` is a postgres process of ``cluster``.

    A postmaster and its children run with the data folder as working folder; on systems
    without ``/proc`` a live process is assumed to be ours.
    """
    if pid <= 0:
        return False
    proc = Path("/proc")
    if not (proc / "self").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        exe = Path(os.readlink(proc / str(pid) / "exe")).name
        cwd = os.readlink(proc / str(pid) / "cwd")
    except OSError:
        return False  # gone, or not ours to inspect (then not a server of our folder)
    if not exe.startswith("postgres"):
        return False
    try:
        return os.path.samefile(cwd, cluster)
    except OSError:
        return False


def _cluster_processes(cluster: Path) -> list[int]:
    """Return the pids of postgres processes working in ``cluster`` (Linux only)."""
    proc = Path("/proc")
    if not (proc / "self").exists():
        return []
    pids = (int(p.name) for p in proc.iterdir() if p.name.isdigit())
    return [pid for pid in pids if _serves(pid, cluster)]


def _alive(pid: int) -> bool:
    """Tell whether ``pid`` runs (a zombie nobody reaped does not count; Linux only)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = text.rpartition(")")[2].split()
    return bool(fields) and fields[0] not in ("Z", "X")


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until the processes ``pids`` end; return those still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if _alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _alive(pid)]
    return alive


def _reap_orphans(cluster: Path) -> None:
    """Wait for the children of a dead postmaster to exit; kill those that linger.

    They hold the old shared memory, and a new postmaster refuses to start while it is in use.
    """
    orphans = _cluster_processes(cluster)
    if not orphans:
        return
    lingering = _wait_gone(orphans, _ORPHAN_GRACE_S)
    for pid in lingering:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(lingering, _ORPHAN_GRACE_S)
    log.warning("embedded_pg_orphans_reaped", pids=orphans, killed=lingering, data_dir=str(cluster))


def _clear_stale(cluster: Path, pid: int) -> None:
    """Remove the pid and socket lock files a hard-killed server left behind."""
    _reap_orphans(cluster)
    for path in [cluster / "postmaster.pid", *cluster.glob(".s.PGSQL.*")]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    log.warning("embedded_pg_stale_pid_removed", pid=pid, data_dir=str(cluster))
