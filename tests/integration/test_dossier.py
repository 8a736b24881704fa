"""A part's dossier: written from the ledger, verified offline, any change to it detected."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import bearing, inspection, released_bearing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import thread
from thread import facts as f
from thread.cli import main
from thread.demo import fill
from thread.domain.canonical import unpack
from thread.domain.envelope import GENESIS
from thread.domain.topics import summarize as summarize_payload
from thread.log.checkpoint import generate_signer, sign_note
from thread.log.dossier import NotCheckpointed, dossier_of
from thread.log.offline import (
    FORMAT,
    Dossier,
    DossierError,
    UnsupportedDossier,
    verify_dossier,
)
from thread.presentation import summarize

Keys = tuple[str, str]


@pytest.fixture
def keys() -> Keys:
    """A checkpoint signing key and its verifier key."""
    return generate_signer("plant-7")


def _part(ledger: thread.Ledger, serial: str = "SN-1", inspections: int = 2) -> None:
    if ledger.count() == 0:
        ledger.record(released_bearing())
    ledger.record(bearing(serial))
    for number in range(inspections):
        ledger.record(inspection(serial, measured=19.995 - number / 1000))


def _dossier(ledger: thread.Ledger, signer: str, serial: str = "SN-1") -> bytes:
    ledger.checkpoint(signer)
    return dossier_of(ledger, serial).dossier.to_bytes()


def _edited(data: bytes, change: Callable[[dict[str, object]], None]) -> bytes:
    """The dossier with its JSON content changed and written again in the canonical layout."""
    document = json.loads(data)
    change(document)
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def test_round_trip_verifies_and_tells_the_part_story(ledger: thread.Ledger, keys: Keys) -> None:
    """A fresh dossier verifies and holds the part's chain, hashes and summaries as the ledger."""
    signer, verifier = keys
    _part(ledger)
    data = _dossier(ledger, signer)
    verified = verify_dossier(data, verifier)
    history = ledger.history("SN-1")
    assert [e.version for e in verified.events] == [1, 2, 3]
    assert [e.hash for e in verified.events] == [e.hash for e in history]
    assert [e.summary for e in verified.events] == [summarize(e.fact) for e in history]
    assert [e.occurred_at for e in verified.events] == [e.occurred_at for e in history]
    assert verified.events[0].prev_hash == GENESIS
    assert (verified.tree_size, verified.root) == ledger.tree_head()
    assert verified.origin == ledger.origin
    assert "covers versions 1-3 of part SN-1" in verified.coverage
    assert Dossier.parse(data).to_bytes() == data
    assert data.startswith(b'{\n  "format": "thread-dossier/v2",\n')
    assert verified.complete


def test_every_byte_flip_and_deletion_is_detected(ledger: thread.Ledger, keys: Keys) -> None:
    """Changing or deleting any single byte of a dossier makes it fail to parse or verify."""
    signer, verifier = keys
    _part(ledger, inspections=1)
    data = _dossier(ledger, signer)
    verify_dossier(data, verifier)
    for offset in range(len(data)):
        for mask in (0x01, 0x20, 0x80):
            flipped = bytearray(data)
            flipped[offset] ^= mask
            with pytest.raises(DossierError):
                verify_dossier(bytes(flipped), verifier)
        with pytest.raises(DossierError):
            verify_dossier(data[:offset] + data[offset + 1:], verifier)


_EDITS = st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete"]),
                             st.integers(min_value=0), st.integers(0, 255)),
                   min_size=1, max_size=4)


def test_any_edit_is_detected(ledger: thread.Ledger, keys: Keys) -> None:
    """Any few replaced, inserted or deleted bytes make a dossier fail to parse or verify."""
    signer, verifier = keys
    _part(ledger, inspections=1)
    data = _dossier(ledger, signer)

    @settings(max_examples=400, deadline=None)
    @given(edits=_EDITS)
    def check(edits: list[tuple[str, int, int]]) -> None:
        edited = bytearray(data)
        for operation, where, value in edits:
            offset = where % (len(edited) + (operation == "insert"))
            if operation == "replace":
                edited[offset] = value
            elif operation == "insert":
                edited.insert(offset, value)
            else:
                del edited[offset]
        assume(bytes(edited) != data)
        with pytest.raises(DossierError):
            verify_dossier(bytes(edited), verifier)

    check()


@pytest.mark.parametrize("edit", [
    pytest.param(lambda d: d + b"\n", id="trailing-newline"),
    pytest.param(lambda d: d.replace(b"\n", b"\r\n"), id="crlf"),
    pytest.param(lambda d: d.rstrip(b"\n"), id="no-final-newline"),
    pytest.param(lambda d: (json.dumps(json.loads(d), indent=4) + "\n").encode(), id="reindent"),
    pytest.param(lambda d: (json.dumps(json.loads(d), indent=2, sort_keys=True) + "\n").encode(),
                 id="sorted-keys"),
    pytest.param(lambda d: json.dumps(json.loads(d)).encode(), id="compact"),
    pytest.param(lambda d: (json.dumps(json.loads(d), indent=2, ensure_ascii=False)
                            + "\n").encode(), id="utf8-em-dash"),
    pytest.param(lambda d: d.replace(b'"version": 1,', b'"version": 1.0,'), id="float-version"),
    pytest.param(lambda d: d.replace(b"/", b"\\/", 1), id="escaped-slash"),
    pytest.param(lambda d: d.replace(b'  "serial"', b'  "serial": "SN-1",\n  "serial"'),
                 id="duplicate-member"),
    pytest.param(lambda d: b"\xef\xbb\xbf" + d, id="byte-order-mark"),
])
def test_harmless_looking_edits_are_refused(ledger: thread.Ledger, keys: Keys,
                                            edit: Callable[[bytes], bytes]) -> None:
    """Whitespace, key order, escapes and number spelling: any re-save of the file is refused."""
    signer, verifier = keys
    _part(ledger, inspections=1)
    data = _dossier(ledger, signer)
    edited = edit(data)
    assert edited != data
    with pytest.raises(DossierError):
        verify_dossier(edited, verifier)


def _drop_version(number: int) -> Callable[[dict[str, object]], None]:
    def change(document: dict[str, object]) -> None:
        events = document["events"]
        assert isinstance(events, list)
        del events[number - 1]
    return change


def _set(name: str, value: object) -> Callable[[dict[str, object]], None]:
    def change(document: dict[str, object]) -> None:
        document[name] = value
    return change


def _swap_first_two(document: dict[str, object]) -> None:
    events = document["events"]
    assert isinstance(events, list)
    events[0], events[1] = events[1], events[0]


@pytest.mark.parametrize(("change", "problem"), [
    pytest.param(_drop_version(1), "holds version 2 where version 1 belongs", id="no-first"),
    pytest.param(_drop_version(2), "holds version 3 where version 2 belongs", id="gap"),
    pytest.param(_swap_first_two, "holds version 2 where version 1 belongs", id="reordered"),
    pytest.param(_set("serial", "SN-2"), "not to part SN-2", id="other-serial"),
    pytest.param(_set("origin", "thread-ledger/elsewhere"), "names log", id="other-origin"),
    pytest.param(_set("tree_size", 1), "says tree size 1", id="other-size"),
    pytest.param(_set("events", []), "non-empty array", id="no-events"),
    pytest.param(_set("extra", 1), "does not define", id="unknown-member"),
])
def test_content_edits_in_the_canonical_layout_fail_verification(
    ledger: thread.Ledger, keys: Keys, change: Callable[[dict[str, object]], None], problem: str,
) -> None:
    """A dossier edited and written back in the exact layout still fails, naming the check."""
    signer, verifier = keys
    _part(ledger)
    _part(ledger, "SN-2")
    data = _dossier(ledger, signer)
    with pytest.raises(DossierError, match=problem):
        verify_dossier(_edited(data, change), verifier)


def test_another_parts_events_under_this_serial_fail(ledger: thread.Ledger, keys: Keys) -> None:
    """Events of SN-2, genuinely in the log, do not pass for the story of SN-1."""
    signer, verifier = keys
    _part(ledger)
    _part(ledger, "SN-2")
    ledger.checkpoint(signer)
    other = dossier_of(ledger, "SN-2").dossier
    forged = dataclasses.replace(other, serial="SN-1").to_bytes()
    with pytest.raises(DossierError, match=r"belongs to aggregate .* not to part SN-1"):
        verify_dossier(forged, verifier)


def test_an_event_not_in_the_log_fails_inclusion(ledger: thread.Ledger, keys: Keys) -> None:
    """Rewritten event bytes, with their hash field updated, are not under the signed root."""
    signer, verifier = keys
    _part(ledger)
    ledger.checkpoint(signer)
    real = dossier_of(ledger, "SN-1").dossier
    event = real.events[1]
    canonical = event.canonical.replace(b"cmm", b"CMM")
    assert canonical != event.canonical
    forged = dataclasses.replace(real, events=(
        real.events[0], dataclasses.replace(event, canonical=canonical), *real.events[2:]))
    with pytest.raises(DossierError, match="is not in the log the checkpoint signs"):
        verify_dossier(forged.to_bytes(), verifier)


def test_a_dossier_cut_short_is_refused_by_its_subject_map(
    ledger: thread.Ledger, keys: Keys,
) -> None:
    """Dropping the last event is caught by the map proof; dropping the proof as well (a v1
    file) is caught because the checkpoint commits to a map."""
    signer, verifier = keys
    _part(ledger)
    data = _edited(_dossier(ledger, signer), _drop_version(3))
    with pytest.raises(DossierError, match="holds versions 1-2 of part SN-1 but the checkpoint"):
        verify_dossier(data, verifier)

    def to_v1(document: dict[str, object]) -> None:
        document["format"] = "thread-dossier/v1"
        del document["map"]
    with pytest.raises(DossierError, match="carries no map proof"):
        verify_dossier(_edited(data, to_v1), verifier)


def test_wrong_verifier_key_fails(ledger: thread.Ledger, keys: Keys) -> None:
    """A dossier verified with a key that did not sign its checkpoint is refused."""
    signer, _ = keys
    _part(ledger)
    data = _dossier(ledger, signer)
    _, stranger = generate_signer("plant-7")
    with pytest.raises(DossierError, match="no signature by a known key"):
        verify_dossier(data, stranger)


def test_verifies_with_any_one_of_several_trusted_keys(ledger: thread.Ledger, keys: Keys) -> None:
    """Several trusted keys may be given; the one that signed is reported."""
    signer, verifier = keys
    _part(ledger)
    data = _dossier(ledger, signer)
    _, other = generate_signer("other-plant")
    assert verify_dossier(data, [other, verifier]).signed_by == (verifier,)


def test_unknown_format_version_is_refused(ledger: thread.Ledger, keys: Keys) -> None:
    """A dossier of another format version is refused by name, not half-read."""
    signer, verifier = keys
    _part(ledger)
    data = _edited(_dossier(ledger, signer), _set("format", "thread-dossier/v3"))
    with pytest.raises(UnsupportedDossier, match="'thread-dossier/v3'; this verifier reads"):
        verify_dossier(data, verifier)
    with pytest.raises(UnsupportedDossier, match="not a thread dossier"):
        verify_dossier(b'{"format": "something-else"}\n', verifier)


def test_later_events_after_the_checkpoint_are_left_out(ledger: thread.Ledger,
                                                        keys: Keys) -> None:
    """Events recorded after the latest checkpoint are not in the dossier, which says so."""
    signer, verifier = keys
    _part(ledger)
    ledger.checkpoint(signer)
    ledger.record(inspection("SN-1", measured=19.998))
    ledger.record(f.Quarantined(serial="SN-1", reason="bore gauge out of calibration"))
    written = dossier_of(ledger, "SN-1")
    assert (len(written.dossier.events), written.later_events) == (3, 2)
    verified = verify_dossier(written.dossier.to_bytes(), verifier)
    assert [e.version for e in verified.events] == [1, 2, 3]
    assert verified.tree_size < ledger.tree_head()[0]
    assert "covers versions 1-3 of part SN-1" in verified.coverage
    assert "events recorded after that checkpoint are not in it" in verified.coverage


def test_no_checkpoint_covering_the_part_is_an_error(ledger: thread.Ledger, keys: Keys) -> None:
    """Without a signed checkpoint over the part's first event, no dossier is written."""
    signer, _ = keys
    _part(ledger)
    with pytest.raises(NotCheckpointed, match="no signed checkpoint yet"):
        dossier_of(ledger, "SN-1")
    ledger.checkpoint(signer)
    _part(ledger, "SN-2")
    with pytest.raises(NotCheckpointed, match="recorded after the latest signed checkpoint"):
        dossier_of(ledger, "SN-2")
    with pytest.raises(thread.UnknownSubject):
        dossier_of(ledger, "SN-404")


def test_summaries_read_as_thread_history(ledger: thread.Ledger, keys: Keys) -> None:
    """The auditor's one-line summaries, from payload maps, are the ones history prints."""
    signer, verifier = keys
    fill(ledger, seed=7, bearings=80)
    serial = ledger.parts()[0]
    hub = next(s for s in ledger.parts() if s.startswith("HUB-"))
    qe = thread.Signer("qe-4", "Dana Quality", Ed25519PrivateKey.generate())
    ledger.record(f.Quarantined(serial=serial, reason="vibration", reference="NC-9"))
    ledger.record(f.ReleasedFromQuarantine(serial=serial, reason="reviewed"), sign=qe)
    ledger.correct(inspection(serial, measured=19.999), corrects=5, reason="gauge re-zeroed")
    installed = next(e.fact for e in ledger.history(hub)
                     if isinstance(e.fact, f.ComponentInstalled))
    assert isinstance(installed, f.ComponentInstalled)
    ledger.record(f.ComponentRemoved(serial=hub, component=installed.component,
                                     reason="returned"))
    ledger.checkpoint(signer)
    topics = set()
    for part in ledger.parts():
        for event in ledger.history(part):
            topics.add(event.topic)
            assert summarize_payload(event.topic, unpack(event.canonical)[10]) == (
                summarize(event.fact)), event.topic
    assert len(topics) >= 18
    story = verify_dossier(dossier_of(ledger, serial).dossier.to_bytes(), verifier)
    assert [e.summary for e in story.events] == [
        summarize(e.fact) for e in ledger.history(serial)]


def test_the_offline_verifier_reads_events_through_the_domain_envelope() -> None:
    """No copies of the envelope or summaries: the verifier uses the domain's pure modules."""
    import thread.log.offline as offline
    from thread.domain import envelope, topics

    # The verifier's own bindings (imported, not re-exported), not copies of the functions.
    assert vars(offline)["open_envelope"] is envelope.open_envelope
    assert vars(offline)["summarize"] is topics.summarize
    assert FORMAT == "thread-dossier/v2"


_AUDITOR = """
import sys
from thread.log.offline import verify_dossier
story = verify_dossier(open(sys.argv[1], "rb").read(), sys.argv[2])
assert story.events
pure = {"thread.domain", "thread.domain.envelope", "thread.domain.topics",
        "thread.domain.whereabouts"}  # the domain's modules without pydantic
loaded = sorted(m for m in sys.modules if m.split(".")[0] in
                {"eventsourcing", "psycopg", "psycopg_pool", "sqlite3", "sqlalchemy", "pydantic"}
                or (m.startswith(("thread.storage", "thread.ledger", "thread.bootstrap",
                                  "thread.domain", "thread.presentation", "thread.log.dossier"))
                    and m not in pure))
print(",".join(loaded))
"""


def test_offline_verifier_loads_nothing_of_the_storage_layer(
    ledger: thread.Ledger, keys: Keys, tmp_path: Path,
) -> None:
    """Verifying a dossier in a fresh interpreter loads no store, driver, ledger or pydantic."""
    signer, verifier = keys
    _part(ledger)
    path = tmp_path / "SN-1.dossier.json"
    path.write_bytes(_dossier(ledger, signer))
    result = subprocess.run([sys.executable, "-c", _AUDITOR, str(path), verifier],
                            capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None})


def test_cli_end_to_end(ledger: thread.Ledger, ledger_url: str, tmp_path: Path) -> None:
    """keygen, checkpoint, dossier and verify-dossier through the thread command."""
    _part(ledger)
    db = ("--db", ledger_url)
    key = tmp_path / "ledger.key"
    file = tmp_path / "SN-1.json"
    vkey = json.loads(_run(*db, "keygen", "-o", str(key), "--json").output)["verifier_key"]

    refused = _run(*db, "dossier", "SN-1", "-o", str(file))
    assert refused.exit_code == 1
    assert "no signed checkpoint yet" in refused.output
    assert f"sign one with: thread --db {shlex.quote(ledger_url)} checkpoint" in refused.output
    assert not file.exists()

    assert _run(*db, "checkpoint", "--key", str(key)).exit_code == 0
    ledger.record(inspection("SN-1", measured=19.991))
    written = _run(*db, "dossier", "SN-1", "-o", str(file))
    assert written.exit_code == 0, written.output
    assert "3 events (versions 1-3)" in written.output
    assert "1 later event of SN-1 came after that checkpoint" in written.output

    shown = _run("verify-dossier", str(file), "--vkey", vkey)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].split()[:4] == ["VER", "OCCURRED", "(UTC)", "RECORDED"]
    assert "manufacturing.part-registered" in lines[1] and "BRG-6204 rev A" in lines[1]
    assert "PASS 1: 19.995 mm" in lines[2]
    assert lines[-2].startswith("verified: part SN-1, versions 1-3")
    assert "events recorded after that checkpoint are not in it" in lines[-1]

    record = json.loads(_run("verify-dossier", str(file), "--vkey", vkey, "--json").output)
    assert record["ok"] is True
    assert [e["version"] for e in record["events"]] == [1, 2, 3]
    assert record["events"][0]["fact"]["serial"] == "SN-1"

    file.write_bytes(file.read_bytes().replace(b'"index": ', b'"index":  ', 1))
    tampered = _run("verify-dossier", str(file), "--vkey", vkey)
    assert tampered.exit_code == 1
    assert "NOT VERIFIED" in tampered.output and "line 18, column" in tampered.output
    failed = json.loads(_run("verify-dossier", str(file), "--vkey", vkey, "--json").output)
    assert failed["ok"] is False and "layout" in failed["problem"]


def test_a_signature_line_by_an_untrusted_key_is_refused(ledger: thread.Ledger,
                                                         keys: Keys) -> None:
    """A cosignature the auditor cannot check could change unseen, so it is refused."""
    signer, verifier = keys
    _part(ledger)
    ledger.checkpoint(signer)
    real = dossier_of(ledger, "SN-1").dossier
    witness, witness_key = generate_signer("witness")
    cosigned = real.checkpoint + sign_note(real.checkpoint.split("\n\n")[0] + "\n",
                                           witness).split("\n\n")[1]
    data = dataclasses.replace(real, checkpoint=cosigned).to_bytes()
    assert verify_dossier(data, [verifier, witness_key]).signed_by == (verifier, witness_key)
    with pytest.raises(DossierError, match="signature line 2 of 2 does not verify"):
        verify_dossier(data, verifier)
