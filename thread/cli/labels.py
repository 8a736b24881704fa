"""``thread classify``: export-control and data-residency labels on a design item, a part,
a lot, or one event of one of them."""

from __future__ import annotations

import click

from thread.cli import Refused, echo_json, json_option, main, opened


@main.command()
@json_option
@click.argument("kind", type=click.Choice(["design", "part", "lot", "machine"]))
@click.argument("key")
@click.argument("labels", nargs=-1, metavar="[LABEL]...")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="Label one event of the subject (its version) instead of all of it.")
@click.option("--reason", default="", help="Why (the classification's basis).")
@click.pass_context
def classify(ctx: click.Context, kind: str, key: str, labels: tuple[str, ...],
             version: int | None, reason: str, as_json: bool) -> None:
    """Label KIND KEY (a design item's part number, a serial, a lot, a machine) with LABELs:
    ITAR:<USML category>, EAR:<ECCN>, EAR99, residency:<country>. No label states that it
    is not controlled. A part inherits its design item's labels unless it has its own."""
    from thread.domain import facts as f

    fact = f.ExportClassified(kind=kind, key=key, labels=labels, version=version,
                              reason=reason)
    with opened(ctx) as ledger:
        receipt = ledger.record(fact)
        now = ledger.classification(fact.kind, fact.key)
    if as_json:
        echo_json({"kind": kind, "key": key, "version": receipt.version,
                   "labels": list(now.subject), "stated": now.stated,
                   "events": {str(v): list(x) for v, x in sorted(now.events.items())}})
        return
    what = f"version {version} of {kind} {key}" if version else f"{kind} {key}"
    click.echo(f"{what} classified {', '.join(labels) or 'not export-controlled'} "
               f"(event {receipt.version})")


@main.group()
def keyring() -> None:
    """The keys that seal export-controlled content and personal names (THREAD_KEYRING)."""


_FOLDER = click.option("--keyring", "folder", envvar="THREAD_KEYRING", required=True,
                       type=click.Path(file_okay=False), metavar="DIR",
                       help="The keyring folder [env THREAD_KEYRING].")


@keyring.command("label")
@json_option
@_FOLDER
@click.argument("label")
def label_key(folder: str, label: str, as_json: bool) -> None:
    """Make the key of LABEL (ITAR:XI, EAR:3A001, residency:DE); hand its file to those
    cleared for it. A key is never overwritten."""
    from thread.storage.keyring import Keyring

    path = Keyring(folder).new_label_key(label)
    if as_json:
        echo_json({"label": label, "file": str(path)})
        return
    click.echo(f"key of {label} written to {path} (readable by you only)")


@keyring.command("shred")
@json_option
@_FOLDER
@click.argument("person")
def shred(folder: str, person: str, as_json: bool) -> None:
    """Destroy PERSON's keys: their sealed names read "(erased)" everywhere from now on,
    while every chain, proof, checkpoint and dossier still verifies. Destroy the key's
    other copies (backups) too."""
    from thread.storage.keyring import Keyring

    gone = Keyring(folder).shred(person)
    if not gone:
        raise Refused(f"the keyring {folder} holds no key of {person!r}; nothing was destroyed")
    if as_json:
        echo_json({"person": person, "keys_destroyed": gone})
        return
    click.echo(f"destroyed {len(gone)} key{'s' if len(gone) != 1 else ''} of {person}: "
               f"{', '.join(gone)}")
