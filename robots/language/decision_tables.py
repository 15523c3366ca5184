"""Decision tables as data, and how one decides: hit policies, typed columns, condition cells.

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

Owns the table model (``DecisionTable``, ``Column``, ``Rule``, ``Example``), its evaluation
and the value and cell checks the parser (``table_parser``) reuses. Reading a table from
YAML is ``table_parser``; a folder of tables and Python decisions is ``rules.RuleBook``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from robots.errors import DecisionError, quoted
from robots.language import expressions

HitPolicy = Literal["first", "unique", "priority", "collect"]
ValueType = Literal["string", "integer", "number", "boolean", "list", "any"]


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
