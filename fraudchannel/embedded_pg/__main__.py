"""Command line, for humans: ``python -m fraudchannel.embedded_pg start|stop|status DATA_DIR``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from fraudchannel.embedded_pg.cluster import DATA_DIR_ENV, SUPERUSER, _is_cluster, _locate_cluster
from fraudchannel.embedded_pg.errors import EmbeddedPostgresError
from fraudchannel.embedded_pg.processes import _read_pid_file, _serves
from fraudchannel.embedded_pg.server import EmbeddedPostgres


def _status(server: EmbeddedPostgres) -> tuple[bool, str]:
    cluster = _locate_cluster(server.data_dir)
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
