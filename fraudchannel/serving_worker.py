"""A worker process of `fraudchannel serve`: the app on the connections its parent deals.

The parent (fraudchannel.serving.Dealer) accepts connections and passes each one over this
worker's Unix socket (SCM_RIGHTS); the worker says READY once it serves and TAKEN for each
connection it takes off the socket, so the parent knows what is queued where.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
from typing import Final

import structlog
import uvloop
from aiohttp import web

from fraudchannel.settings import Settings

log = structlog.get_logger("fraudchannel.serving")

READY: Final = b"r"  # worker -> parent: serving
TAKEN: Final = b"t"  # worker -> parent: took one connection off its channel
CONN: Final = b"c"  # parent -> worker: here is a connection (with its fd)


def worker_main(
    settings: Settings,
    index: int,
    channel: socket.socket,
    parents: list[socket.socket],
    parent_pid: int,
) -> None:
    """Body of a worker process: serve connections the parent deals until SIGTERM.

    `channel` is this worker's end of its Unix socket to the parent; `parents` are the parent's
    ends of every channel, inherited by the fork and closed here at once.
    """
    for sock in parents:
        sock.close()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    if sys.platform == "linux":  # be told when the parent dies, however it dies
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent_pid:  # it died before the request took effect
            return
    structlog.contextvars.bind_contextvars(worker=index)
    uvloop.run(_serve_dealt(settings, channel))


async def _serve_dealt(settings: Settings, channel: socket.socket) -> None:
    """Run the app on connections received over `channel` until SIGTERM/SIGINT or the parent
    goes away; then finish the requests in flight and close the pool."""
    from fraudchannel.app import create_app

    runner = web.AppRunner(
        create_app(settings),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=settings.shutdown_timeout_s,
    )
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
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(channel, 16, 4)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message:  # the parent is gone: nobody deals any more
                for fd in fds:
                    os.close(fd)
                stop.set()
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(server, conn))
                task.add_done_callback(_report_failure)
                with contextlib.suppress(OSError):  # the parent counts what is queued here
                    channel.send(TAKEN)

    loop.add_reader(channel.fileno(), receive)
    channel.send(READY)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(channel.fileno())
        channel.close()
        await runner.cleanup()


def _report_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("connection_setup_failed", error=str(task.exception()))
