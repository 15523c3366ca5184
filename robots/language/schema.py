"""The JSON Schema of the workflow language, generated from the models and the registry.

Editors use it for completion and checking (``# yaml-language-server: $schema=...``).
Action steps get one entry per registered action, built from the action's params model.

The models describe the language after the loader (``robots.language.loader``) has read it; the
schema describes what may be written, so it adds the short forms the loader expands:

- a step list may be empty (``then:``), and a step may be just an action's name
  (``- web.screenshot``) when the action needs no parameters;
- ``retry: 3`` for ``retry: {attempts: 3}``;
- ``fail: "text"`` and ``callout: "title"`` (``SPEC_SHORTHANDS``);
- the step's ``when`` inside ``escalate`` and ``callout`` (``WHEN_IN_SPEC``) and inside an
  action's parameters;
- an input field as its type name (``postal_code: string``) or empty;
- an action's parameters as one value for its primary parameter (``web.goto: /url``), as
  one expression (``web.fill: "{{ fields }}"``), or empty when none is required;
- any parameter as an expression or a ``${ENV}`` reference: its value is known only when
  the step runs.

Durations (``timeout: 2s``) and other values a model converts itself are described by the
models (``json_schema_input_type``).
"""

from __future__ import annotations

import copy
from typing import Any

from robots.language.model import LOADER_FIELDS, Workflow
from robots.language.registry import ActionDefinition, load_actions
from robots.language.steps import CONTROL_KEYWORDS, SPEC_SHORTHANDS, WHEN_IN_SPEC, BlockStep, StepBase

_REF = "#/$defs/{model}"
_TEMPLATE = {
    "type": "string",
    "pattern": r"\{\{|\{%|\$\{|\$\$",
    "description": "An expression or a ${ENV} reference, read when the step runs.",
}
_SINGLE_EXPRESSION = {
    "type": "string",
    "pattern": r"^\s*\{\{(?:(?!\{\{|\}\}|\{%)[\s\S])*\}\}\s*$",
    "description": "One expression giving all the parameters.",
}
_STEP_MODELS = [*(model.__name__ for model in CONTROL_KEYWORDS.values()), BlockStep.__name__]
# Keywords that constrain a value; a schema with none of them accepts anything.
_CONSTRAINING = {"type", "$ref", "enum", "const", "allOf", "anyOf", "oneOf", "not"}
_STRING_CONSTRAINTS = {"pattern", "format", "minLength", "maxLength", "enum", "const"}


def workflow_schema() -> dict[str, Any]:
    """The whole language as one JSON Schema document (draft 2020-12)."""
    schema = _hide_loader_fields(Workflow.model_json_schema(by_alias=True, ref_template=_REF))
    defs = schema.setdefault("$defs", {})
    base = _hide_loader_fields(StepBase.model_json_schema(by_alias=True, ref_template=_REF))
    for name, definition in base.pop("$defs", {}).items():
        defs.setdefault(name, definition)
    actions = load_actions()
    common = _common_properties(base["properties"], defs)
    for properties in (schema["properties"], common, *(defs[name]["properties"] for name in _STEP_MODELS)):
        _refer_to_steps(properties)
    for name in _STEP_MODELS:
        defs[name]["properties"].update(copy.deepcopy(common))
    _spec_shorthands(defs, common["when"])
    _input_shorthands(schema)
    defs["ActionStep"] = {
        "anyOf": [
            _action_variant(action, defs, common, defs["ActionStep"]["properties"]["as"])
            for _, action in sorted(actions.items())
        ],
        "description": "An action step: '<action name>: params'.",
    }
    defs["Step"] = {
        "anyOf": [
            *({"$ref": _REF.format(model=name)} for name in ["ActionStep", *_STEP_MODELS]),
            {
                "enum": sorted(name for name, action in actions.items() if not _required(action)),
                "description": "An action that needs no parameters, by its name.",
            },
        ]
    }
    defs["Steps"] = {
        "anyOf": [{"type": "array", "items": {"$ref": _REF.format(model="Step")}}, {"type": "null"}],
        "description": "A list of steps (empty when left blank).",
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Tandem workflow"
    return schema


def _hide_loader_fields(node: Any) -> Any:
    """Remove the fields the loader sets itself (where a value was written, the file)."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for hidden in LOADER_FIELDS & set(properties):
                del properties[hidden]
            if isinstance(node.get("required"), list):
                node["required"] = [r for r in node["required"] if r not in LOADER_FIELDS]
        for value in node.values():
            _hide_loader_fields(value)
    elif isinstance(node, list):
        for value in node:
            _hide_loader_fields(value)
    return node


def _common_properties(properties: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """What every step may carry, with ``retry: 3`` for ``retry: {attempts: 3}``."""
    common = copy.deepcopy(properties)
    attempts = {
        key: value
        for key, value in defs["RetryPolicy"]["properties"]["attempts"].items()
        if key not in ("default", "title")
    }
    common["retry"]["anyOf"].insert(1, attempts)
    return common


def _spec_shorthands(defs: dict[str, Any], when: dict[str, Any]) -> None:
    """``fail: "text"``, ``callout: "title"``, and ``when`` inside ``escalate`` and ``callout``."""
    for keyword, model in CONTROL_KEYWORDS.items():
        if keyword not in SPEC_SHORTHANDS and keyword not in WHEN_IN_SPEC:
            continue
        properties = defs[model.__name__]["properties"]
        spec = defs[properties[keyword]["$ref"].rsplit("/", 1)[-1]]
        if keyword in WHEN_IN_SPEC:
            spec["properties"]["when"] = copy.deepcopy(when)
        if keyword in SPEC_SHORTHANDS:
            text = copy.deepcopy(spec["properties"][SPEC_SHORTHANDS[keyword]])
            properties[keyword] = _one_of_these(properties[keyword], text)


def _input_shorthands(schema: dict[str, Any]) -> None:
    """An input field written as its type name (``postal_code: string``) or left empty."""
    defs = schema["$defs"]
    type_name = copy.deepcopy(defs["InputField"]["properties"]["type"])
    type_name.pop("default", None)
    properties = schema["properties"]
    fields = properties["input"]["additionalProperties"]
    properties["input"]["additionalProperties"] = _one_of_these(fields, type_name, {"type": "null"})
    for key in ("input", "systems"):  # left empty, they are empty mappings
        properties[key] = _one_of_these(properties[key], {"type": "null"})


def _action_variant(
    action: ActionDefinition, defs: dict[str, Any], common: dict[str, Any], as_: dict[str, Any]
) -> dict[str, Any]:
    """The step '<action>: params' with every form of params the loader reads."""
    params = action.params.model_json_schema(by_alias=True, ref_template=_REF)
    for inner, definition in params.pop("$defs", {}).items():
        defs.setdefault(inner, definition)
    properties = params["properties"]
    for key, value in properties.items():
        properties[key] = _or_template(_numbers_as_text(value))
    if "when" not in action.params.model_fields:
        properties["when"] = copy.deepcopy(common["when"])
    params_name = f"params_{action.name.replace('.', '_')}"
    params["description"] = action.summary
    defs[params_name] = params
    forms: list[dict[str, Any]] = [
        {"$ref": _REF.format(model=params_name)},
        copy.deepcopy(_SINGLE_EXPRESSION),
    ]
    if action.primary and _required(action) <= {action.primary}:
        forms.append(copy.deepcopy(properties[action.primary]))
    if not _required(action):
        forms.append({"type": "null"})
    return {
        "type": "object",
        "title": action.name,
        "description": action.summary,
        "properties": {
            action.name: {"anyOf": forms},
            **copy.deepcopy(common),
            "as": {**as_, "description": "Keep the action's result under this name."},
        },
        "required": [action.name],
        "additionalProperties": False,
    }


def _numbers_as_text(schema: dict[str, Any]) -> dict[str, Any]:
    """A text parameter's schema that also takes a number, as the loader does (``core.log: 5``).

    Action parameters are read with ``coerce_numbers_to_str``: a number written for a text
    is its text. Choices (enum, const) stay text only.
    """
    if schema.get("type") == "string" and not {"enum", "const"} & set(schema):
        return {**schema, "type": ["string", "number"]}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_numbers_as_text(option) for option in schema["anyOf"]]}
    return schema


def _required(action: ActionDefinition) -> set[str]:
    return {name for name, field in action.params.model_fields.items() if field.is_required()}


def _or_template(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema that also takes an expression (or leaves it, if any text fits)."""
    if _accepts_any_text(schema):
        return schema
    return _one_of_these(schema, copy.deepcopy(_TEMPLATE))


def _one_of_these(schema: dict[str, Any], *others: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or any of ``others``, keeping its title, description and default on top."""
    described: dict[str, Any] = {
        key: schema.pop(key) for key in ("title", "description", "default") if key in schema
    }
    return {**described, "anyOf": [schema, *others]}


def _accepts_any_text(schema: dict[str, Any]) -> bool:
    if "anyOf" in schema:
        return any(_accepts_any_text(option) for option in schema["anyOf"])
    if not _CONSTRAINING & set(schema):
        return True
    return schema.get("type") == "string" and not _STRING_CONSTRAINTS & set(schema)


def _refer_to_steps(properties: dict[str, Any]) -> None:
    """Point every property holding steps at ``Steps``, which adds the short forms."""
    for key, value in properties.items():
        if _is_step_list(value):
            described = {k: value[k] for k in ("description",) if k in value}
            properties[key] = {"$ref": _REF.format(model="Steps"), **described}


def _is_step_list(schema: dict[str, Any]) -> bool:
    """True for a property holding steps (an array of the step union, maybe nullable)."""
    options = schema.get("anyOf", [schema])
    return any(
        option.get("type") == "array"
        and {"$ref": _REF.format(model="ActionStep")} in option.get("items", {}).get("anyOf", [])
        for option in options
    )
