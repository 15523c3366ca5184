"""A time limit for evaluating one expression: the sandbox bounds what an expression builds
(``expression_limits``), this bounds how long it may compute.

``{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}`` builds
nothing and never ends: it would hold a robot, and its case, until someone kills the process.
:func:`time_budget` lets the evaluating thread run ``MAX_SECONDS``, then a watchdog thread raises
:class:`TooSlow` in it (``PyThreadState_SetAsyncExc``, which interrupts Python code between two
bytecodes; the compiled templates are Python code), again every second until the evaluation
stops. Nested evaluations share the outermost budget.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: How long one expression may compute: far beyond any real one (they take microseconds).
MAX_SECONDS = 10.0

_active = threading.local()


class TooSlow(BaseException):
    """An expression computed longer than ``MAX_SECONDS``. A BaseException, so that no
    ``except Exception`` inside a filter or the sandbox swallows it."""


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


# One watchdog thread per process checks the running evaluations' deadlines: entering a
# budget only writes a deadline (about a microsecond), where a timer thread per evaluation
# cost half a millisecond, thirty times the evaluation itself.
_CHECK_EVERY = 0.25
_deadlines: dict[int, float] = {}  # thread id -> when its evaluation is out of time
_fired: set[int] = set()  # threads sent a TooSlow that has not been seen to arrive
_lock = threading.Lock()
_watchdog: threading.Thread | None = None


def _watch() -> None:
    while True:
        time.sleep(_CHECK_EVERY)
        now = time.monotonic()
        with _lock:
            for thread_id, deadline in list(_deadlines.items()):
                if now >= deadline:
                    _raise_in(thread_id, TooSlow)
                    _fired.add(thread_id)
                    _deadlines[thread_id] = now + 1.0  # again in a second, should it go on


def _ensure_watchdog() -> None:
    global _watchdog
    # After a fork the parent's watchdog does not run in the child: is_alive() says so.
    if _watchdog is None or not _watchdog.is_alive():
        with _lock:
            if _watchdog is None or not _watchdog.is_alive():
                _watchdog = threading.Thread(target=_watch, name="expression-time-budget", daemon=True)
                _watchdog.start()


@contextmanager
def time_budget(seconds: float = MAX_SECONDS) -> Iterator[None]:
    """Run the block with at most ``seconds`` of wall time (checked every quarter second), or
    raise :class:`TooSlow` in it."""
    if getattr(_active, "depth", 0):
        _active.depth += 1
        try:
            yield
        finally:
            _active.depth -= 1
        return
    thread_id = threading.get_ident()
    _ensure_watchdog()
    with _lock:
        _deadlines[thread_id] = time.monotonic() + seconds
    _active.depth = 1
    try:
        yield
    finally:
        while True:
            try:
                with _lock:
                    _deadlines.pop(thread_id, None)
                    if thread_id in _fired:
                        _fired.discard(thread_id)
                        _raise_in(thread_id, None)  # one still pending must not hit the caller later
                break
            except TooSlow:
                continue  # it arrived on the way out: the evaluation is over anyway
        _active.depth = 0
