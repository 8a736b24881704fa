"""The ``thread import qif`` command: QIF 3 measurement results into the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from thread.cli import echo_json, json_option, ledger_name, opened, plural
from thread_adapters.qif import ImportedFile, import_results


@click.command("qif")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--serial", metavar="SERIAL",
              help="The part measured by files whose actual component has no SerialNumber.")
@click.option("--lot", metavar="LOT",
              help="The lot measured by files whose actual component has no SerialNumber.")
@click.option("--scrapped", is_flag=True,
              help="Import results for a part dispositioned scrap (refused otherwise).")
@click.option("--material-lot", is_flag=True,
              help="Import results for a lot of received material (refused otherwise).")
@json_option
@click.pass_context
def qif(ctx: click.Context, files: tuple[Path, ...], serial: str | None, lot: str | None,
        scrapped: bool, material_lot: bool, as_json: bool) -> None:
    """Import QIF 3 measurement results: one inspection per measured characteristic.

    Every file is checked before anything is written, and all FILES land in
    one transaction or not at all. The parts must already be registered, and
    the results must belong to them: the design's part number, characteristics
    and nominals. Importing the same file, or the same measurements exported
    again, changes nothing. A verdict of the measuring system that value against
    tolerance contradicts is kept, said so on the fact, and counted.
    """
    if serial is not None and lot is not None:
        raise click.UsageError("give --serial or --lot, not both")
    with opened(ctx) as ledger:
        imported = import_results(ledger, files, serial=serial, lot=lot, scrapped=scrapped,
                                  material_lot=material_lot)
    if as_json:
        echo_json({"db": ledger_name(ctx.obj), "files": [_record(done) for done in imported],
                   "new": sum(done.new for done in imported),
                   "already_present": sum(done.already_present for done in imported),
                   "disagreements": sum(done.disagreements for done in imported)})
        return
    for done in imported:
        parts = ", ".join(dict.fromkeys(f"{report.kind} {report.key}" for report in done.reports))
        click.echo(f"{done.path.name}: {parts}: {plural(done.measurements, 'measurement')}, "
                   f"{plural(done.failures, 'failure')}; {plural(done.new, 'fact')} new, "
                   f"{done.already_present} already present"
                   + (f"; {plural(done.disagreements, 'verdict')} the measuring system "
                      f"gave against value and tolerance (kept, marked on the fact)"
                      if done.disagreements else ""))
    new = sum(done.new for done in imported)
    click.echo(f"Recorded {plural(new, 'new fact')} from {plural(len(imported), 'file')} "
               f"in {ledger_name(ctx.obj)}." if new else
               "Nothing new: the ledger already held these results.")


def _record(done: ImportedFile) -> dict[str, Any]:
    return {
        "file": str(done.path),
        "measurements": done.measurements,
        "failures": done.failures,
        "new": done.new,
        "already_present": done.already_present,
        "disagreements": done.disagreements,
        "reports": [{
            report.kind if report.kind == "lot" else "serial": report.key,
            "report": report.report,
            "inspected_at": None if report.inspected_at is None
            else report.inspected_at.isoformat(),
            "measurements": report.measurements,
            "failures": report.failures,
            "statuses": report.statuses,
            "disagreements": report.disagreements,
        } for report in done.reports],
    }


#: The commands this module adds to its group.
COMMANDS: list[click.Command] = [qif]
