"""Expressions: Jinja2 templates in a sandbox, plus ``${ENV}`` references.

A string that is one single expression keeps the expression's type::

    "{{ input.count }}"          -> 3            (an int, not "3")
    "Dear {{ input.name }}"      -> "Dear Ada"   (text around it: always a string)
    "${CRM_URL}/customers"       -> "http://localhost:8101/customers"

Undefined names are errors that name the name, the template and the step. ``${NAME}`` and
``${NAME:-default}`` read the process environment when the value is used (not when the
file is loaded), so a workflow validates without the environment of production.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.runtime import Undefined
from jinja2.sandbox import SandboxedEnvironment

from robots.errors import ExpressionError
from robots.language.expression_limits import (
    BoundedSandbox,
    TooLarge,
    bounded_filters,
    check_size,
    size_problem,
)
from robots.language.time_budget import MAX_SECONDS, TooSlow, time_budget

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<body>.*)\}\}\s*$", re.DOTALL)
# ${NAME}, ${NAME:-default}, and a default that is itself a reference: ${NAME:-${OTHER:-x}}.
_ENV_REF = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?::-(?P<default>(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^{}]*)?\}|[^}])*))?\}"
)


def _digits(value: Any) -> str:
    """Keep only the digits of a value: ``"+49 (30) 1234-56"`` -> ``"4930123456"``."""
    return "".join(ch for ch in str(value) if ch.isdigit())


def _normalize(value: Any) -> str:
    """Case- and space-insensitive form of a text, for comparisons."""
    return " ".join(str(value).split()).casefold()


MAX_REPEAT = 1_000_000
"""The most characters or items ``text * n`` may make in an expression."""
MAX_POWER_BITS = 100_000
"""The largest whole number (in bits, about 30,000 digits) ``a ** b`` may make."""


_TooLarge = TooLarge


def _power_bits(base: int, exponent: int) -> int:
    """About how many bits ``base ** exponent`` has (0 for the powers that stay small)."""
    if exponent <= 0 or abs(base) <= 1:
        return 0
    return (abs(base).bit_length() - 1 or 1) * exponent


class _Sandbox(BoundedSandbox):
    """Jinja's sandbox, with ``*`` and ``**`` bounded: ``{{ 'x' * 10**10 }}`` or
    ``{{ 9 ** 9 ** 9 }}`` would otherwise hold a run (and its robot) for minutes and fill
    its memory, where Jinja's sandbox already bounds ``range``. Everything else that builds
    a value (format strings, filters, ``~``) is bounded by ``robots.language.expression_limits``."""

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                repeated = isinstance(sequence, str | list | tuple) and isinstance(times, int)
                if repeated and len(sequence) * times > MAX_REPEAT:
                    raise _TooLarge(
                        f"repeating a {type(sequence).__name__} of length {len(sequence)} "
                        f"{times} times would make more than {MAX_REPEAT:,} items"
                    )
        elif isinstance(left, int) and isinstance(right, int) and _power_bits(left, right) > MAX_POWER_BITS:
            raise _TooLarge(f"{left} ** {right} would be a number of over {MAX_POWER_BITS:,} bits")
        return super().call_binop(context, operator, left, right)


def _make_environment() -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["digits"] = _digits
    env.filters["normalize"] = _normalize
    env.globals["now"] = datetime.now
    env.globals["today"] = date.today
    env.tests["matching"] = lambda value, pattern: re.fullmatch(pattern, str(value)) is not None
    return env


ENVIRONMENT = _make_environment()


def register_function(name: str, function: Callable[..., Any]) -> None:
    """Make ``function`` callable from every expression as ``name(...)``."""
    ENVIRONMENT.globals[name] = function
    _compile_expression.cache_clear()
    _compile_template.cache_clear()


def register_filter(name: str, function: Callable[..., Any]) -> None:
    """Make ``function`` usable as a filter: ``{{ value | name }}`` (its result size-checked)."""
    ENVIRONMENT.filters[name] = bounded_filters({name: function})[name]
    _compile_expression.cache_clear()
    _compile_template.cache_clear()


def is_template(value: Any) -> bool:
    """True when ``value`` is a string that holds a Jinja expression or statement."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def has_env_ref(value: Any) -> bool:
    """True when ``value`` is a string with a ``${NAME}`` reference."""
    return isinstance(value, str) and ("${" in value or "$$" in value)


def single_expression(text: str) -> str | None:
    """The inner expression when ``text`` is exactly one ``{{ ... }}``, else None."""
    match = _SINGLE_EXPRESSION.match(text)
    if match is None:
        return None
    body = match.group("body")
    if "{{" in body or "}}" in body or "{%" in body:
        return None
    return body.strip()


def syntax_problem(text: str) -> str | None:
    """A message describing the template syntax error in ``text``, or None if it parses."""
    try:
        expression = single_expression(text)
        if expression is not None:
            _compile_expression(expression)
        else:
            _compile_template(text)
            if "{%" in text and _loads_a_file(text):
                return (
                    "{% include %}, {% import %} and {% extends %} read template files, which "
                    "expressions have none of: write the text here (mail.send has templates of its own)"
                )
        return size_problem(ENVIRONMENT.parse(text))
    except TemplateSyntaxError as error:
        return f"bad expression syntax: {error.message}"
    except RecursionError:
        return _TOO_DEEP


def _loads_a_file(text: str) -> bool:
    parsed = ENVIRONMENT.parse(text)
    return any(True for _ in parsed.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)))


def referenced_names(text: str) -> set[str]:
    """Top-level names a template reads (``input``, ``check``...), for static checks."""
    try:
        parsed = ENVIRONMENT.parse(text)
        names = set(meta.find_undeclared_variables(parsed))
        # Names assigned inside the template ({% set %}, loops) are not outside references.
        assigned = {node.name for node in parsed.find_all(nodes.Name) if node.ctx == "store"}
    except (TemplateError, RecursionError):  # syntax_problem reports either
        return set()
    return names - assigned - set(ENVIRONMENT.globals)


def input_fields_read(text: str) -> set[str]:
    """The fields a template reads as ``input.<name>`` (not ``input['name']``), for static checks."""
    try:
        parsed = ENVIRONMENT.parse(text)
        names = list(parsed.find_all(nodes.Name))
        calls = list(parsed.find_all(nodes.Call))
        reads = list(parsed.find_all(nodes.Getattr))
    except (TemplateError, RecursionError):  # syntax_problem reports either
        return set()
    if any(node.name == "input" and node.ctx == "store" for node in names):
        return set()  # the template names something else 'input'
    called = {id(call.node) for call in calls}  # input.get(...) is a method
    return {
        node.attr
        for node in reads
        if isinstance(node.node, nodes.Name)
        and node.node.name == "input"
        and node.ctx == "load"
        and id(node) not in called
    }


def env_ref_problem(text: str) -> str | None:
    """What is wrong with the ``${NAME}`` references of ``text`` (an unclosed one), or None."""
    rest = _ENV_REF.sub("", text)
    start = rest.find("${")
    if start < 0:
        return None
    fragment = rest[start:].split("}", 1)[0][:40]
    if "}" not in rest[start:]:
        return f"environment reference {fragment!r} is not closed in {text!r}"
    return f"environment reference {fragment + '}'!r} is not a variable name in {text!r}"


_TOO_DEEP = "the expression is nested too deeply to read: split it into steps (set: ...)"


@functools.lru_cache(maxsize=4096)
def _compile_expression(expression: str) -> Any:
    try:
        return ENVIRONMENT.compile_expression(expression, undefined_to_none=False)
    except RecursionError:  # Jinja's parser recurses once per nesting level
        raise TemplateSyntaxError(_TOO_DEEP, 1) from None


@functools.lru_cache(maxsize=4096)
def _compile_template(text: str) -> Any:
    try:
        return ENVIRONMENT.from_string(text)
    except RecursionError:
        raise TemplateSyntaxError(_TOO_DEEP, 1) from None


def resolve_env(text: str, *, where: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}`` with environment values; ``$$`` is a ``$``."""
    source = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name")
        if name in source:
            return source[name]
        if match.group("default") is not None:
            return resolve_env(match.group("default"), where=where, environ=source)
        place = f" (in {where})" if where else ""
        raise ExpressionError(
            f"environment variable {name} is not set{place}; "
            f"set it, or give a default with ${{{name}:-value}}"
        )

    return _ENV_REF.sub(substitute, text)


def _explain_undefined(error: Exception, text: str, where: str, scope: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(k for k in scope if not k.startswith("_"))) or "none"
    place = f"{where}: " if where else ""
    return f"{place}{error} in {text!r} (names defined here: {known})"


def render_text(text: str, scope: Mapping[str, Any], *, where: str = "") -> Any:
    """Evaluate one string: env references first, then the template (if any)."""
    if has_env_ref(text):
        text = resolve_env(text, where=where)
    if not is_template(text):
        return text
    try:
        with time_budget():
            expression = single_expression(text)
            if expression is not None:
                result = _compile_expression(expression)(**scope)
                if isinstance(result, Undefined):
                    result._fail_with_undefined_error()
                return check_size(result, "this expression")
            return _compile_template(text).render(**scope)
    except TooSlow:
        place = f"{where}: " if where else ""
        raise ExpressionError(
            f"{place}this expression computed longer than {MAX_SECONDS:g} seconds and was stopped: {text!r}"
        ) from None
    except UndefinedError as error:
        raise ExpressionError(_explain_undefined(error, text, where, scope)) from None
    except TemplateSyntaxError as error:
        raise ExpressionError(f"{where}: bad expression syntax: {error.message} in {text!r}") from None
    except ExpressionError:
        raise
    except _TooLarge as error:
        raise ExpressionError(f"{where + ': ' if where else ''}{error}, in {text!r}") from None
    except Exception as error:  # a filter or function failed: keep the type and message
        place = f"{where}: " if where else ""
        raise ExpressionError(f"{place}{type(error).__name__}: {error} while evaluating {text!r}") from error


def render(value: Any, scope: Mapping[str, Any], *, where: str = "") -> Any:
    """Evaluate every template inside ``value`` (strings, lists and mappings, deeply)."""
    if isinstance(value, str):
        return render_text(value, scope, where=where)
    if isinstance(value, Mapping):
        return {key: render(item, scope, where=where) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, scope, where=where) for item in value]
    return value


def truthy(value: Any) -> bool:
    """How a ``when`` / ``if`` result counts: Python truth, but ``"false"``/``"no"`` are false."""
    if isinstance(value, str):
        return value.strip().casefold() not in {"", "false", "no", "off", "0", "none", "null"}
    return bool(value)
