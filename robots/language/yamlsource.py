"""YAML with locations: every value's file, line and column, for errors that point at it.

``load_yaml`` turns a YAML text into plain Python data plus a ``Source`` that maps each
value's path (``("steps", 2, "web.fill", "label")``) to where it was written. Problems in
the YAML itself (bad indentation, duplicate keys, unknown tags) come back as located
``Problem`` values, never as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from robots.errors import Problem

PathKey = tuple[str | int, ...]

# A document that expands to more values than this is refused (alias bombs).
MAX_VALUES = 200_000


@dataclass
class Source:
    """Where each value of one YAML document was written."""

    file: str
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: PathKey) -> tuple[int, int]:
        """Line and column (1-based) of ``path``, or of its nearest located parent."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: PathKey, message: str, hint: str = "") -> Problem:
        """A ``Problem`` located at ``path``."""
        line, column = self.where(path)
        return Problem(self.file, line, column, message, hint)


class _Converter:
    def __init__(self, source: Source, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self.constructor = SafeConstructor()
        self.count = 0
        self.active: set[int] = set()

    def convert(self, node: Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooLarge
        self.source.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if id(node) in self.active:
            self._problem(node, "an alias refers to itself (recursive YAML)", "remove the recursion")
            return None
        if isinstance(node, ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except (ConstructorError, ValueError, OverflowError) as error:
                self._problem(
                    node,
                    f"cannot read value {node.value!r}: {error}".split("\n")[0],
                    "quote the value to keep it as text",
                )
                return node.value
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        self._problem(node, "unsupported YAML node", "")
        return None

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged_keys: set[Any] = set()  # keys a '<<' brought in: a key written here overrides them
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.convert(value_node, path)
                sources = merged if isinstance(merged, list) else [merged]
                for source in sources:
                    if not isinstance(source, dict):
                        self._problem(
                            value_node,
                            f"'<<' merges mappings, got {type(source).__name__} {source!r}",
                            "point it at an anchored mapping (<<: *defaults) or a list of them",
                        )
                        continue
                    for key, value in source.items():
                        if key not in result:
                            result[key] = value
                            merged_keys.add(key)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(
                    key_node,
                    "a mapping key must be a plain value, not a list or mapping",
                    "write the key as text",
                )
                continue
            key = self.convert(key_node, (*path, str(key_node.value)))
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            if key in result and key not in merged_keys:
                self._problem(key_node, f"duplicate key {key!r}", "remove one of the two")
            merged_keys.discard(key)
            result[key] = self.convert(value_node, (*path, key if isinstance(key, int) else str(key)))
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            self.source.positions[(*path, key if isinstance(key, int) else str(key))] = (
                line,
                column,
            )
        return result

    def _problem(self, node: Node, message: str, hint: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.source.file, mark.line + 1, mark.column + 1, message, hint))


class _TooLarge(Exception):
    pass


def load_yaml(text: str, file: str) -> tuple[Any, Source, list[Problem]]:
    """Parse one YAML document; returns (data, source, problems). Never raises on bad YAML."""
    source = Source(file)
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = error.problem or error.context or "invalid YAML"
        hint = "check the indentation and that every ':' is followed by a space"
        if "found character '\\t'" in str(error):
            hint = "YAML does not allow tabs for indentation: use spaces"
        elif "expected a single document" in str(error):
            hint = "a file holds one document: remove the extra '---'"
        problems.append(Problem(file, line, column, f"invalid YAML: {what}", hint))
        return None, source, problems
    except yaml.reader.ReaderError as error:  # a character YAML does not allow (NUL, control)
        before = text[: error.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        what = f"the character {chr(error.character)!r} ({error.character:#06x}) is not allowed in YAML"
        problems.append(
            Problem(
                file, line, column, f"invalid YAML: {what}", "remove it, or write it as an escape in quotes"
            )
        )
        return None, source, problems
    except yaml.YAMLError as error:
        problems.append(Problem(file, 1, 1, f"invalid YAML: {error}", ""))
        return None, source, problems
    except (RecursionError, ValueError) as error:
        problems.append(Problem(file, 1, 1, f"invalid YAML: {type(error).__name__}", "simplify the nesting"))
        return None, source, problems
    if node is None:
        return None, source, problems
    converter = _Converter(source, problems)
    try:
        data = converter.convert(node, ())
    except _TooLarge:
        problems.append(
            Problem(
                file,
                1,
                1,
                f"the document expands to more than {MAX_VALUES} values",
                "do not nest aliases this deeply",
            )
        )
        return None, source, problems
    except RecursionError:
        problems.append(Problem(file, 1, 1, "the document is nested too deeply", "flatten it"))
        return None, source, problems
    return data, source, problems


def load_yaml_file(path: Path) -> tuple[Any, Source, list[Problem]]:
    """Read and parse ``path``; an unreadable file is a problem too."""
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        return None, Source(str(path)), [Problem(str(path), 1, 1, f"cannot read file: {reason}", "")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, Source(str(path)), [_not_utf8(str(path), data, error)]
    return load_yaml(text, str(path))


def _not_utf8(file: str, data: bytes, error: UnicodeDecodeError) -> Problem:
    """Where the first byte that is not UTF-8 is, and how to convert the file."""
    before = data[: error.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
    byte = data[error.start : error.start + 1].hex()
    return Problem(
        file,
        line,
        column,
        f"the file is not UTF-8 text: byte 0x{byte} cannot be read",
        "save the file with the UTF-8 encoding (e.g. 'iconv -f latin1 -t utf-8 old.yaml > new.yaml')",
    )
