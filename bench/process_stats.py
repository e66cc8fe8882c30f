"""Process statistics for the benchmarks, from Linux /proc: the server's processes, their peak
RSS and PSS, and CPU time per process group (server, PostgreSQL, client, other, idle, steal)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


def server_pids(pid: int) -> list[int]:
    """Return the server's process and its worker processes (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [pid, *(int(c) for c in children.read_text().split())]
    except OSError:
        return [pid]


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """Return the server's peak resident set size (VmHWM), MiB: (largest process, all together)."""
    peaks = []
    for p in server_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return (max(peaks), sum(peaks)) if peaks else (float("nan"), float("nan"))


def pss_mb(pid: int) -> float:
    """Return the proportional set size of the server's processes together, MiB: shared pages
    (the workers fork from one parent) counted once, unlike a sum of RSS."""
    total = 0
    for p in server_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


class PssSampler:
    """Samples pss_mb of the server every 50 ms while running; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, pss_mb(self.pid))
            await asyncio.sleep(0.05)

    def __enter__(self) -> PssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds (user + system) used so far by each live process, with its group, and the
    machine's busy, idle and steal seconds (/proc/stat)."""

    processes: dict[int, tuple[str, float]]
    machine: dict[str, float]


def _group(pid: int, name: str, server: set[int], database: str) -> str:
    """Return the group of a process: `server` (its processes), `client` (this one),
    `postgres` (the backends of `database` and PostgreSQL's own background processes: WAL
    writer, checkpointer, ...; backends of other databases are `other`), or `other`."""
    if pid in server:
        return "server"
    if pid == os.getpid():
        return "client"
    if name.startswith("postgres"):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return "other"
        backend = "(" in title  # "postgres: user dbname 127.0.0.1(port) ..." serves a client
        return "postgres" if not backend or f" {database} " in title else "other"
    return "other"


def cpu_snapshot(server_pid: int, database: str) -> CpuSnapshot:
    """Return the CPU used so far by every process (see CpuSnapshot, _group)."""
    server = set(server_pids(server_pid))
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        used = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        processes[pid] = (_group(pid, name, server, database), used)
    cpu = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    machine = {
        "machine_busy": (sum(cpu[:7]) - cpu[3] - cpu[4]) / CLOCK_TICKS,
        "machine_idle": (cpu[3] + cpu[4]) / CLOCK_TICKS,
        "machine_steal": cpu[7] / CLOCK_TICKS,  # given by the hypervisor to other machines
    }
    return CpuSnapshot(processes, machine)


def cpu_us_per_report(before: CpuSnapshot, after: CpuSnapshot, reports: int) -> dict[str, float]:
    """Return the CPU microseconds per report of each group between two snapshots: processes
    alive at the end count what they used since the start (or since they started); processes
    that ended meanwhile are not counted."""
    used = dict.fromkeys(("server", "postgres", "client", "other"), 0.0)
    for pid, (group, seconds) in after.processes.items():
        was = before.processes.get(pid)
        used[group] += seconds - (was[1] if was is not None and was[0] == group else 0.0)
    used |= {k: after.machine[k] - before.machine[k] for k in after.machine}
    return {k: round(v / reports * 1e6, 1) for k, v in used.items()}


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM to the current RSS in every server process (write 5 to /proc/PID/clear_refs)."""
    for p in server_pids(pid):
        with contextlib.suppress(OSError):
            Path(f"/proc/{p}/clear_refs").write_text("5")
