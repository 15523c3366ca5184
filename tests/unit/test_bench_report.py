"""A benchmark rewrites only its own section of docs/benchmarks.md, and its tables are Markdown."""

from __future__ import annotations

import importlib
import math
import random
from pathlib import Path

import pytest

from bench.report import read_section, table, write_section

OTHERS = "# Benchmarks\n\nIntro.\n\n<!-- other-bench -->\nsomeone else's numbers\n<!-- /other-bench -->\n"


def test_the_section_is_replaced_where_it_stands_and_the_rest_is_untouched(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\n<!-- queue-bench -->\nold numbers\n<!-- /queue-bench -->\n\n"
        "<!-- other-bench -->\nsomeone else's numbers\n<!-- /other-bench -->\n",
        encoding="utf-8",
    )

    write_section(docs, "queue-bench", "## Work queue\n\nnew numbers\n")

    assert docs.read_text(encoding="utf-8") == (
        "# Benchmarks\n\n<!-- queue-bench -->\n## Work queue\n\nnew numbers\n<!-- /queue-bench -->\n\n"
        "<!-- other-bench -->\nsomeone else's numbers\n<!-- /other-bench -->\n"
    )


def test_an_absent_section_is_appended_after_a_blank_line(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(OTHERS + "\n\n", encoding="utf-8")

    write_section(docs, "api-bench", "## Trigger API\n")

    assert docs.read_text(encoding="utf-8") == (
        OTHERS + "\n<!-- api-bench -->\n## Trigger API\n<!-- /api-bench -->\n"
    )


def test_a_missing_file_starts_with_the_title(tmp_path: Path) -> None:
    docs = tmp_path / "docs" / "benchmarks.md"

    write_section(docs, "api-bench", "## Trigger API\n")

    assert docs.read_text(encoding="utf-8") == (
        "# Benchmarks\n\n<!-- api-bench -->\n## Trigger API\n<!-- /api-bench -->\n"
    )


def test_a_section_without_its_closing_marker_is_left_and_a_whole_one_appended(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n<!-- api-bench -->\nhalf\n", encoding="utf-8")

    write_section(docs, "api-bench", "new\n")

    assert docs.read_text(encoding="utf-8") == (
        "# Benchmarks\n<!-- api-bench -->\nhalf\n\n<!-- api-bench -->\nnew\n<!-- /api-bench -->\n"
    )


def test_a_written_section_reads_back(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    assert read_section(docs, "robots-bench") is None
    docs.write_text(OTHERS, encoding="utf-8")
    assert read_section(docs, "robots-bench") is None

    write_section(docs, "robots-bench", "results\n")

    assert read_section(docs, "robots-bench") == "results\n"
    assert read_section(docs, "other-bench") == "someone else's numbers\n"


def test_a_table_has_header_alignment_and_rows() -> None:
    lines = table(("events", "n", "median ms"), [("all", 100, "97"), ("robot callouts", 50, "")], "lrr")

    assert lines == [
        "| events | n | median ms |",
        "|---|---:|---:|",
        "| all | 100 | 97 |",
        "| robot callouts | 50 |  |",
    ]


def test_table_columns_are_left_aligned_unless_told() -> None:
    assert table(("goal", "verdict"), [])[1] == "|---|---|"
    with pytest.raises(ValueError, match="one 'l' or 'r' per column"):
        table(("goal", "verdict"), [], "lrr")


@pytest.mark.parametrize("name", ["api_bench", "callout_bench", "queue_bench", "robots_bench"])
def test_every_benchmark_imports_and_writes_through_the_shared_helper(name: str, tmp_path: Path) -> None:
    bench = importlib.import_module(f"bench.{name}")
    docs = tmp_path / "benchmarks.md"
    docs.write_text(OTHERS, encoding="utf-8")

    if name == "api_bench":
        bench.write_docs("## Results", docs)
    elif name == "robots_bench":
        bench.write_docs(docs, "## Results\n", "")
    else:
        bench.write_docs(docs, "## Results\n")

    section = name.replace("_", "-")
    assert docs.read_text(encoding="utf-8").startswith(OTHERS)
    assert read_section(docs, section) == ("## Results\n\n" if name == "robots_bench" else "## Results\n")


def _tandem_run(memory: list[float], warmup: int = 3) -> dict[str, object]:
    from bench import robots_bench

    run = robots_bench.VariantRun("tandem", conn=None, process=None)  # type: ignore[arg-type]
    run.results = [
        {"seq": i, "kind": "address", "ms": 1.0, "error": None, "mem": mb * 2**20}
        for i, mb in enumerate(memory)
    ]
    return robots_bench.summarize(
        {"tandem": run}, memory_warmup=warmup, memory_window=robots_bench.MEMORY_WINDOW
    )


def test_memory_is_compared_over_whole_renewal_cycles_and_a_trend_is_seen() -> None:
    from bench import robots_bench

    cycle = robots_bench.MEMORY_WINDOW
    # Renewed contexts: memory climbs through each cycle and falls back; no leak.
    sawtooth = [700 + 100 * ((i - 3) % cycle) / cycle for i in range(503)]
    memory = _tandem_run(sawtooth)["memory"]
    assert abs(memory["change"]) < 0.01  # type: ignore[index]
    assert abs(memory["trend_per_500"]) < 0.03  # type: ignore[index]
    # The same with a leak of 20 % over the run is seen both ways.
    leaking = [mb + 150 * i / 500 for i, mb in enumerate(sawtooth)]
    memory = _tandem_run(leaking)["memory"]
    assert memory["change"] > 0.15  # type: ignore[index]
    assert memory["trend_per_500"] > 0.15  # type: ignore[index]


def test_memory_rising_only_while_the_robot_warms_up_reads_flat_and_is_shown() -> None:
    from bench import robots_bench

    start = 3 + robots_bench.MEMORY_WARMUP
    cycle = robots_bench.MEMORY_WINDOW
    # Heaps growing to their working size over the first cycle, then a sawtooth around it.
    rising = [600 + 150 * i / start for i in range(start)]
    steady = [750 + 100 * (i % cycle) / cycle for i in range(500)]
    memory = _tandem_run(rising + steady, warmup=start)["memory"]
    assert memory["measured"] == 500 and memory["warmup"] == start  # type: ignore[index]
    assert abs(memory["change"]) < 0.01 and abs(memory["trend_per_500"]) < 0.03  # type: ignore[index]
    assert 600 < memory["warmup_first_mb"] < 650  # type: ignore[index]
    # Growth that goes on after the warm-up is still a leak.
    leaking = rising + [mb + 150 * i / 500 for i, mb in enumerate(steady)]
    memory = _tandem_run(leaking, warmup=start)["memory"]
    assert memory["change"] > 0.10 and memory["trend_per_500"] > 0.15  # type: ignore[index]


def test_hand_written_notes_at_the_end_of_a_section_outlive_a_new_run(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    write_section(docs, "queue-bench", "## Results\n\nold numbers\n")
    text = docs.read_text(encoding="utf-8")
    docs.write_text(text.replace("old numbers\n", "old numbers\n\n<!-- queue-bench-notes -->\nWhy.\n"))

    write_section(docs, "queue-bench", "## Results\n\nnew numbers\n")

    assert (
        read_section(docs, "queue-bench") == "## Results\n\nnew numbers\n\n<!-- queue-bench-notes -->\nWhy.\n"
    )


def test_a_ratio_interval_holds_the_ratio_and_tells_a_real_difference_from_noise() -> None:
    from bench import robots_bench

    noise = random.Random(7)
    same_a = [1000 + noise.gauss(0, 60) for _ in range(30)]
    same_b = [1000 + noise.gauss(0, 60) for _ in range(30)]
    low, high = robots_bench.ratio_interval(same_a, same_b)
    assert low < 1 < high  # the same app twice: the interval spans no difference
    assert high - low < 0.15
    slower = [ms * 1.2 for ms in same_a]
    low, high = robots_bench.ratio_interval(slower, same_b)
    assert 1.0 < low < 1.2 < high  # 20 % slower: seen, and the interval holds it
    assert robots_bench.ratio_interval(slower, same_b) == (low, high)  # the same run, the same report
    assert all(math.isnan(v) for v in robots_bench.ratio_interval([], same_b))


_INFO: dict[str, object] = {
    **dict.fromkeys(("command", "date", "cpus", "cpu", "memory", "os", "python", "chromium"), "x"),
    **dict.fromkeys(("playwright", "robotframework", "rpaframework", "load_start", "load_end"), "x"),
    **dict.fromkeys(("wall_s", "counted", "warmup", "batch", "tandem_cases"), 0),
    "effects": "all present",
}


def test_deliveries_are_compared_per_supplier_not_as_one_mix() -> None:
    """Two humps (550 and 900 ms): the mix's median jumps between them, each supplier's does not."""
    from bench import robots_bench

    def variant(name: str, nordlog: float, suedexpress: float) -> robots_bench.VariantRun:
        run = robots_bench.VariantRun(name, conn=None, process=None)  # type: ignore[arg-type]
        cases = [
            {"seq": i, "kind": "delivery", "supplier": ("nordlog", "suedexpress")[i % 2]} for i in range(20)
        ]
        run.results = [
            {
                "seq": case["seq"],
                "kind": "delivery",
                "group": robots_bench.group_of(case),
                "ms": (nordlog if case["supplier"] == "nordlog" else suedexpress) + case["seq"],
                "error": None,
                "mem": 1.0,
            }
            for case in cases
        ]
        run.counted = {case["seq"] for case in cases}
        return run

    summary = robots_bench.summarize(
        {"tandem": variant("tandem", 560, 910), "tuned": variant("tuned", 550, 900)},
        memory_warmup=3,
        memory_window=robots_bench.MEMORY_WINDOW,
    )
    ratios = summary["ratios"]["tuned"]
    assert 1.0 < ratios["nordlog"] < 1.03 and 1.0 < ratios["suedexpress"] < 1.02
    assert math.isnan(ratios["address"])  # no address change in this run: no ratio, no crash
    assert summary["variants"]["tandem"]["groups"]["nordlog"]["n"] == 10
    text = robots_bench.report(summary, _INFO)
    assert "delivery NordLogistik 1.02x" in text and "delivery Sued Express 1.01x" in text


def test_the_live_bench_reports_latency_and_what_a_refresh_costs_whole_and_as_a_fragment() -> None:
    from bench import live_bench

    result = live_bench.Result(
        latencies={"task arrives → inbox row": [100.0, 120.0, 600.0]},
        answers={"inbox": live_bench.Answer([20.0, 22.0], [10.0, 11.0], 28_744, 2_400)},
    )
    text = live_bench.report(result)
    assert "Goal p95 < 500 ms: **NOT met**" in text
    assert "| inbox | 28,744 | 21 / 22 | 2,400 | 10 / 11 |" in text
