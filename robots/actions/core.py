"""Actions every workflow may use, whatever systems it works in."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import Field

from robots.language.model_values import Duration
from robots.language.registry import ActionContext, ActionParams, action


class LogParams(ActionParams):
    """Write a line to the run's log."""

    message: str = Field(description="The text; expressions allowed.")
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")


@action("core.log", primary="message")
def log(ctx: ActionContext, params: LogParams) -> str:
    """Write a message to the run's log (tagged with case, run and step; secrets masked).

    Example: ``- core.log: "Customer {{ input.customer_id }} has no e-mail"``
    """
    ctx.log.log(params.level.upper(), ctx.masker.mask_text(params.message))
    return params.message


class SleepParams(ActionParams):
    """How long to pause."""

    duration: Duration = Field(description="Seconds, or text like 500ms, 2s, 1m.")


@action("core.sleep", primary="duration")
def sleep(ctx: ActionContext, params: SleepParams) -> float:
    """Pause the robot. Prefer waiting for what matters (``web.wait_for``) over sleeping.

    Example: ``- core.sleep: 2s``
    """
    time.sleep(params.duration)
    return params.duration
