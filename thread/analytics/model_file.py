"""What a quality model is, the file that keeps one, and scoring parts with it: the
scikit-learn estimator of each kind (fitted the same way wherever a model is trained or
evaluated), a model fitted on labelled parts with its card, the model file (a format line,
the card with the payload's digest, then the pickled estimator), and :func:`score`, which
records each part's prediction as a ``QualityPredicted`` fact.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from thread.analytics import require

try:
    import sklearn  # type: ignore[import-untyped]
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
    from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
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
    inputs_digest,
    period,
)
from thread.analytics.prediction_stats import (
    Fitter,
    Importance,
    Scorer,
    Threshold,
    both_classes,
    choose_threshold,
    importances,
)
from thread.domain import facts as f
from thread.read.result import Model

if TYPE_CHECKING:
    from collections.abc import Sequence

    from thread.domain.signature import Signer
    from thread.ledger import Ledger

ModelKind = Literal["gradient-boosting", "logistic-regression"]
MODELS: tuple[ModelKind, ...] = ("gradient-boosting", "logistic-regression")
#: The first line of a model file.
FORMAT: Literal["thread-model/1"] = "thread-model/1"
#: Source every prediction fact names; its record id makes re-scoring write nothing twice.
SOURCE = "prediction"
#: The scikit-learn version models are fitted with here.
SKLEARN: str = sklearn.__version__


def estimator(kind: ModelKind, seed: int) -> Any:
    """An unfitted estimator of ``kind``."""
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


def probabilities(fitted: Any, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row's probability of the failure, by a fitted estimator."""
    return np.asarray(fitted.predict_proba(values)[:, 1], dtype=np.float64)


def fitted(kind: ModelKind, seed: int, values: NDArray[np.float64],
           y: NDArray[np.bool_]) -> Any:
    """An estimator of ``kind`` fitted on ``values`` and ``y``."""
    found = estimator(kind, seed)
    found.fit(values, y)
    return found


def model_fitter(kind: ModelKind, seed: int) -> Fitter:
    """Fits estimators of ``kind``, as the threshold's inner split and the folds need."""
    def fit(values: NDArray[np.float64], y: NDArray[np.bool_]) -> Scorer:
        found = fitted(kind, seed, values, y)
        return lambda rows: probabilities(found, rows)
    return fit


def one_thread() -> Any:
    """OpenMP at one thread: on a few hundred parts, gradient boosting's threads cost more
    than they save (ten times more on two cores)."""
    return threadpool_limits(limits=1, user_api="openmp")


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
    #: The scikit-learn version that fitted it (:data:`SKLEARN`).
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
        return probabilities(self.estimator, values)

    def to_bytes(self) -> bytes:
        """The model file: the format line, the card and the payload's digest as one JSON
        line, then the payload."""
        header = {"card": self.card.model_dump(mode="json"), "payload": digest(self.payload)}
        return (f"{FORMAT}\n{json.dumps(header, sort_keys=True, separators=(',', ':'))}\n"
                .encode() + self.payload)

    @property
    def digest(self) -> str:
        """``sha256:`` of the model file's bytes."""
        return digest(self.to_bytes())


def fit_model(table: Table, y: NDArray[np.bool_], labels: Labels, *, part_number: str,
              model: ModelKind = "gradient-boosting", seed: int = 0,
              name: str | None = None) -> TrainedModel:
    """A model of ``kind`` fitted on every labelled part of ``table`` (rows of any order),
    with its card: its threshold chosen on those parts, what it relies on, what it learned
    from. :func:`thread.analytics.predict.train` reads the parts from a ledger."""
    order = np.argsort(table.produced_ns, kind="stable").astype(np.intp)
    table, y = table.take(order), y[order]
    if not both_classes(y):
        raise PredictionError(f"{len(y)} labelled parts of {part_number}, {int(y.sum())} with "
                              f"{labels.what}: a model needs both failed and sound parts")
    with one_thread():
        threshold = choose_threshold(model_fitter(model, seed), table.values, y,
                                     table.produced_ns)
        estimator = fitted(model, seed, table.values, y)
        relied_on = importances([(lambda rows: probabilities(estimator, rows), table.values)],
                                y, table.names, seed=seed)
    packed = payload(estimator)
    made = period(table)
    assert made is not None
    horizon = f"-{labels.horizon_hours:g}h" if labels.horizon_hours is not None else ""
    card = ModelCard(
        name=name or f"{part_number}-{labels.target}{horizon}",
        version=digest(packed)[7:19], part_number=part_number, target=labels.target,
        horizon_hours=labels.horizon_hours,
        model=model, seed=seed, features=table.names, threshold=threshold, labels=labels,
        importances=relied_on, trained_from=made[0], trained_until=made[1], parts=len(y),
        positives=int(y.sum()), sklearn=SKLEARN)
    return TrainedModel(card, estimator, packed)


def payload(fitted: Any) -> bytes:
    """A fitted estimator as a model file carries it (its digest names the model version)."""
    return pickle.dumps(fitted, protocol=5)


def save_model(trained: TrainedModel, path: str | Path) -> str:
    """Write ``trained`` to ``path``; returns the file's ``sha256:`` digest."""
    data = trained.to_bytes()
    Path(path).write_bytes(data)
    return digest(data)


def load_model(path: str | Path) -> TrainedModel:
    """A model file written by :func:`save_model`, its payload checked against its digest.

    The payload is a pickle: load only model files from people you trust (the digest
    catches a damaged file, not a forged one)."""
    data = Path(path).read_bytes()
    first, _, rest = data.partition(b"\n")
    header, _, carried = rest.partition(b"\n")
    if first != FORMAT.encode():
        raise PredictionError(f"{path} is not a model file (thread predict train -o writes "
                              f"them; expected {FORMAT} on its first line)")
    try:
        found = json.loads(header)
        card = ModelCard.model_validate(found["card"])
    except (ValueError, KeyError, TypeError) as error:
        raise PredictionError(f"model file {path}: its card does not read ({error})") from None
    if found.get("payload") != digest(carried):
        raise PredictionError(f"model file {path} is damaged: its payload's digest is not the "
                              f"one its card states; train the model again")
    loaded = pickle.loads(carried)  # noqa: S301 - checked against the digest above
    return TrainedModel(card, loaded, carried)


def digest(data: bytes) -> str:
    """``sha256:`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


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


def score(ledger: Ledger, model_file: str | Path, *, serials: Sequence[str] | None = None,
          part_number: str | None = None, record: bool = True,
          signer: Signer | None = None) -> Scoring:
    """Score parts with a saved model (``serials``, or every part of its part number) and,
    with ``record``, record a ``QualityPredicted`` fact on each (signed by ``signer``, meaning
    authorship)."""
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
    with one_thread():
        scores = trained.scores(table.values)
    model_digest = digest(Path(model_file).read_bytes())
    threshold = card.threshold.value
    inputs = [inputs_digest(table.names, row) for row in table.values]
    written: dict[str, bool] = {}
    if record and units:
        with ledger.batch(actor=signer.signer if signer else None, source=SOURCE) as batch:
            for serial, value, given in zip(table.serials, scores, inputs, strict=True):
                batch.record(f.QualityPredicted(
                    serial=serial, target=card.target, horizon_hours=card.horizon_hours,
                    model=card.name, model_version=card.version, model_digest=model_digest,
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
        model=card.name, model_version=card.version, model_digest=model_digest,
        threshold=threshold, parts=parts, predicted_failures=sum(p.predicted for p in parts),
        recorded=sum(written.values()), already_recorded=len(written) - sum(written.values()))
