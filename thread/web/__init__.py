"""The ledger over HTTP: an ASGI app (:func:`create_app`) that ``thread serve`` runs."""

from thread.web.app import create_app

__all__ = ["create_app"]
