"""The watch benchmark runs end to end with one round and measures what it says it does.

Not a timing test: every variant finished its cases, only the step screenshot variant took
pictures (of every web step), and a trace with DOM snapshots or the screencast is bigger than
the default's, so the benchmark cannot rot between the runs that write docs/benchmarks.md.
"""

from __future__ import annotations

import pytest

from bench import watch_bench

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(400)  # about 40 s on a quiet machine
def test_one_round_of_the_watch_benchmark_measures_every_variant() -> None:
    variants, load = watch_bench.run(1)

    assert [variant.name for variant in variants] == list(watch_bench.VARIANTS)
    by_name = {variant.name: variant for variant in variants}
    for variant in variants:
        for kind in watch_bench.KINDS:
            assert len(variant.seconds[kind]) == 1 and variant.seconds[kind][0] > 0, (variant.name, kind)
            pictures = variant.pictures_per_case[kind][0]
            assert (pictures > 0) == (variant.pictures == "all"), (variant.name, kind, pictures)
    pictured = by_name["step screenshots"]
    assert len(pictured.captures_ms) == sum(
        n for counts in pictured.pictures_per_case.values() for n in counts
    )
    default = sum(by_name["default"].trace_bytes.values())
    assert sum(by_name["trace with DOM snapshots"].trace_bytes.values()) > default
    assert sum(by_name["trace with screencast"].trace_bytes.values()) > default
    assert by_name["trace off"].trace_bytes == {}

    text = watch_bench.report(variants, load, 1)
    assert all(f"| {name} |" in text for name in watch_bench.VARIANTS)
