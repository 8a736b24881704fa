"""The ``qif``command (being written)."""

from __future__ import annotations

import click

#: The commands this module adds to its group.
COMMANDS: list[click.Command] = []
