"""What a person did in a browser, as workflow steps (``run.py record``).

The recorder's browser side (``robots.drivers.recorder``) reports events — a click, a
field's new value, a tick, a choice, a key, a dialog, a page loaded — each with the
locators that find its element (best first, as docs/writing-workflows.md teaches: role and
name, label, placeholder, text, test id, CSS last) and the iframes leading to it. A
``Recording`` turns them into steps: one ``web.fill`` per field however many keys were
typed, ``web.frame`` where the element's iframe differs from the last one, ``web.dialog``
before the click that opened a dialog, ``expect_navigation`` on a click that loaded a new
page, and ``secret(...)`` for a password (whose value the browser side never reports).
Nothing here touches a browser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

LOCATOR_KEYS = ("role", "name", "label", "placeholder", "text", "test_id", "css", "exact", "nth")
NAVIGATION_AFTER_ACTION = 5.0
"""Seconds within which a page load counts as caused by the click or key before it (a slow
save may take a few seconds; a person rarely types an address that soon after a click)."""


@dataclass
class Recording:
    """The steps recorded so far for one system, and what they need to stay correct."""

    system: str
    base_url: str
    credentials: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    frames: tuple[str, ...] = ()
    last_action_at: float = -1e9
    last_url: str = ""
    dialog_answered: bool = False

    # -- events ---------------------------------------------------------------------------

    def event(self, event: dict[str, Any]) -> None:
        """One event from the browser (see ``robots.drivers.recorder``)."""
        kind = event.get("type")
        locator = _locator(event.get("locator") or {})
        if kind == "expect" and event.get("text"):
            self._enter_frames(tuple(event.get("frames") or ()))
            last = self.steps[-1] if self.steps else {}
            if "web.expect" in last:
                self.steps.pop()  # "Saving..." then "Address saved": the robot waits for the last
            self._add({"web.expect": {"text": str(event["text"]), "timeout": 20}}, action=False)
            return
        if kind in ("click", "fill", "check", "select", "press") and not locator:
            return
        if kind in ("click", "fill", "check", "select", "press"):
            self._enter_frames(tuple(event.get("frames") or ()))
        if kind == "click":
            self._add({"web.click": locator}, action=True)
        elif kind == "fill":
            if event.get("password"):
                value = '{{ secret("' + self.credentials + '.password") }}'
            else:
                value = str(event.get("value", ""))
            last = self.steps[-1] if self.steps else {}
            if "web.fill" in last and _same_target(last["web.fill"], locator):
                self.steps.pop()  # one fill per field, however many keys were typed
            self._add({"web.fill": {**locator, "value": value}}, action=True)
        elif kind == "check":
            self._add({"web.check": {**locator, "checked": bool(event.get("checked", True))}}, action=True)
        elif kind == "select":
            self._add({"web.select": {**locator, "option": str(event.get("option", ""))}}, action=True)
        elif kind == "press":
            self._add({"web.press": {**locator, "key": str(event.get("key", "Enter"))}}, action=True)

    def dialog(self, message: str) -> None:
        """The page showed a JavaScript dialog (accepted, as robots do): say so before the
        step that opened it, once."""
        if self.dialog_answered:
            return
        self.dialog_answered = True
        step = {"web.dialog": "accept", "name": f"the page asks: {' '.join(message.split())[:60]}"}
        index = len(self.steps) - 1 if self.steps and _is_trigger(self.steps[-1]) else len(self.steps)
        self.steps.insert(index, step)

    def navigated(self, url: str) -> None:
        """The page loaded ``url``: a click just before caused it (it waits for the new page),
        otherwise the person went there (a ``web.goto``)."""
        if url == self.last_url or url.startswith(("about:", "chrome:", "data:")):
            return
        self.last_url = url
        if self.clock() - self.last_action_at <= NAVIGATION_AFTER_ACTION and self.steps:
            last = self.steps[-1]
            if "web.click" in last and isinstance(last["web.click"], dict):
                last["web.click"]["expect_navigation"] = True
            return
        self._leave_frames()
        self.steps.append({"web.goto": self.path_of(url)})

    def new_tab(self) -> None:
        """A click opened a new tab: the next steps work there."""
        self._leave_frames()
        self.steps.append({"web.tab": "newest"})

    def path_of(self, url: str) -> str:
        """``url`` relative to the system's base URL when it is on the same site."""
        base, target = urlsplit(self.base_url), urlsplit(url)
        if (base.scheme, base.netloc) == (target.scheme, target.netloc):
            path = target.path or "/"
            prefix = base.path.rstrip("/")
            if prefix and path.startswith(prefix):
                path = path[len(prefix) :] or "/"
            return path + (f"?{target.query}" if target.query else "")
        return url

    # -- the workflow ---------------------------------------------------------------------

    def workflow(self, name: str, system_spec: dict[str, Any], description: str = "") -> dict[str, Any]:
        """The recording as a workflow: the system and one ``in`` block with the steps."""
        steps = list(self.steps)
        if self.frames:
            steps.append({"web.frame": {"main": True}})
        return {
            "name": name,
            "description": description or f"Recorded with run.py record in {self.system}.",
            "systems": {self.system: system_spec},
            "steps": [_Step({"in": self.system, "steps": [_Step(s) for s in steps or [{"web.goto": "/"}]]})],
        }

    def yaml(self, name: str, system_spec: dict[str, Any], description: str = "") -> str:
        """The recording as YAML, steps one per line in the style of the docs."""
        return to_yaml(self.workflow(name, system_spec, description))

    # -- helpers --------------------------------------------------------------------------

    def _add(self, step: dict[str, Any], *, action: bool) -> None:
        self.steps.append(step)
        if action:
            self.last_action_at = self.clock()

    def _enter_frames(self, frames: tuple[str, ...]) -> None:
        if frames == self.frames:
            return
        if self.frames:
            self.steps.append({"web.frame": {"main": True}})
        for selector in frames:
            self.steps.append({"web.frame": selector})
        self.frames = frames

    def _leave_frames(self) -> None:
        if self.frames:
            self.steps.append({"web.frame": {"main": True}})
            self.frames = ()


def _locator(raw: dict[str, Any]) -> dict[str, Any]:
    """The locator keys of an event's locator, in the docs' order."""
    return {key: raw[key] for key in LOCATOR_KEYS if raw.get(key) not in (None, "", False)}


def _same_target(params: Any, locator: dict[str, Any]) -> bool:
    return isinstance(params, dict) and {k: v for k, v in params.items() if k != "value"} == locator


def _is_trigger(step: dict[str, Any]) -> bool:
    return "web.click" in step or "web.press" in step


def step_text(step: dict[str, Any]) -> str:
    """One step as the workflow file writes it (``- web.fill: {label: Street, value: ...}``)."""
    return to_yaml([_Step(step)]).rstrip("\n")


class _Step(dict[str, Any]):
    """A step: written as a block (``- web.fill: {...}``), its parameters on one line."""


def to_yaml(workflow: Any) -> str:
    """A workflow mapping as YAML: blocks for the structure, each step's parameters on one line."""

    class _Dumper(yaml.SafeDumper):
        pass

    def steps_list(dumper: yaml.SafeDumper, data: list[Any]) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=False)

    def step(dumper: yaml.SafeDumper, data: _Step) -> Any:
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False)

    _Dumper.add_representer(list, steps_list)
    _Dumper.add_representer(_Step, step)
    text: str = yaml.dump(
        workflow, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=200
    )
    return text
