"""CLI commands of this subsystem (registered by emgcorpus.cli)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add this subsystem's commands to the top-level group."""
