"""Where read models live: the place asked for, else a default beside the ledger, else a
temporary file for the session.

Reading never writes to the ledger, so its read models need a database of
their own that this process can write. When the default place cannot be
written (a ledger on a read-only mount, a PostgreSQL role that may only
select) the queries still answer: the read models are built in a temporary
file, deleted on close, and a warning says so once. A place the caller named
explicitly is used or refused, never silently replaced.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from pathlib import Path
from uuid import uuid4

from sqlalchemy.exc import SQLAlchemyError

from thread.errors import ConfigurationError, LedgerError
from thread.read.models import ReadModels
from thread.read.source import EventLog, LogTree
from thread.read.urls import shown

_log = logging.getLogger(__name__)


def open_read_models(log: EventLog, url: str | None, *, tree: LogTree, default: str,
                     ledger: str = "the ledger") -> ReadModels:
    """Read models at ``url``; without one, at ``default`` or, failing that, a temporary place."""
    if url is not None:
        try:
            return ReadModels(log, url, tree=tree)
        except (SQLAlchemyError, OSError) as error:
            raise ConfigurationError(
                f"cannot open read models at {shown(url)}: {_first_line(error)}") from None
    try:
        return ReadModels(log, default, tree=tree)
    except (SQLAlchemyError, OSError) as error:
        usual = shown(default)
        place = "the ledger's own database" if usual == ledger else usual
        refused = f"{place} cannot be written ({_first_line(error)})"
    models = _temporary(log, tree)
    models.notice = (f"read models of {ledger} are in {models.location}, deleted on close: "
                     f"{refused}")
    _log.warning("%s", models.notice)
    return models


def _temporary(log: EventLog, tree: LogTree) -> ReadModels:
    """Read models in a temporary file, or in memory if no temporary file can be made."""
    try:
        directory = Path(tempfile.mkdtemp(prefix="thread-reads-"))
    except OSError:
        directory = None
    if directory is not None:
        try:
            models = ReadModels(log, f"sqlite+pysqlite:///{directory / 'reads.db'}", tree=tree)
        except (SQLAlchemyError, OSError):
            shutil.rmtree(directory, ignore_errors=True)
        else:
            models.temporary = directory
            # Also gone when a caller forgets to close the ledger, at the latest on exit.
            weakref.finalize(models, shutil.rmtree, directory, True)
            models.location = f"a temporary file {directory / 'reads.db'}"
            return models
    try:
        models = ReadModels(
            log, f"sqlite+pysqlite:///file:reads-{uuid4().hex}?mode=memory&cache=shared&uri=true",
            tree=tree)
    except SQLAlchemyError as error:
        raise LedgerError(f"read models cannot be built anywhere: {_first_line(error)}") from None
    models.location = "memory"
    return models


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__
