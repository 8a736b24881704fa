"""``thread classify``: export-control and data-residency labels on a design item, a part,
a lot, or one event of one of them."""

from __future__ import annotations

import click

from thread.cli import echo_json, json_option, main, opened


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
