"""Serving HTTP from one or more worker processes, each with its own event loop and pool.

Ingest is CPU work in Python (validation, canonicalisation, driver encoding) beside the
database's own; one process uses one core. With `workers` > 1 a small parent process listens,
accepts each connection and deals it to the next worker in turn over a Unix socket (SCM_RIGHTS);
the worker serves it to the end (keep-alive requests stay with it). Dealing beats the usual
alternatives here: with SO_REUSEPORT or one listening socket shared by all, the kernel picks a
worker by a hash of the addresses or by whichever wakes first, and two busy clients end up on
one worker half the time while another idles (measured with the ingest benchmark).

The parent restarts a worker that dies, stops all of them on SIGTERM or SIGINT (each finishes its
requests in flight), and holds nothing else: every worker opens its own database pool, and all
state lives in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import selectors
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Final

import structlog
import uvloop
from aiohttp import web

from fraudchannel.settings import Settings

log = structlog.get_logger(__name__)

STOP_GRACE_S: Final = 30.0  # how long a stopping worker may take before it is killed
RESTART_PAUSE_S: Final = 1.0  # between restarts of a worker that keeps dying


def worker_count(setting: int) -> int:
    """Return how many workers `setting` (FRAUDCHANNEL_WORKERS) asks for: 0 means one per CPU
    this process may run on (its affinity mask, not the machine's count)."""
    if setting > 0:
        return setting
    return max(1, len(os.sched_getaffinity(0)))


def serve(settings: Settings, workers: int) -> None:
    """Serve `settings`' app on host:port with `workers` processes until SIGTERM/SIGINT."""
    from fraudchannel.app import create_app

    if workers <= 1:
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            handle_signals=True,
            loop=uvloop.new_event_loop(),
        )
        return
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.create_server((settings.host, settings.port), family=family, backlog=1024) as lsn:
        Dealer(settings, lsn, workers).run()


class _Worker:
    """One worker process and the parent's end of its connection channel."""

    def __init__(self, index: int, process: BaseProcess, channel: socket.socket) -> None:
        self.index = index
        self.process = process
        self.channel = channel


class Dealer:
    """The parent: accepts connections and deals them round-robin to `count` workers."""

    def __init__(self, settings: Settings, listener: socket.socket, count: int) -> None:
        self.settings = settings
        self.listener = listener
        self.count = count
        self.workers: list[_Worker] = []
        self.next = 0
        self.stopping = False
        self._context = multiprocessing.get_context("fork")

    def run(self) -> None:
        """Start the workers and deal connections until a stop signal; then stop them."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self.listener.setblocking(False)
        self.workers = [self._start(i) for i in range(self.count)]
        old_wakeup = signal.set_wakeup_fd(wake_w.fileno())
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        log.info("workers_started", workers=self.count, pids=[w.process.pid for w in self.workers])
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.listener, selectors.EVENT_READ, "accept")
                sel.register(wake_r, selectors.EVENT_READ, "signal")
                for w in self.workers:
                    sel.register(w.process.sentinel, selectors.EVENT_READ, w)
                while not self.stopping:
                    for key, _ in sel.select():
                        if key.data == "accept":
                            self._accept()
                        elif key.data == "signal":
                            with contextlib.suppress(BlockingIOError):
                                wake_r.recv(64)
                        elif isinstance(key.data, _Worker) and not self.stopping:
                            sel.unregister(key.fileobj)
                            fresh = self._restart(key.data)
                            sel.register(fresh.process.sentinel, selectors.EVENT_READ, fresh)
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            self._stop_all()
            wake_r.close()
            wake_w.close()

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _start(self, index: int) -> _Worker:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The child must not hold the parent's sockets: the listener, or the channel of another
        # worker (whose worker would then never see its parent go away).
        parents = [self.listener, parent_end, *(w.channel for w in self.workers)]
        process = self._context.Process(
            target=_worker_main,
            args=(self.settings, index, child_end, parents),
            name=f"fraudchannel-worker-{index}",
            daemon=False,
        )
        process.start()
        child_end.close()
        return _Worker(index, process, parent_end)

    def _restart(self, dead: _Worker) -> _Worker:
        log.error(
            "worker_died", worker=dead.index, pid=dead.process.pid, exitcode=dead.process.exitcode
        )
        dead.channel.close()
        time.sleep(RESTART_PAUSE_S)
        fresh = self._start(dead.index)
        self.workers[dead.index] = fresh
        return fresh

    def _accept(self) -> None:
        while True:
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
        """Hand `conn` to the next worker that takes it (a dead one is skipped)."""
        for _ in range(self.count):
            worker = self.workers[self.next]
            self.next = (self.next + 1) % self.count
            try:
                socket.send_fds(worker.channel, [b"c"], [conn.fileno()])
                return
            except OSError:
                continue
        log.error("connection_dropped", reason="no worker took it")

    def _stop_all(self) -> None:
        for w in self.workers:
            if w.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid or 0, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for w in self.workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                log.error("worker_killed", worker=w.index, pid=w.process.pid)
                w.process.kill()
                w.process.join()
            w.channel.close()
        log.info("workers_stopped", workers=len(self.workers))


def _worker_main(
    settings: Settings, index: int, channel: socket.socket, parents: list[socket.socket]
) -> None:
    """Body of a worker process: serve connections the parent deals until SIGTERM."""
    for sock in parents:
        sock.close()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    structlog.contextvars.bind_contextvars(worker=index)
    uvloop.run(_serve_dealt(settings, channel))


async def _serve_dealt(settings: Settings, channel: socket.socket) -> None:
    """Run the app on connections received over `channel` until SIGTERM/SIGINT or the parent
    goes away; then finish the requests in flight and close the pool."""
    from fraudchannel.app import create_app

    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    server = runner.server
    if server is None:  # pragma: no cover (set by setup)
        raise RuntimeError("the app runner has no server")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    channel.setblocking(False)

    def receive() -> None:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 16, 4)
        except BlockingIOError:
            return
        if not message:  # the parent is gone: nobody deals any more
            stop.set()
            return
        for fd in fds:
            conn = socket.socket(fileno=fd)
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(server, conn))
            task.add_done_callback(_report_failure)

    loop.add_reader(channel.fileno(), receive)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(channel.fileno())
        channel.close()
        await runner.cleanup()


def _report_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("connection_setup_failed", error=str(task.exception()))
