"""Finds the line a key is written on in TOML text.

tomllib returns plain dicts without positions, yet a policy error is only
useful if it says where to look. This scanner reads table headers and
`key = value` lines well enough for hand-written policy files; it is not a
TOML parser, and where it cannot place a key it falls back to the nearest
enclosing table, then to line 1.
"""

import re

KeyPath = tuple[str, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_MULTILINE_STRING_DELIMITERS = ('"""', "'''")


def key_lines(text: str) -> dict[KeyPath, int]:
    """Maps each key path (and each enclosing table) to the line it first appears on."""
    lines: dict[KeyPath, int] = {}
    current_table: KeyPath = ()
    open_multiline_string: str | None = None
    for line_number, line in enumerate(text.splitlines(), start=1):
        if open_multiline_string:
            # Text inside a multi-line string may look like `key = value`.
            if open_multiline_string in line:
                open_multiline_string = None
            continue
        stripped = line.strip()
        header = _table_header(stripped)
        if header is not None:
            current_table = header
            _record(lines, header, line_number)
            continue
        assignment = _assignment(stripped)
        if assignment is None:
            continue
        key, value = assignment
        _record(lines, current_table + key, line_number)
        for delimiter in _MULTILINE_STRING_DELIMITERS:
            if value.startswith(delimiter) and value.count(delimiter) == 1:
                open_multiline_string = delimiter
    return lines


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int:
    """The line of `path`, or of its nearest enclosing table that is written down."""
    for length in range(len(path), 0, -1):
        if path[:length] in lines:
            return lines[path[:length]]
    return 1


def _record(lines: dict[KeyPath, int], path: KeyPath, line_number: int) -> None:
    for length in range(1, len(path) + 1):
        lines.setdefault(path[:length], line_number)


def _table_header(stripped: str) -> KeyPath | None:
    for opening, closing in (("[[", "]]"), ("[", "]")):
        if stripped.startswith(opening):
            parsed = _dotted_key(stripped, len(opening))
            if parsed is None:
                return None
            key, end = parsed
            rest = stripped[end:]
            if rest.startswith(closing) and _is_blank_or_comment(rest[len(closing) :]):
                return key
            return None
    return None


def _assignment(stripped: str) -> tuple[KeyPath, str] | None:
    parsed = _dotted_key(stripped, 0)
    if parsed is None:
        return None
    key, end = parsed
    if not stripped[end:].startswith("="):
        return None
    return key, stripped[end + 1 :].lstrip()


def _dotted_key(text: str, position: int) -> tuple[KeyPath, int] | None:
    """Reads `a.b."c d"` at position; returns its parts and the position after it."""
    parts: list[str] = []
    while True:
        position = _skip_spaces(text, position)
        if position >= len(text):
            return None
        quote = text[position]
        if quote in "\"'":
            end = text.find(quote, position + 1)
            if end == -1:
                return None
            parts.append(text[position + 1 : end])
            position = end + 1
        else:
            match = _BARE_KEY.match(text, position)
            if match is None:
                return None
            parts.append(match.group())
            position = match.end()
        position = _skip_spaces(text, position)
        if position < len(text) and text[position] == ".":
            position += 1
            continue
        return tuple(parts), position


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _is_blank_or_comment(text: str) -> bool:
    text = text.strip()
    return not text or text.startswith("#")
