"""The JSON Schema of the workflow language, generated from the models and the registry.

Editors use it for completion and checking (``# yaml-language-server: $schema=...``).
Action steps get one entry per registered action, built from the action's params model.
"""

from __future__ import annotations

import copy
from typing import Any

from robots.model import StepBase, Workflow
from robots.registry import load_actions

_DURATION = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
    ]
}
_HIDDEN = {"location", "locations", "file"}


def _strip(node: Any) -> Any:
    """Remove loader-only fields and let durations be written as text."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for hidden in _HIDDEN & set(properties):
                del properties[hidden]
            if isinstance(node.get("required"), list):
                node["required"] = [r for r in node["required"] if r not in _HIDDEN]
            for name in ("timeout", "backoff", "max_delay"):
                if name in properties:
                    description = properties[name].get("description", "")
                    properties[name] = {**copy.deepcopy(_DURATION), "description": description}
        for value in node.values():
            _strip(value)
    elif isinstance(node, list):
        for value in node:
            _strip(value)
    return node


def workflow_schema() -> dict[str, Any]:
    """The whole language as one JSON Schema document (draft 2020-12)."""
    schema = _strip(Workflow.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"))
    defs = schema.setdefault("$defs", {})
    common = _strip(StepBase.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"))
    for name, definition in common.pop("$defs", {}).items():
        defs.setdefault(name, definition)
    common_properties = common["properties"]
    action_variants = []
    for name, action in sorted(load_actions().items()):
        params = _strip(action.params.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"))
        for inner, definition in params.pop("$defs", {}).items():
            defs.setdefault(inner, definition)
        params_name = f"params_{name.replace('.', '_')}"
        params["description"] = action.summary
        defs[params_name] = params
        forms: list[dict[str, Any]] = [{"$ref": f"#/$defs/{params_name}"}]
        if action.primary:
            forms.append(copy.deepcopy(params["properties"][action.primary]))
        if not params.get("required"):
            forms.append({"type": "null"})
        action_variants.append(
            {
                "type": "object",
                "title": name,
                "description": action.summary,
                "properties": {
                    name: {"anyOf": forms},
                    **copy.deepcopy(common_properties),
                    "as": {"type": "string", "description": "Keep the action's result under this name."},
                },
                "required": [name],
                "additionalProperties": False,
            }
        )
    defs["ActionStep"] = {"anyOf": action_variants, "description": "An action step: '<action name>: params'."}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Tandem workflow"
    return schema
