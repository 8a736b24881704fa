"""Large recall predicates: long chains stay shallow, deep nesting meets a stated limit."""

from __future__ import annotations

import pytest

from thread.read.predicate import (
    MAX_DEPTH,
    Either,
    PredicateError,
    Reference,
    depth,
    evaluate,
    parse,
    references,
)


def test_four_hundred_or_terms_parse_print_and_evaluate() -> None:
    """400 alternatives make a tree 10 levels deep that prints, parses back and evaluates."""
    source = " or ".join(f"vibration.max > {n}" for n in range(400))
    tree = parse(source)
    assert isinstance(tree, Either)
    assert depth(tree) == 10
    assert len(references(tree)) == 400
    assert parse(str(tree)) == tree
    vibration = Reference(None, "vibration", "max")
    assert evaluate(tree, {vibration: 399.5}) is True
    assert evaluate(tree, {vibration: -1.0}) is False
    assert evaluate(tree, {}) is None


def test_a_long_and_chain_keeps_three_valued_logic() -> None:
    """A balanced 'and' chain is False as soon as one term is, unknown otherwise."""
    tree = parse(" and ".join(f"vibration.max > {n}" for n in range(300)))
    vibration = Reference(None, "vibration", "max")
    assert evaluate(tree, {vibration: 1000.0}) is True
    assert evaluate(tree, {vibration: 150.5}) is False


@pytest.mark.parametrize(("source", "column"), [
    ("(" * 5000 + "vibration.max > 4" + ")" * 5000, MAX_DEPTH + 1),
    ("not " * 5000 + "vibration.max > 4", 4 * MAX_DEPTH + 1),
    ("(" * 5000, MAX_DEPTH + 1),
])
def test_nesting_5000_deep_is_refused_with_the_limit(source: str, column: int) -> None:
    """Deep nesting is a PredicateError naming the limit and the column, not a RecursionError."""
    with pytest.raises(PredicateError, match=f"more than {MAX_DEPTH} levels of parentheses "
                                             f"and 'not' at column {column};") as raised:
        parse(source)
    assert len(str(raised.value)) < 300  # the predicate is quoted cut, not whole


def test_nesting_up_to_the_limit_parses() -> None:
    """100 levels of parentheses around a comparison are accepted."""
    source = "(" * MAX_DEPTH + "vibration.max > 4" + ")" * MAX_DEPTH
    assert depth(parse(source)) == 1


def test_a_tree_deeper_than_the_limit_is_refused() -> None:
    """Parentheses within the limit can still build a tree too deep; that is refused too."""
    source = "vibration.max > 1 or (" * MAX_DEPTH + "vibration.max > 2" + ")" * MAX_DEPTH
    with pytest.raises(PredicateError, match=f"nests {MAX_DEPTH + 1} levels deep; expected "
                                             f"at most {MAX_DEPTH}"):
        parse(source)


def test_errors_quote_a_long_predicate_cut() -> None:
    """An error in a 10,000-character predicate quotes 80 characters of it, and the column."""
    source = " or ".join(["vibration.max > 4"] * 500) + " ~"
    with pytest.raises(PredicateError, match=f"cannot read '~' at column {len(source)}") as raised:
        parse(source)
    assert "...'" in str(raised.value)
    assert len(str(raised.value)) < 300
