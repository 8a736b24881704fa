"""Predictive quality: learn from the parts already judged which new parts will fail an
inspection, or fail in the field within a number of operating hours, and say honestly
whether the prediction beats knowing the failure rate alone.

- :func:`train` fits scikit-learn's gradient boosting (or a logistic regression) on the
  features of :mod:`thread.analytics.features` and chooses its alarm threshold;
- :func:`evaluate` predicts parts only with models fitted on parts made before them (never a
  random split: a model is used on parts made after it), and sets the model against two
  baselines on the same predicted parts: the base rate (each part scored with the failure
  share of the parts its model learned from) and each machine's failure share;
- :func:`score` scores parts with a saved model and records a ``QualityPredicted`` fact on
  each, once per model version.

:func:`evaluate` uses a rolling origin (an expanding window) by default, because one cut
in time rarely leaves enough failures on both sides when failures come in a burst: the
labelled parts, in production order, are cut into ``folds`` consecutive blocks; each block
from the second is predicted by a model fitted on every part made before it (a block whose
earlier parts hold no failure cannot be, and is listed as such); the predictions of all
predicted blocks are pooled, and every statistic is computed on the pool. ``folds=1`` is the
single split: train on the earlier parts, test on the latest ``test_share``.

Each fold's threshold is chosen on its training parts alone: the one that maximises the
Matthews correlation of out-of-fold predictions of a time-series split inside them.

This module evaluates, and reads the ledger for :func:`train`. The statistics and the
verdict are :mod:`thread.analytics.prediction_stats`'s; the estimators, the model file and
scoring :mod:`thread.analytics.model_file`'s; the features and labels
:mod:`thread.analytics.features`'. Their public names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from thread.analytics.features import (
    REACHED,
    Labels,
    PredictionError,
    Table,
    Target,
    labelled,
    period,
    rolling_origins,
    time_split,
)
from thread.analytics.model_file import (
    FORMAT,
    MODELS,
    SOURCE,
    ModelCard,
    ModelKind,
    ScoredPart,
    Scoring,
    TrainedModel,
    fit_model,
    load_model,
    model_fitter,
    one_thread,
    save_model,
    score,
)
from thread.analytics.prediction_stats import (
    ALPHA,
    CALIBRATION_BINS,
    CONFIDENCE,
    FOLDS,
    MIN_POSITIVES,
    PERMUTATIONS,
    REPEATS,
    RESAMPLES,
    CalibrationBin,
    Chance,
    Confusion,
    CurvePoint,
    Difference,
    Fitter,
    Importance,
    Performance,
    Scorer,
    Threshold,
    Verdict,
    average_precisions,
    both_classes,
    calibration,
    chance,
    choose_threshold,
    compare,
    curve,
    failures,
    importances,
    performance,
    verdict,
)
from thread.read.result import Model

if TYPE_CHECKING:
    from thread.ledger import Ledger

__all__ = [
    "ALPHA", "BLOCKS", "CALIBRATION_BINS", "CONFIDENCE", "FOLDS", "FORMAT", "MIN_POSITIVES",
    "MODELS", "PERMUTATIONS", "REACHED", "REPEATS", "RESAMPLES", "SOURCE", "TEST_SHARE",
    "CalibrationBin", "Chance", "Confusion", "CurvePoint", "Difference", "Evaluation",
    "Fitter", "Fold", "Importance", "Method", "ModelCard", "ModelKind", "Performance",
    "ScoredPart", "Scorer", "Scoring", "Side", "Split", "Threshold", "TrainedModel",
    "Verdict", "average_precisions", "chance", "choose_threshold", "compare", "evaluate",
    "evaluate_table", "fit_model", "labelled", "load_model", "save_model", "score", "train",
    "verdict",
]

Method = Literal["rolling-origin", "single-split"]
#: The blocks a rolling-origin evaluation cuts the parts into, unless told.
BLOCKS = 5
#: The single split's test share, unless told.
TEST_SHARE = 0.3


class Side(Model):
    """Parts on one side of a time-ordered cut."""

    parts: int
    positives: int
    first_made: datetime | None
    last_made: datetime | None

    @property
    def made(self) -> str:
        """``made 2026-03-02 to 2026-03-16`` (``none made``: no part)."""
        if self.first_made is None or self.last_made is None:
            return "none made"
        return f"made {self.first_made:%Y-%m-%d} to {self.last_made:%Y-%m-%d}"


class Fold(Model):
    """One origin: a model fitted on the parts made before a block, predicting the block."""

    number: int
    training: Side
    test: Side
    #: The model's threshold, chosen on the training parts; None: the block was not
    #: predicted, and ``skipped`` says why.
    threshold: Threshold | None
    #: The machine-only baseline's threshold, chosen the same way.
    machine_threshold: float | None
    skipped: str | None = None


class Split(Model):
    """Which time-ordered evaluation was used, and its folds."""

    method: Method
    #: rolling-origin: the blocks the parts were cut into (the first only trains; fewer than
    #: asked where parts made at one moment span a block).
    blocks: int | None
    #: single-split: the share of the parts, the latest made, that were tested on.
    test_share: float | None
    folds: tuple[Fold, ...]
    description: str


class Evaluation(Model):
    """Models fitted on earlier parts, predicting later ones, against the baselines."""

    part_number: str
    target: Target
    horizon_hours: float | None
    model: ModelKind
    seed: int
    labels: Labels
    features: tuple[str, ...]
    split: Split
    #: The parts the models learned from: the last predicted fold's training parts, which
    #: hold every other fold's.
    training: Side
    #: The predicted parts of every fold, pooled: what the statistics are computed on.
    test: Side
    performance: Performance
    #: The base rate first, then each machine's failure share.
    baselines: tuple[Performance, ...]
    differences: tuple[Difference, ...]
    chance: Chance
    pr_curve: tuple[CurvePoint, ...]
    calibration: tuple[CalibrationBin, ...]
    #: On the predicted parts, largest drop first: what drives predictions on parts the
    #: models never saw.
    importances: tuple[Importance, ...]
    #: How ``importances`` were measured.
    importances_on: str
    #: The last fold's model on its training parts: what it relies on (not evidence that it
    #: generalises).
    training_importances: tuple[Importance, ...]
    verdict: Verdict
    reason: str


# -- evaluate ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Predicted:
    """A predicted fold: its training and predicted parts (indexes into the table), its
    model's scorer, and the scores and flags of the model and the baselines."""

    training: NDArray[np.intp]
    rows: NDArray[np.intp]
    scorer: Scorer
    scores: NDArray[np.float64]
    flagged: NDArray[np.bool_]
    base: NDArray[np.float64]
    machine_scores: NDArray[np.float64]
    machine_flagged: NDArray[np.bool_]


def _machine_fitter(machines: NDArray[np.intp]) -> Fitter:
    """Each part scored with the training failure share of parts run on the same machines
    (the base rate for a combination training never saw)."""
    def fit(values: NDArray[np.float64], y: NDArray[np.bool_]) -> Scorer:
        base = float(y.mean())
        groups: dict[bytes, list[bool]] = {}
        for row, label in zip(values[:, machines], y, strict=True):
            groups.setdefault(row.tobytes(), []).append(bool(label))
        share = {key: sum(found) / len(found) for key, found in groups.items()}
        return lambda rows: np.array([share.get(row.tobytes(), base)
                                      for row in rows[:, machines]], dtype=np.float64)
    return fit


def out_of_fold(fit: Fitter, by_machine: Fitter, table: Table, y: NDArray[np.bool_],
                origins: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]], what: str
                ) -> tuple[tuple[Fold, ...], tuple[Predicted, ...]]:
    """Each origin's block predicted by the model ``fit`` fits on the origin's training rows
    alone (and by the baselines, likewise); a block whose training rows lack failed or sound
    parts is listed, not predicted."""
    folds: list[Fold] = []
    predicted: list[Predicted] = []
    for number, (earlier, block) in enumerate(origins, start=1):
        train, test = table.take(earlier), table.take(block)
        y_train = y[earlier]
        fold = Fold(number=number, training=_side(train, y_train),
                    test=_side(test, y[block]), threshold=None, machine_threshold=None)
        if not both_classes(y_train):
            some = "none" if not y_train.any() else "every one"
            folds.append(fold.model_copy(update={"skipped": (
                f"not predicted: {some} of its {len(y_train)} training parts had {what}; a "
                f"model needs failed and sound parts to learn from")}))
            continue
        threshold = choose_threshold(fit, train.values, y_train, train.produced_ns)
        machine_threshold = choose_threshold(by_machine, train.values, y_train,
                                             train.produced_ns)
        scorer = fit(train.values, y_train)
        scores = scorer(test.values)
        machine_scores = by_machine(train.values, y_train)(test.values)
        folds.append(fold.model_copy(update={"threshold": threshold,
                                             "machine_threshold": machine_threshold.value}))
        predicted.append(Predicted(
            training=earlier, rows=block, scorer=scorer, scores=scores,
            flagged=scores >= threshold.value,
            base=np.full(len(block), float(y_train.mean())), machine_scores=machine_scores,
            machine_flagged=machine_scores >= machine_threshold.value))
    return tuple(folds), tuple(predicted)


def evaluate_table(table: Table, y: NDArray[np.bool_], labels: Labels, *, part_number: str,
                   model: ModelKind = "gradient-boosting", folds: int = BLOCKS,
                   test_share: float | None = None, seed: int = 0) -> Evaluation:
    """:func:`evaluate` on a labelled feature table (rows of any order)."""
    if folds < 1:
        raise PredictionError(f"{folds} folds: expected 1 (a single split) or more (a rolling "
                              f"origin of that many blocks)")
    if folds > 1 and test_share is not None:
        raise PredictionError(f"a test share applies to a single split (1 fold), not to a "
                              f"rolling origin of {folds} blocks; give one or the other")
    with one_thread():
        return _evaluation(table, y, labels, part_number, model, folds,
                           TEST_SHARE if test_share is None else test_share, seed)


def _evaluation(table: Table, y: NDArray[np.bool_], labels: Labels, part_number: str,
                model: ModelKind, blocks: int, test_share: float, seed: int) -> Evaluation:
    rolling = blocks > 1
    origins = (rolling_origins(table.produced_ns, blocks) if rolling
               else (time_split(table.produced_ns, test_share),))
    what = labels.what
    folds, predicted = out_of_fold(model_fitter(model, seed),
                                   _machine_fitter(table.machine_columns()), table, y,
                                   origins, what)
    split = _split(folds, len(y), None if rolling else test_share)
    if not predicted:
        raise _nothing_to_learn(split, what)
    rows = np.concatenate([fold.rows for fold in predicted])
    y_test, test = y[rows], table.take(rows)
    if not y_test.any():
        advice = "more --folds" if rolling else "a larger --test-share"
        raise PredictionError(
            f"none of the {len(y_test)} {'predicted' if rolling else 'test'} parts "
            f"({_side(test, y_test).made}) had {what}: a PR-AUC needs at least one; use "
            f"{advice} or a longer history")
    scores = np.concatenate([fold.scores for fold in predicted])
    base = np.concatenate([fold.base for fold in predicted])
    machine = np.concatenate([fold.machine_scores for fold in predicted])
    last = predicted[-1].training
    training = table.take(last)
    differences = (compare(y_test, scores, base, name="base rate", seed=seed),
                   compare(y_test, scores, machine, name="machine only", seed=seed))
    by_chance = chance(y_test, scores, seed=seed)
    learned_in, tested_in = (_guarded(split, len(last), len(y_test)) if rolling
                             else ("the training parts", "the test parts"))
    said, reason = verdict(differences[0], by_chance, learned=int(y[last].sum()),
                           tested=int(y_test.sum()), learned_in=learned_in,
                           tested_in=tested_in)
    blocked = [(fold.scorer, table.values[fold.rows]) for fold in predicted]
    return Evaluation(
        part_number=part_number, target=labels.target, horizon_hours=labels.horizon_hours,
        model=model, seed=seed, labels=labels, features=table.names, split=split,
        training=_side(training, y[last]), test=_side(test, y_test),
        performance=performance("model", y_test, scores,
                                np.concatenate([fold.flagged for fold in predicted])),
        baselines=(performance("base rate", y_test, base, np.zeros(len(y_test), bool)),
                   performance("machine only", y_test, machine,
                               np.concatenate([fold.machine_flagged for fold in predicted]))),
        differences=differences, chance=by_chance, pr_curve=curve(y_test, scores),
        calibration=calibration(y_test, scores),
        importances=importances(blocked, y_test, table.names, seed=seed),
        importances_on=(
            f"the {len(y_test)} predicted parts: each feature shuffled within each block, the "
            f"block scored by its fold's model, the drop in pooled PR-AUC over {REPEATS} "
            f"shuffles" if rolling else f"the {len(y_test)} test parts: the drop in PR-AUC "
            f"when the feature is shuffled, over {REPEATS} shuffles"),
        training_importances=importances([(predicted[-1].scorer, training.values)], y[last],
                                         table.names, seed=seed),
        verdict=said, reason=reason)


def _split(folds: tuple[Fold, ...], parts: int, test_share: float | None) -> Split:
    """The split's description; ``test_share`` None: a rolling origin."""
    if test_share is not None:
        return Split(method="single-split", blocks=None, test_share=test_share, folds=folds,
                     description=(f"single split: trained on the {folds[0].training.parts} "
                                  f"earliest labelled parts, tested on the "
                                  f"{folds[0].test.parts} latest ({test_share:.0%})"))
    skipped = sum(fold.skipped is not None for fold in folds)
    return Split(method="rolling-origin", blocks=len(folds) + 1, test_share=None, folds=folds,
                 description=(
                     f"rolling origin: the {parts} labelled parts cut by production time into "
                     f"{len(folds) + 1} blocks; each block from the second predicted by a model "
                     f"fitted on every part made before it (never on a later one), with a "
                     f"threshold chosen on those parts alone; the predictions of "
                     f"{len(folds) - skipped} folds pooled"
                     + (f" ({skipped} not predicted: no failure to learn from before them)"
                        if skipped else "")))


def _guarded(split: Split, learned_from: int, tested: int) -> tuple[str, str]:
    """The parts a rolling origin's verdict counts failures in: learned from, predicted."""
    last = [fold for fold in split.folds if fold.skipped is None][-1]
    return (f"the {learned_from} parts the models learned from (fold {last.number}'s training "
            f"parts, {last.training.made}, which hold every other fold's)",
            f"the {tested} predicted parts (pooled over the folds)")


def _nothing_to_learn(split: Split, what: str) -> PredictionError:
    if split.method == "single-split":
        training = split.folds[0].training
        return PredictionError(
            f"{failures(training.positives)} among the {training.parts} training parts "
            f"({training.made}) with {what}: nothing to learn from; use a smaller "
            f"--test-share or a longer history")
    last = split.folds[-1].training
    return PredictionError(
        f"no block could be predicted: the parts made before the last one ({last.parts}, "
        f"{last.made}) hold {failures(last.positives)} with {what}, and a model needs failed "
        f"and sound parts to learn from; use fewer --folds or a longer history")


def _side(table: Table, y: NDArray[np.bool_]) -> Side:
    made = period(table)
    return Side(parts=len(y), positives=int(y.sum()), first_made=made[0] if made else None,
                last_made=made[1] if made else None)


def evaluate(ledger: Ledger, *, part_number: str, target: Target,
             horizon_hours: float | None = None, folds: int = BLOCKS,
             test_share: float | None = None, seed: int = 0,
             model: ModelKind = "gradient-boosting") -> Evaluation:
    """Predict the later parts of ``part_number`` with models fitted on earlier ones (a
    rolling origin of ``folds`` blocks, or with ``folds=1`` a single split testing on the
    latest ``test_share``), against the baselines; see the module's description."""
    units, now = ledger.unit_records(part_number=part_number)
    outcomes = ledger.outcomes(part_number=part_number)
    table, y, labels = labelled(units, outcomes, now, target, horizon_hours)
    return evaluate_table(table, y, labels, part_number=part_number, model=model,
                          folds=folds, test_share=test_share, seed=seed)


# -- train -------------------------------------------------------------------------------------

def train(ledger: Ledger, *, part_number: str, target: Target,
          horizon_hours: float | None = None, until: datetime | None = None,
          model: ModelKind = "gradient-boosting", seed: int = 0,
          name: str | None = None) -> TrainedModel:
    """Fit a model on every labelled part of ``part_number`` made before ``until``."""
    units, now = ledger.unit_records(part_number=part_number, until=until)
    outcomes = ledger.outcomes(part_number=part_number, until=until)
    table, y, labels = labelled(units, outcomes, now, target, horizon_hours)
    return fit_model(table, y, labels, part_number=part_number, model=model, seed=seed,
                     name=name)
