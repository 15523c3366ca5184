"""The robot speed benchmark runs end to end in quick mode and reports sane numbers.

Not a timing test: it checks that every variant ran its cases without errors, that the
apps' audit logs hold what the cases did, and that the report is well formed — so the
benchmark cannot rot between the runs that write docs/benchmarks.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import robots_bench
from bench.robots_variants import VARIANTS

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(400)  # 90 s on a quiet machine; the shared one is often far busier
def test_quick_benchmark_runs_every_variant_and_writes_sane_numbers(tmp_path: Path) -> None:
    results, docs = tmp_path / "results.json", tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n<!-- other-bench -->\nsomeone else's numbers\n<!-- /other-bench -->\n")

    code = robots_bench.main(["--quick", "--json", str(results), "--docs", str(docs)])

    data = json.loads(results.read_text())
    variants = data["summary"]["variants"]
    assert set(variants) == set(VARIANTS)
    for name, variant in variants.items():
        assert variant["failure"] is None, f"{name}: {variant['failure']}"
        assert variant["errors"] == 0, f"{name}: {variant['first_errors']}"
        assert variant["counted"] == 2
        for kind in ("address", "delivery"):
            median = variant["kinds"][kind]["median_ms"]
            assert not math.isnan(median) and 0 < median < 120_000, f"{name} {kind}: {median}"
        assert variant["orphans"] == [], f"{name} left processes behind: {variant['orphans']}"
    assert data["info"]["effects_verified"], data["info"]["effects"]
    assert variants["tandem"]["new_context_ms"]["n"] > 0
    # The untraced variant is Tandem without the per-case trace, and the report says what it costs.
    assert (variants["tandem"]["trace"], variants["tandem-untraced"]["trace"]) == ("on-failure", "off")
    assert set(data["summary"]["untraced"]["trace_cost"]) == {"address", "nordlog", "suedexpress"}
    groups = [case["group"] for case in variants["tandem"]["counted_cases"]]
    assert groups[0] == "address" and groups[1] in ("nordlog", "suedexpress"), groups
    assert code == 0
    text = docs.read_text()
    assert "someone else's numbers" in text  # other sections are left alone
    assert text.count("<!-- robots-bench -->") == 1 and "| Tandem vs tuned" in text
    assert "Tandem without its per-case trace" in text
