"""Quality prediction without a ledger: features, labels, the time-ordered split and the
rolling origin, the statistics behind the verdict, and the model file."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score  # type: ignore[import-untyped]

from thread.analytics.features import (
    Labels,
    PredictionError,
    Table,
    feature_table,
    field_labels,
    inputs_digest,
    inspection_labels,
    rolling_origins,
    time_split,
)
from thread.analytics.predict import (
    MIN_POSITIVES,
    Chance,
    Difference,
    Scorer,
    average_precisions,
    choose_threshold,
    evaluate_table,
    fit_model,
    load_model,
    out_of_fold,
    save_model,
    verdict,
)
from thread.domain.service_life import DAY_NS, FieldRecord, Run, UnitRecord
from thread.read.outcomes import Outcome

pytestmark = pytest.mark.unit

NOW = datetime(2030, 12, 1, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9
INSTALLED = FieldRecord("service.installed-at-site", NOW_NS - 200 * DAY_NS)


def unit(key: str, *records: FieldRecord, machine: str = "M-01", produced: int = 0,
         values: dict[str, float] | None = None) -> UnitRecord:
    """A part made on ``machine`` with the service facts ``records``."""
    return UnitRecord(key=key, produced_ns=produced,
                      runs=(Run(machine, "turn", produced, produced + 1),),
                      values=values or {}, own=records)


def hours(at_days_ago: int, reported: float) -> FieldRecord:
    """A report of operating hours ``at_days_ago`` days before NOW."""
    return FieldRecord("service.performance-reported", NOW_NS - at_days_ago * DAY_NS, reported)


def failure(at_days_ago: int, reported: float) -> FieldRecord:
    """A failure with its operating hours ``at_days_ago`` days before NOW."""
    return FieldRecord("service.failure-reported", NOW_NS - at_days_ago * DAY_NS, reported,
                       "C-1", "spalling")


def outcome(serial: str, inspections: int, failed: int = 0,
            lots: tuple[str, ...] = ()) -> Outcome:
    """An outcome made at NOW with ``failed`` of ``inspections`` failing."""
    return Outcome(serial=serial, produced=NOW, inspections=inspections,
                   failed_inspections=failed, failed_characteristics=("1",) if failed else (),
                   first_inspected=NOW if inspections else None, lots=lots)


def synthetic(seed: int, *, informative: bool, parts: int = 600) -> tuple[
        Table, NDArray[np.bool_], Labels]:
    """Parts in production order with three features; with ``informative`` the first one
    decides the label (a part fails when it is high), else labels are drawn at random."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(parts, 3))
    y = values[:, 0] > 1.1 if informative else rng.random(parts) < 0.14
    table = Table(tuple(f"P-{i:04d}" for i in range(parts)),
                  np.arange(parts, dtype=np.int64) * DAY_NS, ("a", "b", "c"), values)
    labels = Labels(target="inspection-failure", horizon_hours=None, at=NOW, parts=parts,
                    labelled=parts, positives=int(y.sum()))
    return table, y, labels


def test_a_field_failure_is_labelled_within_the_horizon_and_short_exposure_is_left_out(
) -> None:
    """Failed within the horizon: yes; ran past it: no; short of it or never in service: none."""
    units = [
        unit("EARLY", INSTALLED, failure(150, 800.0)),
        unit("LATE", INSTALLED, hours(100, 1200.0), failure(20, 2400.0)),
        unit("RUNNING", INSTALLED, hours(10, 2300.0)),
        unit("SHORT", INSTALLED, hours(10, 400.0)),
        unit("SHELF"),
    ]
    labels, summary = field_labels(units, NOW, 1000.0)
    assert labels == {"EARLY": True, "LATE": False, "RUNNING": False}
    assert (summary.parts, summary.labelled, summary.positives) == (5, 3, 1)
    assert (summary.too_short, summary.not_in_service, summary.left_out) == (1, 1, 2)
    with pytest.raises(PredictionError, match="more than 0 operating hours"):
        field_labels(units, NOW, 0.0)


def test_an_inspection_failure_is_any_failed_inspection_and_uninspected_parts_are_left_out(
) -> None:
    """An inspection failure is any failed inspection; uninspected parts are left out."""
    labels, summary = inspection_labels(
        [outcome("A", 5), outcome("B", 6, failed=1), outcome("C", 0)], NOW)
    assert labels == {"A": False, "B": True}
    assert (summary.labelled, summary.positives, summary.not_inspected) == (2, 1, 1)


def test_the_time_ordered_split_never_trains_on_a_part_made_after_a_test_part() -> None:
    """Every training part was made before every test part; ties stay on one side."""
    rng = np.random.default_rng(3)
    produced = rng.integers(0, 50, size=400).astype(np.int64)  # many ties
    for share in (0.1, 0.3, 0.5, 0.9):
        train, test = time_split(produced, share)
        assert len(train) + len(test) == 400
        assert set(train.tolist()).isdisjoint(test.tolist())
        assert produced[train].max() < produced[test].min()
    with pytest.raises(PredictionError, match="between 0 and 1"):
        time_split(produced, 1.0)


def test_features_are_values_and_machine_and_lot_indicators_with_missing_values_nan() -> None:
    """Features are values and machine and lot indicators with missing values NaN."""
    units = [unit("A", values={"process.feed.mean": 1.5}, machine="M-01"),
             unit("B", values={"condition.vibration.max": 4.0}, machine="M-02")]
    table = feature_table(units, [outcome("A", 1, lots=("L-1",))])
    assert table.names == ("condition.vibration.max", "process.feed.mean", "machine=M-01",
                           "machine=M-02", "lot=L-1")
    assert np.isnan(table.values[0, 0])
    assert table.values[0, 1:].tolist() == [1.5, 1.0, 0.0, 1.0]
    assert table.values[1, 2:].tolist() == [0.0, 1.0, 0.0]
    scored = feature_table([unit("C", machine="M-09")], [], table.names)
    assert scored.values[0, 2:].tolist() == [0.0, 0.0, 0.0]  # a machine never seen: none


def test_the_inputs_digest_is_canonical() -> None:
    """The inputs digest reads the same values the same way, a missing one as null."""
    first = inputs_digest(("b", "a"), np.array([2.0, math.nan]))
    assert first == inputs_digest(("a", "b"), np.array([math.nan, 2.0]))
    assert first != inputs_digest(("a", "b"), np.array([0.0, 2.0]))
    assert first.startswith("sha256:") and len(first) == 71


def test_bootstrap_and_shuffled_precisions_are_scikit_learns() -> None:
    """Each weighting and each shuffle gives scikit-learn's average precision, ties included."""
    rng = np.random.default_rng(5)
    y = rng.random(80) < 0.2
    y[0] = True
    scores = np.round(rng.random(80), 1)
    weights = rng.integers(0, 3, size=(6, 80)).astype(float)
    weights[:, 0] += 1
    expected = [average_precision_score(y, scores, sample_weight=w) for w in weights]
    assert average_precisions(y, scores, weights) == pytest.approx(expected)
    shuffled = np.array([rng.permutation(y) for _ in range(6)])
    assert average_precisions(shuffled, scores) == pytest.approx(
        [average_precision_score(row, scores) for row in shuffled])


def test_the_threshold_maximises_the_out_of_fold_matthews_correlation() -> None:
    """The threshold separates the out-of-fold parts; without failures it is the base rate."""
    values = np.arange(300, dtype=float).reshape(-1, 1)
    y = (values[:, 0] % 10) == 0

    def knowing(_x: NDArray[np.float64], _y: NDArray[np.bool_]) -> Scorer:
        return lambda rows: np.where(rows[:, 0] % 10 == 0, 0.9, 0.1)

    chosen = choose_threshold(knowing, values, y)
    assert chosen.mcc == pytest.approx(1.0)
    assert 0.1 < chosen.value <= 0.9
    assert chosen.out_of_fold == 250  # the first fold only trains
    rare = np.zeros(300, dtype=bool)
    rare[:3] = True
    fallback = choose_threshold(knowing, values, rare)
    assert fallback.mcc is None
    assert fallback.value == pytest.approx(0.01)
    assert "too few" in fallback.method


def test_a_feature_that_decides_the_label_is_better_than_the_baseline() -> None:
    """When a recorded value decides the failures, the rolling origin says better and names it."""
    table, y, labels = synthetic(11, informative=True)
    found = evaluate_table(table, y, labels, part_number="P", seed=0)
    assert found.verdict == "better than the baseline", found.reason
    assert (found.split.method, found.split.blocks, len(found.split.folds)) == (
        "rolling-origin", 5, 4)
    assert found.importances[0].feature == "a"
    assert found.performance.average_precision > 0.8
    assert found.chance.p_value < 0.01
    assert found.test.parts == sum(fold.test.parts for fold in found.split.folds)
    assert found.training == found.split.folds[-1].training


def test_a_single_split_tests_on_the_latest_parts_against_their_positive_share() -> None:
    """One fold: trained on the earlier parts, tested on the latest share, base rate AP = share."""
    table, y, labels = synthetic(11, informative=True)
    found = evaluate_table(table, y, labels, part_number="P", folds=1, test_share=0.3)
    assert found.verdict == "better than the baseline", found.reason
    assert (found.split.method, found.split.test_share) == ("single-split", 0.3)
    assert found.test.parts == 180
    assert found.baselines[0].average_precision == pytest.approx(found.test.positives
                                                                 / found.test.parts)
    assert found.training.last_made is not None and found.test.first_made is not None
    assert found.training.last_made < found.test.first_made
    with pytest.raises(PredictionError, match="applies to a single split"):
        evaluate_table(table, y, labels, part_number="P", folds=5, test_share=0.3)


def test_rolling_origins_cut_consecutive_blocks_and_train_on_everything_before_each() -> None:
    """Every block from the second is predicted from all parts made before it; ties stay."""
    rng = np.random.default_rng(7)
    produced = rng.integers(0, 120, size=500).astype(np.int64)  # many ties
    for blocks in (2, 5, 8):
        origins = rolling_origins(produced, blocks)
        assert len(origins) == blocks - 1
        predicted = np.concatenate([block for _, block in origins])
        assert len(set(predicted.tolist())) == len(predicted)
        first = set(range(500)) - set(predicted.tolist())
        assert first and produced[list(first)].max() < produced[predicted].min()
        for earlier, block in origins:
            assert produced[earlier].max() < produced[block].min()
            assert set(earlier.tolist()) == set(np.flatnonzero(produced < produced[block].min())
                                                .tolist())
            assert 500 / blocks - 20 < len(block) < 500 / blocks + 20
    with pytest.raises(PredictionError, match="fewer --folds"):
        rolling_origins(produced[:3], 5)


def test_no_part_is_predicted_by_a_model_that_saw_a_part_made_at_or_after_it() -> None:
    """Each fold's model, and every inner one choosing its threshold, saw only earlier parts."""
    rng = np.random.default_rng(8)
    produced = rng.integers(0, 200, size=400).astype(np.int64) * DAY_NS  # many made at once
    rows = rng.permutation(400)  # a table of any row order
    values = np.c_[produced[rows] / DAY_NS, rng.normal(size=400)]
    table = Table(tuple(f"P-{i:04d}" for i in rows), produced[rows], ("made", "x"), values)
    y = rng.random(400) < 0.1
    breaches: list[tuple[float, float]] = []
    calls: list[int] = []

    def spy(seen: NDArray[np.float64], labels: NDArray[np.bool_]) -> Scorer:
        newest = float(seen[:, 0].max())
        calls.append(len(seen))

        def scorer(scored: NDArray[np.float64]) -> NDArray[np.float64]:
            if scored[:, 0].min() <= newest:
                breaches.append((newest, float(scored[:, 0].min())))
            return np.asarray(scored[:, 1], dtype=np.float64)
        return scorer

    folds, predicted = out_of_fold(spy, spy, table, y, rolling_origins(table.produced_ns, 5),
                                   "a failure")
    assert not breaches
    assert len(calls) > 2 * len(predicted)  # the inner splits were spied on too
    for fold, found in zip(folds, predicted, strict=True):
        assert fold.training.last_made is not None and fold.test.first_made is not None
        assert fold.training.last_made < fold.test.first_made
        assert table.produced_ns[found.training].max() < table.produced_ns[found.rows].min()
        assert found.base == pytest.approx(np.full(len(found.rows), y[found.training].mean()))


def test_a_fold_without_failures_to_learn_from_is_listed_not_predicted() -> None:
    """A block whose earlier parts hold no failure is not predicted, and the fold says why."""
    table, y, labels = synthetic(11, informative=True)
    y = y.copy()
    y[:150] = False  # the first block (120 parts) and more: no failure
    found = evaluate_table(table, y, labels, part_number="P", seed=0)
    first = found.split.folds[0]
    assert first.threshold is None and first.skipped is not None
    assert "none of its 120 training parts" in first.skipped
    assert found.test.parts == 480 - first.test.parts
    assert "1 not predicted" in found.split.description


def test_failures_only_in_the_last_block_or_only_in_the_first_cannot_be_evaluated() -> None:
    """Nothing before any block to learn from, or nothing predicted to judge by: one line each."""
    table, _, labels = synthetic(12, informative=False, parts=200)
    late = np.arange(200) >= 190
    with pytest.raises(PredictionError, match="no block could be predicted: the parts made "
                                              "before the last one \\(160, "):
        evaluate_table(table, late, labels, part_number="P")
    with pytest.raises(PredictionError, match="none of the 160 predicted parts"):
        evaluate_table(table, np.arange(200) < 10, labels, part_number="P", folds=5)


def test_too_few_failures_cannot_be_better_whatever_the_interval() -> None:
    """Too few failures to learn from or to test on, or chance doing as well: no better."""
    difference = Difference(baseline="base rate", difference=0.5, low=0.3, high=0.7,
                            confidence=0.95, resamples=1000)
    chance = Chance(average_precision=0.1, p_value=0.001, permutations=2000)
    assert verdict(difference, chance, learned=MIN_POSITIVES, tested=MIN_POSITIVES)[0] == (
        "better than the baseline")
    said, reason = verdict(difference, chance, learned=MIN_POSITIVES, tested=2)
    assert said == "predicts no better than the baseline"
    assert "the test parts hold 2 failures" in reason
    said, reason = verdict(difference, chance, learned=1, tested=9)
    assert said == "predicts no better than the baseline"
    assert "the training parts hold 1 failure;" in reason
    said, reason = verdict(difference, chance, learned=9, tested=4,
                           tested_in="the 80 predicted parts")
    assert "the 80 predicted parts hold 4 failures" in reason
    chancy = Chance(average_precision=0.4, p_value=0.2, permutations=2000)
    said, reason = verdict(difference, chancy, learned=9, tested=9)
    assert said == "predicts no better than the baseline"
    assert "knows nothing does as well" in reason


def test_a_saved_model_loads_with_its_card_and_a_damaged_one_is_refused(tmp_path: Path
                                                                         ) -> None:
    """A saved model loads with its card and scores alike; a damaged or foreign one is refused."""
    table, y, labels = synthetic(4, informative=True, parts=200)
    trained = fit_model(table, y, labels, part_number="P")
    path = tmp_path / "p.model"
    digest = save_model(trained, path)
    assert digest == trained.digest
    loaded = load_model(path)
    assert loaded.card == trained.card
    assert loaded.card.features == ("a", "b", "c")
    assert loaded.card.name == "P-inspection-failure"
    assert loaded.scores(table.values) == pytest.approx(trained.scores(table.values))
    data = path.read_bytes()
    path.write_bytes(data[:-10] + bytes(10))
    with pytest.raises(PredictionError, match="is damaged"):
        load_model(path)
    path.write_text("hello\n")
    with pytest.raises(PredictionError, match="is not a model file"):
        load_model(path)
