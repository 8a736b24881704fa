"""The command line starts light: ``import thread.cli`` loads click and the CLI, not the
ledger, SQLAlchemy or the adapters; commands load when they are run or listed."""

from __future__ import annotations

import json
import subprocess
import sys

import click

import thread.bootstrap
import thread.cli
from thread.presentation import printable, table

_LOADED = """
import json, sys
{statement}
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("sqlalchemy", "pydantic", "eventsourcing", "thread_adapters", "thread.ledger",
         "thread.bootstrap", "thread.read", "thread.log", "thread.records", "thread.demo",
         "thread.domain")


def _loaded(statement: str) -> list[str]:
    """Modules a fresh interpreter has loaded after ``statement``."""
    result = subprocess.run([sys.executable, "-c", _LOADED.format(statement=statement)],
                            capture_output=True, text=True, check=True, timeout=120)
    modules: list[str] = json.loads(result.stdout.splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_cli_loads_no_sqlalchemy_ledger_or_adapters() -> None:
    """`import thread.cli` in a fresh interpreter loads none of the heavy packages."""
    assert _loaded("import thread.cli") == []


def test_listing_the_commands_loads_no_sqlalchemy_ledger_or_adapters() -> None:
    """`thread --help` lists every command (the adapters' too) without importing them."""
    statement = ("from click.testing import CliRunner\nfrom thread.cli import main\n"
                 "result = CliRunner().invoke(main, ['--help'])\n"
                 "assert result.exit_code == 0 and 'collect ' in result.output, result.output")
    assert _loaded(statement) == []


def test_resolving_a_command_loads_its_module_and_not_what_it_runs() -> None:
    """Finding `thread parts` loads thread.cli.parts; the ledger loads when it runs."""
    statement = ("from thread.cli import main\n"
                 "main.get_command(main.make_context('thread', ['parts']), 'parts')\n"
                 "import thread.cli.parts")
    assert _loaded(statement) == []


def test_the_cli_names_the_same_database_variable_and_file_as_bootstrap() -> None:
    """The CLI's copies of THREAD_DB and thread.db are bootstrap's (each concept once)."""
    assert (thread.cli.DB_VARIABLE, thread.cli.DEFAULT_FILE) == (
        thread.bootstrap.DB_VARIABLE, thread.bootstrap.DEFAULT_FILE)


def test_the_command_table_says_where_every_command_is() -> None:
    """Each command in COMMANDS loads from its module, and every module's command is listed."""
    context = thread.cli.main.make_context("thread", ["parts"])
    for name, module in thread.cli.COMMANDS.items():
        command = thread.cli.main.get_command(context, name)
        assert isinstance(command, click.Command), name
        assert command.callback is not None
        assert command.callback.__module__ == f"thread.cli.{module}", name
    own = {name for name, command in thread.cli.main.commands.items()
           if command.callback is not None
           and command.callback.__module__.startswith("thread.cli.")}
    assert own == set(thread.cli.COMMANDS)


def test_printable_escapes_control_characters_only() -> None:
    """Escape, bell, newline, C1 and bidi overrides are escaped; accents and tabs' text stay."""
    assert printable("BRG\x1b[2J\a\n\x9b\u202eé") == "BRG\\x1b[2J\\x07\\n\\x9b\\u202eé"
    assert printable("plain text, café") == "plain text, café"


def test_a_table_keeps_each_row_on_one_line() -> None:
    """A cell with a newline or an escape does not break or recolour the table."""
    lines = table(("A", "B"), [("x\ny", "\x1b[31mred")]).splitlines()
    assert lines == ["A     B", "x\\ny  \\x1b[31mred"]
