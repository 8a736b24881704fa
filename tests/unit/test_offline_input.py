"""The offline verifier refuses malformed input with its own error, whatever the shape."""

from __future__ import annotations

import pytest


def test_a_dossier_nested_past_the_stack_is_the_librarys_error() -> None:
    """verify_dossier on 100,000 nested arrays raises DossierError, not RecursionError."""
    from thread.log.offline import DossierError, verify_dossier

    with pytest.raises(DossierError, match="nests deeper"):
        verify_dossier(b"[" * 100_000 + b"]" * 100_000, [])
