"""Predictive quality: learn from the parts already judged which new parts will fail an
inspection, or fail in the field within a number of operating hours, and say honestly
whether the prediction beats knowing the failure rate alone.

- :func:`train` fits scikit-learn's gradient boosting (or a logistic regression) on the
  features of :mod:`thread.analytics.features` and chooses its alarm threshold;
- :func:`evaluate` trains on the parts made earlier and tests on the later ones (a
  time-ordered split, never a random one: a model is used on parts made after it), and
  sets the model against two baselines on the same test parts: the base rate (every part
  scored with the training failure share, whose PR-AUC is the test's positive share) and
  each machine's failure share;
- :func:`score` scores parts with a saved model and records a ``QualityPredicted`` fact on
  each, once per model version.

The threshold is chosen on the training parts alone: the one that maximises the
Matthews correlation of out-of-fold predictions of a time-series split inside them
(each fold predicted by a model fitted on the parts made before it).

The verdict is *better than the baseline* only when all of these hold, else *predicts no
better than the baseline*, with the reason:

- the training parts hold at least ``MIN_POSITIVES`` failures to learn from, and the test
  parts as many to judge by;
- a stratified bootstrap interval over the test parts (seeded) of the PR-AUC difference
  between the model and the base rate lies above 0;
- the model's PR-AUC is rarely reached when the failures are shuffled among the test parts
  (a one-sided permutation test at ``ALPHA``). With few failures, a ranking that knows
  nothing reaches a PR-AUC well above the positive share, so the interval alone would
  call a model better on plants without a cause.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from thread.analytics import require

try:
    import sklearn  # type: ignore[import-untyped]
    from sklearn.calibration import calibration_curve  # type: ignore[import-untyped]
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
    from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
    from sklearn.inspection import permutation_importance  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.metrics import (  # type: ignore[import-untyped]
        average_precision_score,
        brier_score_loss,
        confusion_matrix,
        matthews_corrcoef,
        precision_recall_curve,
    )
    from sklearn.model_selection import TimeSeriesSplit  # type: ignore[import-untyped]
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("sklearn", "numpy", "scipy")
    raise

from thread.analytics.features import (
    Labels,
    PredictionError,
    Table,
    Target,
    feature_table,
    field_labels,
    inputs_digest,
    inspection_labels,
    period,
    time_split,
)
from thread.analytics.patterns import service_lives
from thread.domain import facts as f
from thread.read.result import Model

if TYPE_CHECKING:
    from thread.domain.service_life import UnitRecord
    from thread.domain.signature import Signer
    from thread.ledger import Ledger
    from thread.read.outcomes import Outcome

ModelKind = Literal["gradient-boosting", "logistic-regression"]
MODELS: tuple[ModelKind, ...] = ("gradient-boosting", "logistic-regression")
Verdict = Literal["better than the baseline", "predicts no better than the baseline"]
#: Source every prediction fact names; its record id makes re-scoring write nothing twice.
SOURCE = "prediction"
#: The first line of a model file.
FORMAT: Literal["thread-model/1"] = "thread-model/1"
#: Folds of the time-series split inside the training parts that choose the threshold.
FOLDS = 5
#: Fewer failures than this in the training parts teach a model nothing it can be trusted
#: with, and in the test parts cannot tell it from the base rate.
MIN_POSITIVES = 5
RESAMPLES = 1000
PERMUTATIONS = 2000
#: The permutation test's level.
ALPHA = 0.05
CONFIDENCE = 0.95
REPEATS = 10
CALIBRATION_BINS = 10
#: The share of parts in service whose hours the suggested horizon is.
REACHED = 0.8

Scorer = Callable[[NDArray[np.float64]], NDArray[np.float64]]
Fitter = Callable[[NDArray[np.float64], NDArray[np.bool_]], Scorer]


class Threshold(Model):
    """The score from which a part is predicted to fail, and how it was chosen."""

    value: float
    method: str
    out_of_fold: int
    out_of_fold_positives: int
    #: The Matthews correlation of the out-of-fold predictions at this threshold.
    mcc: float | None


class Confusion(Model):
    """Predicted against actual, at a threshold."""

    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int


class Performance(Model):
    """How well one scorer did on the test parts."""

    name: str
    average_precision: float
    brier: float
    mcc: float
    #: None: the scorer predicts no part fails.
    threshold: float | None
    confusion: Confusion


class Difference(Model):
    """The model's PR-AUC minus a baseline's on the test parts, with a bootstrap interval."""

    baseline: str
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int


class Chance(Model):
    """What the model's scores reach with the failures shuffled among the test parts."""

    #: The mean PR-AUC of the shuffles: what a ranking that knows nothing reaches here.
    average_precision: float
    #: The share of shuffles that reach the model's PR-AUC.
    p_value: float
    permutations: int


class CurvePoint(Model):
    """A point of the model's precision-recall curve on the test parts."""

    recall: float
    precision: float
    threshold: float | None


class CalibrationBin(Model):
    """Parts whose scores fell in one bin: their mean score and the share that failed."""

    predicted: float
    observed: float
    parts: int


class Importance(Model):
    """How much the test PR-AUC drops when one feature's values are shuffled."""

    feature: str
    mean: float
    sd: float


class Side(Model):
    """One side of the time-ordered split."""

    parts: int
    positives: int
    first_made: datetime | None
    last_made: datetime | None


class Evaluation(Model):
    """A model trained on earlier parts, tested on later ones against the baselines."""

    part_number: str
    target: Target
    horizon_hours: float | None
    model: ModelKind
    seed: int
    test_share: float
    labels: Labels
    features: tuple[str, ...]
    training: Side
    test: Side
    threshold: Threshold
    performance: Performance
    #: The base rate first, then each machine's failure share.
    baselines: tuple[Performance, ...]
    differences: tuple[Difference, ...]
    chance: Chance
    pr_curve: tuple[CurvePoint, ...]
    calibration: tuple[CalibrationBin, ...]
    #: On the test parts, largest drop first: what drives predictions on parts the model
    #: never saw.
    importances: tuple[Importance, ...]
    #: On the training parts: what the model relies on (not evidence that it generalises).
    training_importances: tuple[Importance, ...]
    verdict: Verdict
    reason: str


class ModelCard(Model):
    """What a saved model is: its target, features, threshold and what it was trained on."""

    format: Literal["thread-model/1"] = FORMAT
    name: str
    version: str
    part_number: str
    target: Target
    horizon_hours: float | None
    model: ModelKind
    seed: int
    features: tuple[str, ...]
    threshold: Threshold
    labels: Labels
    #: On the training parts, largest drop first: what the model relies on.
    importances: tuple[Importance, ...]
    trained_from: datetime
    trained_until: datetime
    parts: int
    positives: int
    sklearn: str


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with its card, as :func:`save_model` writes it."""

    card: ModelCard
    estimator: Any
    #: The pickled estimator, as saved: the file's bytes follow from it and the card.
    payload: bytes

    def scores(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each row's probability of the failure the model predicts."""
        return _probabilities(self.estimator, values)

    def to_bytes(self) -> bytes:
        """The model file: the format line, the card and the payload's digest as one JSON
        line, then the payload."""
        header = {"card": self.card.model_dump(mode="json"), "payload": _digest(self.payload)}
        return (f"{FORMAT}\n{json.dumps(header, sort_keys=True, separators=(',', ':'))}\n"
                .encode() + self.payload)

    @property
    def digest(self) -> str:
        """``sha256:`` of the model file's bytes."""
        return _digest(self.to_bytes())


class ScoredPart(Model):
    """One part's score and whether this run recorded it."""

    serial: str
    score: float
    predicted: bool
    inputs_digest: str
    recorded: bool


class Scoring(Model):
    """Parts scored with a saved model, and the prediction facts recorded."""

    part_number: str
    target: Target
    horizon_hours: float | None
    model: str
    model_version: str
    model_digest: str
    threshold: float
    parts: tuple[ScoredPart, ...]
    predicted_failures: int
    recorded: int
    already_recorded: int


# -- the pieces ---------------------------------------------------------------------------

def _estimator(kind: ModelKind, seed: int) -> Any:
    if kind == "gradient-boosting":
        # A few hundred parts and a handful of failures: trees of depth 2, leaves of at
        # least 30 parts, a slow rate, and no early stopping (a held-out tenth holds no
        # failure to stop on). Deeper trees and smaller leaves fit the noise of the few
        # failures: on plants without a cause they were called better than the baseline.
        return HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=100, max_depth=2, min_samples_leaf=30,
            l2_regularization=1.0, early_stopping=False, random_state=seed)
    if kind == "logistic-regression":
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
    raise PredictionError(f"model {kind!r}: expected one of {', '.join(MODELS)}")


def _probabilities(estimator: Any, values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(estimator.predict_proba(values)[:, 1], dtype=np.float64)


def _fitted(kind: ModelKind, seed: int, values: NDArray[np.float64],
            y: NDArray[np.bool_]) -> Any:
    estimator = _estimator(kind, seed)
    estimator.fit(values, y)
    return estimator


def _model_fitter(kind: ModelKind, seed: int) -> Fitter:
    def fit(values: NDArray[np.float64], y: NDArray[np.bool_]) -> Scorer:
        estimator = _fitted(kind, seed, values, y)
        return lambda rows: _probabilities(estimator, rows)
    return fit


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


def _both_classes(y: NDArray[np.bool_]) -> bool:
    return bool(y.any()) and not bool(y.all())


def choose_threshold(fit: Fitter, values: NDArray[np.float64], y: NDArray[np.bool_]
                     ) -> Threshold:
    """The threshold that maximises the Matthews correlation of out-of-fold predictions
    over a time-series split of ``values`` (rows in production order)."""
    scores: list[NDArray[np.float64]] = []
    actual: list[NDArray[np.bool_]] = []
    if len(y) > FOLDS:
        for fold, held in TimeSeriesSplit(n_splits=FOLDS).split(values):
            if _both_classes(y[fold]):
                scores.append(fit(values[fold], y[fold])(values[held]))
                actual.append(y[held])
    predicted = np.concatenate(scores) if scores else np.array([], dtype=np.float64)
    truth = np.concatenate(actual) if actual else np.array([], dtype=bool)
    if not _both_classes(truth):
        return Threshold(
            value=float(y.mean()), method=(
                f"the training failure share: the {FOLDS}-fold time-series split of the "
                f"training parts held {_failures(int(truth.sum()))} out of fold, too few to "
                f"choose from"),
            out_of_fold=len(truth), out_of_fold_positives=int(truth.sum()), mcc=None)
    best, best_mcc = 0.0, -2.0
    for candidate in np.unique(predicted)[::-1]:  # ties keep the higher, fewer false alarms
        mcc = _mcc(truth, predicted >= candidate)
        if mcc > best_mcc:
            best, best_mcc = float(candidate), mcc
    return Threshold(
        value=best, method=(f"maximises the Matthews correlation of out-of-fold predictions "
                            f"of a {FOLDS}-fold time-series split of the training parts (each "
                            f"fold scored by a model fitted on the parts made before it)"),
        out_of_fold=len(truth), out_of_fold_positives=int(truth.sum()), mcc=best_mcc)


def _mcc(y: NDArray[np.bool_], predicted: NDArray[np.bool_]) -> float:
    with warnings.catch_warnings():  # one predicted class: 0, which is what it means here
        warnings.simplefilter("ignore")
        return float(matthews_corrcoef(y, predicted))


def _performance(name: str, y: NDArray[np.bool_], scores: NDArray[np.float64],
                 threshold: float | None) -> Performance:
    predicted = (scores >= threshold) if threshold is not None else np.zeros(len(y), bool)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[False, True]).ravel()
    return Performance(
        name=name, average_precision=float(average_precision_score(y, scores)),
        brier=float(brier_score_loss(y, scores, labels=[False, True])),
        mcc=_mcc(y, predicted), threshold=threshold,
        confusion=Confusion(true_positives=int(tp), false_positives=int(fp),
                            false_negatives=int(fn), true_negatives=int(tn)))


def compare(y: NDArray[np.bool_], model: NDArray[np.float64], baseline: NDArray[np.float64],
            *, name: str, seed: int, resamples: int = RESAMPLES,
            confidence: float = CONFIDENCE) -> Difference:
    """The PR-AUC of ``model`` minus that of ``baseline``, with a stratified bootstrap
    interval over the parts (each resample keeps the numbers of failed and sound parts)."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((resamples, len(y)))
    for members in (np.flatnonzero(y), np.flatnonzero(~y)):
        weights[:, members] = rng.multinomial(
            len(members), np.full(len(members), 1 / len(members)), size=resamples)
    found = (average_precisions(y, model, weights) - average_precisions(y, baseline, weights))
    low, high = np.quantile(found, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Difference(baseline=name, difference=float(average_precision_score(y, model)
                                                      - average_precision_score(y, baseline)),
                      low=float(low), high=float(high), confidence=confidence,
                      resamples=resamples)


def chance(y: NDArray[np.bool_], scores: NDArray[np.float64], *, seed: int,
           permutations: int = PERMUTATIONS) -> Chance:
    """The PR-AUCs ``scores`` reach when the failures are shuffled among the parts, against
    the one they reach: a one-sided permutation test of the ranking."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(y, (permutations, 1)), axis=1)
    found = average_precisions(shuffled, scores)
    reached = float(average_precision_score(y, scores))
    return Chance(average_precision=float(found.mean()),
                  p_value=float((1 + (found >= reached - 1e-12).sum()) / (1 + permutations)),
                  permutations=permutations)


def average_precisions(labels: NDArray[np.bool_], scores: NDArray[np.float64],
                       weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """``average_precision_score(labels[i], scores, sample_weight=weights[i])`` for each row
    ``i`` at once (a single ``labels`` or ``weights`` row serves every row): a bootstrap
    resample is a weighting of the parts, a permutation a shuffle of the labels, so a
    thousand of them share one sort."""
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    # the last part of each run of equal scores: where the curve takes a step
    ends = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    rows = max(np.atleast_2d(labels).shape[0],
               1 if weights is None else np.atleast_2d(weights).shape[0])
    y = np.broadcast_to(np.atleast_2d(labels)[:, order], (rows, len(order))).astype(float)
    w = (np.ones_like(y) if weights is None
         else np.broadcast_to(np.atleast_2d(weights)[:, order], y.shape))
    tp = np.cumsum(w * y, axis=1)[:, ends]
    seen = np.cumsum(w, axis=1)[:, ends]
    precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
    recall = tp / tp[:, -1:]
    steps = np.diff(np.c_[np.zeros(rows), recall], axis=1)
    return np.asarray((steps * precision).sum(axis=1), dtype=np.float64)


def verdict(difference: Difference, by_chance: Chance, *, learned: int, tested: int,
            alpha: float = ALPHA) -> tuple[Verdict, str]:
    """Better than the baseline only with enough failures to learn from and to test on, a
    bootstrap interval of the difference above 0, and a ranking chance rarely matches."""
    if learned < MIN_POSITIVES:
        return ("predicts no better than the baseline",
                f"the training parts hold {_failures(learned)}; a model needs at least "
                f"{MIN_POSITIVES} to learn from (a smaller --test-share or a longer history "
                f"gives more)")
    if tested < MIN_POSITIVES:
        return ("predicts no better than the baseline",
                f"the test parts hold {_failures(tested)}; at least {MIN_POSITIVES} are needed "
                f"to tell a model from the base rate (a larger --test-share or a longer "
                f"history gives more)")
    interval = (f"the {difference.confidence:.0%} bootstrap interval of the PR-AUC difference "
                f"is {difference.low:+.3f} to {difference.high:+.3f}")
    shuffled = (f"the same scores with the failures shuffled among the test parts reach "
                f"{by_chance.average_precision:.3f} on average, and the model's PR-AUC in "
                f"p = {by_chance.p_value:.2g} of {by_chance.permutations} shuffles")
    if difference.low <= 0:
        return "predicts no better than the baseline", f"{interval}, which includes 0"
    if by_chance.p_value >= alpha:
        return ("predicts no better than the baseline",
                f"{interval}, but {shuffled}: a ranking that knows nothing does as well "
                f"(with few failures, PR-AUC by chance lies above the positive share)")
    return "better than the baseline", f"{interval}, above 0; {shuffled}"


def _failures(count: int) -> str:
    return f"{count} failure" if count == 1 else f"{count} failures"


def _calibration(y: NDArray[np.bool_], scores: NDArray[np.float64]
                 ) -> tuple[CalibrationBin, ...]:
    observed, predicted = calibration_curve(y, scores, n_bins=CALIBRATION_BINS)
    # the parts per non-empty bin, binned as calibration_curve bins them
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=CALIBRATION_BINS)
    return tuple(CalibrationBin(predicted=float(p), observed=float(o), parts=int(n))
                 for p, o, n in zip(predicted, observed, counts[counts > 0], strict=True))


def _curve(y: NDArray[np.bool_], scores: NDArray[np.float64]) -> tuple[CurvePoint, ...]:
    precision, recall, thresholds = precision_recall_curve(y, scores)
    return tuple(CurvePoint(recall=float(r), precision=float(p),
                            threshold=float(thresholds[i]) if i < len(thresholds) else None)
                 for i, (p, r) in enumerate(zip(precision, recall, strict=True)))


def _importances(estimator: Any, table: Table, y: NDArray[np.bool_], seed: int
                 ) -> tuple[Importance, ...]:
    found = permutation_importance(estimator, table.values, y, scoring="average_precision",
                                   n_repeats=REPEATS, random_state=seed)
    ranked = sorted(zip(table.names, found.importances_mean, found.importances_std,
                        strict=True), key=lambda item: (-item[1], item[0]))
    return tuple(Importance(feature=name, mean=float(mean), sd=float(sd))
                 for name, mean, sd in ranked)


def _side(table: Table, y: NDArray[np.bool_]) -> Side:
    made = period(table)
    return Side(parts=len(y), positives=int(y.sum()), first_made=made[0] if made else None,
                last_made=made[1] if made else None)


# -- evaluate, train, score -----------------------------------------------------------------

def _one_thread() -> Any:
    """OpenMP at one thread: on a few hundred parts, gradient boosting's threads cost more
    than they save (ten times more on two cores)."""
    return threadpool_limits(limits=1, user_api="openmp")


def evaluate_table(table: Table, y: NDArray[np.bool_], labels: Labels, *, part_number: str,
                   model: ModelKind = "gradient-boosting", test_share: float = 0.3,
                   seed: int = 0) -> Evaluation:
    """:func:`evaluate` on a labelled feature table (rows of any order)."""
    with _one_thread():
        return _evaluation(table, y, labels, part_number, model, test_share, seed)


def _evaluation(table: Table, y: NDArray[np.bool_], labels: Labels, part_number: str,
                model: ModelKind, test_share: float, seed: int) -> Evaluation:
    earlier, later = time_split(table.produced_ns, test_share)
    train, test = table.take(earlier), table.take(later)
    y_train, y_test = y[earlier], y[later]
    what = _what(labels)
    if not y_train.any():
        raise PredictionError(
            f"none of the {len(y_train)} training parts ({_made(train)}) had {what}: nothing "
            f"to learn from; use a smaller --test-share or a longer history")
    if not y_test.any():
        raise PredictionError(
            f"none of the {len(y_test)} test parts ({_made(test)}) had {what}: a PR-AUC needs "
            f"at least one; use a larger --test-share")
    fit = _model_fitter(model, seed)
    threshold = choose_threshold(fit, train.values, y_train)
    estimator = _fitted(model, seed, train.values, y_train)
    scores = _probabilities(estimator, test.values)
    base = np.full(len(y_test), float(y_train.mean()))
    machines = table.machine_columns()
    by_machine = _machine_fitter(machines)
    machine_scores = by_machine(train.values, y_train)(test.values)
    machine_threshold = choose_threshold(by_machine, train.values, y_train)
    differences = (compare(y_test, scores, base, name="base rate", seed=seed),
                   compare(y_test, scores, machine_scores, name="machine only", seed=seed))
    by_chance = chance(y_test, scores, seed=seed)
    said, reason = verdict(differences[0], by_chance, learned=int(y_train.sum()),
                           tested=int(y_test.sum()))
    return Evaluation(
        part_number=part_number, target=labels.target, horizon_hours=labels.horizon_hours,
        model=model, seed=seed, test_share=test_share, labels=labels, features=table.names,
        training=_side(train, y_train), test=_side(test, y_test), threshold=threshold,
        performance=_performance("model", y_test, scores, threshold.value),
        baselines=(_performance("base rate", y_test, base, None),
                   _performance("machine only", y_test, machine_scores,
                                machine_threshold.value)),
        differences=differences, chance=by_chance, pr_curve=_curve(y_test, scores),
        calibration=_calibration(y_test, scores),
        importances=_importances(estimator, test, y_test, seed),
        training_importances=_importances(estimator, train, y_train, seed), verdict=said,
        reason=reason)


def _made(table: Table) -> str:
    made = period(table)
    return "none made" if made is None else f"made {made[0]:%Y-%m-%d} to {made[1]:%Y-%m-%d}"


def _what(labels: Labels) -> str:
    if labels.target == "inspection-failure":
        return "a failed inspection"
    return f"a field failure within {labels.horizon_hours:g} operating hours"


def labelled(units: Sequence[UnitRecord], outcomes: Sequence[Outcome], now: datetime,
             target: Target, horizon_hours: float | None
             ) -> tuple[Table, NDArray[np.bool_], Labels]:
    """The feature table of the labelled parts, their labels, and how they were labelled."""
    if target == "field-failure":
        if horizon_hours is None:
            raise PredictionError("a field-failure prediction needs a horizon: within how many "
                                  "operating hours (--horizon HOURS)" + _reached(units, now))
        labels, summary = field_labels(units, now, horizon_hours)
    elif target == "inspection-failure":
        if horizon_hours is not None:
            raise PredictionError("an inspection-failure prediction has no horizon; give "
                                  "--horizon with --target field-failure only")
        labels, summary = inspection_labels(outcomes, now)
    else:
        raise PredictionError(f"target {target!r}: expected inspection-failure or "
                              f"field-failure")
    table = feature_table(units, outcomes)
    rows = np.array([i for i, serial in enumerate(table.serials) if serial in labels],
                    dtype=np.intp)
    chosen = table.take(rows)
    return chosen, np.array([labels[s] for s in chosen.serials], dtype=bool), summary


def _reached(units: Sequence[UnitRecord], now: datetime) -> str:
    """What horizon most parts in service have reached, as advice."""
    hours = [life.hours for _, life in service_lives(units, now)]
    if not hours:
        return f"; no part of these {len(units)} is in service yet"
    return (f"; {REACHED:.0%} of the {len(hours)} parts in service have run "
            f"{float(np.quantile(hours, 1 - REACHED)):,.0f} hours or more")


def evaluate(ledger: Ledger, *, part_number: str, target: Target,
             horizon_hours: float | None = None, test_share: float = 0.3, seed: int = 0,
             model: ModelKind = "gradient-boosting") -> Evaluation:
    """Train on the earlier parts of ``part_number``, test on the later ones, against the
    baselines; see the module's description."""
    units, now = ledger.unit_records(part_number=part_number)
    outcomes = ledger.outcomes(part_number=part_number)
    table, y, labels = labelled(units, outcomes, now, target, horizon_hours)
    return evaluate_table(table, y, labels, part_number=part_number, model=model,
                          test_share=test_share, seed=seed)


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


def fit_model(table: Table, y: NDArray[np.bool_], labels: Labels, *, part_number: str,
              model: ModelKind = "gradient-boosting", seed: int = 0,
              name: str | None = None) -> TrainedModel:
    """:func:`train` on a labelled feature table (rows of any order)."""
    order = np.argsort(table.produced_ns, kind="stable").astype(np.intp)
    table, y = table.take(order), y[order]
    if not _both_classes(y):
        raise PredictionError(f"{len(y)} labelled parts of {part_number}, {int(y.sum())} with "
                              f"{_what(labels)}: a model needs both failed and sound parts")
    with _one_thread():
        threshold = choose_threshold(_model_fitter(model, seed), table.values, y)
        estimator = _fitted(model, seed, table.values, y)
        importances = _importances(estimator, table, y, seed)
    payload = pickle.dumps(estimator, protocol=5)
    made = period(table)
    assert made is not None
    horizon = f"-{labels.horizon_hours:g}h" if labels.horizon_hours is not None else ""
    card = ModelCard(
        name=name or f"{part_number}-{labels.target}{horizon}",
        version=_digest(payload)[7:19], part_number=part_number, target=labels.target,
        horizon_hours=labels.horizon_hours,
        model=model, seed=seed, features=table.names, threshold=threshold, labels=labels,
        importances=importances, trained_from=made[0], trained_until=made[1], parts=len(y),
        positives=int(y.sum()), sklearn=sklearn.__version__)
    return TrainedModel(card, estimator, payload)


def save_model(trained: TrainedModel, path: str | Path) -> str:
    """Write ``trained`` to ``path``; returns the file's ``sha256:`` digest."""
    data = trained.to_bytes()
    Path(path).write_bytes(data)
    return _digest(data)


def load_model(path: str | Path) -> TrainedModel:
    """A model file written by :func:`save_model`, its payload checked against its digest.

    The payload is a pickle: load only model files from people you trust (the digest
    catches a damaged file, not a forged one)."""
    data = Path(path).read_bytes()
    first, _, rest = data.partition(b"\n")
    header, _, payload = rest.partition(b"\n")
    if first != FORMAT.encode():
        raise PredictionError(f"{path} is not a model file (thread predict train -o writes "
                              f"them; expected {FORMAT} on its first line)")
    try:
        found = json.loads(header)
        card = ModelCard.model_validate(found["card"])
    except (ValueError, KeyError, TypeError) as error:
        raise PredictionError(f"model file {path}: its card does not read ({error})") from None
    if found.get("payload") != _digest(payload):
        raise PredictionError(f"model file {path} is damaged: its payload's digest is not the "
                              f"one its card states; train the model again")
    estimator = pickle.loads(payload)  # noqa: S301 - checked against the digest above
    return TrainedModel(card, estimator, payload)


def score(ledger: Ledger, model_file: str | Path, *, serials: Sequence[str] | None = None,
          part_number: str | None = None, record: bool = True,
          signer: Signer | None = None) -> Scoring:
    """Score parts with a saved model (``serials``, or every part of its part number) and,
    with ``record``, record a ``QualityPredicted`` fact on each (signed by ``signer``)."""
    trained = load_model(model_file)
    card = trained.card
    if part_number is not None and part_number != card.part_number:
        raise PredictionError(f"model {card.name} predicts for {card.part_number}, not "
                              f"{part_number}; train one for {part_number}")
    units, _ = ledger.unit_records(part_number=card.part_number)
    if serials is not None:
        wanted = dict.fromkeys(serials)
        units = [unit for unit in units if unit.key in wanted]
        missing = sorted(set(wanted) - {unit.key for unit in units})
        if missing:
            raise PredictionError(f"{', '.join(missing[:5])}: not a {card.part_number} part in "
                                  f"this ledger; model {card.name} scores {card.part_number}")
    outcomes = ledger.outcomes(part_number=card.part_number)
    table = feature_table(units, outcomes, card.features)
    with _one_thread():
        scores = trained.scores(table.values)
    digest = _digest(Path(model_file).read_bytes())
    threshold = card.threshold.value
    inputs = [inputs_digest(table.names, row) for row in table.values]
    written: dict[str, bool] = {}
    if record and units:
        with ledger.batch(actor=signer.signer if signer else None, source=SOURCE) as batch:
            for serial, value, given in zip(table.serials, scores, inputs, strict=True):
                batch.record(f.QualityPredicted(
                    serial=serial, target=card.target, horizon_hours=card.horizon_hours,
                    model=card.name, model_version=card.version, model_digest=digest,
                    inputs_digest=given, score=float(value), threshold=threshold,
                    predicted=bool(value >= threshold)),
                    source_record_id=f"{card.name}/{card.version}/{serial}", sign=signer,
                    meaning="authorship")
        written = {receipt.key: not receipt.duplicate for receipt in batch.receipts}
    parts = tuple(ScoredPart(serial=serial, score=float(value),
                             predicted=bool(value >= threshold), inputs_digest=given,
                             recorded=written.get(serial, False))
                  for serial, value, given in zip(table.serials, scores, inputs, strict=True))
    return Scoring(
        part_number=card.part_number, target=card.target, horizon_hours=card.horizon_hours,
        model=card.name, model_version=card.version, model_digest=digest, threshold=threshold,
        parts=parts, predicted_failures=sum(p.predicted for p in parts),
        recorded=sum(written.values()), already_recorded=len(written) - sum(written.values()))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()

