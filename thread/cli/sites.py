"""``thread forward``, ``thread hub`` and ``thread mirrors``: a site ledger forwarding its log
over NATS JetStream, the hub mirroring and cosigning the sites, and what the hub holds."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from thread.cli import Refused, echo_json, json_option, main, opened
from thread.presentation import table

if TYPE_CHECKING:
    from thread.sites.mirror import Mirror

T = TypeVar("T")
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _until_stopped(run: object, servers: str) -> None:
    """Run ``run(stop)`` until Ctrl-C or SIGTERM sets ``stop``."""

    async def go() -> None:
        import nats

        from thread.sites.hub import quiet

        probe = await nats.connect(servers, max_reconnect_attempts=1, connect_timeout=3,
                                   error_cb=quiet)  # (0 attempts waits for ever in nats-py)
        await probe.close()  # reachable now; the run itself waits out later outages
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(stop)  # type: ignore[operator]

    _reaching(servers, go)


def _reaching(servers: str, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``work()`` run to its end; a NATS server that cannot be reached is one line."""
    from nats.errors import Error as NatsError

    try:
        return asyncio.run(work())
    except (NatsError, TimeoutError) as error:
        raise Refused(f"cannot reach the NATS server at {servers}: "
                      f"{error or type(error).__name__}; is it running, with JetStream "
                      f"(nats-server -js)?") from None


@main.command()
@json_option
@click.option("--to", "servers", required=True, metavar="nats://HOST:PORT",
              help="The NATS server (JetStream) the hub reads from.")
@click.option("--key", "key_file", type=_FILE, envvar="THREAD_SIGNING_KEY_FILE",
              default="ledger.key", show_default=True,
              help="This site's checkpoint signing key (thread keygen).")
@click.option("--batch", type=click.IntRange(1, 4096), default=256, show_default=True,
              help="Entries per message.")
@click.option("--once", is_flag=True, help="Forward what the hub lacks now, then stop.")
@click.pass_context
def forward(ctx: click.Context, servers: str, key_file: Path, batch: int, once: bool,
            as_json: bool) -> None:
    """Forward this site's log to the hub: a signed checkpoint, then every entry the hub
    lacks, resuming from where the hub says it is; until Ctrl-C unless --once."""
    from thread.sites.forward import Forwarder

    key = key_file.read_text(encoding="utf-8").strip()
    with opened(ctx) as ledger:
        forwarder = Forwarder(ledger, servers, signer_key=key, batch=batch)
        if once:
            done = _reaching(servers, forwarder.once)
            if as_json:
                echo_json({"origin": ledger.origin, "size": done.size, "sent": done.sent,
                           "mirrored": done.mirrored})
            elif done.mirrored >= done.size:
                click.echo(f"{ledger.origin}: the hub mirrors all {done.size} entries "
                           f"({done.sent} sent now)")
            else:
                raise Refused(f"{ledger.origin}: the hub mirrors {done.mirrored} of "
                              f"{done.size} entries; is it running? (thread hub)")
            return
        if not as_json:
            click.echo(f"forwarding {ledger.origin} to {servers}; Ctrl-C to stop")
        _until_stopped(forwarder.run, servers)


@main.command()
@json_option
@click.option("--from", "servers", required=True, metavar="nats://HOST:PORT",
              help="The NATS server (JetStream) the sites forward to.")
@click.option("--site", "site_keys", type=_FILE, multiple=True, required=True,
              help="A site's checkpoint verifier key file (its name is the site's origin); "
                   "once per site.")
@click.option("--cosigner-key", type=_FILE, required=True,
              help="The hub's cosigner key (thread keygen --cosigner).")
@click.option("--witness", "witnesses", multiple=True, metavar="URL",
              help="A tlog-witness (its submission prefix, such as http://w.example:8080) "
                   "asked to cosign each checkpoint the hub mirrors; once per witness.")
@click.option("--key", "key_file", type=_FILE, default=None,
              help="The hub's own checkpoint key (thread keygen): the hub signs a checkpoint "
                   "of its log, which records each site checkpoint it mirrors.")
@click.pass_context
def hub(ctx: click.Context, servers: str, site_keys: tuple[Path, ...], cosigner_key: Path,
        witnesses: tuple[str, ...], key_file: Path | None, as_json: bool) -> None:
    """Mirror the sites into this ledger's database and cosign their checkpoints, until
    Ctrl-C; each checkpoint mirrored and each refusal is recorded in this ledger's own log
    (a log of logs), and refusals are published on thread.alerts."""
    from thread.sites.hub import Hub
    from thread.sites.hub_log import HubLog

    mirror = _mirror(ctx, site_keys, cosigner_key, witnesses)
    key = None if key_file is None else key_file.read_text(encoding="utf-8").strip()
    if key is not None:
        from thread.log.checkpoint import signing_key

        signing_key(key)  # a bad key file is one line now, not at the first checkpoint
    if not as_json:
        click.echo(f"mirroring {len(site_keys)} site(s) from {servers}; Ctrl-C to stop")
    try:
        with opened(ctx) as ledger:
            log = HubLog(ledger, mirror, signer_key=key)
            _until_stopped(Hub(mirror, servers, log=log).run, servers)
    finally:
        mirror.close()


@main.command()
@json_option
@click.option("--site", "site_keys", type=_FILE, multiple=True, required=True,
              help="A site's checkpoint verifier key file; once per site.")
@click.pass_context
def mirrors(ctx: click.Context, site_keys: tuple[Path, ...], as_json: bool) -> None:
    """What the hub holds of each site, and every refusal on record."""
    from thread.sites.mirror import Mirror

    origins = [_origin(path) for path in site_keys]
    with opened(ctx) as ledger:
        mirror = Mirror.beside(ledger)
    try:
        states = [mirror.state(origin) for origin in origins]
        refusals = mirror.refusals()
    finally:
        mirror.close()
    if as_json:
        echo_json({"sites": [{"origin": s.origin, "mirror_size": s.mirror_size,
                              "next": s.next, "pending_size": s.pending_size} for s in states],
                   "refusals": [r.__dict__ for r in refusals]})
        return
    click.echo(table(("SITE", "MIRRORED", "NEXT", "PENDING"),
                     [(s.origin, str(s.mirror_size), str(s.next), str(s.pending_size))
                      for s in states]))
    for refusal in refusals:
        click.echo(f"refused {refusal.at} {refusal.origin}: {refusal.what}: {refusal.detail}")


def _origin(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().split("+", 1)[0]


def _mirror(ctx: click.Context, site_keys: tuple[Path, ...], cosigner_key: Path,
            witnesses: tuple[str, ...] = ()) -> Mirror:
    from thread.log.cosignature import cosigner_of
    from thread.sites.mirror import Mirror

    key = cosigner_key.read_text(encoding="utf-8").strip()
    cosigner_of(key)  # a bad key file is one line now, not at the first cosignature
    sites = {_origin(path): path.read_text(encoding="utf-8").strip() for path in site_keys}
    with opened(ctx, create=True) as ledger:
        return Mirror.beside(ledger, cosigner_key=key, sites=sites, witnesses=witnesses)


@main.command()
@json_option
@click.option("--log", "log_keys", type=_FILE, multiple=True, required=True,
              help="A log's checkpoint verifier key file (its name is the log's origin); once "
                   "per log witnessed.")
@click.option("--key", "key_file", type=_FILE, required=True,
              help="The witness's cosigner key (thread keygen --cosigner).")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              default="witness.json", show_default=True,
              help="Where the witness keeps the last checkpoint it cosigned of each log.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
def witness(log_keys: tuple[Path, ...], key_file: Path, state: Path, host: str, port: int,
            as_json: bool) -> None:
    """Run a C2SP tlog-witness: POST /add-checkpoint cosigns each log's checkpoints that
    consistently extend the last one it cosigned; until Ctrl-C."""
    from thread.log.cosignature import cosigner_of
    from thread.sites.witness import Witness, serve

    key = key_file.read_text(encoding="utf-8").strip()
    name = cosigner_of(key).name
    logs = {_origin(path): path.read_text(encoding="utf-8").strip() for path in log_keys}
    server = serve(Witness(state, cosigner_key=key, logs=logs), host, port)
    where = f"http://{host}:{server.server_address[1]}/add-checkpoint"
    if as_json:
        echo_json({"witness": name, "url": where, "logs": sorted(logs)})
    else:
        click.echo(f"witness {name} for {len(logs)} log(s) at {where}; Ctrl-C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
