"""The trigger-API benchmark runs end to end in a tiny configuration and its checks hold.

Not a timing test: it checks that every request was answered, that every created case is in
the database and repeated references got the same case, and that the docs section is
written between its markers without touching the others — so the benchmark cannot rot
between the runs that write docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import api_bench

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_the_api_benchmark_loses_nothing_and_writes_its_section(tmp_path: Path) -> None:
    results, docs = tmp_path / "results.json", tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n<!-- other-bench -->\nsomeone else's numbers\n<!-- /other-bench -->\n")

    api_bench.main(["--rate", "20", "--seconds", "1.5", "--json", str(results), "--docs", str(docs)])

    data = json.loads(results.read_text())
    check = data["tandem_check"]
    assert data["first_errors"] == []
    assert check["lost"] == 0 and check["doubled"] == 0 and check["unanswered"] == 0
    assert check["repeat_mismatches"] == 0 and check["repeats"] == 2
    assert check["created"] == check["stored"] == 28
    assert data["tandem"]["statuses"] == {"200": 2, "201": 28}
    assert data["raw_check"]["lost"] == 0 and data["raw_check"]["stored"] == 30
    text = docs.read_text()
    assert "someone else's numbers" in text
    assert text.count("<!-- api-bench -->") == 1 and "Trigger API under load" in text
