"""The ``thread`` command: the group, the options and helpers its subcommands share.

Startup is kept to what a command needs. A command's module loads when the command
is run or listed (``COMMANDS`` says where each one lives), and imports the ledger, the
read side or the records inside the command, when it runs. ``thread --help`` loads
click and these modules; ``thread parts`` adds the ledger, not SQLAlchemy or the
adapters.
"""

from __future__ import annotations

import ast
import errno
import importlib
import importlib.util
import json
import os
import shlex
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

import thread
from thread.errors import LedgerError, one_line
from thread.presentation import printable
from thread.times import EARLIEST, LATEST

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from thread.ledger import Ledger
    from thread.sites.across import AcrossSites

#: Summary characters a history table shows before cutting the line.
SUMMARY_WIDTH = 100

# The same names as thread.bootstrap's (a unit test holds them equal): importing bootstrap
# here would load the ledger and pydantic for ``thread --help``.
DB_VARIABLE = "THREAD_DB"
DEFAULT_FILE = "thread.db"

#: The module of ``thread.cli`` that defines each command; it registers it on ``main``.
COMMANDS = {
    "demo": "parts", "parts": "parts", "history": "parts",
    "trace": "story", "genealogy": "story", "recall": "story",
    "rebuild": "story", "read-models": "story", "follow": "story",
    "dhr": "records", "fair": "records",
    "spc": "quality", "capability": "quality", "alerts": "quality", "predict": "predict",
    "keygen": "log", "checkpoint": "log", "verify": "log", "verify-checkpoint": "log",
    "dossier": "log", "verify-dossier": "log",
    "investigate": "investigate", "signer": "signers", "audit-trail": "audit",
    "classify": "labels", "keyring": "labels",
    "forward": "sites", "hub": "sites", "mirrors": "sites", "witness": "sites",
    "serve": "web",
}


class Thread(click.Group):
    """The command group: loads each command when it is asked for; errors print escaped.

    Every error a command raises on purpose (a :class:`click.ClickException`, a
    :class:`LedgerError`, a file that cannot be read or written) prints with control
    characters escaped, and exits with status 1 (2 for a usage error); only a
    plugin's message keeps its line breaks (an import listing its bad rows).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS, *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name in COMMANDS:
                importlib.import_module(f"thread.cli.{COMMANDS[cmd_name]}")
            elif cmd_name in _plugins():
                command = _plugins()[cmd_name].load()
                if isinstance(command, click.Command):
                    self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``; a plugin not yet loaded is described from its source."""
        listed: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name not in self.commands and name not in COMMANDS:
                listed.append((name, click.Command(name, help=_plugin_help(_plugins()[name]))))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                listed.append((name, command))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit))
                                for name, command in listed])

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with _one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line():
            return super().invoke(ctx)


@contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    # click types the message Final; escaping it is the one change made before it shows.
    except click.UsageError as error:
        setattr(error, "message", printable(error.message))  # noqa: B010
        raise
    except click.ClickException as error:  # a plugin's may list problems, one per line
        lines = error.message.split("\n")
        setattr(error, "message", "\n".join(printable(line) for line in lines))  # noqa: B010
        raise
    except LedgerError as error:
        raise Refused(message(error)) from None
    except OSError as error:
        if error.errno == errno.EPIPE:  # click ends quietly when the reader went away
            raise
        where = f": {error.filename}" if error.filename else ""
        raise Refused(f"{error.strerror or error}{where}") from None


class Refused(click.ClickException):
    """A command's one-line refusal (exit status 1); what it quotes is escaped."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


@click.group(cls=Thread)
@click.option("--db", "url", envvar=DB_VARIABLE, metavar="URL",
              help=f"Ledger file, sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
                   f"[env {DB_VARIABLE}; default {DEFAULT_FILE} in the working directory].")
@click.option("--policy", "policy", envvar="THREAD_POLICY", metavar="FILE",
              type=click.Path(dir_okay=False),
              help="A Cedar role policy every write, signature and read is decided by "
                   "[env THREAD_POLICY; default: none].")
@click.option("--identity", "identity", envvar="THREAD_IDENTITY", metavar="FILE",
              type=click.Path(dir_okay=False),
              help="Who is asking, as a JSON file (user, roles, us_person, citizenship, "
                   "licences, exemptions, site, country) [env THREAD_IDENTITY].")
@click.option("--origin", "origin", envvar="THREAD_ORIGIN", metavar="NAME",
              help="The log's name in its checkpoints, fixed when the ledger is created, "
                   "such as acme.example/plant-7 [env THREAD_ORIGIN; default "
                   "thread-ledger/<uuid>].")
@click.version_option(package_name="digital-thread-ledger")
@click.pass_context
def main(ctx: click.Context, url: str | None, policy: str | None,
         identity: str | None, origin: str | None) -> None:
    """The digital-thread ledger: a verifiable record of every part, from design to field."""
    ctx.obj = url
    ctx.meta["thread.access"] = (policy, identity)
    ctx.meta["thread.origin"] = origin


@cache
def _plugins() -> dict[str, EntryPoint]:
    """Commands other packages add, such as the adapters' ``collect`` and ``import`` groups.

    They register under the ``thread.commands`` entry-point group, so this package
    never imports them (adapters depend on the core, not the reverse); each loads
    when it is run, and ``--help`` lists it from its source (:func:`_plugin_help`).
    """
    from importlib.metadata import entry_points

    return {entry.name: entry for entry in entry_points(group="thread.commands")}


def _plugin_help(entry: EntryPoint) -> str:
    """The first paragraph of a plugin command's docstring, read from its module's source.

    Loading a plugin imports its whole package (the adapters: pydantic, the facts, the
    protocol clients), three times what ``thread --help`` may take; reading the
    function's docstring costs a file read. Anything unusual falls back to the module.
    """
    fallback = f"Commands from {entry.module}; see --help."
    try:
        source = _source_of(entry.module)
        tree = ast.parse(source.read_text(encoding="utf-8")) if source else None
    except (ImportError, OSError, SyntaxError, ValueError):
        return fallback
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.FunctionDef) and node.name == entry.attr:
            return ast.get_docstring(node) or fallback
    return fallback


def _source_of(module: str) -> Path | None:
    """The file of ``module``, found without running it or its packages' ``__init__``."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)  # a top-level spec is found, not executed
    if spec is None or not rest:
        return Path(spec.origin) if spec is not None and spec.origin else None
    for folder in spec.submodule_search_locations or []:
        base = Path(folder, *rest)
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
    return None


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
        try:
            in_range = EARLIEST <= moment.astimezone(UTC) <= LATEST
        except OverflowError:  # a year 1 or 9999 that the offset moves out of the calendar
            in_range = False
        if not in_range:
            self.fail(f"{value!r} is out of range; expected a time from "
                      f"{EARLIEST:%Y-%m-%dT%H:%MZ} to {LATEST:%Y-%m-%dT%H:%MZ}", param, ctx)
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


def _access(ctx: click.Context) -> dict[str, Any]:
    """The role policy and the identity the command runs under, from --policy/--identity."""
    policy, identity = ctx.meta.get("thread.access", (None, None))
    if policy is None and identity is None:
        return {}
    from thread.access.policy import Identity, Policy

    if policy is None:
        raise Refused("--identity needs --policy (THREAD_POLICY): who is asking matters only "
                      "to a role policy")
    who = Identity.from_file(identity) if identity is not None else None
    return {"policy": Policy.from_file(policy), "identity": who,
            **({"actor": who.user} if who is not None else {})}


@contextmanager
def opened(ctx: click.Context, *, create: bool = False) -> Iterator[Ledger]:
    """The ledger named by --db; library errors become one-line messages and exit status 1.

    Only commands that write create a ledger, so a mistyped --db is an error, not a new file.
    """
    try:
        ledger = thread.open(ctx.obj, create=create, origin=ctx.meta.get("thread.origin"),
                             **_access(ctx))
    except LedgerError as error:
        raise Refused(message(error)) from None
    try:
        yield ledger
    except LedgerError as error:
        raise Refused(message(error)) from None
    finally:
        ledger.close()


@contextmanager
def across(ctx: click.Context) -> Iterator[AcrossSites]:
    """The read side over the site logs the hub named by --db mirrors (``--sites``)."""
    from thread.sites.across import AcrossSites
    from thread.sites.mirror import Mirror

    with opened(ctx) as ledger:
        mirror = Mirror.beside(ledger)
        hub = AcrossSites.beside(ledger, mirror)
        try:
            yield hub
        except LedgerError as error:
            raise Refused(message(error)) from None
        finally:
            hub.close()
            mirror.close()


message = one_line  # the name the commands know it by


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


def plural(number: int, noun: str, nouns: str | None = None) -> str:
    """``1 event``, ``2 events`` (``nouns`` when the plural is not ``noun`` + s)."""
    return f"{number} {noun if number == 1 else nouns or noun + 's'}"


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def check_writable(path: Path, what: str) -> None:
    """Fail before any work when ``path`` cannot be written: no folder, a folder, no rights.

    A command that also stores something (a checkpoint) checks first, so that a
    mistyped -o leaves the ledger as it was.
    """
    folder = path.parent
    problem = None
    if path.is_dir():
        problem = "it is a folder"
    elif not folder.is_dir():
        problem = f"the folder {folder} does not exist"
    elif path.exists() and not os.access(path, os.W_OK):
        problem = "permission denied"
    elif not path.exists() and not os.access(folder, os.W_OK):
        problem = f"the folder {folder} is not writable"
    if problem is not None:
        raise Refused(f"cannot write {what} to {path}: {problem}")


def write_file(path: Path, data: bytes, what: str, *, exclusive: bool = False,
               mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` whole, or fail in one line and leave no file behind.

    A file this call created is removed when writing fails (a full disk); a device
    such as ``/dev/full`` is written in place. ``exclusive`` refuses an existing file.
    """
    check_writable(path, what)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0)
    existed = path.exists()
    try:
        descriptor = os.open(path, flags, mode)
    except FileExistsError:
        raise Refused(f"{path} exists; {what} is never written over it") from None
    except OSError as error:
        raise Refused(f"cannot write {what} to {path}: {error.strerror}") from None
    try:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.ftruncate(descriptor, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    except OSError as error:
        os.close(descriptor)
        if not existed:
            path.unlink(missing_ok=True)
        raise Refused(f"cannot write {what} to {path}: {error.strerror}") from None
    os.close(descriptor)


__all__ = [
    "COMMANDS", "DB_VARIABLE", "DEFAULT_FILE", "MOMENT", "SUMMARY_WIDTH", "Moment", "Refused",
    "Silent", "Thread", "as_of_option", "by_option", "check_writable", "db_option", "echo_json",
    "json_option", "ledger_name", "main", "message", "opened", "plural", "write_file",
]
