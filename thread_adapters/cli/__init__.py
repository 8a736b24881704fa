"""The adapters' commands, added to ``thread`` through the ``thread.commands`` entry points.

``thread collect opcua|sparkplug`` runs a collector until stopped;
``thread import qif|csv`` reads files into the ledger.
"""

from __future__ import annotations

import click

from thread_adapters.cli import business, opcua, qif, sparkplug


@click.group()
def collect() -> None:
    """Collect process and condition data from PLCs into the ledger, until stopped."""


@click.group("import")
def import_group() -> None:
    """Import inspection reports and business-system exports into the ledger."""


for _module in (opcua, sparkplug):
    for _command in _module.COMMANDS:
        collect.add_command(_command)
for _module in (qif, business):
    for _command in _module.COMMANDS:
        import_group.add_command(_command)

__all__ = ["collect", "import_group"]
