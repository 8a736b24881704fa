"""The recall predicate language: parsing, printing, three-valued evaluation, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thread.read.predicate import (
    Both,
    Comparison,
    Either,
    Not,
    Predicate,
    PredicateError,
    Reference,
    compile_predicate,
    evaluate,
    missing,
    parse,
    references,
)

NAMES = ["vibration", "coolant_temp", "spindle-speed", "zone/2"]
STATS = ["min", "max", "mean", "sd", "n"]

references_ = st.builds(
    Reference,
    st.sampled_from([None, "process", "condition"]),
    st.sampled_from(NAMES),
    st.sampled_from(STATS),
) | st.builds(Reference, st.just("condition"), st.sampled_from(["oee", "quality"]),
              st.just("value"))
comparisons = st.builds(Comparison, references_, st.sampled_from([">", ">=", "<", "<=", "==",
                                                                  "!="]),
                        st.floats(allow_nan=False, allow_infinity=False, width=32))
predicates: st.SearchStrategy[Predicate] = st.recursive(
    comparisons,
    lambda inner: st.builds(Not, inner) | st.builds(Both, inner, inner)
    | st.builds(Either, inner, inner),
    max_leaves=8,
)


@given(predicates)
def test_printed_predicate_parses_back_to_itself(predicate: Predicate) -> None:
    """Printing then parsing any predicate gives the same tree."""
    assert parse(str(predicate)) == predicate


def _kleene(predicate: Predicate, values: dict[Reference, float]) -> bool | None:
    """Reference semantics: evaluate every branch, then combine with Kleene's tables."""
    match predicate:
        case Comparison():
            value = values.get(predicate.reference)
            if value is None:
                return None
            return {">": value > predicate.number, ">=": value >= predicate.number,
                    "<": value < predicate.number, "<=": value <= predicate.number,
                    "==": value == predicate.number, "!=": value != predicate.number
                    }[predicate.operator]
        case Not():
            inner = _kleene(predicate.operand, values)
            return None if inner is None else not inner
        case Both():
            left, right = _kleene(predicate.left, values), _kleene(predicate.right, values)
            if False in (left, right):
                return False
            return None if None in (left, right) else True
        case Either():
            left, right = _kleene(predicate.left, values), _kleene(predicate.right, values)
            if True in (left, right):
                return True
            return None if None in (left, right) else False


@given(predicates, st.data())
def test_evaluation_follows_three_valued_logic(predicate: Predicate, data: st.DataObject) -> None:
    """Short-circuit evaluation agrees with Kleene logic for any known/unknown values."""
    values = {
        reference: data.draw(st.floats(-1e3, 1e3))
        for reference in references(predicate) if data.draw(st.booleans())
    }
    assert evaluate(predicate, values) == _kleene(predicate, values)
    assert set(missing(predicate, values)) == {r for r in references(predicate)
                                               if r not in values}


def test_precedence_and_binds_tighter_than_or() -> None:
    """``a or b and c`` reads as ``a or (b and c)``; ``not`` binds tightest."""
    tree = parse("a.max > 1 or b.max > 2 and not c.min < 3")
    assert isinstance(tree, Either) and isinstance(tree.right, Both)
    assert isinstance(tree.right.right, Not)


def test_scopes_and_scalars() -> None:
    """Explicit scopes and the OEE scalars parse to what they say."""
    assert parse("process.coolant_temp.mean > 30") == Comparison(
        Reference("process", "coolant_temp", "mean"), ">", 30.0)
    assert parse("oee < 0.6") == Comparison(Reference("condition", "oee", "value"), "<", 0.6)
    threshold = parse("condition.vibration.threshold <= 4.5")
    assert isinstance(threshold, Comparison)
    assert threshold.reference.stat == "threshold"


@pytest.mark.parametrize(("source", "message"), [
    ("", "empty"),
    ("vibration > 4", "'vibration' at column 1 is not a value"),
    ("vibration.max >", "found the end; expected a number"),
    ("vibration.max > 4 and", "expected a value"),
    ("(vibration.max > 4", "expected ')'"),
    ("vibration.max ~ 4", "cannot read '~' at column 15"),
    ("vibration.max > 4 4", "unexpected '4' at column 19"),
    ("process.speed.threshold > 1", "process parameters have no threshold"),
    ("__import__('os').system('true')", "cannot read"),
])
def test_bad_predicates_say_where_and_what_was_expected(source: str, message: str) -> None:
    """Errors name the column and what would have been valid; nothing is evaluated."""
    with pytest.raises(PredicateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(source)


@given(predicates, st.data())
def test_compiled_predicate_agrees_with_evaluate(predicate: Predicate,
                                                 data: st.DataObject) -> None:
    """The compiled form gives the same three-valued answer as walking the tree."""
    values = {
        reference: data.draw(st.floats(-1e3, 1e3))
        for reference in references(predicate) if data.draw(st.booleans())
    }
    assert compile_predicate(predicate)(values) == evaluate(predicate, values)
