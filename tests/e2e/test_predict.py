"""``thread predict``: a cause in the plant is predicted better than the baseline and named, a
plant without one is not, the demo's injected cause is found by a rolling origin where one
time-ordered cut cannot tell, and scored parts carry their prediction facts (once per model
version, signed when a signer is given)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import Clock, bearing, inspection, released_bearing
from PIL import Image

import thread
from thread.cli import main
from thread.demo.reliability import PART_NUMBER, Cause, plant
from thread.domain import facts as f

pytestmark = pytest.mark.e2e

BEARING = "BRG-6204"


def run(*args: str) -> Result:
    """The command line, as a user runs it."""
    return CliRunner().invoke(main, list(args), env={"THREAD_DB": None})


def _plant_db(folder: Path, cause: Cause | None) -> str:
    simulated = plant(1, weeks=12, per_week=15, cause=cause)
    path = str(folder / "plant.db")
    ledger = thread.open(path, clock=lambda: simulated.now)
    with ledger.batch(actor="simulation", source="reliability") as batch:
        for index, (fact, at) in enumerate(simulated.facts):
            batch.record(fact, occurred_at=at, source_record_id=str(index))
    ledger.read_models.catch_up()
    ledger.close()
    return path


@pytest.fixture(scope="module")
def caused(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plant whose M-02 runs with a raised spindle vibration from week 2 on, and whose
    parts made then fail eight times as fast."""
    return _plant_db(tmp_path_factory.mktemp("caused"),
                     Cause("M-02", 2, 11, "spindle_vibration"))


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same plant without a cause: every part fails at the background rate."""
    return _plant_db(tmp_path_factory.mktemp("sound"), None)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo plant as ``thread demo`` fills it."""
    path = str(tmp_path_factory.mktemp("demo") / "demo.db")
    result = run("--db", path, "demo")
    assert result.exit_code == 0, result.output
    return path


def _evaluate(db: str, part_number: str, *options: str) -> dict[str, object]:
    result = run("--db", db, "predict", "evaluate", "--part-number", part_number, *options,
                 "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, object] = json.loads(result.output)
    return found


def _top(found: dict[str, object], key: str = "importances", count: int = 3) -> list[str]:
    return [item["feature"] for item in found[key][:count]]  # type: ignore[index]


def _folds(found: dict[str, object]) -> list[dict[str, Any]]:
    split: dict[str, Any] = found["split"]  # type: ignore[assignment]
    folds: list[dict[str, Any]] = split["folds"]
    return folds


def test_a_cause_is_predicted_better_than_the_baseline_and_named(caused: str) -> None:
    """A raised vibration on M-02 is predicted better than the base rate and named first."""
    found = _evaluate(caused, PART_NUMBER, "--target", "field-failure", "--horizon", "1500")
    assert found["verdict"] == "better than the baseline", found["reason"]
    assert found["split"]["method"] == "rolling-origin"  # type: ignore[index]
    assert len(_folds(found)) == 4
    for fold in _folds(found):  # never a part predicted by a model that saw a later one
        assert fold["training"]["last_made"] < fold["test"]["first_made"]
    assert _top(found)[0] == "condition.spindle_vibration.max"
    model = found["performance"]["average_precision"]  # type: ignore[index]
    base = found["baselines"][0]  # type: ignore[index]
    assert base["name"] == "base rate"
    assert model > base["average_precision"] + 0.1
    assert found["chance"]["p_value"] < 0.05  # type: ignore[index]
    assert {"recall", "precision", "threshold"} <= set(found["pr_curve"][0])  # type: ignore[index]
    assert {"predicted", "observed", "parts"} <= set(found["calibration"][0])  # type: ignore[index]


def test_a_plant_without_a_cause_predicts_no_better_than_the_baseline(sound: str) -> None:
    """Without a cause, the text says plainly that the model predicts no better."""
    result = run("--db", sound, "predict", "evaluate", "--part-number", PART_NUMBER,
                 "--target", "field-failure", "--horizon", "1500")
    assert result.exit_code == 0, result.output
    assert "verdict: predicts no better than the baseline" in result.output
    assert "rolling origin: the " in result.output
    assert "ON THE PREDICTED PARTS" in result.output


def test_the_demo_rolling_origin_finds_grinder_vibration_better_than_the_baseline(
        demo: str, tmp_path: Path) -> None:
    """Five blocks: the April burst is predicted from earlier parts, by vibration; plots drawn."""
    result = run("--db", demo, "predict", "evaluate", "--part-number", BEARING, "--target",
                 "field-failure", "--horizon", "2000", "--json", "--plots", str(tmp_path))
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert "pictures written to" in result.stderr
    labels = found["labels"]
    assert labels["labelled"] + labels["too_short"] + labels["not_in_service"] == 300
    assert found["verdict"] == "better than the baseline", found["reason"]
    assert "process.vibration.mean" in _top(found)
    folds = _folds(found)
    assert [fold["threshold"] is None for fold in folds] == [True, False, False, False]
    assert "none of its 49 training parts" in folds[0]["skipped"]
    assert (found["training"]["positives"], found["test"]["positives"]) == (6, 7)
    for name in ("precision-recall", "importance"):
        with Image.open(tmp_path / f"{BEARING}-field-failure-{name}.png") as picture:
            assert picture.format == "PNG"


def test_one_time_ordered_cut_of_the_demo_holds_too_few_failures_to_tell(demo: str) -> None:
    """--folds 1: the parts after the cut hold 2 failures; no better, and it says why."""
    found = _evaluate(demo, BEARING, "--target", "field-failure", "--horizon", "2000",
                      "--folds", "1", "--test-share", "0.3")
    assert found["split"]["method"] == "single-split"  # type: ignore[index]
    assert found["verdict"] == "predicts no better than the baseline"
    assert "the test parts hold 2 failures" in found["reason"]  # type: ignore[operator]
    result = run("--db", demo, "predict", "evaluate", "--part-number", BEARING, "--target",
                 "field-failure", "--horizon", "2000", "--test-share", "0.3")
    assert result.exit_code == 2
    assert "--test-share applies to a single split (--folds 1)" in result.output


def test_inspection_failures_of_the_demo_are_too_few_to_predict(demo: str) -> None:
    """The demo's six failed inspections: labelled, and no better than the base rate."""
    found = _evaluate(demo, BEARING, "--target", "inspection-failure")
    assert found["labels"]["positives"] == 6  # type: ignore[index]
    assert found["verdict"] == "predicts no better than the baseline"


def test_scoring_records_a_prediction_once_per_model_version_and_trace_shows_it(
        demo: str, tmp_path: Path) -> None:
    """Scored parts carry a prediction with the file's digest, once; trace shows it."""
    model = tmp_path / "bearing.model"
    result = run("--db", demo, "predict", "train", "--part-number", BEARING, "--target",
                 "field-failure", "--horizon", "2000", "-o", str(model))
    assert result.exit_code == 0, result.output
    assert "relies most on:" in result.output
    digest = "sha256:" + hashlib.sha256(model.read_bytes()).hexdigest()
    serials = ("BRG-000164", "BRG-000001")
    args = ("--db", demo, "predict", "score", "--model", str(model),
            *(item for serial in serials for item in ("--serial", serial)), "--json")
    first = json.loads(run(*args).output)
    assert (first["recorded"], first["already_recorded"]) == (2, 0)
    assert first["model_digest"] == digest
    again = json.loads(run(*args).output)
    assert (again["recorded"], again["already_recorded"]) == (0, 2)
    ledger = thread.open(demo)
    try:
        predicted = [event for event in ledger.history("BRG-000164")
                     if isinstance(event.fact, f.QualityPredicted)]
    finally:
        ledger.close()
    assert len(predicted) == 1
    fact = predicted[0].fact
    assert isinstance(fact, f.QualityPredicted)
    assert (fact.target, fact.horizon_hours, fact.model_digest) == ("field-failure", 2000.0,
                                                                   digest)
    scored = {part["serial"]: part for part in first["parts"]}
    assert fact.inputs_digest == scored["BRG-000164"]["inputs_digest"]
    assert fact.score == pytest.approx(scored["BRG-000164"]["score"])
    trace = run("--db", demo, "trace", "BRG-000164")
    assert "quality.prediction-recorded" in trace.output
    assert "field-failure score" in trace.output


def test_scoring_with_a_signer_signs_each_prediction_as_its_author(demo: str,
                                                                   tmp_path: Path) -> None:
    """--signer-key and --printed-name sign each prediction fact, meaning authorship."""
    model = tmp_path / "signed.model"
    assert run("--db", demo, "predict", "train", "--part-number", BEARING, "--target",
               "inspection-failure", "--name", "BRG-6204-signed", "-o",
               str(model)).exit_code == 0
    key = tmp_path / "q.engineer.key"
    assert run("keygen", "--name", "q.engineer", "-o", str(key)).exit_code == 0
    score = ("--db", demo, "predict", "score", "--model", str(model), "--serial", "BRG-000002")
    result = run(*score, "--signer-key", str(key))
    assert result.exit_code == 2
    assert "give --signer-key and --printed-name" in result.output
    result = run(*score, "--signer-key", str(key), "--printed-name", "Quinn Engineer")
    assert result.exit_code == 0, result.output
    assert "signed by Quinn Engineer (q.engineer), meaning authorship" in result.output
    ledger = thread.open(demo)
    try:
        history = [event.fact for event in ledger.history("BRG-000002")]
    finally:
        ledger.close()
    signatures = [fact for fact in history if isinstance(fact, f.SignatureApplied)
                  and fact.meaning == "authorship"]
    assert [s.printed_name for s in signatures] == ["Quinn Engineer"]
    assert sum(isinstance(fact, f.QualityPredicted) for fact in history) == 1


def test_bad_input_is_one_line(demo: str, tmp_path: Path) -> None:
    """A missing horizon, a damaged model, a serial of another part number: one line each."""
    result = run("--db", demo, "predict", "evaluate", "--part-number", BEARING, "--target",
                 "field-failure")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "needs a horizon" in result.output
    assert "hours or more" in result.output
    damaged = tmp_path / "damaged.model"
    damaged.write_bytes(b"thread-model/1\n{}\n")
    result = run("--db", demo, "predict", "score", "--model", str(damaged))
    assert result.exit_code == 1
    assert "its card does not read" in result.output
    model = tmp_path / "inspection.model"
    assert run("--db", demo, "predict", "train", "--part-number", BEARING, "--target",
               "inspection-failure", "-o", str(model)).exit_code == 0
    result = run("--db", demo, "predict", "score", "--model", str(model), "--serial",
                 "HUB-000001", "--dry-run")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: HUB-000001: not a BRG-6204 part in this ledger; "
                                     "model BRG-6204-inspection-failure scores BRG-6204")
    result = run("--db", demo, "predict", "score", "--model", str(model), "--serial", "X",
                 "--part-number", BEARING)
    assert result.exit_code == 2


def test_outcomes_count_inspections_as_corrected_and_the_lots_consumed(tmp_path: Path) -> None:
    """A corrected inspection counts as corrected (as of before: as it was); lots are listed."""
    ledger = thread.open(str(tmp_path / "outcomes.db"), clock=Clock(), actor="tester")
    try:
        ledger.record(released_bearing())
        ledger.record(f.MaterialLotReceived(lot="L-1", material="100Cr6", supplier="Steel Co",
                                            quantity=10, unit="kg"))
        ledger.record(bearing("B-1"))
        ledger.record(bearing("B-2"))
        ledger.record(f.MaterialConsumed(serial="B-1", material_lot="L-1", quantity=1,
                                         unit="kg"))
        wrong = ledger.record(inspection("B-1", 19.98))
        before = ledger.history("B-1")[-1].recorded_at
        ledger.correct(inspection("B-1", 19.995), corrects=wrong.version,
                       reason="gauge was not zeroed")
        # Queries.outcomes does not bring the story view (the superseded records) up to date
        ledger.read_models.catch_up()
        now = {o.serial: o for o in ledger.outcomes(part_number="BRG-6204")}
        then = {o.serial: o for o in ledger.outcomes(part_number="BRG-6204", as_of=before)}
    finally:
        ledger.close()
    assert (now["B-1"].inspections, now["B-1"].failed_inspections, now["B-1"].lots) == (
        1, 0, ("L-1",))
    assert now["B-1"].failed is False
    assert (then["B-1"].failed_inspections, then["B-1"].failed_characteristics) == (1, ("1",))
    assert (now["B-2"].inspections, now["B-2"].failed, now["B-2"].lots) == (0, None, ())
