"""The embedded server: :class:`EmbeddedPostgres`, started and stopped by its caller."""

from __future__ import annotations

import shlex
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import structlog

from fraudchannel.embedded_pg.accounts import _Account, _choose_account
from fraudchannel.embedded_pg.binaries import (
    _REQUIRED_TOOLS,
    _has_tools,
    _run,
    _usable_bin_dir,
    find_bin_dir,
)
from fraudchannel.embedded_pg.cluster import (
    LOG_FILE,
    PORT_FILE,
    SUPERUSER,
    _is_cluster,
    _locate_cluster,
    _log_tail,
    _prepare_cluster,
    _read_int,
    _remove_created,
    _rotate_log,
    _write_owned,
)
from fraudchannel.embedded_pg.errors import EmbeddedPostgresError
from fraudchannel.embedded_pg.processes import _clear_stale, _PidFile, _read_pid_file, _serves

__all__ = ["EmbeddedPostgres"]

log = structlog.get_logger("fraudchannel.embedded_pg")  # one logger name for the package

_SOCKET_PATH_MAX = 107  # sizeof(sun_path) is 108 on Linux, including the final NUL
_START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 30
_PORT_ATTEMPTS = 3


def _port_free(port: int) -> bool:
    """Tell whether postgres could listen on 127.0.0.1:``port`` now.

    Like postgres, bind with SO_REUSEADDR: connections of the previous run lingering in
    TIME_WAIT do not keep the port from being reused; a live listener does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _socket_option(cluster: Path) -> str:
    """Return the ``unix_socket_directories`` value: the data folder, or '' (no socket) when
    its path is too long for a socket or holds a double quote."""
    path = str(cluster)
    if len(path) + len("/.s.PGSQL.65535") > _SOCKET_PATH_MAX or '"' in path:
        log.warning(
            "embedded_pg_socket_disabled",
            data_dir=path,
            reason="path longer than a unix socket allows, or holds a double quote",
        )
        return ""
    return f'"{path}"'


class EmbeddedPostgres:
    """A PostgreSQL server living in a data folder, started and stopped by its caller.

    ``start()`` initialises the cluster on first use, starts the server (or reuses one a
    previous run left serving this folder) and returns a DSN
    ``postgresql://postgres@127.0.0.1:PORT/DATABASE``; ``stop()`` stops it. Used as a context
    manager, the server lives for the ``with`` block. Calls block (initdb about a second, start
    and stop about a tenth); from async code use ``asyncio.to_thread``.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        fsync: bool = True,
        temporary: bool = False,
        bin_dir: Path | None = None,
        database: str = "fraudchannel",
    ) -> None:
        """Describe a server; nothing runs until :meth:`start`.

        Args:
            data_dir: the data folder (created if missing; must be empty or a cluster).
            port: a fixed TCP port; None reuses the remembered one when free, else a free one.
            fsync: False turns off fsync, synchronous_commit and full_page_writes (tests).
            temporary: remove the data folder on stop (it must not exist before start).
            bin_dir: the PostgreSQL bin folder; None means :func:`find_bin_dir`.
            database: the database in the DSN, created if missing.
        """
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.fsync = fsync
        self.temporary = temporary
        self.database = database
        self._bin_dir_arg = bin_dir
        self._lock = threading.RLock()
        self._cluster: Path | None = None
        self._actual_port: int | None = None
        self._created: list[Path] = []  # folders this instance created, removed if temporary
        self.adopted = False  # True when start() reused a server another process started

    # ---- public API ------------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """Return the DSN of the running server.

        Raises:
            EmbeddedPostgresError: the server was not started by this object.
        """
        if self._actual_port is None:
            raise EmbeddedPostgresError("The embedded PostgreSQL server is not started")
        return (
            f"postgresql://{SUPERUSER}@127.0.0.1:{self._actual_port}/"
            f"{quote(self.database, safe='')}"
        )

    def start(self) -> str:
        """Start the server (idempotent) and return its DSN.

        Creates the cluster on first use, reuses a server a previous run left serving this
        folder, recovers from a stale ``postmaster.pid`` (hard-killed server), and creates the
        database if missing.

        Raises:
            EmbeddedPostgresError: no binaries, an unusable data folder, or a failed
                initdb/start (with the last lines of the server log).
        """
        with self._lock:
            if self._cluster is not None and self._actual_port is not None:
                info = _read_pid_file(self._cluster)
                if info is not None and _serves(info.pid, self._cluster):
                    return self.dsn
            started = time.monotonic()
            bin_dir = self._bin_dir_arg or find_bin_dir()
            if not _has_tools(bin_dir):
                raise EmbeddedPostgresError(f"{bin_dir} lacks one of {', '.join(_REQUIRED_TOOLS)}")
            cluster, who = _prepare_cluster(
                self.data_dir,
                bin_dir,
                temporary=self.temporary,
                fsync=self.fsync,
                created=self._created,
            )
            bin_dir = _usable_bin_dir(bin_dir, who)
            self._cluster = cluster
            self.adopted = self._adopt_running(cluster)
            if not self.adopted:
                self._start_server(cluster, who, bin_dir, started)
            self._ensure_database(bin_dir, who)
            return self.dsn

    def stop(self) -> None:
        """Stop the server serving the data folder (``pg_ctl stop -m fast``); idempotent.

        A temporary cluster's folders are removed afterwards, even if the stop failed.

        Raises:
            EmbeddedPostgresError: the server did not stop (with the server log's last lines).
        """
        with self._lock:
            cluster = self._cluster or _locate_cluster(self.data_dir)
            try:
                if cluster is not None and _is_cluster(cluster):
                    self._stop_server(cluster)
            finally:
                self._actual_port = None
                if self.temporary:
                    _remove_created(self._created)
                    self._cluster = None

    def __enter__(self) -> EmbeddedPostgres:
        """Start the server and return self."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        """Return a short description (data folder and port)."""
        return f"EmbeddedPostgres(data_dir={str(self.data_dir)!r}, port={self._actual_port})"

    # ---- the server process ----------------------------------------------------------------

    def _adopt_running(self, cluster: Path) -> bool:
        """Reuse a live server of ours serving ``cluster``; clean up after a dead one.

        Returns True if a server was adopted (``self._actual_port`` set).
        """
        info = _read_pid_file(cluster)
        if info is None:
            return False
        deadline = time.monotonic() + _START_TIMEOUT_S
        while _serves(info.pid, cluster) and info.status != "ready":
            if time.monotonic() > deadline:  # starting or stopping for too long
                raise EmbeddedPostgresError(
                    f"A server (pid {info.pid}) for {cluster} is stuck in state "
                    f"'{info.status}':\n{_log_tail(cluster)}"
                )
            time.sleep(0.05)
            info = _read_pid_file(cluster) or _PidFile(info.pid, info.port, "gone")
        if _serves(info.pid, cluster) and info.port is not None:
            self._actual_port = info.port
            log.info("embedded_pg_reused", pid=info.pid, port=info.port, data_dir=str(cluster))
            return True
        _clear_stale(cluster, info.pid)
        return False

    def _choose_port(self, cluster: Path, attempt: int) -> int:
        if self.port is not None:
            return self.port
        remembered = _read_int(cluster / PORT_FILE)
        if attempt == 0 and remembered is not None and _port_free(remembered):
            return remembered
        return _free_port()

    def _start_server(self, cluster: Path, who: _Account, bin_dir: Path, started: float) -> None:
        """Start postgres with ``pg_ctl start -w`` on a chosen port.

        Raises:
            EmbeddedPostgresError: it did not start (with the server log's last lines).
        """
        _rotate_log(cluster)
        begun = time.monotonic()
        for attempt in range(_PORT_ATTEMPTS):
            port = self._choose_port(cluster, attempt)
            done = self._pg_ctl_start(cluster, who, bin_dir, port)
            if done.returncode == 0:
                break
            tail = _log_tail(cluster)
            port_taken = "could not bind" in tail or "already in use" in tail
            if self.port is not None or not port_taken or attempt + 1 == _PORT_ATTEMPTS:
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start for {cluster} on port {port} (as user "
                    f"'{who.name}'): {(done.stdout + done.stderr).strip()}\n"
                    f"Last lines of {cluster / LOG_FILE}:\n{tail}"
                )
            log.warning("embedded_pg_port_taken", port=port, data_dir=str(cluster))
        _write_owned(cluster / PORT_FILE, f"{port}\n", who)
        self._actual_port = port
        log.info(
            "embedded_pg_started",
            port=port,
            data_dir=str(cluster),
            user=who.name,
            fsync=self.fsync,
            seconds=round(time.monotonic() - begun, 3),
            total_seconds=round(time.monotonic() - started, 3),
        )

    def _pg_ctl_start(
        self, cluster: Path, who: _Account, bin_dir: Path, port: int
    ) -> subprocess.CompletedProcess[str]:
        options = [
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={_socket_option(cluster)}",
        ]
        if not self.fsync:
            for name in ("fsync", "synchronous_commit", "full_page_writes"):
                options += ["-c", f"{name}=off"]
        args = [
            str(bin_dir / "pg_ctl"),
            "start",
            "-D",
            str(cluster),
            "-l",
            str(cluster / LOG_FILE),
            "-w",
            "-t",
            str(_START_TIMEOUT_S),
            "-s",
            "-o",
            shlex.join(options),  # pg_ctl hands these to a shell
        ]
        return _run(args, who=who, bin_dir=bin_dir, timeout=_START_TIMEOUT_S + 15)

    def _stop_server(self, cluster: Path) -> None:
        """Stop the server of ``cluster`` if one runs: fast mode, then immediate.

        Raises:
            EmbeddedPostgresError: it is still running after both.
        """
        info = _read_pid_file(cluster)
        if info is None or not _serves(info.pid, cluster):
            return
        started = time.monotonic()
        who = _choose_account(cluster)
        bin_dir = _usable_bin_dir(self._bin_dir_arg or find_bin_dir(), who)
        for mode, timeout in (("fast", _STOP_TIMEOUT_S), ("immediate", 10)):
            args = [str(bin_dir / "pg_ctl"), "stop", "-D", str(cluster), "-m", mode, "-w", "-s"]
            args += ["-t", str(timeout)]
            done = _run(args, who=who, bin_dir=bin_dir, timeout=timeout + 15)
            if done.returncode == 0 or not _serves(info.pid, cluster):
                log.info(
                    "embedded_pg_stopped",
                    mode=mode,
                    data_dir=str(cluster),
                    seconds=round(time.monotonic() - started, 3),
                )
                return
        raise EmbeddedPostgresError(
            f"PostgreSQL (pid {info.pid}) for {cluster} did not stop: "
            f"{(done.stdout + done.stderr).strip()}\n{_log_tail(cluster)}"
        )

    def _ensure_database(self, bin_dir: Path, who: _Account) -> None:
        """Create the database if missing.

        Raises:
            EmbeddedPostgresError: psql failed.
        """
        if self.database == "postgres":
            return
        script = (
            "SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') AS missing \\gset\n"
            "\\if :missing\n"
            'CREATE DATABASE :"db";\n'
            "\\echo created\n"
            "\\endif\n"
        )
        args = [
            str(bin_dir / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"db={self.database}",
            "-h",
            "127.0.0.1",
            "-p",
            str(self._actual_port),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-f",
            "-",
        ]
        done = _run(args, who=who, bin_dir=bin_dir, timeout=60, stdin=script)
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"Could not create database {self.database!r}: {done.stderr.strip()}"
            )
        if "created" in done.stdout:
            log.info("embedded_pg_database_created", database=self.database)
