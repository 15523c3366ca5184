"""Size limits of the expression sandbox: nothing an expression builds may exceed ``MAX_SIZE``.

Jinja's sandbox stops an expression from reaching Python's internals, not from filling the
memory: ``('{:>' ~ 10**9 ~ '}').format(1)``, ``'x'|indent(10**9, true)``,
``('%0' ~ 10**9 ~ 'd') % 1``, ``(['x'*1000]*1000000)|join`` each build a gigabyte. Here every
operation that can make a value much larger than its inputs is checked *before* it runs
(format widths and precisions, ``indent``/``center``/``wordwrap`` widths, ``replace``,
``join``, ``%``, ``~``, ``str`` methods such as ``ljust``), and every filter's result, every
``+`` and every template output is checked after. Containers are measured by their logical
size (a list holding one long text a thousand times counts a thousand times), which is what
``str()`` or JSON would make of them. The environment is the immutable sandbox: lists and
dicts cannot be grown in place by ``append`` or ``update`` in a loop.

:func:`size_problem` is the static half: ``run.py validate`` reports expressions whose
constants already show that they would break the limit.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

#: The most characters (or, for containers, characters and items together) a value built by
#: an expression may have: far above any text a workflow sends or types.
MAX_SIZE = 1_000_000


class TooLarge(Exception):
    """An operation in an expression would make a value too large to be sensible."""


def size_of(value: Any, limit: int = MAX_SIZE) -> int:
    """The logical size of ``value``: characters of texts, plus items of containers, counting a
    shared item each time it occurs. Stops counting a little after ``limit``."""
    memo: dict[int, int] = {}

    def measure(item: Any) -> int:
        if isinstance(item, str | bytes):
            return len(item)
        if item is None or isinstance(item, bool | int | float):
            return 1
        if isinstance(item, Mapping | list | tuple | set | frozenset):
            key = id(item)
            if key in memo:
                return memo[key]
            memo[key] = limit + 1  # a container holding itself is endless
            total = len(item)
            children = item.items() if isinstance(item, Mapping) else item
            for child in children:
                total += measure(child)
                if total > limit:
                    break
            memo[key] = total
            return total
        return 16

    try:
        return measure(value)
    except RecursionError:
        return limit + 1


def check_size(value: Any, what: str) -> Any:
    """``value`` when its logical size is within ``MAX_SIZE``; TooLarge otherwise."""
    if size_of(value) > MAX_SIZE:
        raise TooLarge(f"{what} would make a value of more than {MAX_SIZE:,} characters")
    return value


def _need(size: float, what: str) -> None:
    if size > MAX_SIZE:
        raise TooLarge(f"{what} would make a value of more than {MAX_SIZE:,} characters")


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


_SPEC_NUMBERS = re.compile(r"\d+")
# A %-directive: flags, width, precision (either may be '*', taken from the arguments).
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _spec_width(spec: str) -> int:
    """An upper bound of what a format spec pads to: the sum of the numbers in it."""
    return sum(int(number) for number in _SPEC_NUMBERS.findall(spec) if len(number) < 12) + sum(
        MAX_SIZE + 1 for number in _SPEC_NUMBERS.findall(spec) if len(number) >= 12
    )


class BoundedFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox, refusing widths and totals beyond ``MAX_SIZE``."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._total = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        """Format one field after checking what its spec and value can make."""
        estimate = _spec_width(format_spec) + size_of(value)
        _need(self._total + estimate, "this format string")
        text = super().format_field(value, format_spec)
        self._total += len(text)
        _need(self._total, "this format string")
        return text


def check_percent(template: str, arguments: Any) -> None:
    """Refuse ``template % arguments`` when its widths or its arguments are too large."""
    values = list(arguments) if isinstance(arguments, tuple) else [arguments]
    widths = 0
    for width, precision in _PERCENT.findall(template):
        for part in (width, precision):
            if part == "*":
                widths += max(0, _int(values.pop(0) if values else 0))
            elif part:
                widths += int(part) if len(part) < 12 else MAX_SIZE + 1
    _need(len(template) + widths + size_of(arguments), "this % format")


# -- filters and methods that can grow a value far beyond their input ---------------------


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1


def _indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    pad = len(width) if isinstance(width, str) else _int(width)
    _need(size_of(value) + pad * _lines(value), "indent")


def _center(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> None:
    _need(size_of(value) + _int(width), f"a width of {width}")


def _replace(value: Any, old: Any = "", new: Any = "", count: Any = None, *args: Any, **kwargs: Any) -> None:
    text, old_text, new_text = str(value), str(old), str(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None and _int(count, -1) >= 0:
        occurrences = min(occurrences, _int(count))
    _need(len(text) + occurrences * len(new_text), "replace")


def _join(value: Any, separator: Any = "", *args: Any, **kwargs: Any) -> None:
    items = value if isinstance(value, list | tuple) else None
    if items is not None:
        _need(size_of(items) + len(str(separator)) * len(items), "join")


def _wordwrap(
    value: Any, width: Any = 79, break_long: Any = True, wrapstring: Any = None, **kwargs: Any
) -> None:
    wrap = kwargs.get("wrapstring", wrapstring)
    text = str(value)
    breaks = len(text) // max(1, _int(width, 1)) + _lines(text)
    _need(len(text) + breaks * len(str(wrap or "\n")), "wordwrap")


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(str(value), kwargs or tuple(args))


def _count(value: Any, number: Any = 1, *args: Any, **kwargs: Any) -> None:
    _need(size_of(value) + _int(number), f"{number} groups")


def _string(value: Any, *args: Any, **kwargs: Any) -> None:
    _need(size_of(value) * 2, "turning this value into text")


#: Filter -> a check of its arguments before it runs.
FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "indent": _indent,
    "center": _center,
    "replace": _replace,
    "join": _join,
    "wordwrap": _wordwrap,
    "format": _format_filter,
    "batch": _count,
    "slice": _count,
    "string": _string,
    "pprint": _string,
    "tojson": _string,
    "urlize": _string,
}

#: str method -> the same kind of check (``'x'.ljust(10**9)``).
METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "center": _center,
    "ljust": _center,
    "rjust": _center,
    "zfill": _center,
    "replace": _replace,
    "expandtabs": lambda value, size=8, *a, **k: _need(len(value) * max(1, _int(size)), "expandtabs"),
}


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    check = FILTER_CHECKS.get(name)
    passes = getattr(function, "jinja_pass_arg", None)

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = args[1:] if passes is not None else args  # context/environment comes first
        if check is not None and values:
            check(*values, **kwargs)
        return check_size(function(*args, **kwargs), f"the filter {name}")

    return bounded


def bounded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter, checked before (when it can grow a value) and after."""
    return {name: _bounded_filter(name, function) for name, function in filters.items()}


def bounded_join(pieces: Iterable[Any]) -> str:
    """``~`` and a template's output: the pieces as text, refused once they grow too large."""
    parts: list[str] = []
    total = 0
    for piece in pieces:
        if not isinstance(piece, str):
            _need(total + size_of(piece) * 2, "joining these texts")
            piece = str(piece)
        total += len(piece)
        _need(total, "joining these texts")
        parts.append(piece)
    return "".join(parts)


class BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to :func:`bounded_join` instead of Jinja's unbounded join."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """``a ~ b ~ c`` -> ``environment.bounded_concat((a, b, c))``."""
        self.write("environment.bounded_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every way of growing a value bounded by ``MAX_SIZE``."""

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    concat = staticmethod(bounded_join)  # a template's whole output
    bounded_concat = staticmethod(bounded_join)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.globals.pop("lipsum", None)  # lipsum(n=10**9): nothing a workflow needs
        self.filters = bounded_filters(self.filters)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``*`` (repetition), ``%`` (formatting) and ``+`` (joining), size-checked."""
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int) and times > 0:
                    _need(
                        size_of(sequence) * times, f"repeating this {type(sequence).__name__} {times} times"
                    )
        elif operator == "%" and isinstance(left, str):
            check_percent(left, right)
        result = super().call_binop(context, operator, left, right)
        if operator in ("+", "%") and isinstance(result, str | list | tuple):
            check_size(result, f"'{operator}'")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` / ``format_map`` with the bounded formatter."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        template = value.__self__
        if not isinstance(template, str):
            return None
        is_map = value.__name__ == "format_map"

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                kwargs, args = args[0], ()
            return str(BoundedFormatter(self).vformat(template, args, kwargs))

        return functools.update_wrapper(bounded_format, value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Check ``str`` methods that pad or replace before calling them."""
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in METHOD_CHECKS:
            METHOD_CHECKS[name](owner, *args, **kwargs)
        elif isinstance(owner, str) and name == "join" and args:
            items = list(args[0])
            _join(items, owner)
            args = (items, *args[1:])
        return super().call(__context, __obj, *args, **kwargs)


# -- the static half: what validate can see -------------------------------------------------

_WIDTH_FILTERS = {"indent", "center", "wordwrap", "batch", "slice", "truncate"}
_WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_FORMAT_NUMBER = re.compile(r"[{:%.<>^=0-9+\- #]*?(\d{7,})")


def _number(node: nodes.Node) -> int | None:
    """The value of a whole-number constant expression (``10**9``), or None."""
    if isinstance(node, nodes.Const) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, nodes.BinExpr) and node.operator in ("+", "*", "**"):
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None:
            return None
        if node.operator == "**":
            if right < 0 or abs(left).bit_length() * right > 256:
                return 2**256
            return int(left**right)
        return left + right if node.operator == "+" else left * right
    if isinstance(node, nodes.Neg | nodes.Pos):
        value = _number(node.node)
        return None if value is None else (-value if isinstance(node, nodes.Neg) else value)
    return None


def _big(node: nodes.Node | None) -> bool:
    value = None if node is None else _number(node)
    return value is not None and value > MAX_SIZE


def _estimate(node: nodes.Node) -> int | None:
    """The size of a value an expression builds from constants, or None when not known."""
    if isinstance(node, nodes.Const):
        return len(node.value) if isinstance(node.value, str) else 1
    if isinstance(node, nodes.List | nodes.Tuple):
        sizes = [_estimate(item) for item in node.items]
        return None if None in sizes else sum(s or 0 for s in sizes) + len(sizes)
    if isinstance(node, nodes.Concat):
        return sum(_estimate(item) or 0 for item in node.nodes)
    if isinstance(node, nodes.Mul):
        for sequence, times in ((node.left, node.right), (node.right, node.left)):
            size, count = _estimate(sequence), _number(times)
            if size is not None and count is not None:
                return size * count
    if isinstance(node, nodes.Filter) and node.name in ("join", "list", "string") and node.node is not None:
        return _estimate(node.node)
    return None


def _unbounded(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Filter | nodes.Call):
        arguments = [*node.args, *(keyword.value for keyword in node.kwargs)]
        name = node.name if isinstance(node, nodes.Filter) else getattr(node.node, "attr", "")
        widths = _WIDTH_FILTERS if isinstance(node, nodes.Filter) else _WIDTH_METHODS
        if (name in widths or name == "format") and any(_big(argument) for argument in arguments):
            return f"{name}() with a width over {MAX_SIZE:,}"
        if (
            name == "replace"
            and isinstance(node, nodes.Filter)
            and node.node is not None
            and len(node.args) >= 2
        ):
            size, new = _estimate(node.node), _estimate(node.args[1])
            if size is not None and new is not None and size * max(new, 1) > MAX_SIZE:
                return "replace() that multiplies a long text"
    if isinstance(node, nodes.Concat) and any(_big(part) for part in node.nodes):
        return f"a number over {MAX_SIZE:,} joined into a text (a format width?)"
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        for digits in _FORMAT_NUMBER.findall(node.value):
            if int(digits) > MAX_SIZE and ("{" in node.value or "%" in node.value):
                return f"a format width of {digits}"
    if isinstance(node, nodes.Pow):
        base, exponent = _number(node.left), _number(node.right)
        if (
            base is not None
            and exponent is not None
            and exponent > 0
            and abs(base).bit_length() * exponent > 100_000
        ):
            return "a power with more than 100,000 bits"
    size = _estimate(node) if isinstance(node, nodes.Mul | nodes.Concat) else None
    if size is not None and size > MAX_SIZE:
        return f"a repetition of more than {MAX_SIZE:,} characters"
    return None


def size_problem(parsed: nodes.Node) -> str | None:
    """Why a parsed expression is visibly unbounded (its constants already break the size
    limit at run time), or None."""
    for node in parsed.find_all(nodes.Node):
        reason = _unbounded(node)
        if reason:
            return (
                f"this expression would build a value larger than the sandbox allows ({reason}); "
                "it fails when it runs: bound the width or the repetition"
            )
    return None


__all__ = [
    "MAX_SIZE",
    "BoundedSandbox",
    "TooLarge",
    "bounded_join",
    "check_size",
    "size_of",
    "size_problem",
]
