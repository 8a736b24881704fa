"""``thread predict``: train a quality model, evaluate it against the baselines on later parts
(a rolling origin by default), and score parts with it, recording each prediction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from thread.cli import (
    MOMENT,
    Refused,
    check_writable,
    echo_json,
    json_option,
    main,
    opened,
    plural,
    write_file,
)
from thread.presentation import table

if TYPE_CHECKING:
    from thread.analytics.features import Labels
    from thread.analytics.predict import Evaluation, Importance, ModelCard, Scoring

#: The same names as thread.analytics.features.TARGETS and predict.MODELS (importing those
#: here would load numpy and scikit-learn for ``thread --help``).
TARGETS = ("inspection-failure", "field-failure")
ALGORITHMS = ("gradient-boosting", "logistic-regression")
#: Importances and scored parts listed in text; --json gives every one.
SHOWN = 8


def _question(function: Any) -> Any:
    for option in reversed((
            click.option("--part-number", required=True, help="The part number to predict for."),
            click.option("--target", type=click.Choice(TARGETS), required=True,
                         help="An inspection failure, or a field failure within --horizon "
                              "operating hours."),
            click.option("--horizon", "horizon", type=click.FloatRange(min=0, min_open=True),
                         default=None, metavar="HOURS",
                         help="With --target field-failure: within how many operating hours."),
            click.option("--algorithm", type=click.Choice(ALGORITHMS),
                         default="gradient-boosting", show_default=True,
                         help="scikit-learn's histogram gradient boosting, or a logistic "
                              "regression."),
            click.option("--seed", type=int, default=0, show_default=True,
                         help="Seeds the model, the bootstrap and the shuffles."))):
        function = option(function)
    return function


@main.group()
def predict() -> None:
    """Predict inspection and field failures from how parts were made: train, evaluate, score."""


@predict.command()
@_question
@click.option("--folds", type=click.IntRange(min=1), default=5, show_default=True,
              help="Cut the labelled parts by production time into this many blocks and "
                   "predict each block from the second with a model fitted on every part "
                   "made before it (a rolling origin); 1: a single split at --test-share.")
@click.option("--test-share", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              default=None, help="With --folds 1: test on this share of the labelled parts, "
                                 "the latest made [default: 0.3].")
@click.option("--plots", "plots", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Write the precision-recall curve and the importances (PNG) "
                                 "into this folder.")
@json_option
@click.pass_context
def evaluate(ctx: click.Context, part_number: str, target: str, horizon: float | None,
             algorithm: str, seed: int, folds: int, test_share: float | None,
             plots: Path | None, as_json: bool) -> None:
    """Predict later parts with models fitted on earlier ones only, against the base rate and
    each machine's failure share; say whether the model predicts better."""
    from thread.analytics.predict import evaluate as evaluated

    if folds > 1 and test_share is not None:
        raise click.UsageError(f"--test-share applies to a single split (--folds 1), not to a "
                               f"rolling origin of {folds} blocks; give one or the other")
    with opened(ctx) as ledger:
        found = evaluated(ledger, part_number=part_number, target=target,  # type: ignore[arg-type]
                          horizon_hours=horizon, folds=folds, test_share=test_share,
                          seed=seed, model=algorithm)  # type: ignore[arg-type]
    if as_json:
        echo_json(found.model_dump(mode="json"))
    else:
        for line in _evaluation_lines(found):
            click.echo(line)
    if plots is not None:
        _draw(found, plots)


@predict.command()
@_question
@click.option("--until", type=MOMENT, default=None, help="Learn from the parts made before "
              "this time [default: every part].")
@click.option("--name", default=None, help="The model's id in the prediction facts "
              "[default: PART-NUMBER-TARGET, with the horizon].")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, metavar="MODEL_FILE", help="Write the model here.")
@json_option
@click.pass_context
def train(ctx: click.Context, part_number: str, target: str, horizon: float | None,
          algorithm: str, seed: int, until: datetime | None, name: str | None, output: Path,
          as_json: bool) -> None:
    """Learn from every labelled part of a part number and write the model to MODEL_FILE."""
    from thread.analytics.predict import train as trained_on

    check_writable(output, "the model")  # before the work, not after it
    with opened(ctx) as ledger:
        trained = trained_on(ledger, part_number=part_number, target=target,  # type: ignore[arg-type]
                             horizon_hours=horizon, until=until, model=algorithm,  # type: ignore[arg-type]
                             seed=seed, name=name)
    data = trained.to_bytes()
    write_file(output, data, "the model")
    if as_json:
        echo_json({"file": str(output), "digest": trained.digest,
                   "card": trained.card.model_dump(mode="json")})
        return
    for line in _card_lines(trained.card, output, trained.digest):
        click.echo(line)


@predict.command()
@click.option("--model", "model_file", type=click.Path(dir_okay=False, exists=True,
                                                       path_type=Path),
              required=True, metavar="MODEL_FILE", help="A model thread predict train wrote.")
@click.option("--serial", "serials", multiple=True, help="Score this part (repeatable) "
              "[default: every part of the model's part number].")
@click.option("--part-number", default=None, help="Score every part of this part number (the "
              "model's).")
@click.option("--dry-run", is_flag=True, help="Score without recording the predictions.")
@click.option("--signer-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Sign each prediction fact (meaning authorship) with this key "
                                 "file (thread keygen --name ID); with --printed-name.")
@click.option("--printed-name", default=None, help="The signer's printed name.")
@json_option
@click.pass_context
def score(ctx: click.Context, model_file: Path, serials: tuple[str, ...],
          part_number: str | None, dry_run: bool, signer_key: Path | None,
          printed_name: str | None, as_json: bool) -> None:
    """Score parts with a saved model and record a prediction fact on each (once per model
    version: scoring again records nothing twice), signed if a signer is given."""
    from thread.analytics.predict import score as scored
    from thread.cli.quality import _signer

    if serials and part_number is not None:
        raise click.UsageError("give --serial or --part-number, not both")
    signed = signer_key is not None or printed_name is not None
    if signed and dry_run:
        raise click.UsageError("--dry-run records nothing to sign; drop --signer-key and "
                               "--printed-name, or --dry-run")
    signer = _signer(signer_key, printed_name) if signed else None
    with opened(ctx) as ledger:
        found = scored(ledger, model_file, serials=list(serials) or None,
                       part_number=part_number, record=not dry_run, signer=signer)
    if as_json:
        echo_json(found.model_dump(mode="json"))
        return
    for line in _scoring_lines(found, dry_run):
        click.echo(line)
    if signer is not None and found.recorded:
        click.echo(f"  signed by {printed_name} ({signer.signer}), meaning authorship")


def _labels(labels: Labels) -> str:
    left = [(labels.not_inspected, "never inspected"),
            (labels.not_in_service, "never in service"),
            (labels.too_short, f"in service under {labels.horizon_hours or 0:,.0f} h without "
                               f"failing")]
    said = "; left out: " + ", ".join(f"{count} {why}" for count, why in left if count)
    return (f"labelled {labels.labelled} of {plural(labels.parts, 'part')} "
            f"({labels.positives} failed)" + (said if labels.left_out else ""))


def _what(target: str, horizon: float | None) -> str:
    return target if horizon is None else f"{target} within {horizon:,.0f} operating hours"


def _importance_rows(found: tuple[Importance, ...]) -> list[tuple[str, ...]]:
    return [(i.feature, f"{i.mean:+.3f}", f"{i.sd:.3f}") for i in found[:SHOWN]]


def _evaluation_lines(found: Evaluation) -> list[str]:
    lines = [
        f"{found.part_number}: {_what(found.target, found.horizon_hours)}, "
        f"{found.model.replace('-', ' ')}, seed {found.seed}",
        f"  {_labels(found.labels)}",
        f"  {found.split.description}",
        *_split_lines(found),
        table(("ON THE PREDICTED PARTS" if found.split.method == "rolling-origin"
               else "ON THE TEST PARTS", "PR-AUC", "BRIER", "MCC", "FLAGGED", "CAUGHT",
               "FALSE ALARMS"),
              [(p.name, f"{p.average_precision:.3f}", f"{p.brier:.4f}", f"{p.mcc:+.2f}",
                str(p.confusion.true_positives + p.confusion.false_positives),
                f"{p.confusion.true_positives}/{found.test.positives}",
                str(p.confusion.false_positives))
               for p in (found.performance, *found.baselines)]),
    ]
    lines += [f"  PR-AUC against {d.baseline}: {d.difference:+.3f} ({d.confidence:.0%} bootstrap "
              f"interval {d.low:+.3f} to {d.high:+.3f})" for d in found.differences]
    lines.append(f"  with the failures shuffled among the {found.test.parts} predicted parts: "
                 f"PR-AUC {found.chance.average_precision:.3f} on average, the model's reached "
                 f"in p = {found.chance.p_value:.2g}")
    lines.append(f"verdict: {found.verdict}: {found.reason}")
    lines.append(f"what drives the predictions, on {found.importances_on}:")
    lines.append(table(("FEATURE", "DROP", "SD"), _importance_rows(found.importances)))
    whose = "the last fold's model" if found.split.method == "rolling-origin" else "the model"
    lines.append(f"what {whose} relies on, on its {found.training.parts} training parts:")
    lines.append(table(("FEATURE", "DROP", "SD"), _importance_rows(found.training_importances)))
    if found.calibration:
        lines.append("calibration on the predicted parts: " + "; ".join(
            f"scored {c.predicted:.2f}, {c.observed:.0%} of {c.parts} failed"
            for c in found.calibration))
    return lines


def _split_lines(found: Evaluation) -> list[str]:
    """The folds: what each learned from and predicted, and its threshold."""
    training, test = found.training, found.test
    if found.split.method == "single-split":
        threshold = found.split.folds[0].threshold
        assert threshold is not None
        return [f"  trained on {training.parts} parts {training.made} ({training.positives} "
                f"failed); tested on {test.parts} {test.made} ({test.positives} failed)",
                f"  threshold {threshold.value:.3g}: {threshold.method}"]
    rows = [(str(fold.number), fold.training.made, str(fold.training.parts),
             str(fold.training.positives), fold.test.made, str(fold.test.parts),
             str(fold.test.positives),
             "not predicted" if fold.threshold is None else
             f"{fold.threshold.value:.3g}" + (" (failure share)" if fold.threshold.mcc is None
                                              else ""))
            for fold in found.split.folds]
    return [
        table(("FOLD", "TRAINED ON PARTS", "PARTS", "FAILED", "PREDICTED PARTS", "PARTS",
               "FAILED", "THRESHOLD"), rows),
        f"  the models learned from {training.parts} parts {training.made} "
        f"({training.positives} failed: the last fold's training parts, which hold every "
        f"other fold's); {test.parts} parts predicted {test.made} ({test.positives} failed), "
        f"pooled",
        "  thresholds: each fold's chosen on its training parts alone, maximising the Matthews "
        "correlation of out-of-fold predictions of a time-series split inside them (the "
        "training failure share where that split held too few failures)",
    ]


def _card_lines(card: ModelCard, output: Path, digest: str) -> list[str]:
    drivers = ", ".join(f"{i.feature} ({i.mean:+.3f})" for i in card.importances[:3]
                        if i.mean > 0)
    return [
        f"model {card.name} version {card.version} written to {output} ({digest})",
        f"  {card.model.replace('-', ' ')} for {_what(card.target, card.horizon_hours)} of "
        f"{card.part_number}, from {card.parts} parts made {card.trained_from:%Y-%m-%d} to "
        f"{card.trained_until:%Y-%m-%d} ({card.positives} failed), "
        f"{plural(len(card.features), 'feature')}",
        f"  {_labels(card.labels)}",
        f"  threshold {card.threshold.value:.3g}: {card.threshold.method}",
        f"  relies most on: {drivers or 'nothing (no feature lowers its fit when shuffled)'}",
        "  how well it predicts later parts: thread predict evaluate with the same options",
    ]


def _scoring_lines(found: Scoring, dry_run: bool) -> list[str]:
    flagged = sorted((p for p in found.parts if p.predicted), key=lambda p: -p.score)
    recorded = ("not recorded (--dry-run)" if dry_run else
                f"recorded on {plural(found.recorded, 'part')}"
                + (f", {found.already_recorded} already on record"
                   if found.already_recorded else ""))
    lines = [
        f"scored {plural(len(found.parts), 'part')} of {found.part_number} with {found.model} "
        f"version {found.model_version}: {found.predicted_failures} predicted to fail "
        f"({_what(found.target, found.horizon_hours)}, score at least "
        f"{found.threshold:.3g}); {recorded}",
    ]
    if flagged:
        lines.append(table(("SERIAL", "SCORE", "RECORDED"),
                           [(p.serial, f"{p.score:.3f}", "yes" if p.recorded else "no")
                            for p in flagged[:SHOWN]]))
        if len(flagged) > SHOWN:
            lines.append(f"... and {len(flagged) - SHOWN} more (--json lists every part)")
    return lines


def _draw(found: Evaluation, folder: Path) -> None:
    from thread.analytics import require

    require("matplotlib")
    from thread.analytics import plots, plots_predict

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Refused(f"--plots {folder}: {error.strerror}") from None
    stem = f"{found.part_number}-{found.target}"
    pictures = {"precision-recall": plots_predict.precision_recall(found),
                "importance": plots_predict.importances(found)}
    for name, figure in pictures.items():
        plots.save(figure, folder / f"{stem}-{name}.png")
    click.echo(f"pictures written to {folder}: {', '.join(sorted(pictures))}", err=True)
