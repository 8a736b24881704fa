"""``thread epcis export|hash|import`` as a user runs them, and the EPCIS endpoints of the
HTTP API: the hashes printed are the eventIDs exported, a partner's document imports once,
and bad files are one line."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from click.testing import CliRunner
from conftest import Clock
from web_server import serving, small_plant

from thread.cli import main
from thread.web import create_app

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "epcis"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_export_hash_and_import_from_the_command_line(tmp_path: Path) -> None:
    """The hashes of an exported document are its eventIDs; the reference's published XML
    example hashes as its vectors say; importing our own export again changes nothing."""
    db = str(tmp_path / "plant.db")
    small_plant(db, Clock())
    exported = tmp_path / "SN-1.jsonld"
    code, out = _run("--db", db, "epcis", "export", "SN-1", "-o", str(exported))
    assert code == 0 and out.startswith("wrote ") and "EPCIS event" in out
    events = json.loads(exported.read_text())["epcisBody"]["eventList"]
    code, out = _run("epcis", "hash", str(exported))
    assert code == 0 and out.split() == [event["eventID"] for event in events]
    example = "epcisDocWithVariousEventTypes.xml"
    code, out = _run("epcis", "hash", str(VECTORS / example))
    expected = json.loads((VECTORS / "hashes.json").read_text())[example]
    assert code == 0 and out.split() == expected
    code, out = _run("--db", db, "epcis", "import", str(exported), "--json")
    assert code == 0 and json.loads(out)["recorded"] == 0
    code, out = _run("--db", db, "history", "SN-1", "--json")  # raw samples as base64
    [samples] = [p["samples"] for e in json.loads(out)["events"]
                 if e["topic"] == "manufacturing.process-recorded"
                 for p in e["fact"]["parameters"]]
    padded = samples + "=" * (-len(samples) % 4)  # pydantic writes URL-safe base64
    assert code == 0 and base64.urlsafe_b64decode(padded).startswith(b"DS")
    broken = tmp_path / "broken.jsonld"
    broken.write_text("{")
    for args in (("epcis", "hash", str(broken)), ("--db", db, "epcis", "import", str(broken))):
        code, out = _run(*args)
        assert code == 1 and len(out.strip().splitlines()) == 1 and str(broken) in out


def test_events_and_capture_over_http(tmp_path: Path) -> None:
    """GET /epcis/events gives the same document the CLI writes; POST /epcis/capture of a
    document with an invalid event is a 400 naming it, and writes nothing."""
    db = str(tmp_path / "plant.db")
    small_plant(db, Clock())
    with serving(create_app(db)) as base, httpx.Client(base_url=base) as http:
        answer = http.get("/epcis/events", params={"serial": "SN-2"})
        assert answer.headers["content-type"] == "application/ld+json"
        events = answer.json()["epcisBody"]["eventList"]
        assert events[0]["bizStep"] == "commissioning"
        shipped = http.get("/epcis/events", params={
            "MATCH_epc": "urn:dtl:part:SN-2", "EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-inspecting",
            "GE_eventTime": "2000-01-01T00:00:00Z", "LT_eventTime": "2100-01-01T00:00:00Z"})
        assert {e["bizStep"] for e in shipped.json()["epcisBody"]["eventList"]} == {"inspecting"}
        assert http.get("/epcis/events", params={"GE_eventTime": "2000-01-01T00:00:00"}
                        ).status_code == 400
        bad = {**answer.json(), "epcisBody": {"eventList": [*events, {"type": "ObjectEvent"}]}}
        refused = http.post("/epcis/capture", json=bad)
        assert refused.status_code == 400 and "eventList[" in refused.json()["detail"]
        again = http.post("/epcis/capture", json=answer.json())
        assert again.status_code == 201 and again.json()["recorded"] == 0
