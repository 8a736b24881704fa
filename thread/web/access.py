"""Who is asking: bearer tokens mapped to identities, and a ledger opened for each.

A tokens file is a JSON object from each token to an identity, as an identity file holds
it (``{"user": ..., "roles": [...], "us_person": ..., ...}``). With tokens, a request
without a known ``Authorization: Bearer <token>`` is refused (401); with a role policy
every write, signature and read is then decided for the token's identity, as the library
decides it. Without tokens, the API answers everyone, as ``api`` (for a loopback or a
trusted network only).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

import thread
from thread.access.policy import Identity, Policy, PolicyError
from thread.ledger import Ledger

#: Requests using the ledger at once (each may hold a few database connections).
CONCURRENCY = 8
#: Who writes when no tokens are configured.
ANONYMOUS = "api"


def tokens_from_file(path: str | Path) -> dict[str, Identity]:
    """The tokens of a tokens file (see the module); one clear line for a bad file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PolicyError(f"tokens file {path}: {error}") from None
    if not isinstance(data, dict) or not data:
        raise PolicyError(f"tokens file {path}: expected a JSON object from each token to an "
                          f"identity")
    tokens = {}
    for token, identity in data.items():
        if len(token) < 16:
            raise PolicyError(f"tokens file {path}: a token of {len(token)} characters; "
                              f"expected at least 16")
        tokens[token] = Identity.from_mapping(identity, f"tokens file {path}, token "
                                                        f"{token[:4]}...")
    return tokens


class Ledgers:
    """The ledger at ``url``, opened once per identity that asks (closed by :meth:`close`)."""

    def __init__(self, url: str | None, *, tokens: Mapping[str, Identity] | None = None,
                 policy: Policy | None = None, concurrency: int = CONCURRENCY,
                 opener: Callable[..., Ledger] = thread.open) -> None:
        self.url = url
        self.tokens = dict(tokens or {})
        self.policy = policy
        #: Requests that use a ledger at once; the others wait their turn without holding
        #: a thread, so the database's connections stay bounded under any load.
        self.turns = asyncio.Semaphore(concurrency)
        self._open = opener
        self._opened: dict[str, Ledger] = {}
        self._lock = threading.Lock()

    def identity(self, authorization: str | None) -> Identity | None:
        """The identity of an ``Authorization`` header; None when no tokens are configured.
        Raises :class:`PermissionError` for a missing or unknown token."""
        if not self.tokens:
            return None
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PermissionError("send Authorization: Bearer <token>")
        for known, identity in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.strip().encode()):
                return identity
        raise PermissionError("unknown bearer token")

    def ledger(self, identity: Identity | None) -> Ledger:
        """The ledger as ``identity`` sees it (opened on first use)."""
        user = identity.user if identity is not None else ANONYMOUS
        with self._lock:
            if user not in self._opened:
                options: dict[str, object] = {"actor": user}
                if self.policy is not None and identity is not None:
                    options.update(policy=self.policy, identity=identity)
                self._opened[user] = self._open(self.url, **options)
            return self._opened[user]

    def close(self) -> None:
        """Close every ledger opened."""
        with self._lock:
            for ledger in self._opened.values():
                ledger.close()
            self._opened.clear()


async def ledger_of(request: Request, authorization: Annotated[str | None, Header()] = None
                    ) -> AsyncIterator[Ledger]:
    """The ledger as the request's bearer token's identity sees it, for the request's turn."""
    ledgers: Ledgers = request.app.state.ledgers
    identity = ledgers.identity(authorization)
    async with ledgers.turns:
        yield await run_in_threadpool(ledgers.ledger, identity)


#: What a route declares to be given the asker's ledger.
AskersLedger = Annotated[Ledger, Depends(ledger_of)]
