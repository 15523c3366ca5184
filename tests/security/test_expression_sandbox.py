"""The expression sandbox bounds the size of everything it builds, whatever builds it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from robots.errors import ExpressionError
from robots.language import expressions
from tests.conftest import ROOT, write

#: The probe's expressions (1-2 GB each before) and more of the same kind.
UNBOUNDED = [
    "{{ ('{:>' ~ 10**9 ~ '}').format(1) }}",
    "{{ 'x'|indent(10**9, true) }}",
    "{{ ('%0' ~ 10**9 ~ 'd') % 1 }}",
    "{{ ('x'*10)|center(10**9) }}",
    "{{ (['x'*1000]*1000000)|join }}",
    "{{ ('x'*1000000)|replace('x','y'*1000) }}",
    "{{ '{:.999999999f}'.format(1.5) }}",
    "{{ '{0:{1}}'.format('x', 10**9) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ '\t'.expandtabs(10**9) }}",
    "{{ '%s'|format('x'*1000000 ~ 'x'*1000000) }}",
    "{{ [1]|batch(10**9, 0)|list }}",
    "{{ [('x'*1000)]*100000 }}",
    "{{ '-'.join(['x'*1000]*1000) }}",
]
#: Only visible when they run (the sizes come from loops).
AT_RUN_TIME = [
    "{% set ns = namespace(a='x'*1000) %}{% for i in range(40) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}",
    "{% set ns = namespace(l=['x'*1000]) %}{% for i in range(40) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
    "{{ ns.l|string|length }}",
    "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}",
    "{% set l = [] %}{% for i in range(100000) %}{{ l.append('x'*100000) }}{% endfor %}",
    "{{ lipsum(n=10**6) }}",
    "{{ 'a'|wordwrap(1, wrapstring='y'*1000000) }}",
]

_PROBE = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1_000_000_000, 1_000_000_000))
from robots.language.expressions import render_text
from robots.errors import ExpressionError
outcomes = []
for text in json.load(sys.stdin):
    try:
        render_text(text, {})
        outcomes.append("rendered")
    except ExpressionError:
        outcomes.append("refused")
    except MemoryError:
        outcomes.append("out of memory")
print(json.dumps(outcomes))
"""


def test_every_unbounded_expression_is_refused_within_bounded_memory() -> None:
    # In a process of its own with 1 GB of address space: a regression fails, not the machine.
    texts = UNBOUNDED + AT_RUN_TIME
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    outcomes = json.loads(done.stdout)
    assert dict(zip(texts, outcomes, strict=True)) == dict.fromkeys(texts, "refused")


@pytest.mark.parametrize("text", UNBOUNDED)
def test_validate_reports_visibly_unbounded_expressions(text: str) -> None:
    assert "larger than the sandbox allows" in (expressions.syntax_problem(text) or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ 'a{}b'.format(1) }}", "a1b"),
        ("{{ '%05d' % 3 }}", "00003"),
        ("{{ 'x\ny'|indent(2) }}", "x\n  y"),
        ("{{ [1, 2]|join(',') }}", "1,2"),
        ("{{ 'ab'|replace('a', 'c') }}", "cb"),
        ("{{ 'Hi %s'|format('Ada') }}", "Hi Ada"),
        ("{{ 'a' ~ 1 }}", "a1"),
        ("{{ 'x'|center(5) }}", "  x  "),
        ("{{ '-' * 40 }}", "-" * 40),
    ],
)
def test_sensible_expressions_still_work(text: str, expected: str) -> None:
    assert expressions.render(text, {}) == expected
    assert expressions.syntax_problem(text) is None


def test_a_runaway_expression_is_an_expression_error_naming_the_step() -> None:
    with pytest.raises(ExpressionError, match="step 7"):
        expressions.render("{{ 'x'|indent(10**9, true) }}", {}, where="step 7")


def test_run_py_validate_names_the_file_and_the_expression(tmp_path: Path) -> None:
    write(
        tmp_path / "workflows" / "greedy.yaml",
        """
        name: greedy
        steps:
          - set: {padded: "{{ 'x'|indent(10**9, true) }}"}
        """,
    )
    (tmp_path / "business_rules").mkdir()
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "validate", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = textwrap.dedent(done.stdout + done.stderr)
    assert done.returncode != 0, output
    assert "greedy.yaml" in output and "larger than the sandbox allows" in output, output
