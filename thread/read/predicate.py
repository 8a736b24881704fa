"""The recall predicate language: comparisons of process and condition values, parsed, never eval'd.

    vibration.max > 4.0 and coolant_temp.mean > 30
    process.spindle_speed.min < 11500 or not (condition.spindle_temp.max <= 60)
    oee < 0.6

A reference is ``[process.|condition.]NAME.STAT`` with STAT one of min, max,
mean, sd, n (and threshold for condition metrics), or one of the condition
scalars availability, performance, quality, oee. ``and`` binds tighter than
``or``; ``not`` and parentheses work as usual.

A predicate nests at most ``MAX_DEPTH`` levels (parentheses, ``not``, and the
``and``/``or`` tree): deeper ones are refused with that limit rather than
exhausting the interpreter's stack. A chain ``a or b or c ...`` is grouped as a
balanced tree, so hundreds of terms nest only a few levels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from thread.errors import LedgerError

#: How deep a predicate may nest; far beyond any written by hand, well within the stack.
MAX_DEPTH = 100
#: Characters of the predicate an error message quotes before cutting it.
_QUOTED = 80

STATS = ("min", "max", "mean", "sd", "n", "threshold")
SCALARS = ("availability", "performance", "quality", "oee")
SCOPES = ("process", "condition")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<op>>=|<=|==|!=|>|<)
  | (?P<paren>[()])
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-/]*(?:\.[A-Za-z_][A-Za-z0-9_\-/]*)*)
""", re.VERBOSE)


class PredicateError(LedgerError):
    """A recall predicate that does not parse, or names a value that does not exist."""


class Reference(NamedTuple):
    """A value a comparison reads: a process parameter or condition metric statistic."""

    scope: str | None
    name: str
    stat: str

    def __str__(self) -> str:
        if self.name in SCALARS and self.stat == "value":
            return self.name
        return ".".join(part for part in (self.scope, self.name, self.stat) if part)


@dataclass(frozen=True)
class Comparison:
    """``reference OP number``."""

    reference: Reference
    operator: str
    number: float

    def __str__(self) -> str:
        return f"{self.reference} {self.operator} {self.number!r}"


@dataclass(frozen=True)
class Not:
    """Negation."""

    operand: Predicate

    def __str__(self) -> str:
        return f"not ({self.operand})"


@dataclass(frozen=True)
class Both:
    """Conjunction."""

    left: Predicate
    right: Predicate

    def __str__(self) -> str:
        return f"({self.left}) and ({self.right})"


@dataclass(frozen=True)
class Either:
    """Disjunction."""

    left: Predicate
    right: Predicate

    def __str__(self) -> str:
        return f"({self.left}) or ({self.right})"


Predicate = Comparison | Not | Both | Either

class Values(Protocol):
    """What a run's values look like to the evaluator: None when a value is unknown."""

    def get(self, reference: Reference, /) -> float | None:
        """The value of ``reference``, or None."""


def parse(source: str) -> Predicate:
    """The predicate in ``source``; :class:`PredicateError` says where it goes wrong."""
    tokens = _tokens(source)
    parser = _Parser(source, tokens)
    predicate = parser.expression()
    if parser.index != len(tokens):
        _, value, at = tokens[parser.index]
        raise PredicateError(f"recall predicate {_quoted(source)}: unexpected {value!r} at "
                             f"column {at + 1}; expected 'and', 'or' or the end")
    levels = depth(predicate)
    if levels > MAX_DEPTH:
        raise PredicateError(f"recall predicate {_quoted(source)} nests {levels} levels deep; "
                             f"expected at most {MAX_DEPTH} (parentheses, 'not', 'and', 'or')")
    return predicate


def depth(predicate: Predicate) -> int:
    """How many levels the predicate's tree has (a comparison alone is one)."""
    deepest, pending = 0, [(predicate, 1)]
    while pending:  # a loop, not recursion: it measures trees too deep to recurse into
        node, level = pending.pop()
        deepest = max(deepest, level)
        match node:
            case Not():
                pending.append((node.operand, level + 1))
            case Both() | Either():
                pending += [(node.left, level + 1), (node.right, level + 1)]
    return deepest


def references(predicate: Predicate) -> list[Reference]:
    """Every reference in the predicate, in reading order."""
    match predicate:
        case Comparison():
            return [predicate.reference]
        case Not():
            return references(predicate.operand)
        case Both() | Either():
            return [*references(predicate.left), *references(predicate.right)]


def evaluate(predicate: Predicate, values: Values) -> bool | None:
    """Whether the predicate holds: True, False, or None when a missing value decides it.

    Missing values follow three-valued logic: ``False and unknown`` is False,
    ``True or unknown`` is True, anything else with an unknown is unknown.
    To test many runs, compile the predicate once with :func:`compile_predicate`.
    """
    return compile_predicate(predicate)(values)


def compile_predicate(predicate: Predicate) -> Callable[[Values], bool | None]:
    """The predicate as a function: :func:`evaluate` without walking the tree each time."""
    match predicate:
        case Comparison():
            reference, number = predicate.reference, predicate.number
            compare = OPERATORS[predicate.operator]

            def comparison(values: Values) -> bool | None:
                value = values.get(reference)
                if value is None or value != value:  # unknown, or NaN
                    return None
                return compare(value, number)
            return comparison
        case Not():
            operand = compile_predicate(predicate.operand)

            def negation(values: Values) -> bool | None:
                inner = operand(values)
                return None if inner is None else not inner
            return negation
        case Both():
            left, right = compile_predicate(predicate.left), compile_predicate(predicate.right)

            def conjunction(values: Values) -> bool | None:
                first = left(values)
                if first is False:
                    return False
                second = right(values)
                if second is False:
                    return False
                return None if first is None or second is None else True
            return conjunction
        case Either():
            left, right = compile_predicate(predicate.left), compile_predicate(predicate.right)

            def disjunction(values: Values) -> bool | None:
                first = left(values)
                if first is True:
                    return True
                second = right(values)
                if second is True:
                    return True
                return None if first is None or second is None else False
            return disjunction


#: The comparison operators as SQL writes them.
_SQL_OPERATORS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "==": "=", "!=": "<>"}


def sql_possible(predicate: Predicate, column: Callable[[Reference], str | None]
                 ) -> tuple[str, dict[str, float]]:
    """An SQL condition that is false exactly where the predicate is False, and its
    numbers as ``:value_N`` parameters.

    ``column`` names the SQL expression a reference reads (NULL where the value is
    missing), or None for a value SQL cannot read. A missing or unreadable value is
    unknown, so the condition holds where the predicate is True or undecided: a query
    may drop the rows it rejects and leave the rest to the evaluator. Negations are
    pushed down to the comparisons, so the condition is a plain ``AND``/``OR`` of
    comparisons each true when unknown (``COALESCE(..., TRUE)``), and a database checks
    each term of a top-level ``and`` as soon as it has the values that term reads.
    """
    values: dict[str, float] = {}

    def write(node: Predicate, holds: bool) -> str:
        """Where ``node`` may hold (``holds``) or may fail (not ``holds``)."""
        match node:
            case Comparison():
                read = column(node.reference)
                if read is None:
                    return "TRUE"
                name = f"value_{len(values)}"
                values[name] = node.number
                compared = f"{read} {_SQL_OPERATORS[node.operator]} :{name}"
                return f"COALESCE({compared if holds else f'NOT ({compared})'}, TRUE)"
            case Not():
                return write(node.operand, not holds)
            case Both() | Either():
                joined = " AND " if isinstance(node, Both) == holds else " OR "
                return f"({write(node.left, holds)}{joined}{write(node.right, holds)})"

    return write(predicate, True), values


def missing(predicate: Predicate, values: Values) -> list[Reference]:
    """The references the predicate needs that ``values`` does not have."""
    return [r for r in references(predicate) if values.get(r) is None]


def _tokens(source: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    at = 0
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None:
            raise PredicateError(f"recall predicate {_quoted(source)}: cannot read "
                                 f"{source[at]!r} at column {at + 1}; expected a name, a "
                                 f"number, a comparison (> >= < <= == !=), 'and', 'or', "
                                 f"'not' or parentheses")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group(), at))
        at = match.end()
    if not tokens:
        raise PredicateError("recall predicate is empty; expected e.g. 'vibration.max > 4.0'")
    return tokens


def _quoted(source: str) -> str:
    """The predicate as a message quotes it: escaped, and cut when long (columns still count)."""
    return repr(source if len(source) <= _QUOTED else source[:_QUOTED - 3] + "...")


def _balanced(operands: list[Predicate], join: type[Both] | type[Either]) -> Predicate:
    """``a op b op c ...`` as a balanced tree: the same truth, log2(n) levels instead of n."""
    if len(operands) == 1:
        return operands[0]
    middle = (len(operands) + 1) // 2
    return join(_balanced(operands[:middle], join), _balanced(operands[middle:], join))


class _Parser:
    def __init__(self, source: str, tokens: list[tuple[str, str, int]]) -> None:
        self.source, self.tokens, self.index = source, tokens, 0
        self.nesting = 0  # parentheses and 'not' open around the current token

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, expected: str) -> PredicateError:
        token = self.peek()
        where = (f"{token[1]!r} at column {token[2] + 1}" if token is not None
                 else "the end")
        return PredicateError(f"recall predicate {_quoted(self.source)}: found {where}; "
                              f"expected {expected}")

    def word(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] == word:
            self.index += 1
            return True
        return False

    def expression(self) -> Predicate:
        operands = [self.conjunction()]
        while self.word("or"):
            operands.append(self.conjunction())
        return _balanced(operands, Either)

    def conjunction(self) -> Predicate:
        operands = [self.unary()]
        while self.word("and"):
            operands.append(self.unary())
        return _balanced(operands, Both)

    def unary(self) -> Predicate:
        token = self.peek()
        if token is not None and token[1] in ("not", "("):
            self.nesting += 1
            if self.nesting > MAX_DEPTH:  # refused before the parser's own recursion runs out
                raise PredicateError(
                    f"recall predicate {_quoted(self.source)}: more than {MAX_DEPTH} levels of "
                    f"parentheses and 'not' at column {token[2] + 1}; expected at most "
                    f"{MAX_DEPTH}")
            inner = self.negation() if token[1] == "not" else self.group()
            self.nesting -= 1
            return inner
        return self.comparison()

    def negation(self) -> Predicate:
        self.index += 1
        return Not(self.unary())

    def group(self) -> Predicate:
        self.index += 1
        inner = self.expression()
        closing = self.peek()
        if closing is None or closing[1] != ")":
            raise self.fail("')'")
        self.index += 1
        return inner

    def comparison(self) -> Comparison:
        token = self.peek()
        if token is None or token[0] != "name" or token[1] in ("and", "or", "not"):
            raise self.fail("a value such as vibration.max or coolant_temp.mean")
        self.index += 1
        reference = self.reference(token[1], token[2])
        operator = self.peek()
        if operator is None or operator[0] != "op":
            raise self.fail("a comparison: > >= < <= == !=")
        self.index += 1
        number = self.peek()
        if number is None or number[0] != "number":
            raise self.fail("a number")
        self.index += 1
        return Comparison(reference, operator[1], float(number[1]))

    def reference(self, text: str, at: int) -> Reference:
        parts = text.split(".")
        scope = parts[0] if parts[0] in SCOPES and len(parts) > 1 else None
        rest = parts[1:] if scope is not None else parts
        if len(rest) == 1 and rest[0] in SCALARS and scope in (None, "condition"):
            return Reference("condition", rest[0], "value")
        if len(rest) < 2 or rest[-1] not in STATS:
            raise PredicateError(
                f"recall predicate {_quoted(self.source)}: {text!r} at column {at + 1} is not a "
                f"value; expected [process.|condition.]NAME.STAT with STAT one of "
                f"{', '.join(STATS)}, or one of {', '.join(SCALARS)}"
            )
        if rest[-1] == "threshold" and scope == "process":
            raise PredicateError(f"recall predicate {_quoted(self.source)}: process parameters "
                                 f"have no threshold ({text!r} at column {at + 1})")
        return Reference(scope, ".".join(rest[:-1]), rest[-1])
