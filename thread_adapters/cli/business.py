"""``thread import csv``: a business-system export (CSV, JSON, JSON Lines) through a mapping."""

from __future__ import annotations

from pathlib import Path

import click

from thread.cli import echo_json, json_option, opened, plural
from thread_adapters.business import (
    ImportReport,
    MappingError,
    RowsRefused,
    import_export,
    load_mapping,
    read_export,
)
from thread_adapters.business.rows import ExportFileError


@click.command("csv")
@click.option("--mapping", "mapping_path", required=True, metavar="MAPPING",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping file (.toml, or .yaml/.yml) saying which facts the rows become.")
@click.option("--format", "layout", type=click.Choice(["csv", "json", "jsonl"]),
              help="Layout of FILE [default: from its ending: .csv, .json, .jsonl/.ndjson].")
@click.option("--skip-bad-rows", is_flag=True,
              help="Import the good rows and list the skipped ones, instead of writing nothing.")
@json_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_csv(ctx: click.Context, mapping_path: Path, layout: str | None, skip_bad_rows: bool,
               as_json: bool, file: Path) -> None:
    """Import a PLM, ERP, QMS, CMMS or CRM export through a mapping file.

    FILE is a CSV file, a JSON array of objects or JSON Lines. Every row is
    checked first; a file with any bad row writes nothing and lists every
    bad row with its line, unless --skip-bad-rows imports the good ones.
    Importing the same file again changes nothing.

    \b
    Example:
      thread import csv --mapping erp-work-orders.toml work-orders.csv
    """
    try:  # a bad mapping or an unreadable file must not create a ledger
        mapping = load_mapping(mapping_path)
        export = read_export(file, format=layout, encoding=mapping.encoding,
                             dialect=mapping.csv)
    except (MappingError, ExportFileError) as error:
        raise click.ClickException(str(error)) from None
    with opened(ctx, create=True) as ledger:
        try:
            report = import_export(ledger, mapping, export, skip_bad_rows=skip_bad_rows)
        except RowsRefused as refused:
            if as_json:
                echo_json(refused.report.as_json())
                ctx.exit(1)
            raise click.ClickException(
                str(refused).replace("with skip_bad_rows", "with --skip-bad-rows")
            ) from None
    if as_json:
        echo_json(report.as_json())
        return
    click.echo(_summary(report))
    if report.skipped:
        click.echo(f"Skipped {plural(len(report.skipped), 'bad row')}:")
        for row in report.skipped:
            click.echo(f"  {row}")


def _summary(report: ImportReport) -> str:
    """The outcome in one line: rows read, facts new and already present, rows ignored."""
    text = (f"{report.file} through {report.mapping} (source {report.system}): "
            f"{plural(report.rows, 'row')} read, {plural(report.facts, 'fact')}: "
            f"{report.new} new, {report.present} already present")
    if report.ignored:
        text += f"; {plural(len(report.ignored), 'row')} no record kind takes, ignored"
    return text + "."


#: The commands this module adds to its group.
COMMANDS: list[click.Command] = [import_csv]
