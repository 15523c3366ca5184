"""Logging: readable lines on a terminal, JSON lines in files, secrets never written.

Every record carries ``case``, ``run``, ``step`` and ``robot`` (set by the engine with
``logger.contextualize``), on the terminal too (the run id cut to its start). Before any
sink sees a record, a patcher masks every value the process knows to be secret or personal
(``robots.masking.PROCESS_MASKER``), in the message, the extra fields and the traceback,
and text an error quoted from an application's page (``robots.masking.page_quote``: it
may hold personal data nobody marked) is left out.
Tracebacks are written without local variables (``diagnose`` is off), since those could
hold secrets, and the traceback text is masked like the message (an exception's text may
quote a value).

Importing this module replaces loguru's default stderr sink (which prints local variables
in tracebacks) with a safe one, so a process that never calls :func:`configure_logging`
(the API server, a test) is safe too.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from robots.masking import PROCESS_MASKER, without_page_text

if TYPE_CHECKING:
    from loguru import Record

CONTEXT_FIELDS = ("case", "run", "step", "robot")
# The run as the terminal shows it: a run id is long, its start tells runs apart on one screen.
_RUN_TAG = "run_tag"
_RUN_TAG_LENGTH = 8
# The masked traceback of a record's exception ("" without one).
_TRACE = "trace"
_CONSOLE_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[robot]}</cyan> case=<cyan>{extra[case]}</cyan> run=<cyan>{extra[run_tag]}</cyan> "
    "step=<cyan>{extra[step]}</cyan> {message}"
)


def _run_tag(run: Any) -> str:
    """The run id, cut to its first characters when it is long (the JSON lines keep it whole)."""
    text = str(run)
    return text if len(text) <= _RUN_TAG_LENGTH + 1 else text[:_RUN_TAG_LENGTH] + "…"


def _safe_text(text: str) -> str:
    """A log line's text: known secrets and personal values masked, quoted page text left out."""
    return without_page_text(PROCESS_MASKER.mask_text(text))


def _mask_record(record: Record) -> None:
    record["message"] = _safe_text(record["message"])
    extra = record["extra"]
    for key, value in list(extra.items()):
        if key not in ("json", _TRACE):
            value = PROCESS_MASKER.mask(value, key=key)
            extra[key] = without_page_text(value) if isinstance(value, str) else value
    payload: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        "module": record["name"],
    }
    for key in CONTEXT_FIELDS:
        payload[key] = extra.get(key, "-")
    payload.update(
        {k: v for k, v in extra.items() if k not in CONTEXT_FIELDS and k not in ("json", _RUN_TAG, _TRACE)}
    )
    extra[_TRACE] = ""
    if record["exception"] is not None and record["exception"].value is not None:
        kind, value, trace = record["exception"]
        payload["error"] = _safe_text(repr(value))
        # Formatted here without locals and masked, instead of by the sink (which would
        # print the exception's own text unmasked, e.g. SQL parameters).
        text = "".join(traceback.format_exception(kind, value, trace)).rstrip("\n")
        extra[_TRACE] = "\n" + _safe_text(text)
        payload["traceback"] = extra[_TRACE].lstrip("\n")
    extra["json"] = json.dumps(payload, default=str, ensure_ascii=False)
    extra[_RUN_TAG] = _run_tag(payload["run"])


def _to_stderr(message: str) -> None:
    """The console sink: whatever ``sys.stderr`` is now, and never an error of its own
    (loguru would print the failing record, traceback included, which could hold data)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(message)


def _console_format(record: Record) -> str:
    # A callable format: loguru then adds no traceback of its own; the masked one is in extra.
    return _CONSOLE_FORMAT + "{extra[trace]}\n"


def _file_format(record: Record) -> str:
    return "{extra[json]}\n"


def _configure_records() -> None:
    logger.configure(
        extra={**{key: "-" for key in CONTEXT_FIELDS}, _RUN_TAG: "-", _TRACE: ""}, patcher=_mask_record
    )


def replace_default_sink() -> None:
    """Swap loguru's default stderr sink for a safe one (no locals, masked); a no-op once
    :func:`configure_logging` or this has run, or when the default sink was removed."""
    try:
        logger.remove(0)
    except ValueError:
        return
    _configure_records()
    logger.add(
        _to_stderr,
        level="INFO",
        format=_console_format,
        colorize=sys.stderr.isatty(),
        backtrace=False,
        diagnose=False,
        catch=False,
    )


def configure_logging(
    *,
    level: str = "INFO",
    log_dir: Path | str | None = "logs",
    console: bool = True,
    console_level: str | None = None,
) -> Path | None:
    """Set up the sinks; returns the JSON log file's path (None without a log directory)."""
    logger.remove()
    _configure_records()
    if console:
        logger.add(
            _to_stderr,
            level=console_level or level,
            format=_console_format,
            colorize=sys.stderr.isatty(),
            backtrace=False,
            diagnose=False,
            catch=False,
        )
    path = None
    if log_dir is not None:
        path = Path(log_dir) / "tandem.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        logger.add(
            path,
            level=level,
            format=_file_format,
            rotation="50 MB",
            retention=10,
            encoding="utf-8",
            backtrace=False,
            diagnose=False,
            enqueue=False,
        )
    return path


replace_default_sink()
