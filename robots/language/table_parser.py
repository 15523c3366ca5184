"""Decision tables from YAML: every problem at once, with file, line, column and the fix.

Owns ``parse_table`` (YAML text) and ``load_table`` (a file): the table's keys, columns,
rules and cells are checked as they are read, then each of its ``examples`` is decided and
compared with the output it names. What a table is and how it decides is
``decision_tables``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from robots.errors import DecisionError, DefinitionError, Problem, quoted
from robots.language import expressions
from robots.language.decision_tables import (
    Column,
    DecisionTable,
    Example,
    Rule,
    cell_problem,
    output_fits,
    output_value,
)
from robots.language.explain import RULES_DOCS, VALUE_HINTS, fix_hint, unknown_key_hint
from robots.language.registry import suggest
from robots.language.yamlsource import PathKey, Source, load_yaml, load_yaml_file

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

_EXAMPLE_HINT = "write each as '- input: {postal_code: \"20095\"}' and 'output: ...' under 'examples:'"


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
