"""The one action registry: ``@action("web.fill")`` on a small typed function.

An action is a function ``(ctx: ActionContext, params: SomeParams) -> result`` where
``SomeParams`` is a pydantic model. The decorator checks the signature when the module is
imported, so a broken action fails at start-up, not in the middle of a case. Adding an
action is one file under ``robots/actions/``; the engine needs no change.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from loguru import Logger

    from robots.masking import Masker

_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class ActionParams(BaseModel):
    """Base of every action's parameters: immutable, unknown keys refused. A text parameter
    takes a number as its text (``core.log: "{{ count }}"`` where count is 5)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


class NoParams(ActionParams):
    """For actions that take no parameters."""


@dataclass
class ActionContext:
    """What an action may use: the case, the current system session, secrets, a deadline."""

    case_id: str
    run_id: str
    workflow: str
    step: str
    attempt: int
    robot: str
    idempotency_key: str
    log: Logger
    masker: Masker
    artifacts_dir: Path
    services: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    session: Any = None
    deadline: float | None = None
    secrets: Callable[[str], str] | None = None
    """Reads a secret from the robot's vault and masks it from then on (the engine's)."""
    project_root: Path | None = None
    """The user's project folder (``--project``, ``TANDEM_HOME`` or the current folder)."""
    case: Mapping[str, Any] = field(default_factory=dict)
    """The case as workflows read it under ``case``: ``id``, ``status_url`` (the customer's
    status link, or "" when whoever runs the case gave none)."""

    def project_path(self, name: str) -> Path:
        """``name`` (an image, a file) as the user means it: relative to their project folder."""
        path = Path(name)
        if path.is_absolute():
            return path
        root = self.project_root or Path(os.environ.get("TANDEM_HOME", "."))
        return root / path

    def remaining(self, default: float) -> float:
        """Seconds left before the step's timeout (``default`` when it has none)."""
        if self.deadline is None:
            return default
        return max(0.001, min(default, self.deadline - time.monotonic()))

    def secret(self, name: str) -> str:
        """A secret from the vault; it is masked everywhere from now on."""
        if self.secrets is None:
            from robots.errors import SystemException

            raise SystemException(
                f"action at step {self.step} needs secret {name!r}, but this robot has no vault"
            )
        return self.secrets(name)

    def service(self, name: str) -> Any:
        """A configured backend (``mail``, ``vault``, ``humans``...) or a clear error."""
        from robots.errors import SystemException

        if name not in self.services:
            raise SystemException(
                f"action at step {self.step} needs the {name!r} service, which this robot "
                f"was not given; configured: {', '.join(sorted(self.services)) or 'none'}"
            )
        return self.services[name]


ParamsT = TypeVar("ParamsT", bound=BaseModel)
ActionFunction = Callable[[ActionContext, Any], Any]


@dataclass(frozen=True)
class ActionDefinition:
    """A registered action: its name, parameter model, function and documentation."""

    name: str
    params: type[BaseModel]
    function: ActionFunction
    doc: str
    primary: str | None = None
    needs: Literal["web", "desktop", "terminal"] | None = None
    side_effect: bool = False

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def normalize(self, raw: Any) -> Any:
        """Turn the short forms into a mapping: ``web.goto: /x`` -> ``{url: /x}``."""
        if raw is None:
            return {}
        if isinstance(raw, dict):
            return raw
        if self.primary is not None:
            return {self.primary: raw}
        return raw


REGISTRY: dict[str, ActionDefinition] = {}


class ActionDefinitionError(TypeError):
    """An action function or its registration is wrong (raised at import time)."""


def action(
    name: str,
    *,
    primary: str | None = None,
    needs: Literal["web", "desktop", "terminal"] | None = None,
    side_effect: bool = False,
) -> Callable[[Callable[[ActionContext, ParamsT], Any]], Callable[[ActionContext, ParamsT], Any]]:
    """Register ``function`` as the action ``name``.

    ``primary`` names the parameter a scalar fills (``web.goto: /x`` sets ``url``);
    ``needs`` says the action runs inside a web or desktop system's session (an ``in`` block);
    ``side_effect`` marks actions that change something outside (for idempotency keys).
    """

    def register(
        function: Callable[[ActionContext, ParamsT], Any],
    ) -> Callable[[ActionContext, ParamsT], Any]:
        where = f"{function.__module__}.{function.__qualname__}"
        if not _ACTION_NAME.match(name):
            raise ActionDefinitionError(f"{where}: action name {name!r} must look like 'web.fill'")
        if name in REGISTRY and REGISTRY[name].function is not function:
            raise ActionDefinitionError(f"{where}: action {name!r} is already registered")
        parameters = list(inspect.signature(function).parameters)
        if len(parameters) != 2:
            raise ActionDefinitionError(f"{where}: an action takes (ctx, params), got {parameters}")
        hints = get_type_hints(function)
        params_model = hints.get(parameters[1])
        if not (inspect.isclass(params_model) and issubclass(params_model, BaseModel)):
            raise ActionDefinitionError(
                f"{where}: annotate the second parameter with a pydantic model (ActionParams)"
            )
        if primary is not None and primary not in params_model.model_fields:
            raise ActionDefinitionError(
                f"{where}: primary {primary!r} is not a field of {params_model.__name__}"
            )
        doc = inspect.getdoc(function) or ""
        if not doc:
            raise ActionDefinitionError(f"{where}: an action needs a docstring (it is its documentation)")
        REGISTRY[name] = ActionDefinition(name, params_model, function, doc, primary, needs, side_effect)
        return function

    return register


_loaded = False


def load_actions() -> dict[str, ActionDefinition]:
    """Import every module under ``robots.actions`` (which registers them); the registry."""
    global _loaded
    if not _loaded:
        # Found by name: the language defines the registry the actions fill and does not
        # depend on any of them.
        package = importlib.import_module("robots.actions")

        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{module.name}")
        _loaded = True
    return REGISTRY


def suggest(name: str, choices: list[str] | set[str]) -> str:
    """``" did you mean 'web.fill'?"`` when something close exists, else ``""``."""
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def get_action(name: str) -> ActionDefinition:
    """The action registered as ``name``; ``KeyError`` with a suggestion otherwise."""
    actions = load_actions()
    if name not in actions:
        hint = suggest(name, set(actions))
        raise KeyError(f"unknown action {name!r}" + (f"; {hint}" if hint else ""))
    return actions[name]
