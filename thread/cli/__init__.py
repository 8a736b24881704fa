"""The ``thread`` command: the group, the options and helpers its subcommands share."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

import thread
from thread.bootstrap import DB_VARIABLE, DEFAULT_FILE
from thread.errors import LedgerError
from thread.ledger import Ledger

#: Summary characters a history table shows before cutting the line.
SUMMARY_WIDTH = 100


@click.group()
@click.option("--db", "url", envvar=DB_VARIABLE, metavar="URL",
              help=f"Ledger file, sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
                   f"[env {DB_VARIABLE}; default {DEFAULT_FILE} in the working directory].")
@click.version_option(package_name="digital-thread-ledger")
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """The digital-thread ledger: a verifiable record of every part, from design to field."""
    ctx.obj = url


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print machine-readable JSON instead of text.")


class Moment(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time with its zone, such as 2026-03-01T00:00Z."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time; expected e.g. 2026-03-01T00:00Z",
                      param, ctx)
        if moment.tzinfo is None:
            self.fail(f"{value!r} has no time zone; add Z for UTC or an offset such as +01:00",
                      param, ctx)
        return moment


MOMENT = Moment()
as_of_option = click.option("--as-of", "as_of", type=MOMENT, default=None,
                            help="Answer as the record stood at this moment (ISO 8601 with zone).")
by_option = click.option("--by", type=click.Choice(["recorded", "occurred"]), default="recorded",
                         show_default=True,
                         help="Which clock --as-of reads: when the ledger recorded a fact, or "
                              "when it happened on the floor.")



class Silent:
    """A file that swallows a progress bar when nobody is watching."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        """Nothing to flush."""

    def isatty(self) -> bool:
        return False


@contextmanager
def opened(ctx: click.Context, *, create: bool = False) -> Iterator[Ledger]:
    """The ledger named by --db; library errors become one-line messages and exit status 1.

    Only commands that write create a ledger, so a mistyped --db is an error, not a new file.
    """
    try:
        ledger = thread.open(ctx.obj, create=create)
    except LedgerError as error:
        raise click.ClickException(message(error)) from None
    try:
        yield ledger
    except LedgerError as error:
        raise click.ClickException(message(error)) from None
    finally:
        ledger.close()


def message(error: LedgerError) -> str:
    notes = getattr(error, "__notes__", [])
    return " ".join([str(error), *(f"({note})" for note in notes)])


def ledger_name(url: str | None) -> str:
    """The ledger as a message names it: a file's absolute path, a URL without its password."""
    url = url or DEFAULT_FILE
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        return url.replace(f":{parts.password}@", ":***@") if parts.password else url
    path = url.removeprefix("sqlite:///")
    return path if path == ":memory:" else str(Path(path).resolve())


def db_option(ctx: click.Context) -> str:
    """`` --db URL`` when the URL came from the command line, so hints can be pasted."""
    root = ctx.find_root()
    if root.get_parameter_source("url") is ParameterSource.COMMANDLINE:
        return f" --db {shlex.quote(str(ctx.obj))}"
    return ""


def plural(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _add_plugins() -> None:
    """Commands other packages add, such as the adapters' ``collect`` and ``import`` groups.

    They register under the ``thread.commands`` entry-point group, so this
    package never imports them: adapters depend on the core, not the reverse.
    """
    for entry in entry_points(group="thread.commands"):
        command = entry.load()
        if isinstance(command, click.Command):
            main.add_command(command, entry.name)


# The subcommands register themselves on ``main`` when their modules load.
from thread.cli import log, parts, records, story  # noqa: E402

_add_plugins()

__all__ = ["log", "main", "parts", "records", "story"]
