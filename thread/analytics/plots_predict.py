"""Pictures of a prediction's evaluation: its precision-recall curve on the predicted parts
against the baselines, and what drives it.

Drawn on the non-interactive Agg canvas like :mod:`thread.analytics.plots`, whose
:func:`~thread.analytics.plots.save` writes them as PNG or SVG.
"""

from __future__ import annotations

from thread.analytics import require

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ModuleNotFoundError:  # name the extra to install, not only the module
    require("matplotlib")
    raise

from thread.analytics.plots import DPI
from thread.analytics.predict import Evaluation

_MODEL_COLOUR = "tab:blue"
_BASELINE_COLOUR = "grey"


def precision_recall(evaluation: Evaluation) -> Figure:
    """The model's precision-recall curve on the predicted parts (every fold's, pooled), its
    operating point at the folds' thresholds, and the baselines' PR-AUC."""
    figure = _figure(7.5, 5.5)
    ax = figure.subplots()
    points = evaluation.pr_curve
    # drawn as scikit-learn's PrecisionRecallDisplay draws it
    ax.plot([p.recall for p in points], [p.precision for p in points], drawstyle="steps-post",
            color=_MODEL_COLOUR, linewidth=2,
            label=f"model: PR-AUC {evaluation.performance.average_precision:.3f}")
    for baseline, style in zip(evaluation.baselines, ("--", "-."), strict=False):
        ax.axhline(baseline.average_precision, color=_BASELINE_COLOUR, linestyle=style,
                   linewidth=1.2, label=f"{baseline.name}: PR-AUC {baseline.average_precision:.3f}")
    ax.axhline(evaluation.chance.average_precision, color=_BASELINE_COLOUR, linestyle=":",
               linewidth=1.2, label=f"failures shuffled: PR-AUC "
                                    f"{evaluation.chance.average_precision:.3f} on average")
    confusion = evaluation.performance.confusion
    flagged = confusion.true_positives + confusion.false_positives
    failed = confusion.true_positives + confusion.false_negatives
    if flagged and failed:
        ax.plot(confusion.true_positives / failed, confusion.true_positives / flagged, "o",
                color="tab:red", zorder=3,
                label=f"{_thresholds(evaluation)}: "
                      f"{confusion.true_positives} of {failed} failures caught, "
                      f"{confusion.false_positives} false alarms")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(f"recall (share of the failed {_parts(evaluation)} flagged)")
    ax.set_ylabel("precision (share of the flagged parts that failed)")
    test = evaluation.test
    made = (f", made {test.first_made:%Y-%m-%d} to {test.last_made:%Y-%m-%d}"
            if test.first_made and test.last_made else "")
    ax.set_title(f"{evaluation.part_number}: {_target(evaluation)}\n"
                 f"{test.parts} {_parts(evaluation)}{_pooled(evaluation)}{made}, "
                 f"{test.positives} failed\n{evaluation.verdict}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return figure


def importances(evaluation: Evaluation, top: int = 12) -> Figure:
    """The features whose shuffling lowers the PR-AUC on the predicted parts most, with the
    spread over the repeats."""
    shown = evaluation.importances[:top]
    figure = _figure(7.5, 1.2 + 0.35 * max(len(shown), 1))
    ax = figure.subplots()
    names = [i.feature for i in reversed(shown)]
    ax.barh(names, [i.mean for i in reversed(shown)], xerr=[i.sd for i in reversed(shown)],
            color=_MODEL_COLOUR, alpha=0.8, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"drop in PR-AUC on the {_parts(evaluation)}, feature shuffled")
    ax.set_title(f"{evaluation.part_number}: what drives the prediction on the "
                 f"{_parts(evaluation)}\n({_target(evaluation)})", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return figure


def _parts(evaluation: Evaluation) -> str:
    return "predicted parts" if evaluation.split.method == "rolling-origin" else "test parts"


def _pooled(evaluation: Evaluation) -> str:
    if evaluation.split.method == "single-split":
        return ""
    predicted = sum(fold.threshold is not None for fold in evaluation.split.folds)
    return f" ({predicted} folds pooled)"


def _thresholds(evaluation: Evaluation) -> str:
    chosen = [fold.threshold.value for fold in evaluation.split.folds if fold.threshold]
    if len(chosen) == 1:
        return f"threshold {chosen[0]:.3g}"
    return f"each fold's threshold ({min(chosen):.3g} to {max(chosen):.3g})"


def _target(evaluation: Evaluation) -> str:
    if evaluation.horizon_hours is None:
        return evaluation.target
    return f"{evaluation.target} within {evaluation.horizon_hours:,.0f} operating hours"


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(round(width, 1), round(height, 1)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure
