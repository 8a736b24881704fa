"""The ASGI app: ``create_app(url)`` serves a ledger over HTTP (``thread serve`` runs it
with uvicorn; any ASGI server can embed it).

Every answer comes from the library's own API: nothing here computes a query twice.
Bad input is a 4xx whose body is ``{"detail": "<the one line the CLI prints>"}`` and
writes nothing: 422 for a fact or a request that does not validate, 404 for an unknown
subject, 403 for a refusal by the role policy, 401 without a known bearer token, 409
for a subject already registered, 400 for any other refusal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from importlib.util import find_spec
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from thread.access.policy import AccessRefused, Identity, Policy
from thread.errors import (
    AlreadyRegistered,
    InvalidFact,
    LedgerError,
    UnknownSubject,
    one_line,
)
from thread.web import pages, proofs, reading, recording
from thread.web.access import Ledgers

_STATUS: tuple[tuple[type[LedgerError], int], ...] = (
    (UnknownSubject, 404), (AlreadyRegistered, 409), (AccessRefused, 403),
    (InvalidFact, 422))


def create_app(url: str | None = None, *, tokens: dict[str, Identity] | None = None,
               policy: Policy | None = None, ledgers: Ledgers | None = None) -> FastAPI:
    """The HTTP API over the ledger at ``url`` (default ``$THREAD_DB``)."""
    opened = ledgers or Ledgers(url, tokens=tokens, policy=policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        opened.close()

    app = FastAPI(title="digital-thread ledger", version=_version(), lifespan=lifespan,
                  description="Record facts and read stories, genealogies, recall scopes, "
                              "records and proofs of a digital-thread ledger.")
    app.state.ledgers = opened
    app.add_exception_handler(LedgerError, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(PermissionError, _unauthorised)  # type: ignore[arg-type]
    for module in (recording, reading, proofs, pages):
        app.include_router(module.router)
    if find_spec("scipy") is not None and find_spec("matplotlib") is not None:
        from thread.web import investigation, quality_pages  # the analytics extra

        app.include_router(investigation.router)
        app.include_router(quality_pages.router)
    for entry in entry_points(group="thread.routers"):  # the adapters' routes (EPCIS)
        app.include_router(entry.load())
    return app


async def _refused(request: Request, error: LedgerError) -> JSONResponse:
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
    return JSONResponse({"detail": one_line(error)}, status_code=status)


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    first: dict[str, Any] = problems[0] if problems else {}
    place = list(first.get("loc", ()))
    if place and place[0] in ("body", "path", "query", "header"):
        place = place[1:]  # where in the request is clear from the field's name
    where = ".".join(str(part) for part in place)
    value = first.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" = {value!r}"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return JSONResponse({"detail": f"field '{where}'{shown}: {first.get('msg', 'invalid')}"
                                   f"{more}"}, status_code=422)


async def _unauthorised(request: Request, error: PermissionError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("digital-thread-ledger")
    except PackageNotFoundError:
        return "0"
