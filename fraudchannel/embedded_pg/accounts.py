"""Who runs the server (PostgreSQL refuses root), and which folders that user can reach."""

from __future__ import annotations

import dataclasses
import os
import pwd
import stat
from pathlib import Path
from typing import Any

from fraudchannel.embedded_pg.errors import EmbeddedPostgresError

_UNPRIVILEGED_USERS = ("postgres", "nobody")


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
