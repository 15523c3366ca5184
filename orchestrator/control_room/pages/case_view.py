"""How the case page tells a case: step texts with their values, screenshots with captions.

A step record keeps the step as written (``web.fill label=Street, value={{ input.street }}``),
masked by the engine. The page shows it as a person reads it: the action once, the case's
own values in place of ``{{ input.x }}`` (personal fields masked, as the workflow marks them
``personal: true``), and each screenshot once, captioned with the step that took it. A step
screenshot (a ``.jpg`` the robot kept after a web step, where the workflow asks for them) is
shown beside its step.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.control_room.i18n import N_
from orchestrator.models import StepEntry
from robots.masking import mask_personal

#: How the case page names the kind of error a case stopped on (the catalogue translates it).
ERROR_KINDS = {"business": N_("Business exception"), "system": N_("System exception")}

_INPUT = re.compile(r"\{\{\s*input((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\}\}")
_MISSING = object()


@dataclass(frozen=True)
class StepText:
    """What the timeline shows for a step: its text and, when the text is a name, its kind."""

    text: str
    kind: str | None


def _lookup(payload: Any, keys: list[str]) -> Any:
    value = payload
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def fill_inputs(text: str, payload: dict[str, Any], personal: set[str]) -> str:
    """``text`` with each ``{{ input.x }}`` replaced by the case's value (masked when the
    field is personal); a value the payload lacks (purged, optional) shows as ``input.x``."""

    def value(match: re.Match[str]) -> str:
        keys = match.group(1).lstrip(".").split(".")
        found = _lookup(payload, keys)
        if found is _MISSING or found is None:
            return "input." + ".".join(keys)
        shown = found if isinstance(found, str) else str(found)
        return mask_personal(shown) if keys[0] in personal else shown

    return _INPUT.sub(value, text)


def step_text(step: StepEntry, payload: dict[str, Any], personal: set[str]) -> StepText:
    """The step's text, named once: an action's label starts with the action, which is then
    not repeated; a named step (``id``/``name``) keeps its kind beside the name."""
    label = fill_all(step.label, payload, personal)
    if label == step.kind or label.startswith(step.kind + " "):
        return StepText(label, None)
    return StepText(label, step.kind)


def personal_fields(project: Any, workflow: str) -> set[str]:
    """The workflow's input fields marked ``personal: true`` (none when it cannot be loaded)."""
    try:
        flow = project.workflow(workflow)
    except Exception:  # a renamed or broken workflow file: show the values masked
        return {"*"}
    return {name for name, spec in flow.input.items() if spec.personal}


def fill_all(text: str, payload: dict[str, Any], personal: set[str]) -> str:
    """:func:`fill_inputs`, masking every value when the personal fields are unknown."""
    if "*" in personal:
        personal = set(payload)
    return fill_inputs(text, payload, personal)


@dataclass
class Screenshot:
    """One distinct screenshot: its position among the case's ``.png`` artifacts (the
    artifact route's index), its caption, and the other steps that saw the same picture."""

    index: int
    caption: str
    also: list[str] = field(default_factory=list)


def screenshots(steps: list[StepEntry], payload: dict[str, Any], personal: set[str]) -> list[Screenshot]:
    """The case's screenshots in order, each picture once (same bytes: the same picture),
    captioned with the step that took it first."""
    shown: list[Screenshot] = []
    by_digest: dict[str, Screenshot] = {}
    index = 0
    for step in steps:
        for artifact in step.artifacts or []:
            path = Path(str(artifact.get("path", "")) if isinstance(artifact, dict) else str(artifact))
            if path.suffix.lower() != ".png" or not path.is_file():
                continue
            where = f"step {step.path}: {fill_all(step.label, payload, personal)}"
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest in by_digest:
                by_digest[digest].also.append(where)
            else:
                moment = step.started_at.strftime("%Y-%m-%d %H:%M:%S")
                caption = f"{where} ({step.outcome}, {moment})"
                by_digest[digest] = Screenshot(index, caption)
                shown.append(by_digest[digest])
            index += 1
    return shown


STEP_PICTURE = ".jpg"
"""The suffix of step screenshots (failure screenshots are ``.png``)."""


def step_pictures(steps: list[StepEntry]) -> dict[int, int]:
    """For each step (by its record's id) with a step screenshot, the picture's position among
    the case's step screenshots (the artifact route's index, as ``artifacts_of`` counts)."""
    found: dict[int, int] = {}
    index = 0
    for step in steps:
        for artifact in step.artifacts or []:
            path = Path(str(artifact.get("path", "")) if isinstance(artifact, dict) else str(artifact))
            if path.suffix.lower() == STEP_PICTURE and path.is_file():
                found.setdefault(step.id, index)
                index += 1
    return found
