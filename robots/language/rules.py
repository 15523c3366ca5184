"""Business rules: a project's decision tables and its Python rules, found by name.

``decide: name`` in a workflow asks the ``RuleBook`` of the project's ``business_rules/``
folder: a decision table (``*.yaml``, see ``decision_tables``) or, for what a table cannot
say, a Python decision registered with ``@decision``; ``@rule_function`` makes a Python
helper callable from table and workflow expressions.

Owns the two decorators and the ``RuleBook`` (loading a folder, importing its Python
modules, reporting every problem). A table's model and evaluation are ``decision_tables``;
reading one from YAML is ``table_parser``.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robots.errors import DecisionError, DefinitionError, Problem
from robots.language import expressions
from robots.language.decision_tables import DecisionTable
from robots.language.table_parser import load_table

_DECISIONS: dict[str, Callable[..., Any]] = {}
_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def decision(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a whole decision written in Python: ``decide: name`` calls it with the inputs."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        _DECISIONS[name] = function
        return function

    return register


def rule_function(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a helper callable from table expressions (and every workflow expression)."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        _FUNCTIONS[name] = function
        expressions.register_function(name, function)
        return function

    return register


@dataclass
class _Loaded:
    tables: dict[str, DecisionTable]
    problems: list[Problem]


class RuleBook:
    """The business rules of a folder: ``*.yaml`` tables and ``*.py`` modules with decisions."""

    _import_lock = threading.Lock()

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._loaded: _Loaded | None = None

    def _load(self) -> _Loaded:
        if self._loaded is not None:
            return self._loaded
        problems: list[Problem] = []
        tables: dict[str, DecisionTable] = {}
        if self.directory.is_dir():
            for module in sorted(self.directory.glob("*.py")):
                if module.name != "__init__.py":
                    problems += self._import(module)
            for path in sorted(p for p in self.directory.rglob("*") if p.suffix in (".yaml", ".yml")):
                try:
                    table = load_table(path)
                except DefinitionError as error:
                    problems += error.problems
                    tables.setdefault(path.stem, None)  # type: ignore[arg-type]
                    continue
                tables[table.name] = table
        self._loaded = _Loaded(tables, problems)
        return self._loaded

    def _import(self, path: Path) -> list[Problem]:
        name = f"tandem_rules_{path.stem}"
        with self._import_lock:
            if name in sys.modules:
                return []
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            except (Exception, SystemExit) as error:  # a module calling sys.exit must not end the caller
                sys.modules.pop(name, None)
                line = getattr(error, "lineno", None) or 1
                return [
                    Problem(
                        str(path),
                        int(line),
                        1,
                        f"cannot import rule module: {type(error).__name__}: {error}",
                        "fix the Python error",
                    )
                ]
        return []

    def names(self) -> list[str]:
        """Every table and Python decision by name."""
        return sorted(set(self._load().tables) | set(_DECISIONS))

    def has(self, name: str) -> bool:
        """True when a table or Python decision is called ``name``."""
        return name in self.names()

    def problems_of(self, name: str) -> list[Problem]:
        """Why the table file called ``name`` does not load (empty when it loads or is missing)."""
        return [p for p in self._load().problems if Path(p.file).stem == name]

    def table(self, name: str) -> DecisionTable:
        """The table ``name``; ``DefinitionError`` if it is broken or missing."""
        loaded = self._load()
        table = loaded.tables.get(name)
        if table is None:
            broken = self.problems_of(name)
            if broken:
                raise DefinitionError(broken)
            close = difflib.get_close_matches(name, self.names(), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(self.names()) or 'none'}"
            raise DefinitionError(
                [Problem(str(self.directory), 1, 1, f"no decision table named {name!r}", hint)]
            )
        return table

    def decide(self, name: str, inputs: Mapping[str, Any]) -> Any:
        """Run decision ``name`` (a table, else a Python decision) on ``inputs``."""
        self._load()
        if name not in self._load().tables and name in _DECISIONS:
            try:
                return _DECISIONS[name](**dict(inputs))
            except TypeError as error:
                raise DecisionError(f"python decision {name!r}: {error}") from None
        return self.table(name).decide(inputs)

    def problems(self) -> list[Problem]:
        """Every problem of every table and module (examples included); [] when all is well."""
        return list(self._load().problems)
