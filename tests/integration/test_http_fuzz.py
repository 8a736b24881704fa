"""The whole HTTP API fuzzed from its own OpenAPI document with schemathesis, against a real
uvicorn server over a small plant: no input, however malformed, gets a server error."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import Clock
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from web_server import serving, small_plant

from thread.web import create_app


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    """The API's OpenAPI document, served with the API over a small plant."""
    url = str(Path(tmp_path_factory.mktemp("fuzz")) / "plant.db")
    small_plant(url, Clock())
    with serving(create_app(url)) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_no_input_gets_a_server_error(api: schemathesis.BaseSchema) -> None:
    """Every operation, with generated valid input and input that breaks the schema: never
    a 5xx."""
    operations = [result.ok() for result in api.get_all_operations()
                  if isinstance(result, Ok)]
    assert len(operations) >= 12
    for operation, mode in product(operations, GenerationMode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        try:
            call()
        except Unsatisfiable:  # no parameter to break (GET /checkpoint): nothing to send
            assert mode is GenerationMode.NEGATIVE
