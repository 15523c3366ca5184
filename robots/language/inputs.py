"""Checking a case's payload against a workflow's typed ``input`` schema."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from robots.errors import TandemError
from robots.language.model import InputField, Workflow
from robots.language.model_values import thaw

_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, Any],
    "array": list[Any],
    "date": date,
    "datetime": datetime,
}


class InputError(TandemError):
    """A payload does not fit the workflow's input; ``problems`` lists every reason."""

    def __init__(self, workflow: str, problems: list[str]) -> None:
        self.workflow = workflow
        self.problems = problems
        super().__init__(f"input for workflow {workflow!r} is not valid:\n  " + "\n  ".join(problems))


def _one_of(allowed: list[Any]) -> Any:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"must be one of {allowed}")
        return value

    return AfterValidator(check)


def _field_type(spec: InputField) -> Any:
    python_type = _PYTHON_TYPES[spec.type]
    constraints: dict[str, Any] = {"description": spec.description or None}
    if spec.pattern is not None and spec.type == "string":
        constraints["pattern"] = f"^(?:{spec.pattern})$"
    if spec.minimum is not None:
        constraints["ge"] = spec.minimum
    if spec.maximum is not None:
        constraints["le"] = spec.maximum
    if spec.min_length is not None:
        constraints["min_length"] = spec.min_length
    if spec.max_length is not None:
        constraints["max_length"] = spec.max_length
    if spec.enum is not None:
        # Checked by _one_of (with its own message); named here so the JSON Schema shows it.
        constraints["json_schema_extra"] = {"enum": list(thaw(spec.enum))}
    metadata: list[Any] = [Field(**constraints)]
    if spec.enum is not None:
        metadata.append(_one_of(list(spec.enum)))
    annotated = Annotated[python_type, *metadata]  # type: ignore[valid-type]
    return annotated if spec.required and spec.default is None else annotated | None


def default_problem(spec: InputField) -> str | None:
    """What is wrong with an input field's ``default`` for its own type and limits, or None."""
    return None if spec.default is None else value_problem(spec, spec.default)


def value_problem(spec: InputField, value: Any) -> str | None:
    """What is wrong with ``value`` for the field ``spec`` (its type and limits), or None."""
    try:
        TypeAdapter(_field_type(spec)).validate_python(thaw(value))
    except ValidationError as error:
        return str(error.errors()[0]["msg"])
    return None


_MODELS: dict[int, tuple[Workflow, type[BaseModel]]] = {}


def input_model(workflow: Workflow) -> type[BaseModel]:
    """A pydantic model of the workflow's input (also gives the JSON Schema for the API)."""
    cached = _MODELS.get(id(workflow))
    if cached is not None and cached[0] is workflow:
        return cached[1]
    if len(_MODELS) > 512:
        _MODELS.clear()
    fields: dict[str, Any] = {}
    for name, spec in workflow.input.items():
        # The default becomes the case's data: a list, not the frozen workflow's tuple.
        default: Any = ... if spec.required and spec.default is None else thaw(spec.default)
        fields[name] = (_field_type(spec), default)
    model: type[BaseModel] = create_model(
        f"{workflow.name}_input", __config__=ConfigDict(extra="forbid"), **fields
    )
    _MODELS[id(workflow)] = (workflow, model)
    return model


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "not a field of this workflow"
    elif error["type"] == "missing":
        message = "required, but missing"
    given = error.get("input")
    shown = "" if error["type"] in ("missing",) or isinstance(given, dict) else f" (got {given!r})"
    return f"input.{location}: {message}{shown}"


def validate_input(workflow: Workflow, payload: Any) -> dict[str, Any]:
    """The payload checked and converted (``"3"`` -> 3 for an integer); ``InputError`` otherwise."""
    if not isinstance(payload, dict):
        raise InputError(
            workflow.name, [f"the input must be a mapping of fields, got {type(payload).__name__}"]
        )
    try:
        checked = input_model(workflow).model_validate(payload)
    except ValidationError as error:
        problems = [_describe(item) for item in error.errors()]
        unknown = [p for p in problems if "not a field" in p]
        if unknown:
            problems.append(f"fields of {workflow.name!r}: {', '.join(workflow.input) or 'none'}")
        raise InputError(workflow.name, problems) from None
    return checked.model_dump()


def personal_values(workflow: Workflow, values: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The (personal, secret) values of an input, for the run's masker."""
    personal = [
        values[k] for k, spec in workflow.input.items() if spec.personal and values.get(k) is not None
    ]
    secret = [values[k] for k, spec in workflow.input.items() if spec.secret and values.get(k) is not None]
    return personal, secret
