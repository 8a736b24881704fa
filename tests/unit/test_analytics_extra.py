"""Without the analytics extra the core works, and a question that needs it names the extra."""

from __future__ import annotations

import subprocess
import sys

import pytest

import thread.analytics
from thread.analytics import MissingExtraError, require

pytestmark = pytest.mark.unit


def test_a_missing_library_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing library names the extra to install."""
    # The libraries are installed here; hide one as an install without the extra would.
    real = thread.analytics.find_spec  # type: ignore[attr-defined]
    monkeypatch.setattr(thread.analytics, "find_spec",
                        lambda name: None if name == "statsmodels" else real(name))
    wanted = r"needs statsmodels.*pip install 'digital-thread-ledger\[analytics\]'"
    with pytest.raises(MissingExtraError, match=wanted):
        require()
    require("numpy")


def test_the_ledger_and_its_queries_load_without_the_statistics_libraries() -> None:
    """The ledger and its queries load without the statistics libraries."""
    code = ("import sys, thread, thread.ledger, thread.read.queries, thread.cli.investigate; "
            "print(sorted(m for m in ('scipy', 'statsmodels', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
