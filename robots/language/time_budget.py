"""A time limit for evaluating one expression: the sandbox bounds what an expression builds
(``expression_limits``), this bounds how long it may compute.

``{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}`` builds
nothing and never ends: it would hold a robot, and its case, until someone kills the process.
:func:`time_budget` lets the evaluating thread run ``MAX_SECONDS``, then raises
:class:`TooSlow` in it (``PyThreadState_SetAsyncExc``, which interrupts Python code between two
bytecodes; the compiled templates are Python code), again every second until the evaluation
stops. Nested evaluations share the outermost budget.
"""

from __future__ import annotations

import ctypes
import threading
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


@contextmanager
def time_budget(seconds: float = MAX_SECONDS) -> Iterator[None]:
    """Run the block with at most ``seconds`` of wall time, or raise :class:`TooSlow` in it."""
    if getattr(_active, "depth", 0):
        _active.depth += 1
        try:
            yield
        finally:
            _active.depth -= 1
        return
    thread_id = threading.get_ident()
    lock = threading.Lock()
    state = {"running": True, "fired": False}

    def expire() -> None:
        with lock:
            if not state["running"]:
                return
            state["fired"] = True
            _raise_in(thread_id, TooSlow)
        again = threading.Timer(1.0, expire)
        again.daemon = True
        again.start()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    _active.depth = 1
    timer.start()
    try:
        yield
    finally:
        while True:
            try:
                with lock:
                    state["running"] = False
                    if state["fired"]:
                        _raise_in(thread_id, None)  # one still pending must not hit the caller later
                break
            except TooSlow:
                continue  # it arrived on the way out: the evaluation is over anyway
        timer.cancel()
        _active.depth = 0
