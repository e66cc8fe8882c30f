"""The data folder: finding, creating and initialising the cluster, and our files in it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import structlog

from fraudchannel.embedded_pg.accounts import _Account, _blocking_folder, _choose_account, _describe
from fraudchannel.embedded_pg.binaries import _run, _usable_bin_dir
from fraudchannel.embedded_pg.errors import EmbeddedPostgresError

log = structlog.get_logger("fraudchannel.embedded_pg")  # one logger name for the package

SUPERUSER = "postgres"
PORT_FILE = "embedded_pg.port"
LOG_FILE = "embedded_pg.log"
LOCATION_FILE = "embedded_pg.location"
DATA_DIR_ENV = "FRAUDCHANNEL_PG_DATA_DIR"

_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_LOG_TAIL_LINES = 25


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


def _rotate_log(cluster: Path) -> None:
    path = cluster / LOG_FILE
    with contextlib.suppress(OSError):
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            path.replace(cluster / (LOG_FILE + ".1"))


def _is_cluster(folder: Path) -> bool:
    return (folder / "PG_VERSION").is_file()


def _locate_cluster(data_dir: Path) -> Path | None:
    """Return the cluster folder for the data folder: itself, or where it points to."""
    pointer = data_dir / LOCATION_FILE
    if pointer.is_file():
        return Path(pointer.read_text().strip())
    return data_dir if data_dir.exists() else None


def _prepare_cluster(
    data_dir: Path, bin_dir: Path, *, temporary: bool, fsync: bool, created: list[Path]
) -> tuple[Path, _Account]:
    """Return the cluster folder (initialised) and the account that runs it.

    Raises:
        EmbeddedPostgresError: the folder is unusable, or initdb failed.
    """
    existing = _locate_cluster(data_dir)
    if existing is not None and _is_cluster(existing):
        if temporary and not created:
            raise EmbeddedPostgresError(
                f"A temporary cluster needs a fresh data folder, but {existing} already "
                "holds one (temporary clusters are removed on stop)."
            )
        who = _choose_account(existing)
        blocker = _blocking_folder(existing, who) if who.switches else None
        if blocker is not None:
            raise _unreachable(existing, blocker, who)
        return existing, who
    who = _choose_account(None)
    cluster = _make_cluster_folder(data_dir, who, temporary=temporary, created=created)
    _initdb(cluster, who, _usable_bin_dir(bin_dir, who), fsync=fsync, created=created)
    return cluster, who


def _unreachable(path: Path, blocker: Path, who: _Account) -> EmbeddedPostgresError:
    return EmbeddedPostgresError(
        f"The PostgreSQL data folder {path} is under {_describe(blocker)}, which user "
        f"'{who.name}' (who must run PostgreSQL, since it refuses to run as root) cannot "
        "enter. This program does not change permissions of folders it did not create. "
        f"Set {DATA_DIR_ENV} to a data folder that user can reach (for instance "
        "/srv/fraudchannel/postgres, whose parents are searchable), or run as a non-root "
        "user, or use DATABASE_URL with an existing server."
    )


def _make_cluster_folder(
    requested: Path, who: _Account, *, temporary: bool, created: list[Path]
) -> Path:
    """Create (or accept) the empty folder initdb will fill, and return it.

    Raises:
        EmbeddedPostgresError: the folder exists and is not empty, is not ours to use, or
            cannot be reached by ``who``.
    """
    blocker = _blocking_folder(requested, who) if who.switches else None
    if requested.exists():
        if blocker is not None:
            raise _unreachable(requested, blocker, who)
        if temporary:
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
        _mkdirs(requested, who, created)
        return requested
    if not temporary:
        raise _unreachable(requested, blocker, who)
    # A throwaway cluster: place it where the user can reach it, and say so.
    base = Path(tempfile.gettempdir()).resolve()
    base_blocker = _blocking_folder(base, who)
    if base_blocker is not None:
        raise _unreachable(base, base_blocker, who)
    _mkdirs(requested, None, created)
    home = Path(tempfile.mkdtemp(prefix="fraudchannel-pg-", dir=base))
    created.append(home)
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


def _mkdirs(folder: Path, who: _Account | None, created: list[Path]) -> None:
    """Create ``folder`` (0700, given to ``who`` if set) and its missing parents.

    When running as another user, parents we create get mode 0755 so that user can reach
    the folder. Everything created is recorded in ``created``, for removal of a temporary
    cluster.
    """
    missing = [p for p in [*reversed(folder.parents), folder] if not p.exists()]
    for path in missing:
        try:
            path.mkdir(mode=0o700 if path == folder else 0o755)
        except FileExistsError:
            continue
        if path == folder:
            created.append(path)
            if who is not None and who.switches:
                os.chown(path, who.uid, who.gid)
        elif who is not None and who.switches:
            path.chmod(0o755)  # ours: undo a restrictive umask


def _remove_created(created: list[Path]) -> None:
    for path in reversed(created):
        shutil.rmtree(path, ignore_errors=True)
        log.info("embedded_pg_removed", path=str(path))
    created.clear()


def _initdb(
    cluster: Path, who: _Account, bin_dir: Path, *, fsync: bool, created: list[Path]
) -> None:
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
    if not fsync:
        args.append("--no-sync")
    done = _run(args, who=who, bin_dir=bin_dir, timeout=300)
    if done.returncode != 0:
        _remove_created(created)
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
