"""Operator commands: organisations, their keys, the service key (being written)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the registry commands to `group`."""
