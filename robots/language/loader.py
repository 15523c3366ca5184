"""YAML -> ``Workflow``, reporting every problem at once with file, line and column.

The loader never raises on bad input except ``DefinitionError`` (which lists the problems)
and never lets a traceback reach the user: every message names the place, the value and
the fix ("unknown action 'web.fil'; did you mean 'web.fill'?").

Owns reading a workflow's keys, steps and action parameters into the model
(``parse_workflow``, ``load_workflow``); the checks that need the whole workflow read
(names, systems, step ids) are ``workflow_checks``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from robots.errors import DefinitionError, Problem, quoted
from robots.language import expressions
from robots.language.explain import ACTIONS_DOCS, fix_hint, unknown_key_hint
from robots.language.model import LOADER_FIELDS, InputField, SystemSpec, Workflow
from robots.language.model_values import Location
from robots.language.registry import ActionDefinition, load_actions, suggest
from robots.language.steps import (
    COMMON_KEYS,
    CONTROL_KEYWORDS,
    SPEC_SHORTHANDS,
    WHEN_IN_SPEC,
    ActionStep,
    BlockStep,
    StepBase,
)
from robots.language.workflow_checks import check_workflow, strings_in
from robots.language.yamlsource import PathKey, Source, load_yaml, load_yaml_file

# Keys a step of each kind accepts besides its keyword and the common ones.
_EXTRA_KEYS: dict[str, set[str]] = {
    "action": {"as"},
    "decide": {"with", "as"},
    "if": {"then", "else"},
    "for_each": {"as", "steps"},
    "call": {"with", "as"},
    "in": {"steps", "idempotent"},
    "steps": {"idempotent"},
    "ensure": {"check", "holds", "change", "verify", "as"},
    "await_human": {"as"},
}
# Keys whose values are expressions even without braces.
_BARE_EXPRESSION_KEYS = {"when", "if", "for_each", "holds"}
# Keys holding nested steps.
_STEP_LIST_KEYS = {"then", "else", "steps", "on_error", "check", "change", "verify"}
_WORKFLOW_KEYS = set(Workflow.model_fields) - LOADER_FIELDS


def as_expression(value: Any) -> Any:
    """A condition written without braces (``when: not check.plausible``) as a template."""
    if isinstance(value, str) and not expressions.is_template(value):
        return "{{ " + value + " }}"
    return value


class _Parser:
    def __init__(self, source: Source, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self.actions = load_actions()

    def problem(self, path: PathKey, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(path, message, hint))

    def location(self, path: PathKey) -> Location:
        line, column = self.source.where(path)
        return Location(file=self.source.file, line=line, column=column)

    # -- pydantic errors, mapped back to where the value was written ------------------

    def report_validation(
        self,
        error: ValidationError,
        path: PathKey,
        what: str,
        raw: Any = None,
        model: type[BaseModel] | None = None,
    ) -> None:
        for item in error.errors():
            loc = tuple(
                part for part in item["loc"] if not isinstance(part, str) or not part.startswith("function-")
            )
            if raw is not None and loc and isinstance(raw, dict):
                value = raw.get(loc[0])
                if isinstance(value, str) and (
                    expressions.is_template(value) or expressions.has_env_ref(value)
                ):
                    continue  # checked when it runs: the template's value is not known yet
            where = (*path, *loc)
            self.problem(where, self._explain(item, what), fix_hint(item, model))

    def _explain(self, item: Any, what: str) -> str:
        loc = ".".join(str(part) for part in item["loc"])
        field = f"{what} {loc!r}" if loc else what
        kind = item["type"]
        if kind == "extra_forbidden":
            return f"unknown key {loc!r} in {what}"
        if kind == "missing":
            return f"{what} needs {loc!r}"
        return f"{field}: {_with_value(item)}"

    def unknown_keys(self, mapping: dict[Any, Any], allowed: set[str], path: PathKey, what: str) -> None:
        for key in mapping:
            if str(key) not in allowed:
                self.problem(
                    (*path, str(key)), f"unknown key {key!r} in {what}", unknown_key_hint(str(key), allowed)
                )

    def check_templates(self, value: Any, path: PathKey) -> None:
        """Report bad expression syntax and unclosed ``${NAME`` anywhere inside ``value``."""
        for where, text in strings_in(value, path):
            message = expressions.syntax_problem(text) if expressions.is_template(text) else None
            if message:
                self.problem(where, f"{message} in {text!r}", "check the braces and the expression")
            env_problem = expressions.env_ref_problem(text) if "${" in text else None
            if env_problem:
                self.problem(
                    where,
                    env_problem,
                    "write ${NAME} or ${NAME:-default} (NAME: letters, digits, _); $$ is a $",
                )

    # -- the document ------------------------------------------------------------------

    def workflow(self, data: Any) -> Workflow | None:
        if not isinstance(data, dict):
            shown = "an empty file" if data is None else f"a {type(data).__name__}"
            self.problem(
                (),
                f"a workflow file must be a mapping with name and steps, got {shown}",
                "start with 'name: my_process' and 'steps:'",
            )
            return None
        self.unknown_keys(data, _WORKFLOW_KEYS, (), "the workflow")
        fields: dict[str, Any] = {}
        for key in (
            "name",
            "description",
            "version",
            "outputs",
            "queue",
            "max_attempts",
            "manual_minutes",
            "step_screenshots",
            "runs_in",
            "customer_status",
        ):
            if key in data:
                fields[key] = data[key]
        if "name" not in data:
            self.problem((), "the workflow needs a 'name'", "add 'name: my_process' at the top")
        fields["input"] = self.mapping_of(
            data.get("input"), ("input",), InputField, "input field", shorthand="type"
        )
        systems = self.mapping_of(data.get("systems"), ("systems",), SystemSpec, "system", shorthand=None)
        fields["systems"] = {
            name: spec.model_copy(update={"login_location": self.location(("systems", name, "login"))})
            if spec.login
            else spec
            for name, spec in systems.items()
        }
        if "steps" not in data:
            self.problem((), "the workflow needs 'steps'", "add a 'steps:' list")
        fields["steps"] = self.steps(data.get("steps", []), ("steps",))
        fields["on_error"] = self.steps(data.get("on_error", []), ("on_error",))
        self.check_templates(data.get("outputs"), ("outputs",))
        self.check_templates(data.get("systems"), ("systems",))
        try:
            workflow = Workflow.model_validate({**fields, "file": self.source.file})
        except ValidationError as error:
            self.report_validation(error, (), "the workflow", model=Workflow)
            return None
        return workflow

    def mapping_of(
        self, raw: Any, path: PathKey, model: type[BaseModel], what: str, *, shorthand: str | None
    ) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(path, f"{path[-1]} must be a mapping of name -> {what}", "")
            return {}
        result: dict[str, Any] = {}
        for name, spec in raw.items():
            if shorthand is not None and isinstance(spec, str):
                spec = {shorthand: spec}
            if spec is None:
                spec = {}
            if isinstance(spec, dict) and LOADER_FIELDS & set(map(str, spec)):
                # Fields the loader fills in are not for writing: refused like any unknown key.
                written = {key: value for key, value in spec.items() if str(key) in LOADER_FIELDS}
                allowed = set(model.model_fields) - LOADER_FIELDS
                self.unknown_keys(written, allowed, (*path, str(name)), f"{what} {name!r}")
                spec = {key: value for key, value in spec.items() if key not in written}
            try:
                result[str(name)] = model.model_validate(spec)
            except ValidationError as error:
                self.report_validation(error, (*path, str(name)), f"{what} {name!r}", model=model)
        return result

    # -- steps ---------------------------------------------------------------------------

    def steps(self, raw: Any, path: PathKey) -> tuple[StepBase, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(
                path,
                f"{path[-1]!r} must be a list of steps (each line starting with '- ')",
                "write each step as '- action: ...'",
            )
            return ()
        parsed = [self.step(item, (*path, index)) for index, item in enumerate(raw)]
        return tuple(step for step in parsed if step is not None)

    def step(self, raw: Any, path: PathKey) -> StepBase | None:
        if isinstance(raw, str) and raw in self.actions:
            raw = {raw: None}  # "- web.screenshot" is an action without parameters
        if not isinstance(raw, dict):
            self.problem(
                path,
                f"a step must be a mapping like '- web.goto: /url', got {raw!r}",
                "start the step with an action name or a keyword (set, if, decide...)",
            )
            return None
        keys = [str(key) for key in raw]
        keywords = [key for key in keys if key in CONTROL_KEYWORDS]
        actions = [key for key in keys if "." in key]
        kinds = keywords + actions
        if not kinds and "steps" in raw:
            kinds = ["steps"]
        if len(kinds) > 1:
            self.problem(
                path,
                f"a step does one thing, this one has {', '.join(kinds)}",
                "split it into one step per action or keyword",
            )
            return None
        if not kinds:
            unknown = [key for key in keys if key not in COMMON_KEYS]
            hints = [suggest(key, set(self.actions) | set(CONTROL_KEYWORDS)) for key in unknown]
            hint = next((h for h in hints if h), "start the step with an action (web.fill...) or a keyword")
            self.problem(
                path,
                f"this step has no action or keyword (keys: {', '.join(keys) or 'none'})",
                hint,
            )
            return None
        kind = kinds[0]
        if "." in kind:
            return self.action_step(raw, kind, path)
        return self.control_step(raw, kind, path)

    def common(self, raw: dict[Any, Any], path: PathKey) -> dict[str, Any]:
        fields: dict[str, Any] = {"location": self.location(path)}
        for key in ("id", "name", "timeout"):
            if key in raw:
                fields[key] = raw[key]
        if "when" in raw:
            fields["when"] = as_expression(raw["when"])
        if "retry" in raw:
            retry = raw["retry"]
            fields["retry"] = (
                {"attempts": retry} if isinstance(retry, int) and not isinstance(retry, bool) else retry
            )
        if "on_error" in raw:
            fields["on_error"] = self.steps(raw["on_error"], (*path, "on_error"))
        self.check_templates({k: fields[k] for k in ("when",) if k in fields}, path)
        return fields

    def build(
        self, model: type[StepBase], fields: dict[str, Any], path: PathKey, what: str
    ) -> StepBase | None:
        try:
            return model.model_validate(fields)
        except ValidationError as error:
            self.report_validation(error, path, what, model=model)
            return None

    def action_step(self, raw: dict[Any, Any], name: str, path: PathKey) -> StepBase | None:
        definition = self.actions.get(name)
        if definition is None:
            hint = suggest(name, set(self.actions)) or "run 'run.py actions' to list every action"
            self.problem((*path, name), f"unknown action {name!r}", hint)
            return None
        self.unknown_keys(raw, COMMON_KEYS | _EXTRA_KEYS["action"] | {name}, path, f"step {name}")
        params = definition.normalize(raw[name])
        fields = self.common(raw, path)
        if isinstance(params, dict) and "when" in params and "when" not in definition.params.model_fields:
            params = dict(params)
            if "when" in fields:
                self.problem((*path, name, "when"), "'when' is given twice", "keep one of them")
            fields["when"] = as_expression(params.pop("when"))
        self.check_params(definition, params, (*path, name))
        self.check_templates(params, (*path, name))
        fields.update(action=name, params=params)
        if "as" in raw:
            fields["as"] = raw["as"]
        return self.build(ActionStep, fields, path, f"step {name}")

    def check_params(self, definition: ActionDefinition, params: Any, path: PathKey) -> None:
        if isinstance(params, str) and expressions.single_expression(params) is not None:
            return  # all parameters come from one expression: checked when it runs
        if not isinstance(params, dict):
            names = ", ".join(definition.params.model_fields) or "none"
            self.problem(
                path,
                f"{definition.name} expects a mapping of parameters, got {params!r}",
                f"its parameters: {names}",
            )
            return
        try:
            definition.params.model_validate(params)
        except ValidationError as error:
            for item in error.errors():
                loc = item["loc"]
                value = params.get(loc[0]) if loc else None
                if isinstance(value, str) and (
                    expressions.is_template(value) or expressions.has_env_ref(value)
                ):
                    continue
                if not loc and any(expressions.is_template(text) for _, text in strings_in(params, ())):
                    continue  # a check across parameters, some only known when the step runs
                allowed = set(definition.params.model_fields)
                if item["type"] == "extra_forbidden":
                    key = str(loc[0])
                    hint = (
                        suggest(key, allowed)
                        or f"parameters of {definition.name}: {', '.join(sorted(allowed)) or 'none'}"
                    )
                    self.problem((*path, key), f"unknown parameter {key!r} for {definition.name}", hint)
                elif item["type"] == "missing":
                    self.problem(
                        path,
                        f"{definition.name} needs the parameter {loc[0]!r}",
                        f"add '{loc[0]}: ...' (see 'run.py actions')",
                    )
                else:
                    where = (
                        f"parameter {'.'.join(map(str, loc))!r} of {definition.name}"
                        if loc
                        else definition.name
                    )
                    hint = fix_hint(item, definition.params, reference=ACTIONS_DOCS)
                    if ACTIONS_DOCS not in hint:
                        hint = f"{hint} (parameters: {ACTIONS_DOCS})"
                    self.problem((*path, *loc), f"{where}: {_with_value(item)}", hint)

    def control_step(self, raw: dict[Any, Any], kind: str, path: PathKey) -> StepBase | None:
        model: type[StepBase] = BlockStep if kind == "steps" else CONTROL_KEYWORDS[kind]
        allowed = COMMON_KEYS | _EXTRA_KEYS.get(kind, set()) | {kind}
        self.unknown_keys(raw, allowed, path, f"{kind} step")
        fields = self.common(raw, path)
        for key in allowed - COMMON_KEYS:
            if key not in raw:
                continue
            value = raw[key]
            if key in _STEP_LIST_KEYS:
                fields[key] = self.steps(value, (*path, key))
                continue
            if key in _BARE_EXPRESSION_KEYS:
                value = as_expression(value)
            elif key in SPEC_SHORTHANDS and isinstance(value, str):
                value = {SPEC_SHORTHANDS[key]: value}
            elif key in WHEN_IN_SPEC and isinstance(value, dict) and "when" in value:
                value = dict(value)
                if "when" in fields:
                    self.problem((*path, key, "when"), "'when' is given twice", "keep one of them")
                fields["when"] = as_expression(value.pop("when"))
            self.check_templates(value, (*path, key))
            fields[key] = value
        if kind in ("if",) and "then" not in raw:
            self.problem(path, "an 'if' step needs 'then'", "add 'then:' with the steps to run")
            return None
        if kind in ("for_each", "in") and "steps" not in raw:
            self.problem(path, f"a '{kind}' step needs 'steps'", "add 'steps:' with the steps to run")
            return None
        if kind == "ensure" and not self.ensure_complete(raw, path):
            return None
        return self.build(model, fields, path, f"{kind} step")

    def ensure_complete(self, raw: dict[Any, Any], path: PathKey) -> bool:
        """An ``ensure`` has its three parts: a check that reads, what must hold, a change."""
        complete = True
        for key, hint in (
            ("check", "add 'check:' with the steps that read the system's state (web.read ... as: name)"),
            (
                "holds",
                "add 'holds:' with an expression over what the check read, true when nothing needs changing",
            ),
            ("change", "add 'change:' with the steps that change the system"),
        ):
            if key not in raw:
                self.problem(path, f"an 'ensure' step needs '{key}'", hint)
                complete = False
            elif key != "holds" and not raw[key]:
                self.problem((*path, key), f"the '{key}' of an 'ensure' step has no steps", hint)
                complete = False
        return complete


def _with_value(item: Any) -> str:
    """A pydantic error's message with the value given (shortened), unless the message already
    names it (our own validators say "..., got 'x'")."""
    # Our own validators' messages need no "Value error, " before them.
    message = str(item["msg"]).rstrip(".").removeprefix("Value error, ")
    if "got " in message:
        return message
    return f"{message}, got {quoted(item.get('input'))}"


def parse_workflow(text: str, file: str = "<workflow>") -> tuple[Workflow | None, list[Problem]]:
    """Parse a workflow from YAML text: the workflow (None if unusable) and every problem."""
    data, source, problems = load_yaml(text, file)
    return _parse(data, source, problems)


def _parse(data: Any, source: Source, problems: list[Problem]) -> tuple[Workflow | None, list[Problem]]:
    workflow, problems = _parse_partial(data, source, problems)
    return (workflow if not problems else None), problems


def _parse_partial(
    data: Any, source: Source, problems: list[Problem]
) -> tuple[Workflow | None, list[Problem]]:
    """The workflow made of the parts that could be read (even with problems), and the problems."""
    if problems and data is None:
        return None, problems
    parser = _Parser(source, problems)
    workflow = parser.workflow(data)
    if workflow is not None:
        problems.extend(check_workflow(workflow, source))
    return workflow, sorted(problems, key=lambda p: (p.file, p.line, p.column))


def load_workflow(path: Path | str) -> Workflow:
    """Load one workflow file; ``DefinitionError`` lists every problem found."""
    data, source, problems = load_yaml_file(Path(path))
    workflow, problems = _parse_partial(data, source, problems)
    if workflow is None or problems:
        raise DefinitionError(
            problems or [Problem(str(path), 1, 1, "the workflow could not be read")], partial=workflow
        )
    return workflow
