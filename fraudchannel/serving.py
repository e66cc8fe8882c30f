"""Serving HTTP from one or more worker processes, each with its own event loop and pool.

Ingest is CPU work in Python (validation, canonicalisation, driver encoding) beside the
database's own; one process uses one core. With `workers` > 1 a small parent process listens,
accepts each connection and deals it to the next ready worker in turn over a Unix socket
(SCM_RIGHTS); the worker serves it to the end (keep-alive requests stay with it). Dealing beats
the usual alternatives here: with SO_REUSEPORT or one listening socket shared by all, the kernel
picks a worker by a hash of the addresses or by whichever wakes first, and two busy clients end
up on one worker half the time while another idles (measured with the ingest benchmark).

The parent never blocks on a worker: each connection goes to the ready worker with the fewest
connections dealt but not yet taken (workers say when they take one), so a worker stuck in a long
synchronous step is passed over after one and never holds more than MAX_WAITING (accepting
pauses, leaving connections in the kernel's backlog, while no ready worker has room); one that is
starting is not dealt to until it says it is ready; one
that dies is restarted after a pause that doubles while it keeps dying (at most MAX_BACKOFF_S).
SIGTERM or SIGINT stops every worker gracefully (requests in flight finish, for at most
settings.shutdown_timeout_s: aiohttp reads no more request data once stopping, so an upload still
arriving cannot finish and is cut then; the parent kills a worker STOP_GRACE_S later); a second
signal meanwhile kills them at once. A worker whose parent dies is sent
SIGTERM by the kernel (Linux PR_SET_PDEATHSIG) and also stops when its channel closes. The
database pool size is shared among the workers (`worker_settings`); all state lives in
PostgreSQL. A worker's side of this is fraudchannel.serving_worker.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import selectors
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Final

import structlog
import uvloop
from aiohttp import web

from fraudchannel.serving_worker import CONN, READY, TAKEN, worker_main
from fraudchannel.settings import Settings

log = structlog.get_logger(__name__)

STOP_GRACE_S: Final = 10.0  # beyond settings.shutdown_timeout_s, before a worker is killed
FIRST_BACKOFF_S: Final = 0.5  # pause before restarting a worker that died
MAX_BACKOFF_S: Final = 30.0  # the pause doubles while a worker keeps dying, up to this
CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
MIN_POOL_PER_WORKER: Final = 2  # a request may hold one connection while auth reads another
MAX_WAITING: Final = 8  # connections dealt to one worker and not yet taken; then it is skipped


class BindError(Exception):
    """The HTTP address cannot be listened on (in use, not local, no permission)."""


def worker_count(setting: int, cgroup_root: Path = CGROUP_ROOT) -> int:
    """Return how many workers `setting` (FRAUDCHANNEL_WORKERS) asks for: 0 means one per CPU
    this process may use: its affinity mask, and no more than its container's CPU quota (a pod
    limited to 2 CPUs on a 64-core node gets 2 workers, not 64)."""
    if setting > 0:
        return setting
    cpus = len(os.sched_getaffinity(0))
    quota = cpu_quota(cgroup_root)
    return max(1, min(cpus, quota) if quota is not None else cpus)


def cpu_quota(root: Path = CGROUP_ROOT) -> int | None:
    """Return the CPU quota of this process's cgroup, rounded up to whole CPUs, or None when
    there is none. Reads cgroup v2 `cpu.max` ("200000 100000": 2 CPUs; "max 100000": none), else
    cgroup v1 `cpu/cpu.cfs_quota_us` and `cpu.cfs_period_us` (-1: none), as mounted in the
    process's own namespace (Linux kernel docs: cgroup-v2 "cpu.max", sched-bwc)."""
    try:
        fields = (root / "cpu.max").read_text().split()
        quota, period = fields[0], fields[1]
    except (OSError, IndexError):
        try:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        q, p = int(quota), int(period)
    except ValueError:  # "max"
        return None
    if q <= 0 or p <= 0:
        return None
    return max(1, -(-q // p))


def worker_settings(settings: Settings, workers: int) -> Settings:
    """Return the settings one of `workers` workers runs with: the database pool limits are the
    server's, shared (db_pool_max split evenly, at least MIN_POOL_PER_WORKER each), so that the
    default of one worker per CPU never multiplies the server's connections by the CPU count."""
    if workers <= 1:
        return settings
    pool_max = max(MIN_POOL_PER_WORKER, settings.db_pool_max // workers)
    pool_min = max(1, min(settings.db_pool_min, pool_max, settings.db_pool_min // workers or 1))
    return settings.model_copy(update={"db_pool_max": pool_max, "db_pool_min": pool_min})


def bind(settings: Settings) -> socket.socket:
    """Return a listening TCP socket on settings.host:port. Raises BindError."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        return socket.create_server((settings.host, settings.port), family=family, backlog=1024)
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        raise BindError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def serve(settings: Settings, listener: socket.socket, workers: int) -> None:
    """Serve the app on `listener` with `workers` processes until SIGTERM/SIGINT."""
    from fraudchannel.app import create_app  # imported before forking: workers share its pages

    if workers <= 1:
        web.run_app(
            create_app(settings),
            sock=listener,
            print=None,
            access_log=None,
            handle_signals=True,
            shutdown_timeout=settings.shutdown_timeout_s,
            loop=uvloop.new_event_loop(),
        )
        return
    Dealer(worker_settings(settings, workers), listener, workers).run()


class _Worker:
    """One worker process, the parent's end of its channel, and whether it said it is ready."""

    def __init__(self, index: int, process: BaseProcess, channel: socket.socket) -> None:
        self.index = index
        self.process = process
        self.channel = channel
        self.ready = False
        self.queued = 0  # connections dealt to it that it has not taken yet


class Dealer:
    """The parent: accepts connections and deals them round-robin to `count` workers."""

    def __init__(self, settings: Settings, listener: socket.socket, count: int) -> None:
        self.settings = settings
        self.listener = listener
        self.count = count
        self.workers: list[_Worker | None] = [None] * count
        self.next = 0
        self.signals = 0  # stop signals received: 1 stops gracefully, 2 kills
        self.failures = [0] * count  # deaths in a row, per worker slot
        self.restart_at: dict[int, float] = {}
        self._sel = selectors.DefaultSelector()
        self._listening = False
        self._context = multiprocessing.get_context("fork")

    def run(self) -> None:
        """Start the workers and deal connections until a stop signal; then stop them."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self.listener.setblocking(False)
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno())
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._sel.register(wake_r, selectors.EVENT_READ, "signal")
            # Park the parent's objects (the imported modules) out of the cyclic collector's
            # reach: a worker's collections would otherwise write to every one of them and copy
            # the pages the fork shares (Python docs, gc.freeze).
            gc.freeze()
            for index in range(self.count):
                self._start(index)
            log.info("workers_started", workers=self.count)
            while not self.signals:
                self._turn()
            self._stop_all()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            self._sel.close()
            wake_r.close()
            wake_w.close()

    def _turn(self) -> None:
        """Wait for one round of events (connections, readiness, deaths, restart times)."""
        timeout = None
        if self.restart_at:
            timeout = max(0.0, min(self.restart_at.values()) - time.monotonic())
        for key, _ in self._sel.select(timeout):
            if key.data == "accept":
                self._accept()
            elif key.data == "signal":
                with contextlib.suppress(BlockingIOError):
                    key.fileobj.recv(64)  # type: ignore[union-attr]
            elif isinstance(key.data, tuple) and key.data[0] == "channel":
                self._hear(key.data[1])
            elif isinstance(key.data, tuple) and key.data[0] == "exit":
                self._died(key.data[1])
        now = time.monotonic()
        for index, when in list(self.restart_at.items()):
            if when <= now and not self.signals:
                del self.restart_at[index]
                self._start(index)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals += 1
        if self.signals > 1:  # a second signal while stopping: do not wait any longer
            for w in self.workers:
                if w is not None and w.process.is_alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(w.process.pid or 0, signal.SIGKILL)

    def _start(self, index: int) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent_end.setblocking(False)
        # The child must not hold the parent's sockets: the listener, or the channel of another
        # worker (whose worker would then never see its parent go away).
        parents = [self.listener, parent_end, *(w.channel for w in self.workers if w is not None)]
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, index, child_end, parents, os.getpid()),
            name=f"fraudchannel-worker-{index}",
        )
        process.start()
        child_end.close()
        worker = _Worker(index, process, parent_end)
        self.workers[index] = worker
        self._sel.register(parent_end, selectors.EVENT_READ, ("channel", worker))
        self._sel.register(process.sentinel, selectors.EVENT_READ, ("exit", worker))

    def _hear(self, worker: _Worker) -> None:
        """Read what a worker says on its channel: ready, taken, or nothing (going away)."""
        while True:
            try:
                message = worker.channel.recv(16)
            except BlockingIOError:
                break
            except OSError:
                message = b""
            if message == TAKEN:
                worker.queued = max(0, worker.queued - 1)
                self._listen(True)  # room again, if accepting paused for want of it
            elif message == READY:
                worker.ready = True
                self.failures[worker.index] = 0
                log.info("worker_ready", worker=worker.index, pid=worker.process.pid)
            elif not message:
                worker.ready = False
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(worker.channel)
                break
        self._listen(self._has_room())

    def _died(self, worker: _Worker) -> None:
        worker.process.join(1.0)  # reaped, so its exit code is known
        code = worker.process.exitcode
        deliberate = code in (0, -signal.SIGTERM, -signal.SIGINT)
        (log.warning if deliberate else log.error)(
            "worker_died", worker=worker.index, pid=worker.process.pid, exitcode=code
        )
        for fileobj in (worker.channel, worker.process.sentinel):
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(fileobj)
        worker.channel.close()
        worker.ready = False
        self.workers[worker.index] = None
        pause = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** self.failures[worker.index])
        self.failures[worker.index] += 1
        self.restart_at[worker.index] = time.monotonic() + pause
        self._listen(self._has_room())

    def _has_room(self) -> bool:
        return any(w is not None and w.ready and w.queued < MAX_WAITING for w in self.workers)

    def _listen(self, on: bool) -> None:
        """Accept connections only while a ready worker has room (else they wait in the
        kernel's backlog, and a stuck worker holds at most MAX_WAITING of them)."""
        on = on and self._has_room()
        if on and not self._listening:
            self._sel.register(self.listener, selectors.EVENT_READ, "accept")
        elif not on and self._listening:
            self._sel.unregister(self.listener)
        self._listening = on

    def _accept(self) -> None:
        while True:
            for w in self.workers:  # take in the acknowledgements that came meanwhile
                if w is not None and w.ready:
                    self._hear(w)
            if not self._has_room():
                self._listen(False)
                return
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: log, keep serving the rest
                log.error("accept_failed", error=str(exc))
                return
            with conn:
                self._deal(conn)

    def _deal(self, conn: socket.socket) -> None:
        """Hand `conn` to the ready worker with the fewest connections not yet taken, the next
        in turn among equals: a worker stuck in a long synchronous step stops being dealt to
        after one connection, and one whose channel is full is skipped."""
        order = [self.workers[(self.next + i) % self.count] for i in range(self.count)]
        ready = sorted(
            (w for w in order if w is not None and w.ready and w.queued < MAX_WAITING),
            key=lambda w: w.queued,
        )
        for worker in ready:
            try:
                socket.send_fds(worker.channel, [CONN], [conn.fileno()])
            except OSError:  # full (stuck), or going away: the next one
                continue
            worker.queued += 1
            self.next = (worker.index + 1) % self.count
            return
        log.warning("connection_dropped", reason="no ready worker had room for it")

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait for them (killing them after STOP_GRACE_S or at a second
        signal), and close their channels."""
        self.restart_at.clear()
        alive = [w for w in self.workers if w is not None]
        for w in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.process.pid or 0, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout_s + STOP_GRACE_S
        while any(w.process.is_alive() for w in alive):
            if time.monotonic() > deadline or self.signals > 1:
                for w in alive:
                    if w.process.is_alive():
                        log.error("worker_killed", worker=w.index, pid=w.process.pid)
                        w.process.kill()
            time.sleep(0.05)
        for w in alive:
            w.process.join()
            w.channel.close()
        log.info("workers_stopped", workers=len(alive))
