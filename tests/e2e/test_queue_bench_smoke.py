"""The queue benchmark runs end to end in small: no-op throughput and real cases' overhead."""

from __future__ import annotations

import os
import re

import pytest

from bench import queue_bench

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_quick_queue_benchmark_measures_throughput_and_a_real_cases_overhead(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = dict(os.environ)
    code = queue_bench.main(["--cases", "40", "--real-cases", "1", "--no-postgres", "--no-docs"])
    assert dict(os.environ) == before  # the apps' URLs it set are gone with the apps

    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"SQLite: Tandem \d+/s, raw queue \d+/s \(4 workers, 40 cases\)", out), out
    # Each real workflow ran against the apps in their own process and sent its mail to their sink.
    for workflow in queue_bench.REAL_WORKFLOWS:
        found = re.search(
            rf"real cases: 1 x {workflow}, [\d.]+ s each; orchestrator calls (\d+) per case", out
        )
        assert found and int(found.group(1)) >= 2, out
