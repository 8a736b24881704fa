"""The GS1 reference implementation of the CBV 2.0 event hash (``epcis-event-hash-generator``)
as a test oracle, offline: it is served its bundled EPCIS 2.0 context and nothing else."""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: The EPCIS 2.0 context's URLs; the test serves the reference's bundled copy at each.
EPCIS_CONTEXT_URLS = {EPCIS_CONTEXT, "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"}
BUNDLED_CONTEXT = "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld"


class Oracle:
    """epcis-event-hash-generator, called through its Python API."""

    def __init__(self, json_to_py: ModuleType, xml_to_py: ModuleType,
                 hash_generator: ModuleType) -> None:
        self.json_to_py = json_to_py
        self.xml_to_py = xml_to_py
        self.hash_generator = hash_generator

    def json_hashes(self, document: Mapping[str, Any]) -> list[str]:
        """The reference's hashes of a JSON-LD document's events (an EPCISQueryDocument's
        event list is handed to it in an EPCISDocument, the only kind its JSON path reads)."""
        given = copy.deepcopy(dict(document))
        body = given["epcisBody"]
        if "queryResults" in body:
            given["epcisBody"] = {"eventList": body["queryResults"]["resultsBody"]["eventList"]}
        # The reference gathers prefixes in a module global; one document's must not leak.
        self.json_to_py._namespaces.clear()
        events = self.json_to_py.event_list_from_epcis_document_json(given)
        hashes: list[str] = self.hash_generator.epcis_hashes_from_events(events)
        return hashes

    def xml_hashes(self, data: bytes) -> list[str]:
        """The reference's hashes of an XML document's events."""
        events = self.xml_to_py.event_list_from_epcis_document_str(data.decode("utf-8"))
        hashes: list[str] = self.hash_generator.epcis_hashes_from_events(events)
        return hashes


def offline_loader(package: str) -> Callable[..., dict[str, Any]]:
    """A JSON-LD document loader serving the reference's bundled EPCIS 2.0 context and
    refusing every other URL, so that the reference never reaches for the network."""
    bundled = importlib.resources.files(package) / BUNDLED_CONTEXT
    if not bundled.is_file():
        pytest.skip(f"{package} no longer bundles {BUNDLED_CONTEXT}")
    context = json.loads(bundled.read_text(encoding="utf-8"))

    def load(url: str, options: object = None) -> dict[str, Any]:
        if url not in EPCIS_CONTEXT_URLS:
            raise RuntimeError(f"the test serves no JSON-LD context at {url}")
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": context}

    return load


@contextmanager
def reference() -> Iterator[Oracle]:
    """The reference implementation (skipped where it is not installed), loading contexts
    from its own package only."""
    pytest.importorskip("epcis_event_hash_generator")
    jsonld = pytest.importorskip("pyld.jsonld")
    json_to_py = pytest.importorskip("epcis_event_hash_generator.json_to_py")
    xml_to_py = pytest.importorskip("epcis_event_hash_generator.xml_to_py")
    hash_generator = pytest.importorskip("epcis_event_hash_generator.hash_generator")
    previous = jsonld.get_document_loader()
    jsonld.set_document_loader(offline_loader("epcis_event_hash_generator"))
    yield Oracle(json_to_py, xml_to_py, hash_generator)
    jsonld.set_document_loader(previous)
