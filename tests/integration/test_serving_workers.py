"""`fraudchannel serve` with several worker processes: connections dealt in turn, a dead worker
replaced, every process gone after SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from fraudchannel import serving
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(c) for c in path.read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _get(port: int, path: str = "/readyz") -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        status: int = resp.status
        return status


def _served_by(log: Path) -> list[int]:
    """Return the worker index of each request_served line of the server's JSON log."""
    workers = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request_served":
                workers.append(entry["worker"])
    return workers


class Server:
    """A `fraudchannel serve --workers N` process and its log."""

    def __init__(self, dsn: str, workers: int, tmp: Path) -> None:
        self.port = free_port()
        self.log = tmp / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDCHANNEL_")}
        env |= {
            "DATABASE_URL": dsn,
            "FRAUDCHANNEL_PORT": str(self.port),
            "FRAUDCHANNEL_LOG_FORMAT": "json",
        }
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fraudchannel", "serve", "--workers", str(workers)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(self.port) == 200:
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(self.log.read_text()) from None
                time.sleep(0.1)
        raise AssertionError("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[str, int], Server]]:
    started: list[Server] = []

    def start(dsn: str, workers: int) -> Server:
        server = Server(dsn, workers, tmp_path)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


async def test_connections_are_dealt_to_workers_in_turn(
    clone_db: Callable[[], Awaitable[str]], start_server: Callable[[str, int], Server]
) -> None:
    dsn = await clone_db()
    server = await asyncio.to_thread(start_server, dsn, 2)
    assert len(_children(server.proc.pid)) == 2
    before = len(_served_by(server.log))
    for _ in range(4):  # urllib opens a new connection for each request
        assert await asyncio.to_thread(_get, server.port) == 200
    await asyncio.sleep(0.2)  # the log lines of the last request
    served = _served_by(server.log)[before:]
    assert sorted(served) == [0, 0, 1, 1]
    assert served[0] != served[1]
    assert served[1] != served[2]


async def test_a_dead_worker_is_replaced_and_requests_go_on(
    clone_db: Callable[[], Awaitable[str]], start_server: Callable[[str, int], Server]
) -> None:
    dsn = await clone_db()
    server = await asyncio.to_thread(start_server, dsn, 2)
    victim = _children(server.proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = _children(server.proc.pid)
        if len(workers) == 2 and victim not in workers:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the worker was not replaced: {server.log.read_text()}")
    for _ in range(6):
        assert await asyncio.to_thread(_get, server.port) == 200
    events = [json.loads(x)["event"] for x in server.log.read_text().splitlines() if x[:1] == "{"]
    assert "worker_died" in events


async def test_sigterm_stops_every_process(
    clone_db: Callable[[], Awaitable[str]], start_server: Callable[[str, int], Server]
) -> None:
    dsn = await clone_db()
    server = await asyncio.to_thread(start_server, dsn, 3)
    workers = _children(server.proc.pid)
    assert len(workers) == 3
    await asyncio.to_thread(server.stop)
    assert server.proc.returncode == 0, server.log.read_text()
    assert not [pid for pid in workers if _alive(pid)]
    assert "workers_stopped" in server.log.read_text()


def test_worker_count_zero_means_one_per_usable_cpu() -> None:
    assert serving.worker_count(0) == len(os.sched_getaffinity(0))
    assert serving.worker_count(3) == 3


def test_a_negative_worker_count_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDCHANNEL_")}
    env["FRAUDCHANNEL_WORKERS"] = "-1"
    done = subprocess.run(
        [sys.executable, "-m", "fraudchannel", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "workers" in done.stderr
