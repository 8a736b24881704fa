"""Commands of the verifiable log: keys, checkpoints, verification, dossiers."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import click

from thread.cli import (
    SUMMARY_WIDTH,
    Refused,
    Silent,
    check_writable,
    db_option,
    echo_json,
    json_option,
    main,
    opened,
    plural,
    write_file,
)
from thread.errors import UnknownSubject
from thread.presentation import moment, printable, shorten, table

if TYPE_CHECKING:
    from thread.ledger import Ledger
    from thread.read.check import ReadModelReport
    from thread.sites.mirror_check import SiteCheck

# The log's modules (and the cryptography they use) load when a command runs.

#: Longer than any key ``thread keygen`` writes or any checkpoint note the ledger signs.
_KEY_LIMIT = 4096
_NOTE_LIMIT = 65536
#: The shape of a verifier key, ``NAME+ID+KEY`` (base64 may itself hold a ``+``).
_VERIFIER_KEY = re.compile(r"[^+\s]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/=]+")
#: Where keygen puts the verifier key: beside the signing key, with this extension.
VERIFIER_SUFFIX = ".vkey"


def read_text(path: Path, what: str, option: str, limit: int) -> str:
    """A small UTF-8 file (a key, a note); a binary or huge file is a one-line usage error."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror}",
                                 param_hint=option) from None
    if len(data) > limit:
        raise click.BadParameter(f"{path} is larger than {limit} bytes; it is not {what}",
                                 param_hint=option)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise click.BadParameter(f"{path} is not {what}: byte {error.start} is not UTF-8 text",
                                 param_hint=option) from None


class VerifierKey(click.ParamType):  # type: ignore[type-arg]
    """A C2SP verifier key: its text, or a file that holds it (``thread keygen`` writes one)."""

    name = "VKEY"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value)
        path = Path(text)
        option = param.get_error_hint(ctx) if param is not None and ctx is not None else None
        if path.is_file():
            text = read_text(path, "a verifier key", option or "--vkey", _KEY_LIMIT).strip()
            if not text:
                self.fail(f"{value!r} is empty; expected a verifier key NAME+ID+KEY", param, ctx)
        elif text.count("+") < 2:
            self.fail(f"{value!r} is neither a file nor a verifier key; expected NAME+ID+KEY or "
                      f"a file holding it (thread keygen writes one next to the signing key)",
                      param, ctx)
        return text


VKEY = VerifierKey()


@main.command()
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              default="ledger.key", show_default=True,
              help=f"Where to write the signing key; the verifier key goes beside it, with "
                   f"the extension {VERIFIER_SUFFIX}.")
@click.option("--name", help="Key name in signatures [default: this ledger's origin].")
@click.option("--cosigner", is_flag=True,
              help="A cosigner's key (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1), "
                   "such as a hub's that mirrors sites; --name is then required.")
@json_option
@click.pass_context
def keygen(ctx: click.Context, path: Path, name: str | None, cosigner: bool,
           as_json: bool) -> None:
    """Write an Ed25519 checkpoint signing key (mode 0600) and its verifier key beside it.

    Neither file is ever overwritten. Give the verifier key (its file or its text) to
    whoever verifies: thread verify --vkey ledger.vkey.
    """
    from thread.log.checkpoint import generate_signer
    from thread.log.cosignature import generate_cosigner

    if cosigner and name is None:
        raise click.UsageError("--cosigner needs --name: the cosigner's name, such as "
                               "hub.example.com/mirror")

    public = path.with_suffix(VERIFIER_SUFFIX)
    if public == path:
        raise click.BadParameter(f"{path} ends in {VERIFIER_SUFFIX}, where the verifier key "
                                 "goes; give the signing key another name", param_hint="'-o'")
    for target in (path, public):
        if target.exists():
            raise Refused(f"{target} exists; keys are never overwritten")
        check_writable(target, "the key")
    if name is None:
        with opened(ctx, create=True) as ledger:
            name = ledger.origin
    signer, verifier = (generate_cosigner if cosigner else generate_signer)(name)
    write_file(path, (signer + "\n").encode(), "the signing key", exclusive=True, mode=0o600)
    try:
        write_file(public, (verifier + "\n").encode(), "the verifier key", exclusive=True)
    except click.ClickException:
        path.unlink()
        raise
    if as_json:
        echo_json({"key_file": str(path.resolve()), "verifier_key_file": str(public.resolve()),
                   "verifier_key": verifier})
        return
    click.echo(printable(f"signing key written to {path} (keep it secret)"))
    click.echo(printable(f"verifier key written to {public}: {verifier}"))


@main.command()
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="THREAD_SIGNING_KEY_FILE", default="ledger.key", show_default=True,
              help="Signing key file from `thread keygen` [env THREAD_SIGNING_KEY_FILE].")
@click.option("-o", "--output", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the checkpoint note to this file.")
@json_option
@click.pass_context
def checkpoint(ctx: click.Context, key_file: Path, path: Path | None, as_json: bool) -> None:
    """Sign the log's current tree head as a C2SP checkpoint and store it.

    The key is checked every time, also when the head has not moved since the last
    checkpoint (which is then printed again rather than signed twice).
    """
    from thread.log.checkpoint import CheckpointError, open_note, verifier_key_for

    signer = _signer_in(key_file)
    if path is not None:
        check_writable(path, "the checkpoint note")
    with opened(ctx) as ledger:
        note = ledger.checkpoint(signer)
    try:
        open_note(note, [verifier_key_for(signer)])
        signed_by_key = True
    except CheckpointError:  # the head had not moved, and another key signed it
        signed_by_key = False
    if path is not None:
        try:
            write_file(path, note.encode(), "the checkpoint note")
        except click.ClickException as error:
            raise Refused(f"{error.message}; the checkpoint is stored in the "
                                       "ledger, and the command writes the same note again "
                                       "while the log has not moved") from None
    if as_json:
        echo_json({"note": note, "signed_by_this_key": signed_by_key})
        return
    click.echo(note, nl=False)
    if not signed_by_key:
        click.echo(printable(f"the log has not moved since this checkpoint, which another key "
                             f"signed; {key_file} signs the next one"), err=True)


def _signer_in(key_file: Path) -> str:
    """The signing key in ``key_file``, checked: a bad key fails before the ledger opens."""
    from thread.log.checkpoint import CheckpointError, verifier_key_for

    text = read_text(key_file, "a signing key", "'--key'", _KEY_LIMIT).strip()
    if not text:
        raise click.BadParameter(f"{key_file} is empty; expected the signing key thread "
                                 "keygen wrote (PRIVATE+KEY+NAME+ID+KEY)", param_hint="'--key'")
    try:
        verifier_key_for(text)
    except CheckpointError as error:
        if _VERIFIER_KEY.fullmatch(text):
            problem = "holds a verifier key, which checks signatures but cannot make them"
        else:
            problem = f"does not hold a signing key ({error})"
        raise click.BadParameter(f"{key_file} {problem}; expected the signing key thread "
                                 "keygen wrote (PRIVATE+KEY+NAME+ID+KEY)",
                                 param_hint="'--key'") from None
    return text


@main.command()
@click.option("--vkey", "vkeys", multiple=True, type=VKEY,
              help="Verifier key to trust for checkpoint signatures, or a file holding it "
                   "(repeatable).")
@click.option("--checkpoint", "kept", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint note kept from earlier; catches an older copy restored.")
@click.option("--strict", is_flag=True,
              help="Also fail (exit 1) when no checkpoint signature was checked.")
@click.option("--read-models", "read_models", is_flag=True,
              help="Also re-derive every read-model row from the log and name the first row "
                   "that differs in each table.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path),
              help="At a hub: a c2sp.org/tlog-policy file; every site mirror is derived "
                   "again from its stored entries and its cosigned checkpoint must meet it.")
@click.option("--from", "since_file", type=click.Path(exists=True, dir_okay=False,
                                                      path_type=Path),
              help="A checkpoint note verified before: prove the log extends it and derive "
                   "again only the events after it, with the chains they touch.")
@click.option("--keep", "keep_file", type=click.Path(dir_okay=False, path_type=Path),
              help="With --from: write the newest checkpoint this run verified, to trust "
                   "next time.")
@json_option
@click.pass_context
def verify(ctx: click.Context, vkeys: tuple[str, ...], kept: tuple[Path, ...], strict: bool,
           read_models: bool, policy_file: Path | None, since_file: Path | None,
           keep_file: Path | None, as_json: bool) -> None:
    """Re-derive every chain, leaf, tree head and checkpoint; exit 0 only if all hold.

    Checkpoint signatures are checked only against the keys given with --vkey;
    without one, the report says so, and --strict makes that a failure. With
    --read-models the read models (what trace, genealogy and recall answer from)
    are checked against the log too.
    """
    from thread.log.audit import audit

    if since_file is not None:
        _verify_since(ctx, since_file, vkeys, keep_file, as_json)
        return
    if keep_file is not None:
        raise click.UsageError("--keep goes with --from")
    notes = [read_text(p, "a checkpoint note", "'--checkpoint'", _NOTE_LIMIT) for p in kept]
    with opened(ctx) as ledger:
        show = sys.stderr.isatty() and not as_json
        with click.progressbar(length=max(2 * ledger.count(), 1), label="Verifying",
                               file=sys.stderr if show else cast(TextIO, Silent())) as bar:
            def advance(done: int, total: int) -> None:
                bar.update(done - bar.pos)
            report = audit(ledger, verifier_keys=vkeys, trusted_checkpoints=notes,
                           progress=advance)
        derived = _read_models_checked(ledger, show) if read_models else None
        mirrors = None if policy_file is None else _mirrors_checked(ledger, policy_file)
    unsigned = _unchecked_signatures(report.checkpoints, bool(vkeys), ctx)
    ok = (report.ok and not (strict and unsigned) and (derived is None or derived.ok)
          and all(site.ok for site in mirrors or ()))
    first = report.first
    findings = sorted(report.findings)
    if as_json:
        echo_json({"ok": ok, "events": report.events, "aggregates": report.aggregates,
                   "tree_size": report.tree_size, "root": report.root.hex(),
                   "checkpoints": report.checkpoints,
                   "signatures_checked": report.signatures_checked,
                   "event_signatures_checked": report.event_signatures,
                   "subject_maps_checked": report.maps_checked,
                   "subject_maps_not_checked": report.maps_unchecked,
                   "signatures_not_checked": unsigned, "strict": strict,
                   "first_problem": first.describe() if first else None,
                   "problems": [finding.describe() for finding in findings],
                   **({} if derived is None else {"read_models": {
                       "ok": derived.ok, "tree_size": derived.tree_size,
                       "positions": derived.positions, "rows": derived.rows,
                       "first_problem": derived.first.describe() if derived.first else None,
                       "findings": [f.model_dump(mode="json") for f in derived.findings]}}),
                   **({} if mirrors is None else {"mirrors": [
                       {"origin": m.origin, "ok": m.ok, "size": m.size,
                        "witnesses": list(m.witnesses), "problems": list(m.problems)}
                       for m in mirrors]})})
        if not ok:
            ctx.exit(1)
        return
    if report.ok:
        signatures = (f", {plural(report.signatures_checked, 'signature')} checked"
                      if vkeys else "")
        click.echo(f"verified: {plural(report.events, 'event')} in "
                   f"{plural(report.aggregates, 'chain')}, tree of "
                   f"{plural(report.tree_size, 'leaf', 'leaves')}, root "
                   f"{report.root.hex()[:16]}, {plural(report.checkpoints, 'checkpoint')}"
                   f"{signatures}; {plural(report.event_signatures, 'electronic signature')} "
                   f"checked against the signer registry; "
                   f"{plural(report.maps_checked, 'subject map')} derived again")
        if report.maps_unchecked:
            click.echo(f"subject maps not checked: {report.maps_unchecked} (the trusted "
                       "checkpoint carries no map; run a whole thread verify once)")
        if unsigned:
            click.echo(printable(f"{'NOT VERIFIED: ' if strict else ''}signatures not checked: "
                                 f"{unsigned}"), err=strict)
    else:
        click.echo(f"NOT VERIFIED: {plural(len(findings), 'problem')}, in log order:", err=True)
        for finding in findings:
            click.echo(f"  {printable(finding.describe())}", err=True)
    if derived is not None:
        _echo_read_models(derived)
    for site in mirrors or ():
        if site.ok:
            click.echo(printable(f"mirror of {site.origin}: {plural(site.size, 'entry', 'entries')}"
                                 f", contiguous, each once, make the cosigned root; cosigned by "
                                 f"{', '.join(site.witnesses) or 'no witness'} as the policy "
                                 f"requires; in the hub's log"))
        else:
            click.echo(printable(f"NOT VERIFIED: mirror of {site.origin}: "
                                 f"{'; '.join(site.problems)}"), err=True)
    if not ok:
        ctx.exit(1)


def _read_models_checked(ledger: Ledger, show: bool) -> ReadModelReport:
    """The read models checked against the log, with a progress bar on a terminal."""
    with click.progressbar(length=max(ledger.count(), 1), label="Checking read models",
                           file=sys.stderr if show else cast(TextIO, Silent())) as bar:
        return ledger.read_models.verify(progress=bar.update)


def _echo_read_models(derived: ReadModelReport) -> None:
    if derived.ok:
        read = set(derived.positions.values())
        upto = (f"all {read.pop()}" if len(read) == 1 else ", ".join(
            f"{name} {position}" for name, position in derived.positions.items()))
        click.echo(f"read models verified: {plural(derived.rows, 'row')}, each the row the log "
                   f"gives (they have read {upto} of its {plural(derived.tree_size, 'event')})")
        return
    click.echo(f"NOT VERIFIED: read models: {plural(len(derived.findings), 'problem')} (the "
               f"first in each table); rebuild them with thread rebuild:", err=True)
    for finding in derived.findings:
        click.echo(f"  {printable(finding.describe())}", err=True)


def _unchecked_signatures(checkpoints: int, keys: bool, ctx: click.Context) -> str:
    """Why no checkpoint signature was checked, or "" when they were."""
    if not checkpoints:
        return (f"the ledger holds no checkpoint, so no signature vouches for its head; sign "
                f"one with: thread{db_option(ctx)} checkpoint")
    if not keys:
        one = checkpoints == 1
        return (f"no --vkey was given, so {plural(checkpoints, 'checkpoint')} "
                f"{'was' if one else 'were'} read without checking who signed "
                f"{'it' if one else 'them'}; give --vkey with the verifier key or the "
                f".vkey file thread keygen wrote")
    return ""


@main.command("verify-checkpoint")
@click.argument("note_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vkey", type=VKEY,
              help="The verifier key of the log's signer, or a file holding it.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path),
              help="A c2sp.org/tlog-policy file: the logs accepted and the witness "
                   "cosignatures required (a hub's mirror cosignature among them).")
@json_option
def verify_checkpoint_command(note_file: Path, vkey: str | None, policy_file: Path | None,
                              as_json: bool) -> None:
    """Verify any C2SP checkpoint note (this ledger's or another log's), by the log's key
    or by a tlog-policy."""
    from thread.log.checkpoint import Checkpoint
    from thread.log.trust_policy import TrustPolicy
    from thread.log.verify import verify_checkpoint

    if (vkey is None) == (policy_file is None):
        raise click.UsageError("give one of --vkey or --policy")
    note = read_text(note_file, "a checkpoint note", "'NOTE_FILE'", _NOTE_LIMIT)
    witnesses: tuple[str, ...] = ()
    if vkey is not None:
        checkpoint = verify_checkpoint(note, vkey)
    else:
        assert policy_file is not None
        verdict = TrustPolicy.from_file(policy_file).verdict(note)
        if not verdict.ok:
            raise Refused(f"{note_file}: does not meet {policy_file}: {verdict.reason}")
        checkpoint, witnesses = Checkpoint.parse(note[:note.rfind("\n\n") + 1]), \
            verdict.witnesses
    if as_json:
        echo_json({"origin": checkpoint.origin, "size": checkpoint.size,
                   "root": checkpoint.root.hex(), "witnesses": list(witnesses)})
        return
    click.echo(printable(f"verified: {checkpoint.origin}, "
                         f"{plural(checkpoint.size, 'leaf', 'leaves')}, root "
                         f"{checkpoint.root.hex()}"
                         + (f"; cosigned by {', '.join(witnesses)} as the policy requires"
                            if witnesses else "")))


@main.command()
@click.argument("serial")
@click.option("-o", "--output", "path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the dossier (JSON, thread-dossier/v2).")
@click.option("--sites", "across_sites", is_flag=True,
              help="At a hub: the part's events in the site logs it mirrors, each proved in "
                   "its site's log and that site checkpoint in the hub's own log "
                   "(thread-hub-dossier/v1, c2sp.org/tlog-proof texts inside).")
@json_option
@click.pass_context
def dossier(ctx: click.Context, serial: str, path: Path, across_sites: bool,
            as_json: bool) -> None:
    """Write a part's self-contained dossier: events, inclusion proofs, signed checkpoint.

    An auditor checks it with `thread verify-dossier FILE --vkey VKEY` (a hub dossier:
    `--policy POLICY`), no database needed.
    """
    if across_sites:
        _hub_dossier(ctx, serial, path, as_json)
        return
    from thread.log.dossier import NotCheckpointed, dossier_of

    check_writable(path, "the dossier")
    with opened(ctx) as ledger:
        try:
            written = dossier_of(ledger, serial)
        except UnknownSubject as error:
            raise Refused(
                f"{error}; list the serials with: thread{db_option(ctx)} parts"
            ) from None
        except NotCheckpointed as error:
            raise Refused(
                f"{error}; sign one with: thread{db_option(ctx)} checkpoint, then write the "
                "dossier again"
            ) from None
    write_file(path, written.dossier.to_bytes(), "the dossier")
    events = len(written.dossier.events)
    if as_json:
        echo_json({"file": str(path.resolve()), "serial": serial, "events": events,
                   "last_version": written.last_version,
                   "tree_size": written.dossier.tree_size,
                   "later_events": written.later_events,
                   "complete": written.dossier.map is not None})
        return
    click.echo(printable(
        f"dossier of part {serial} written to {path}: {plural(events, 'event')} "
        f"(versions 1-{written.last_version}), proved against the signed checkpoint of "
        f"{plural(written.dossier.tree_size, 'leaf', 'leaves')}"
        f"{', complete by its subject map' if written.dossier.map is not None else ''}"))
    if written.later_events:
        later = plural(written.later_events, "later event")
        click.echo(printable(
            f"{later} of {serial} came after that checkpoint and "
            f"{'is' if written.later_events == 1 else 'are'} not in it; to include "
            f"{'it' if written.later_events == 1 else 'them'}: thread{db_option(ctx)} "
            "checkpoint, then write the dossier again"))


@main.command("verify-dossier")
@click.argument("dossier_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vkey", "vkeys", multiple=True, type=VKEY,
              help="Verifier key of the log's signer, or a file holding it (repeatable).")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False,
                                                         path_type=Path),
              help="A c2sp.org/tlog-policy file (for a hub dossier): the site and hub logs "
                   "accepted and the cosignatures required of each site checkpoint.")
@json_option
@click.pass_context
def verify_dossier_command(ctx: click.Context, dossier_file: Path, vkeys: tuple[str, ...],
                           policy_file: Path | None, as_json: bool) -> None:
    """Verify a part's dossier without any database and print the part's story."""
    from thread.log.offline import DossierError, verify_dossier

    if (not vkeys) == (policy_file is None):
        raise click.UsageError("give --vkey (a dossier) or --policy (a hub dossier)")
    if policy_file is not None:
        _verify_hub_dossier(ctx, dossier_file, policy_file, as_json)
        return
    try:
        verified = verify_dossier(dossier_file.read_bytes(), vkeys)
        problem = None
    except DossierError as error:
        problem = str(error)
    if problem is not None:
        if as_json:
            echo_json({"ok": False, "file": str(dossier_file), "problem": problem})
        else:
            click.echo(printable(f"NOT VERIFIED: {dossier_file}: {problem}"), err=True)
        ctx.exit(1)
    if as_json:
        echo_json(verified.record())
        return
    click.echo(table(
        ("VER", "OCCURRED (UTC)", "RECORDED (UTC)", "TOPIC", "ACTOR", "SUMMARY"),
        [(str(event.version), moment(event.occurred_at), moment(event.recorded_at),
          event.topic, event.actor, shorten(event.summary, SUMMARY_WIDTH))
         for event in verified.events],
    ))
    click.echo(printable(
        f"verified: part {verified.serial}, versions 1-{verified.events[-1].version} linked "
        f"from its first event, each in log {verified.origin} (tree of "
        f"{plural(verified.tree_size, 'leaf', 'leaves')}, root {verified.root.hex()[:16]}) "
        f"signed by {', '.join(key.split('+')[0] for key in verified.signed_by)}"))
    click.echo(printable(f"this dossier {verified.coverage}"))


def _hub_dossier(ctx: click.Context, serial: str, path: Path, as_json: bool) -> None:
    """``thread dossier SERIAL --sites``: the part's dossier across the mirrored sites."""
    from thread.sites.hub_dossier import NotMirrored, hub_dossier_of
    from thread.sites.mirror import Mirror

    check_writable(path, "the dossier")
    with opened(ctx) as ledger:
        mirror = Mirror.beside(ledger)
        try:
            data = hub_dossier_of(ledger, mirror, serial)
        except NotMirrored as error:
            raise Refused(str(error)) from None
        finally:
            mirror.close()
    write_file(path, data, "the dossier")
    sites = json.loads(data)["sites"]
    if as_json:
        echo_json({"file": str(path.resolve()), "serial": serial,
                   "sites": [{"origin": s["origin"], "events": len(s["events"])}
                             for s in sites]})
        return
    click.echo(printable(
        f"hub dossier of part {serial} written to {path}: "
        + ", ".join(f"{plural(len(s['events']), 'event')} at {s['origin']}" for s in sites)))


def _verify_hub_dossier(ctx: click.Context, dossier_file: Path, policy_file: Path,
                        as_json: bool) -> None:
    from thread.log.checkpoint import CheckpointError
    from thread.log.trust_policy import TrustPolicy
    from thread.sites.hub_dossier import HubDossierError, verify_hub_dossier

    try:
        policy = TrustPolicy.from_file(policy_file)
    except CheckpointError as error:
        raise Refused(str(error)) from None
    try:
        verified = verify_hub_dossier(dossier_file.read_bytes(), policy)
    except HubDossierError as error:
        if as_json:
            echo_json({"ok": False, "file": str(dossier_file), "problem": str(error)})
        else:
            click.echo(printable(f"NOT VERIFIED: {dossier_file}: {error}"), err=True)
        ctx.exit(1)
    if as_json:
        echo_json({"ok": True, "serial": verified.serial, "hub": verified.hub,
                   "hub_size": verified.hub_size,
                   "sites": [{"origin": s.origin, "size": s.size, "versions": s.versions,
                              "witnesses": list(s.witnesses), "complete": s.complete}
                             for s in verified.sites]})
        return
    for site in verified.sites:
        click.echo(printable(
            f"{site.origin}: versions 1-{site.versions} of part {verified.serial}, linked, in "
            f"its log of {plural(site.size, 'entry', 'entries')}, cosigned by "
            f"{', '.join(site.witnesses) or 'no witness'}; "
            + ("every event of the part there, as the site's subject map proves"
               if site.complete else "the dossier cannot show that no later event of the "
               "part was in that log")))
    click.echo(printable(
        f"verified: each site checkpoint meets {policy_file} and is in the hub log "
        f"{verified.hub} (tree of {plural(verified.hub_size, 'leaf', 'leaves')}) signed by "
        f"a log the policy lists"))


def _mirrors_checked(ledger: Ledger, policy_file: Path) -> list[SiteCheck]:
    from thread.log.checkpoint import CheckpointError
    from thread.log.trust_policy import TrustPolicy
    from thread.sites.mirror import Mirror
    from thread.sites.mirror_check import check_mirrors

    try:
        policy = TrustPolicy.from_file(policy_file)
    except CheckpointError as error:
        raise Refused(str(error)) from None
    mirror = Mirror.beside(ledger)
    try:
        return check_mirrors(mirror, policy, ledger)
    finally:
        mirror.close()


def _verify_since(ctx: click.Context, since_file: Path, vkeys: tuple[str, ...],
                  keep_file: Path | None, as_json: bool) -> None:
    """``thread verify --from NOTE``: what the ledger added since a trusted checkpoint."""
    from thread.log.audit import audit_since

    trusted = read_text(since_file, "a checkpoint note", "'--from'", _NOTE_LIMIT)
    if keep_file is not None:
        check_writable(keep_file, "the next checkpoint")
    with opened(ctx) as ledger:
        report = audit_since(ledger, trusted, verifier_keys=vkeys)
    findings = sorted(report.findings)
    if report.ok and keep_file is not None and report.newest_checkpoint is not None:
        write_file(keep_file, report.newest_checkpoint.encode(), "the next checkpoint")
    new = report.events - report.since
    if as_json:
        echo_json({"ok": report.ok, "since": report.since, "tree_size": report.tree_size,
                   "events_verified": new, "subjects_verified": report.aggregates,
                   "root": report.root.hex(), "newest_checkpoint": report.newest_checkpoint,
                   "problems": [finding.describe() for finding in findings]})
    elif report.ok:
        click.echo(printable(
            f"verified: the log of {plural(report.tree_size, 'leaf', 'leaves')} extends the "
            f"trusted checkpoint of {report.since}; {plural(new, 'event')} after the trusted "
            f"checkpoint derived again, with the whole chains of "
            f"{plural(report.aggregates, 'subject')} they touch; root "
            f"{report.root.hex()[:16]}"
            + (f"; the newest checkpoint written to {keep_file}" if keep_file is not None
               and report.newest_checkpoint is not None else "")))
    else:
        click.echo(f"NOT VERIFIED: {plural(len(findings), 'problem')}, in log order:", err=True)
        for finding in findings:
            click.echo(f"  {printable(finding.describe())}", err=True)
    if not report.ok:
        ctx.exit(1)
