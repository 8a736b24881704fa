"""``thread keygen --cosigner``, ``thread forward --once`` and ``thread mirrors`` against a real
nats-server, with the hub running beside them; bad input is one line."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from click.testing import CliRunner
from nats_servers import NatsServer

import thread
from thread import facts as f
from thread.cli import main
from thread.log.cosignature import cosignatures, generate_cosigner
from thread.sites.hub import Hub
from thread.sites.mirror import Mirror


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_site_forwards_once_and_the_hub_cosigns(tmp_path: Path) -> None:
    """Keys from the command line, one forwarding round, and the hub's state as JSON."""
    server = NatsServer(tmp_path).start()
    site_db, hub_db = str(tmp_path / "site.db"), str(tmp_path / "hub.db")
    site = thread.open(site_db)
    site.record(f.RevisionReleased(part_number="P", revision="A", part_name="P",
                                   drawing="D"))
    site.record(f.PartRegistered(serial="S-1", part_number="P", revision="A"))
    site.close()
    site_key, hub_key = str(tmp_path / "site.key"), str(tmp_path / "hub.key")
    code, out = _run("--db", site_db, "keygen", "-o", site_key)
    assert code == 0, out
    code, out = _run("--db", hub_db, "keygen", "--cosigner", "-o", hub_key)
    assert code == 2 and "--cosigner needs --name" in out
    code, out = _run("--db", hub_db, "keygen", "--cosigner", "--name", "hub.example/mirror",
                     "-o", hub_key, "--json")
    assert code == 0, out
    hub_vkey = json.loads(out)["verifier_key"]
    site_vkey = str(tmp_path / "site.vkey")
    thread.open(hub_db).close()  # the hub is a ledger too, as `thread hub` opens it
    mirror = Mirror(hub_db, cosigner_key=Path(hub_key).read_text().strip(),
                    sites={Path(site_vkey).read_text().split("+")[0]:
                           Path(site_vkey).read_text().strip()})
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    worker = threading.Thread(target=loop.run_until_complete,
                              args=(Hub(mirror, server.url).run(stop),))
    worker.start()
    try:
        code, out = _run("--db", site_db, "forward", "--to", server.url, "--key", site_key,
                         "--once", "--json")
        assert code == 0, out
        done = json.loads(out)
        assert done["size"] == done["mirrored"] == 2 and done["sent"] == 2
        code, out = _run("--db", site_db, "forward", "--to", server.url, "--key", site_key,
                         "--once")
        assert code == 0 and "the hub mirrors all 2 entries (0 sent now)" in out
    finally:
        loop.call_soon_threadsafe(stop.set)
        worker.join(timeout=30)
        server.stop()
    state = mirror.state(Path(site_vkey).read_text().split("+")[0])
    assert state.mirror_note is not None and cosignatures(state.mirror_note, [hub_vkey])
    mirror.close()
    code, out = _run("--db", hub_db, "mirrors", "--site", site_vkey, "--json")
    assert code == 0, out
    assert json.loads(out)["sites"][0]["mirror_size"] == 2
    note, policy = tmp_path / "mirrored.note", tmp_path / "policy.txt"
    note.write_text(state.mirror_note)
    site_line = Path(site_vkey).read_text().strip()
    policy.write_text(f"log {site_line}\nwitness hub {hub_vkey}\nquorum hub\n")
    code, out = _run("verify-checkpoint", str(note), "--policy", str(policy), "--json")
    assert code == 0 and json.loads(out)["witnesses"] == ["hub"], out
    _, other = generate_cosigner("witness.example/w1")
    policy.write_text(f"log {site_line}\nwitness hub {hub_vkey}\nwitness w1 {other}\n"
                      f"group both all hub w1\nquorum both\n")
    code, out = _run("verify-checkpoint", str(note), "--policy", str(policy))
    assert code == 1 and "do not make the quorum 'both'" in out


def test_bad_keys_are_one_line(tmp_path: Path) -> None:
    """A cosigner key file that is not one, and a forward with no hub listening."""
    bad = tmp_path / "bad.key"
    bad.write_text("PRIVATE+KEY+nonsense\n")
    site = tmp_path / "site.vkey"
    site.write_text("x+00000000+AAAA\n")
    code, out = _run("--db", str(tmp_path / "hub.db"), "hub", "--from", "nats://127.0.0.1:9",
                     "--site", str(site), "--cosigner-key", str(bad))
    assert code == 1 and out.startswith("Error: ") and len(out.strip().splitlines()) == 1


def test_an_unreachable_broker_is_one_line(tmp_path: Path) -> None:
    """forward and hub with no NATS server listening: one line each, exit 1."""
    db = str(tmp_path / "site.db")
    thread.open(db).close()
    key = str(tmp_path / "site.key")
    assert _run("--db", db, "keygen", "-o", key)[0] == 0
    hub_key = str(tmp_path / "hub.key")
    assert _run("--db", db, "keygen", "--cosigner", "--name", "h/m", "-o", hub_key)[0] == 0
    for args in (["forward", "--to", "nats://127.0.0.1:9", "--key", key, "--once"],
                 ["hub", "--from", "nats://127.0.0.1:9", "--site", str(tmp_path / "site.vkey"),
                  "--cosigner-key", hub_key, "--json"]):
        code, out = _run("--db", db, *args)
        assert code == 1 and out.strip().splitlines()[-1].startswith(
            "Error: cannot reach the NATS server at nats://127.0.0.1:9"), out
        assert "Traceback" not in out
