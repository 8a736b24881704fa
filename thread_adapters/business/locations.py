"""Where each key of a mapping file sits in its text, so errors can name the line.

``tomllib`` gives no positions, so the TOML side reads the text line by line:
table headers (``[a.b]``, ``[[a]]`` with a running index per array) and
``key = value`` lines, skipping the insides of multi-line strings and arrays.
Keys inside an inline table share the line of the key that holds the table,
which is where a reader looks anyway. The YAML side asks PyYAML's composer,
which keeps the position of every node.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: A key path as pydantic reports it: table and key names, list indexes.
KeyPath = tuple[str | int, ...]

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*(?P<key>[^\]]+?)\s*\]\]\s*(?:#.*)?$")
_TABLE_HEADER = re.compile(r"^\s*\[\s*(?P<key>[^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY_VALUE = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
    r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*=\s*(?P<value>.*)$"""
)
_KEY_PART = re.compile(r"""\s*([A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')\s*(?:\.|$)""")


def split_key(dotted: str) -> list[str]:
    """``a."b c".d`` -> ``['a', 'b c', 'd']``."""
    parts: list[str] = []
    position = 0
    while position < len(dotted):
        match = _KEY_PART.match(dotted, position)
        if match is None:
            break
        token = match.group(1)
        if token.startswith('"'):
            token = token[1:-1].encode().decode("unicode_escape")
        elif token.startswith("'"):
            token = token[1:-1]
        parts.append(token)
        position = match.end()
    return parts


def toml_key_lines(text: str) -> dict[KeyPath, int]:
    """Every table and key of a TOML text with the 1-based line it is defined on."""
    lines: dict[KeyPath, int] = {}
    arrays: dict[tuple[str, ...], int] = {}  # array-of-tables path -> index of its last entry
    table: KeyPath = ()
    closing: str | None = None  # the delimiter that ends a multi-line string we are inside
    depth = 0  # open brackets of a multi-line array value
    for number, line in enumerate(text.splitlines(), start=1):
        if closing is not None:
            if line.count(closing) % 2 == 1:
                closing = None
            continue
        if depth > 0:
            depth = max(0, depth + _bracket_balance(line))
            continue
        if match := _ARRAY_HEADER.match(line):
            names = split_key(match["key"])
            arrays[tuple(names)] = arrays.get(tuple(names), -1) + 1
            table = (*_resolve(names[:-1], arrays), names[-1], arrays[tuple(names)])
            lines.setdefault(table[:-1], number)
            lines[table] = number
            continue
        if match := _TABLE_HEADER.match(line):
            table = _resolve(split_key(match["key"]), arrays)
            lines[table] = number
            continue
        if match := _KEY_VALUE.match(line):
            path = (*table, *split_key(match["key"]))
            lines.setdefault(path, number)
            value = match["value"]
            for quotes in ('"""', "'''"):
                if value.startswith(quotes) and value.count(quotes) == 1:
                    closing = quotes
            if closing is None and value.startswith("["):
                depth = max(0, _bracket_balance(value))
    return lines


def _resolve(names: Sequence[str], arrays: dict[tuple[str, ...], int]) -> KeyPath:
    """A header's names with the index of the current entry after each array of tables."""
    path: list[str | int] = []
    for depth in range(len(names)):
        path.append(names[depth])
        index = arrays.get(tuple(names[: depth + 1]))
        if index is not None:
            path.append(index)
    return tuple(path)


def _bracket_balance(text: str) -> int:
    """Opened minus closed square brackets, outside strings and comments."""
    balance = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char == "[":
            balance += 1
        elif char == "]":
            balance -= 1
    return balance


def yaml_key_lines(text: str) -> dict[KeyPath, int]:
    """Every key of a YAML text with the 1-based line it is defined on."""
    import yaml

    lines: dict[KeyPath, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    _walk_yaml(root, (), lines)
    return lines


def _walk_yaml(node: Any, path: KeyPath, lines: dict[KeyPath, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            lines.setdefault(child, key.start_mark.line + 1)
            _walk_yaml(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _walk_yaml(item, child, lines)


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, or of its nearest enclosing key that has one."""
    for end in range(len(path), 0, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None


def dotted(path: KeyPath) -> str:
    """A key path as a reader writes it: ``record[1].fields.serial``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "(top level)"
