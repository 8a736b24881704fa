"""The statistics behind a prediction's verdict, on scores already made: the alarm threshold,
PR-AUC, Brier score and Matthews correlation, the bootstrap interval of a PR-AUC difference,
the shuffled-label test, calibration, permutation importance, and the verdict itself.

Nothing here fits a model for good or reads a ledger: a :data:`Fitter` is passed in where
a threshold is chosen from out-of-fold predictions, and a :data:`Scorer` where features are
shuffled.

The verdict is *better than the baseline* only when all of these hold, else *predicts no
better than the baseline*, with the reason:

- the parts the models learned from hold at least ``MIN_POSITIVES`` failures, and the
  predicted parts as many to judge by;
- a stratified bootstrap interval over the predicted parts (seeded) of the PR-AUC difference
  between the model and the base rate lies above 0;
- the model's PR-AUC is rarely reached when the failures are shuffled among the predicted
  parts (a one-sided permutation test at ``ALPHA``). With few failures, a ranking that knows
  nothing reaches a PR-AUC well above the positive share, so the interval alone would call
  a model better on plants without a cause.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from thread.analytics import require

try:
    from sklearn.calibration import calibration_curve  # type: ignore[import-untyped]
    from sklearn.metrics import (  # type: ignore[import-untyped]
        average_precision_score,
        brier_score_loss,
        confusion_matrix,
        matthews_corrcoef,
        precision_recall_curve,
    )
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("sklearn", "numpy", "scipy")
    raise

from thread.analytics.features import rolling_origins
from thread.read.result import Model

Verdict = Literal["better than the baseline", "predicts no better than the baseline"]
#: Folds of the time-series split inside a training part that choose its threshold.
FOLDS = 5
#: Fewer failures than this in the parts the models learned from teach them nothing they can
#: be trusted with, and in the predicted parts cannot tell a model from the base rate.
MIN_POSITIVES = 5
RESAMPLES = 1000
PERMUTATIONS = 2000
#: The permutation test's level.
ALPHA = 0.05
CONFIDENCE = 0.95
#: Shuffles of each feature for its permutation importance.
REPEATS = 10
CALIBRATION_BINS = 10

#: Scores rows of feature values: each row's probability of the failure.
Scorer = Callable[[NDArray[np.float64]], NDArray[np.float64]]
#: Fits a scorer on rows of feature values (in production order) and their labels.
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
    """Predicted against actual, at the thresholds."""

    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int


class Performance(Model):
    """How well one scorer did on the predicted parts (flagged at its thresholds)."""

    name: str
    average_precision: float
    brier: float
    mcc: float
    confusion: Confusion


class Difference(Model):
    """The model's PR-AUC minus a baseline's on the predicted parts, with a bootstrap
    interval."""

    baseline: str
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int


class Chance(Model):
    """What the model's scores reach with the failures shuffled among the predicted parts."""

    #: The mean PR-AUC of the shuffles: what a ranking that knows nothing reaches here.
    average_precision: float
    #: The share of shuffles that reach the model's PR-AUC.
    p_value: float
    permutations: int


class CurvePoint(Model):
    """A point of the model's precision-recall curve on the predicted parts."""

    recall: float
    precision: float
    threshold: float | None


class CalibrationBin(Model):
    """Parts whose scores fell in one bin: their mean score and the share that failed."""

    predicted: float
    observed: float
    parts: int


class Importance(Model):
    """How much the PR-AUC drops when one feature's values are shuffled."""

    feature: str
    mean: float
    sd: float


def both_classes(y: NDArray[np.bool_]) -> bool:
    """Whether ``y`` holds failed and sound parts both (a classifier needs both)."""
    return bool(y.any()) and not bool(y.all())


def failures(count: int) -> str:
    """``1 failure``, ``2 failures``."""
    return f"{count} failure" if count == 1 else f"{count} failures"


def choose_threshold(fit: Fitter, values: NDArray[np.float64], y: NDArray[np.bool_],
                     produced_ns: NDArray[np.int64] | None = None) -> Threshold:
    """The threshold that maximises the Matthews correlation of out-of-fold predictions
    over a time-series split of ``values`` (made at ``produced_ns``; None: the rows are in
    production order, none made at the same moment): the rolling origin of
    :func:`~thread.analytics.features.rolling_origins` in ``FOLDS + 1`` blocks."""
    scores: list[NDArray[np.float64]] = []
    actual: list[NDArray[np.bool_]] = []
    if len(y) > FOLDS:
        made = np.arange(len(y), dtype=np.int64) if produced_ns is None else produced_ns
        for fold, held in rolling_origins(made, FOLDS + 1):
            if both_classes(y[fold]):
                scores.append(fit(values[fold], y[fold])(values[held]))
                actual.append(y[held])
    predicted = np.concatenate(scores) if scores else np.array([], dtype=np.float64)
    truth = np.concatenate(actual) if actual else np.array([], dtype=bool)
    if not both_classes(truth):
        return Threshold(
            value=float(y.mean()), method=(
                f"the training failure share: the {FOLDS}-fold time-series split of the "
                f"training parts held {failures(int(truth.sum()))} out of fold, too few to "
                f"choose from"),
            out_of_fold=len(truth), out_of_fold_positives=int(truth.sum()), mcc=None)
    candidates, mccs = _mcc_at_each_score(truth, predicted)
    chosen = int(np.argmax(mccs))  # the first of equals: the higher one, fewer false alarms
    best, best_mcc = float(candidates[chosen]), float(mccs[chosen])
    return Threshold(
        value=best, method=(f"maximises the Matthews correlation of out-of-fold predictions "
                            f"of a {FOLDS}-fold time-series split of the training parts (each "
                            f"fold scored by a model fitted on the parts made before it)"),
        out_of_fold=len(truth), out_of_fold_positives=int(truth.sum()), mcc=best_mcc)


def _mcc_at_each_score(y: NDArray[np.bool_], scores: NDArray[np.float64]
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each distinct score, highest first, and the Matthews correlation of flagging the parts
    scored at least that (0 where a class is empty, as scikit-learn's): one sort, not one
    confusion matrix per candidate."""
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    ends = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    tp = np.cumsum(y[order], dtype=np.float64)[ends]
    fp = (ends + 1) - tp
    fn = float(y.sum()) - tp
    tn = float(len(y) - y.sum()) - fp
    spread = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = np.divide(tp * tn - fp * fn, spread, out=np.zeros_like(tp), where=spread > 0)
    return ordered[ends], mcc


def _mcc(y: NDArray[np.bool_], predicted: NDArray[np.bool_]) -> float:
    with warnings.catch_warnings():  # one predicted class: 0, which is what it means here
        warnings.simplefilter("ignore")
        return float(matthews_corrcoef(y, predicted))


def performance(name: str, y: NDArray[np.bool_], scores: NDArray[np.float64],
                flagged: NDArray[np.bool_]) -> Performance:
    """PR-AUC and Brier score of ``scores``, and the Matthews correlation and confusion of the
    parts ``flagged`` (each at the threshold of the model that scored it)."""
    tn, fp, fn, tp = confusion_matrix(y, flagged, labels=[False, True]).ravel()
    return Performance(
        name=name, average_precision=float(average_precision_score(y, scores)),
        brier=float(brier_score_loss(y, scores, labels=[False, True])),
        mcc=_mcc(y, flagged),
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
            alpha: float = ALPHA, learned_in: str = "the training parts",
            tested_in: str = "the test parts") -> tuple[Verdict, str]:
    """Better than the baseline only with enough failures to learn from (``learned``, in the
    parts ``learned_in`` names) and to judge by (``tested``, in ``tested_in``), a bootstrap
    interval of the difference above 0, and a ranking chance rarely matches."""
    advice = "a longer history gives more, and so may another --folds or --test-share"
    if learned < MIN_POSITIVES:
        return ("predicts no better than the baseline",
                f"{learned_in} hold {failures(learned)}; a model needs at least "
                f"{MIN_POSITIVES} to learn from ({advice})")
    if tested < MIN_POSITIVES:
        return ("predicts no better than the baseline",
                f"{tested_in} hold {failures(tested)}; at least {MIN_POSITIVES} are needed "
                f"to tell a model from the base rate ({advice})")
    interval = (f"the {difference.confidence:.0%} bootstrap interval of the PR-AUC difference "
                f"is {difference.low:+.3f} to {difference.high:+.3f}")
    shuffled = (f"the same scores with the failures shuffled among the predicted parts reach "
                f"{by_chance.average_precision:.3f} on average, and the model's PR-AUC in "
                f"p = {by_chance.p_value:.2g} of {by_chance.permutations} shuffles")
    if difference.low <= 0:
        return "predicts no better than the baseline", f"{interval}, which includes 0"
    if by_chance.p_value >= alpha:
        return ("predicts no better than the baseline",
                f"{interval}, but {shuffled}: a ranking that knows nothing does as well "
                f"(with few failures, PR-AUC by chance lies above the positive share)")
    return "better than the baseline", f"{interval}, above 0; {shuffled}"


def calibration(y: NDArray[np.bool_], scores: NDArray[np.float64]
                ) -> tuple[CalibrationBin, ...]:
    """The parts binned by score: each bin's mean score, share failed and parts."""
    observed, predicted = calibration_curve(y, scores, n_bins=CALIBRATION_BINS)
    # the parts per non-empty bin, binned as calibration_curve bins them
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=CALIBRATION_BINS)
    return tuple(CalibrationBin(predicted=float(p), observed=float(o), parts=int(n))
                 for p, o, n in zip(predicted, observed, counts[counts > 0], strict=True))


def curve(y: NDArray[np.bool_], scores: NDArray[np.float64]) -> tuple[CurvePoint, ...]:
    """The precision-recall curve of ``scores``."""
    precision, recall, thresholds = precision_recall_curve(y, scores)
    return tuple(CurvePoint(recall=float(r), precision=float(p),
                            threshold=float(thresholds[i]) if i < len(thresholds) else None)
                 for i, (p, r) in enumerate(zip(precision, recall, strict=True)))


def importances(scored: Sequence[tuple[Scorer, NDArray[np.float64]]], y: NDArray[np.bool_],
                names: Sequence[str], *, seed: int, repeats: int = REPEATS
                ) -> tuple[Importance, ...]:
    """Permutation importance on pooled blocks: each block of rows is scored by its own scorer,
    a feature's values are shuffled within each block (never moved to another block), and
    the pooled PR-AUC's drop is averaged over ``repeats`` shuffles. ``y`` holds the labels of
    the blocks' rows in the order given. One block is scikit-learn's permutation importance
    with ``scoring="average_precision"``."""
    rng = np.random.default_rng(seed)
    reached = float(average_precision_score(y, np.concatenate(
        [scorer(values) for scorer, values in scored])))
    found: list[tuple[str, float, float]] = []
    for column, name in enumerate(names):
        pooled = np.concatenate([_shuffled_scores(scorer, values, column, repeats, rng)
                                 for scorer, values in scored], axis=1)
        drops = reached - np.array([average_precision_score(y, row) for row in pooled])
        found.append((name, float(drops.mean()), float(drops.std())))
    return tuple(Importance(feature=name, mean=mean, sd=sd)
                 for name, mean, sd in sorted(found, key=lambda item: (-item[1], item[0])))


def _shuffled_scores(scorer: Scorer, values: NDArray[np.float64], column: int, repeats: int,
                     rng: np.random.Generator) -> NDArray[np.float64]:
    """``repeats`` rows of the block's scores, each with ``column`` shuffled (one call)."""
    stacked = np.tile(values, (repeats, 1))
    stacked[:, column] = rng.permuted(np.tile(values[:, column], (repeats, 1)), axis=1).ravel()
    return scorer(stacked).reshape(repeats, len(values))
