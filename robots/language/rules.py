"""Business rules: decision tables in YAML (DMN-like) and Python rules for what tables cannot say.

A table has typed ``inputs`` (optionally derived by an expression, which may call rule
functions), typed ``outputs``, ``rules`` (``when`` conditions -> ``then`` outputs), an
optional ``default`` and ``examples`` that ``run.py validate`` checks. Hit policies follow
DMN: ``first``, ``unique``, ``priority`` and ``collect`` (optionally aggregated).

Condition cells (unary tests)::

    "-" or missing         any value
    nordlog / 42 / true    equal
    "10000-19999"          in the range, inclusive (numerically for digit strings)
    "< 100", ">= 5000"     comparisons; "!= x" not equal
    "in [a, b]" / [a, b]   one of; "not in [a, b]" none of
    "{{ expression }}"     a Jinja expression over all inputs that must be true
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robots.errors import DecisionError, DefinitionError, Problem, quoted
from robots.language import expressions
from robots.language.explain import RULES_DOCS, VALUE_HINTS, fix_hint, unknown_key_hint
from robots.language.registry import suggest
from robots.language.yamlsource import PathKey, Source, load_yaml, load_yaml_file

HitPolicy = Literal["first", "unique", "priority", "collect"]
ValueType = Literal["string", "integer", "number", "boolean", "list", "any"]
_TABLE_KEYS = {
    "name",
    "description",
    "hit_policy",
    "aggregate",
    "inputs",
    "outputs",
    "rules",
    "default",
    "examples",
}

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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Model):
    """An input or output of a table."""

    type: ValueType = "any"
    description: str = ""
    expression: str | None = Field(None, description="Derived input: computed from the other inputs.")
    priority: list[Any] | None = Field(None, description="Output values from highest to lowest priority.")
    default: Any = None


class Rule(_Model):
    """One row: conditions and the outputs they give."""

    when: dict[str, Any] = Field(default_factory=dict)
    then: dict[str, Any]
    line: int = 0
    note: str = ""


_EXAMPLE_HINT = "write each as '- input: {postal_code: \"20095\"}' and 'output: ...' under 'examples:'"


class Example(_Model):
    """An input and the output the table must give for it."""

    input: dict[str, Any]
    output: Any
    line: int = 0


class DecisionTable(_Model):
    """A decision table, loaded and checked."""

    name: str
    description: str = ""
    hit_policy: HitPolicy = "first"
    aggregate: Literal["sum", "count", "min", "max"] | None = None
    inputs: dict[str, Column]
    outputs: dict[str, Column]
    rules: tuple[Rule, ...]
    default: dict[str, Any] | None = None
    examples: tuple[Example, ...] = ()
    file: str = ""

    def decide(self, inputs: Mapping[str, Any]) -> dict[str, Any] | list[dict[str, Any]] | Any:
        """Evaluate the table for ``inputs``; see the module docstring for the semantics."""
        values = self._prepare(inputs)
        matches = [
            rule for rule in self.rules if all(_test(values, key, cell) for key, cell in rule.when.items())
        ]
        if self.hit_policy == "collect":
            results = [self._outputs(rule.then, values) for rule in matches]
            if self.aggregate is None:
                return results
            numbers = [
                value for result in results for value in result.values() if isinstance(value, int | float)
            ]
            if self.aggregate == "count":
                return len(results)
            if not numbers:
                return None
            if self.aggregate == "sum":
                try:
                    return sum(numbers)
                except OverflowError:  # a huge int added to a float
                    raise DecisionError(
                        f"decision table {self.name!r}: the sum of {quoted(numbers)} is too large"
                    ) from None
            return min(numbers) if self.aggregate == "min" else max(numbers)
        if not matches:
            if self.default is not None:
                return self._outputs(self.default, values)
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise DecisionError(
                f"decision table {self.name!r}: no rule matches {shown} and there is no default"
            )
        if self.hit_policy == "unique" and len(matches) > 1:
            lines = ", ".join(str(rule.line) for rule in matches)
            raise DecisionError(
                f"decision table {self.name!r} (hit policy unique): rules on lines {lines} all match"
            )
        if self.hit_policy == "priority":
            matches = sorted(matches, key=self._rank)
        return self._outputs(matches[0].then, values)

    def _rank(self, rule: Rule) -> tuple[int, ...]:
        ranks = []
        for name, column in self.outputs.items():
            if column.priority:
                value = rule.then.get(name)
                ranks.append(
                    column.priority.index(value) if value in column.priority else len(column.priority)
                )
        return tuple(ranks)

    def _prepare(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, column in self.inputs.items():
            if column.expression is not None:
                continue
            if name not in inputs or inputs[name] is None:
                if column.default is not None:
                    values[name] = column.default
                    continue
                raise DecisionError(f"decision table {self.name!r} needs the input {name!r}")
            values[name] = _coerce(self.name, name, column.type, inputs[name])
        for name, column in self.inputs.items():
            if column.expression is not None:
                try:
                    values[name] = expressions.render_text(
                        column.expression, values, where=f"table {self.name} input {name}"
                    )
                except expressions.ExpressionError as error:
                    raise DecisionError(str(error)) from None
        return values

    def _outputs(self, then: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        result = {name: column.default for name, column in self.outputs.items()}
        try:
            result.update(expressions.render(dict(then), values, where=f"table {self.name} outputs"))
        except expressions.ExpressionError as error:
            raise DecisionError(str(error)) from None
        # Literal values were converted when the table was loaded; expressions only now give theirs.
        checked: dict[str, Any] = {}
        for name, value in result.items():
            kind = self.outputs[name].type if name in self.outputs else "any"
            if not output_fits(kind, value):
                raise DecisionError(
                    f"decision table {self.name!r}: output {name!r} must be {kind}, got {quoted(value)}"
                )
            checked[name] = output_value(kind, value)
        return checked


def _convert(kind: str, value: Any) -> Any:
    """``value`` as ``kind``, the way an input is converted (any text is a boolean, by
    ``expressions.truthy``); ``TypeError``, ``ValueError`` or ``OverflowError`` when it
    cannot be."""
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    if kind == "integer" and not isinstance(value, bool):
        return int(value)
    if kind == "number" and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):  # "1e400" and "inf" give inf without an error
            raise OverflowError
        return number
    if kind == "boolean":
        return value if isinstance(value, bool) else expressions.truthy(value)
    if kind == "list":
        if isinstance(value, list | tuple):
            return list(value)
        raise TypeError
    return value


def _coerce(table: str, name: str, kind: str, value: Any) -> Any:
    """An input's value as its declared type; ``DecisionError`` says which input and why not."""
    try:
        return _convert(kind, value)
    except OverflowError:  # a huge int as a float, an infinite number as an int
        raise DecisionError(
            f"decision table {table!r}: input {name!r} is not a number it can use "
            f"(infinite or too large), got {quoted(value)}"
        ) from None
    except (TypeError, ValueError):
        raise DecisionError(
            f"decision table {table!r}: input {name!r} must be {kind}, got {quoted(value)}"
        ) from None


# An output is stricter than an input: only these words are booleans (``maybe`` is a mistake).
_BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False}


def output_fits(kind: str, value: Any) -> bool:
    """Can an output declared ``kind`` hold ``value``? Converted like an input (``"3"`` is
    an integer), but never by a guess that would hide a mistake (``maybe`` is not a
    boolean, 2.5 not an integer, true not a number)."""
    if value is None or kind == "any":
        return True
    if kind == "boolean":
        return isinstance(value, bool) or str(value).casefold() in _BOOLEAN_WORDS
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float) and not value.is_integer():
        return False
    try:
        _convert(kind, value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def output_value(kind: str, value: Any) -> Any:
    """An output's value as its declared type; only for a value that ``output_fits``."""
    if value is None or kind == "any":
        return value
    if kind == "boolean" and isinstance(value, str):
        return _BOOLEAN_WORDS[value.casefold()]
    return _convert(kind, value)


_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")
_COMPARE = re.compile(r"^\s*(<=|>=|!=|<|>|=)\s*(.+?)\s*$")
_IN = re.compile(r"^\s*(not\s+)?in\s*\[(.*)\]\s*$", re.S)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value  # an int stays one: Python compares it with floats exactly, however large
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        return float(value)
    return None


def _scalar(text: str) -> Any:
    text = text.strip().strip("'\"")
    return text


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return (
            bool(value) == bool(expected) if isinstance(value, bool) and isinstance(expected, bool) else False
        )
    left, right = _number(value), _number(expected)
    if left is not None and right is not None and not (isinstance(value, str) and isinstance(expected, str)):
        return left == right
    return str(value).casefold() == str(expected).casefold() if isinstance(value, str) else value == expected


def cell_problem(cell: Any) -> str | None:
    """What is wrong with a condition cell, or None."""
    if isinstance(cell, str):
        if expressions.is_template(cell):
            return expressions.syntax_problem(cell)
        if _IN.match(cell) or _RANGE.match(cell):
            return None
        operator = re.fullmatch(r"\s*(<=|>=|!=|<|>|=)\s*", cell)
        if operator:
            sign = operator.group(1)
            return f"comparison {cell!r} has nothing after {sign}: write e.g. {sign} 10"
        compare = _COMPARE.match(cell)
        if compare and compare.group(1) in ("<", ">", "<=", ">=") and _number(compare.group(2)) is None:
            return f"comparison {cell!r} needs a number after {compare.group(1)}"
        if re.match(r"^\s*(in|not in)\b", cell):
            return f"a list test is written 'in [a, b]', got {cell!r}"
        if re.fullmatch(r"\s*-?\d+(\.\d+)?\s*-\s*", cell):
            return f"{cell!r} looks like a range without its end: write e.g. 10-20, or >= 10"
    return None


def _test(values: Mapping[str, Any], key: str, cell: Any) -> bool:
    value = values.get(key)
    if cell is None or cell == "-":
        return True
    if isinstance(cell, list):
        return any(_equal(value, item) for item in cell)
    if not isinstance(cell, str):
        return _equal(value, cell)
    if expressions.is_template(cell):
        try:
            return expressions.truthy(
                expressions.render_text(cell, dict(values), where=f"condition on {key}")
            )
        except expressions.ExpressionError as error:
            raise DecisionError(str(error)) from None
    listed = _IN.match(cell)
    if listed:
        items = [_scalar(item) for item in listed.group(2).split(",") if item.strip()]
        found = any(_equal(value, item) for item in items)
        return not found if listed.group(1) else found
    span = _RANGE.match(cell)
    if span:
        number = _number(value)
        return number is not None and float(span.group(1)) <= number <= float(span.group(2))
    compare = _COMPARE.match(cell)
    if compare:
        operator, operand = compare.groups()
        if operator in ("=", "!="):
            equal = _equal(value, _scalar(operand))
            return equal if operator == "=" else not equal
        left, right = _number(value), _number(operand)
        if left is None or right is None:
            return False
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
    return _equal(value, cell)


# -- loading --------------------------------------------------------------------------------


class _TableParser:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, path: PathKey, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(path, message, hint))

    def parse(self, data: Any, stem: str) -> DecisionTable | None:
        if not isinstance(data, dict):
            self.problem(
                (),
                "a decision table must be a mapping with inputs, outputs and rules",
                "start with 'name:', 'inputs:', 'outputs:' and 'rules:'",
            )
            return None
        for key in data:
            if key not in _TABLE_KEYS:
                self.problem(
                    (str(key),),
                    f"unknown key {key!r} in the decision table",
                    unknown_key_hint(str(key), _TABLE_KEYS),
                )
        policy = data.get("hit_policy", "first")
        if policy not in ("first", "unique", "priority", "collect"):
            self.problem(
                ("hit_policy",),
                f"unknown hit policy {policy!r}",
                suggest(str(policy), {"first", "unique", "priority", "collect"})
                or "use first, unique, priority or collect",
            )
            policy = "first"
        inputs = self.columns(data.get("inputs"), "inputs")
        outputs = self.columns(data.get("outputs"), "outputs")
        for name, column in list(outputs.items()):
            if column.default is not None:
                default_value = self.check_outputs(
                    {name: column.default}, outputs, ("outputs", name, "default")
                )
                outputs[name] = column.model_copy(update={"default": default_value[name]})
        for key in ("inputs", "outputs", "rules"):
            if key not in data:
                self.problem((), f"the decision table needs {key!r}", f"add '{key}:'")
        if policy == "priority" and not any(column.priority for column in outputs.values()):
            self.problem(
                ("hit_policy",),
                "hit policy priority needs a 'priority' list on an output",
                "e.g. outputs: {level: {priority: [high, normal, low]}}",
            )
        rules = self.rules(data.get("rules"), inputs, outputs)
        default = data.get("default")
        if default is not None:
            if not isinstance(default, dict):
                self.problem(("default",), "default must be a mapping of outputs", "")
                default = None
            else:
                default = self.check_outputs(default, outputs, ("default",))
        examples = self.examples(data.get("examples"))
        fields = {
            "name": data.get("name", stem),
            "description": data.get("description", ""),
            "hit_policy": policy,
            "aggregate": data.get("aggregate"),
            "inputs": inputs,
            "outputs": outputs,
            "rules": rules,
            "default": default,
            "examples": examples,
            "file": self.source.file,
        }
        try:
            table = DecisionTable.model_validate(fields)
        except ValidationError as error:
            for item in error.errors():
                self.problem(
                    tuple(str(p) for p in item["loc"]),
                    f"{'.'.join(map(str, item['loc']))}: {item['msg']}",
                    fix_hint(item, DecisionTable, reference=RULES_DOCS),
                )
            return None
        for example in table.examples:
            self.check_example(table, example)
        return table if not self.problems else None

    def columns(self, raw: Any, what: str) -> dict[str, Column]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem((what,), f"{what} must be a mapping of name -> {{type: ...}}", "")
            return {}
        columns: dict[str, Column] = {}
        for name, spec in raw.items():
            if isinstance(spec, str):
                spec = {"type": spec}
            try:
                columns[str(name)] = Column.model_validate(spec or {})
            except ValidationError as error:
                for item in error.errors():
                    loc = (what, str(name), *map(str, item["loc"]))
                    self.problem(
                        loc,
                        f"{what}.{name}.{'.'.join(map(str, item['loc']))}: {item['msg']}",
                        fix_hint(item, Column, reference=RULES_DOCS),
                    )
                continue
            if columns[str(name)].expression is not None:
                message = expressions.syntax_problem(str(columns[str(name)].expression))
                if message:
                    self.problem(
                        (what, str(name), "expression"), message, "check the braces and the expression"
                    )
        return columns

    def check_outputs(
        self, values: dict[Any, Any], outputs: dict[str, Column], path: PathKey
    ) -> dict[str, Any]:
        """The outputs of a rule or of the default, literal values converted to their declared
        type (expressions are checked when the table runs); every problem is reported."""
        checked: dict[str, Any] = {}
        for key, value in values.items():
            checked[str(key)] = value
            if str(key) not in outputs:
                self.problem(
                    (*path, str(key)),
                    f"{key!r} is not a declared output",
                    suggest(str(key), set(outputs)) or f"declare it under 'outputs:' ({', '.join(outputs)})",
                )
                continue
            if isinstance(value, str) and expressions.is_template(value):
                message = expressions.syntax_problem(value)
                if message:
                    self.problem((*path, str(key)), message, "check the braces and the expression")
                continue
            kind = outputs[str(key)].type
            if output_fits(kind, value):
                checked[str(key)] = output_value(kind, value)
            else:
                self.problem(
                    (*path, str(key)),
                    f"output {str(key)!r} is declared {kind}, got {quoted(value)}",
                    f"{VALUE_HINTS.get(kind, '')}, or change the type under 'outputs:'",
                )
        return checked

    def rules(self, raw: Any, inputs: dict[str, Column], outputs: dict[str, Column]) -> tuple[Rule, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(("rules",), "rules must be a list of {when: ..., then: ...}", "")
            return ()
        rules = []
        for index, item in enumerate(raw):
            path: PathKey = ("rules", index)
            line = self.source.where(path)[0]
            if not isinstance(item, dict) or "then" not in item:
                self.problem(
                    path, "a rule needs 'then' (and usually 'when')", "write '- when: {...}\\n  then: {...}'"
                )
                continue
            for key in item:
                if key not in ("when", "then", "note"):
                    self.problem(
                        (*path, str(key)),
                        f"unknown key {key!r} in a rule",
                        unknown_key_hint(str(key), {"when", "then", "note"}),
                    )
            when = item.get("when") or {}
            if not isinstance(when, dict):
                self.problem((*path, "when"), "'when' must be a mapping of input -> condition", "")
                continue
            for key, cell in when.items():
                if str(key) not in inputs:
                    self.problem(
                        (*path, "when", str(key)),
                        f"condition on {key!r}, which is not a declared input",
                        suggest(str(key), set(inputs)) or f"declare it under 'inputs:' ({', '.join(inputs)})",
                    )
                problem = cell_problem(cell)
                if problem:
                    self.problem(
                        (*path, "when", str(key)),
                        problem,
                        f"see {RULES_DOCS} for the condition forms",
                    )
            then = item["then"]
            if not isinstance(then, dict):
                self.problem((*path, "then"), "'then' must be a mapping of output -> value", "")
                continue
            rules.append(
                Rule(
                    when={str(k): v for k, v in when.items()},
                    then=self.check_outputs(then, outputs, (*path, "then")),
                    line=line,
                    note=str(item.get("note", "")),
                )
            )
        return tuple(rules)

    def examples(self, raw: Any) -> tuple[Example, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(("examples",), "examples must be a list of {input: ..., output: ...}", _EXAMPLE_HINT)
            return ()
        found = []
        for index, item in enumerate(raw):
            path: PathKey = ("examples", index)
            if (
                not isinstance(item, dict)
                or "input" not in item
                or "output" not in item
                or not isinstance(item["input"], dict)
            ):
                self.problem(path, "an example needs 'input' (a mapping) and 'output'", _EXAMPLE_HINT)
                continue
            given = {str(name): value for name, value in item["input"].items()}  # YAML may give 1: ...
            found.append(Example(input=given, output=item["output"], line=self.source.where(path)[0]))
        return tuple(found)

    def check_example(self, table: DecisionTable, example: Example) -> None:
        try:
            got = table.decide(example.input)
        except DecisionError as error:
            got = f"error: {error}"
        except Exception as error:  # a rule function's bug or a value nothing can compute with
            self.problems.append(
                Problem(
                    self.source.file,
                    example.line,
                    1,
                    f"example {quoted(example.input, 120)} cannot be evaluated: "
                    f"{type(error).__name__}: {error}",
                    "fix the example's input or the rule function it calls",
                )
            )
            return
        expected = example.output
        same = got == expected
        if not same and isinstance(got, dict) and isinstance(expected, dict):
            same = all(got.get(key) == value for key, value in expected.items())
        if not same:
            line = example.line
            self.problems.append(
                Problem(
                    self.source.file,
                    line,
                    1,
                    f"example {quoted(example.input, 120)} gives {quoted(got, 300)}, "
                    f"expected {quoted(expected, 120)}",
                    "fix the rules or the example",
                )
            )


def parse_table(text: str, file: str = "<table>") -> tuple[DecisionTable | None, list[Problem]]:
    """Parse and check a decision table from YAML text: the table (None if unusable) and
    every problem (its examples' included)."""
    data, source, problems = load_yaml(text, file)
    return _parse_table(data, source, problems, Path(file).stem)


def _parse_table(
    data: Any, source: Source, problems: list[Problem], stem: str
) -> tuple[DecisionTable | None, list[Problem]]:
    if problems:
        return None, problems
    parser = _TableParser(source)
    table = parser.parse(data, stem)
    if table is None:
        return None, parser.problems or [Problem(source.file, 1, 1, "the table could not be read")]
    return table, []


def load_table(path: Path) -> DecisionTable:
    """Load and check one decision table; ``DefinitionError`` lists every problem."""
    table, problems = _parse_table(*load_yaml_file(path), path.stem)
    if table is None:
        raise DefinitionError(problems)
    return table


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
