"""What watching a robot costs: step screenshots, and what each kind of trace adds to a case.

Run ``.venv/bin/python -m bench.watch_bench`` (``--help`` for the options). In one run:

* the demo apps (and a mail sink) in a process of their own, as the systems a robot talks to;
  a SQLite case database; robots in this process, each with its own Chromium, working through
  real cases as a worker's robot does (claim, run with the step records stored, outcome);
* variants of the same robot: the default (a trace of each case without DOM snapshots, no step
  screenshots); with a step screenshot after every web step (``TANDEM_STEP_SCREENSHOTS=all``);
  and the trace modes ``off``, ``snapshots`` (the page's DOM at each action) and
  ``screenshots`` (Playwright's screencast), without step screenshots;
* ``--rounds`` rounds, each one case of every kind (an address change in CRM and billing, a
  delivery booked at each supplier) per variant, the variants in a new random order every
  round, so a busy moment of the shared machine does not fall on one variant; a warm-up round
  first (the logins) is not counted;
* per variant and kind the median wall time of a case, and its ratio to the default's; for the
  step screenshots also the time of each capture itself (median, p95), the pictures per case and
  their size; for the trace modes the size of one case's trace when it is kept.

Results go to the console and to the ``watch-bench`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import DOCS, table, write_section
from bench.robots_bench import Apps, CaseMaker
from bench.robots_variants import bench_workflows, inputs_of

ROOT = Path(__file__).resolve().parent.parent
SECTION = "watch-bench"

# name: (TANDEM_TRACE, TANDEM_STEP_SCREENSHOTS)
VARIANTS: dict[str, tuple[str, str]] = {
    "default": ("on-failure", "off"),
    "step screenshots": ("on-failure", "all"),
    "trace off": ("off", "off"),
    "trace with DOM snapshots": ("snapshots", "off"),
    "trace with screencast": ("screenshots", "off"),
}
KINDS = ("address change", "delivery NordLogistik", "delivery Sued Express")


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Variant:
    """One robot of the comparison and what it measured."""

    name: str
    trace: str
    pictures: str
    sessions: Any = None
    engine: Any = None
    seconds: dict[str, list[float]] = field(default_factory=dict)
    captures_ms: list[float] = field(default_factory=list)
    picture_bytes: list[int] = field(default_factory=list)
    pictures_per_case: dict[str, list[int]] = field(default_factory=dict)
    checkpoints_per_case: list[int] = field(default_factory=list)
    checkpoint_ms: list[float] = field(default_factory=list)
    trace_bytes: dict[str, int] = field(default_factory=dict)


def _timed_captures(web: Any, variant: Variant) -> None:
    """Time every step screenshot this robot takes (the capture and the file's write)."""
    original: Callable[..., str | None] = web.step_screenshot

    def timed(name: str, directory: Path, stem: str) -> str | None:
        began = time.perf_counter()
        found = original(name, directory, stem)
        variant.captures_ms.append((time.perf_counter() - began) * 1000)
        if found is not None:
            variant.picture_bytes.append(Path(found).stat().st_size)
        return found

    web.step_screenshot = timed


def _start(variant: Variant, store: Any, work: Path) -> None:
    from robots.drivers.systems import ByKind
    from robots.drivers.web_session import WebSessions
    from robots.engine.runner import Engine

    web = WebSessions(trace=variant.trace)
    _timed_captures(web, variant)
    variant.sessions = ByKind({"web": web})
    variant.engine = Engine(
        store.project,
        humans=store.humans(f"bench-{variant.name}"),
        systems=variant.sessions,
        robot=f"bench-{variant.name}",
        artifacts_dir=work / "artifacts" / variant.name.replace(" ", "-"),
        escalate_system_failures=False,
        step_screenshots=variant.pictures,
    )


def _timed_checkpoints(store: Any) -> list[float]:
    """Time every checkpoint the robots store (each the step records since the last one);
    the list the times go to."""
    spent: list[float] = []
    original: Callable[..., None] = store.save_checkpoint

    def timed(*args: Any, **kwargs: Any) -> None:
        began = time.perf_counter()
        try:
            original(*args, **kwargs)
        finally:
            spent.append((time.perf_counter() - began) * 1000)

    store.save_checkpoint = timed
    return spent


def _run_case(
    variant: Variant, store: Any, apps: Apps, case: dict[str, Any], checkpoints: list[float]
) -> tuple[float, int, list[float]]:
    """One case by ``variant``'s robot, as a worker runs it; its wall time, step pictures and
    the checkpoints' times."""
    from orchestrator.worker.execution import run_claim

    workflow, inputs = inputs_of(case)
    if case["kind"] == "delivery":
        apps.call("free_slots")  # each supplier has only a few slots a week
    created, _ = store.create_case(workflow, f"bench-{variant.name}-{case['seq']}", inputs)
    checkpoints.clear()
    began = time.perf_counter()
    claim = store.claim_next_case(f"bench-{variant.name}", 120)
    assert claim is not None and claim.case.id == created.id
    finished = run_claim(store, variant.engine, claim)
    seconds = time.perf_counter() - began
    if finished is None or finished.status != "done":
        raise SystemExit(f"{variant.name}: the {workflow} case did not finish: {finished}")
    pictures = sum(
        1
        for step in store.case_timeline(created.id).steps
        for artifact in step.artifacts
        if str(artifact).endswith(".jpg")
    )
    return seconds, pictures, list(checkpoints)


def _kind(case: dict[str, Any]) -> str:
    if case["kind"] == "address":
        return KINDS[0]
    return KINDS[1] if case["supplier"] == "nordlog" else KINDS[2]


def _kept_trace_sizes(variant: Variant, work: Path) -> None:
    """The size of the last case's trace in each system, as a failure would keep it."""
    web = variant.sessions.providers["web"]
    for name, session in list(web._sessions.items()):  # the bench reads the robot's own sessions
        if session.trace_running:
            path = work / f"trace-{variant.name.replace(' ', '-')}-{name}.zip"
            session.end_trace(path=str(path))
            variant.trace_bytes[name] = path.stat().st_size


def run(rounds: int) -> tuple[list[Variant], float]:
    """Every variant through ``rounds`` rounds of cases; the variants and the load at the start."""
    from demo.data import robot_secrets
    from orchestrator.service import Orchestrator
    from robots.language.project import Project
    from robots.logs import configure_logging

    configure_logging(log_dir=None, console_level="WARNING")
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="tandem-watch-bench-"))
    project = Project(ROOT, workflows_dir=bench_workflows(work / "workflows"))
    store = Orchestrator(f"sqlite:///{work / 'cases.db'}", project=project)
    checkpoints = _timed_checkpoints(store)
    apps = Apps(multiprocessing.get_context("spawn"), work / "apps")
    robot_env = {**apps.call("env"), **robot_secrets()}
    before = {name: os.environ.get(name) for name in robot_env}
    os.environ.update(robot_env)
    variants = [Variant(name, trace, pictures) for name, (trace, pictures) in VARIANTS.items()]
    maker = CaseMaker()
    shuffle = random.Random(15)
    try:
        for variant in variants:
            _start(variant, store, work)
        for number in range(rounds + 1):  # round 0 warms up: every robot logs in everywhere
            order = list(variants)
            shuffle.shuffle(order)
            for variant in order:
                # Cases of its own: a street never written before, so every address change
                # really changes both systems (the same case twice would find it done).
                cases = [
                    maker.make("address"),
                    maker.make("delivery", "nordlog"),
                    maker.make("delivery", "suedexpress"),
                ]
                for case in cases:
                    seconds, pictures, saved = _run_case(variant, store, apps, case, checkpoints)
                    if number == 0:
                        continue
                    variant.seconds.setdefault(_kind(case), []).append(seconds)
                    variant.pictures_per_case.setdefault(_kind(case), []).append(pictures)
                    variant.checkpoints_per_case.append(len(saved))
                    variant.checkpoint_ms.extend(saved)
            if number == 0:
                for variant in variants:
                    variant.captures_ms.clear()
                    variant.picture_bytes.clear()
            print(f"round {number}/{rounds} done", file=sys.stderr)
        for variant in variants:
            _kept_trace_sizes(variant, work)
    finally:
        for variant in variants:
            if variant.sessions is not None:
                variant.sessions.close()
        apps.stop()
        store.close()
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(work, ignore_errors=True)  # the pictures and traces of the bench's cases
    return variants, load


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(variants: list[Variant], load: float, rounds: int) -> str:
    """The Markdown section for docs/benchmarks.md."""
    base = variants[0]
    rows = []
    for variant in variants:
        cells: list[object] = [variant.name, f"`{variant.trace}` / `{variant.pictures}`"]
        ratios = []
        for kind in KINDS:
            median = _median(variant.seconds.get(kind, []))
            ratio = median / _median(base.seconds[kind])
            ratios.append(ratio)
            cells.append(f"{median * 1000:.0f} ms ({ratio:.2f}x)")
        cells.append(f"{statistics.geometric_mean(ratios):.2f}x")
        sizes = variant.trace_bytes
        cells.append(f"{sum(sizes.values()) / max(1, len(sizes)) / 1024:.0f} KB" if sizes else "-")
        rows.append(cells)
    pictured = next(v for v in variants if v.pictures == "all")
    per_kind = {kind: _median([float(n) for n in pictured.pictures_per_case[kind]]) for kind in KINDS}
    extra = {kind: (_median(pictured.seconds[kind]) - _median(base.seconds[kind])) * 1000 for kind in KINDS}
    lines = [
        "## Watching a robot: step screenshots and traces (cost per case)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores, shared; load average {load:.1f} at the start), Python "
        f"{platform.python_version()}, SQLite; the demo apps in a process of their own, one robot "
        f"per variant (each its own Chromium), {rounds} rounds of one case of each kind per "
        "variant after a warm-up round, the variants in a new random order each round. Each case "
        "as a worker runs it (claim, steps stored with their checkpoints, outcome). Run: "
        "`.venv/bin/python -m bench.watch_bench`.",
        "",
        *table(
            (
                "variant",
                "TANDEM_TRACE / TANDEM_STEP_SCREENSHOTS",
                *(f"{k}, median" for k in KINDS),
                "geometric mean",
                "trace of one case",
            ),
            rows,
            align="llrrrrr",
        ),
        "",
        "Step screenshots: each took "
        f"{_median(pictured.captures_ms):.1f} ms to take and write (median; p95 "
        f"{percentile(pictured.captures_ms, 0.95):.1f} ms; n = {len(pictured.captures_ms)}), "
        f"{statistics.mean(pictured.picture_bytes) / 1024:.1f} KB on average. With each pictured "
        "step stored at once (so the case page shows it), the robot stored "
        f"{statistics.mean(pictured.checkpoints_per_case):.1f} checkpoints per case instead of "
        f"{statistics.mean(base.checkpoints_per_case):.1f}, "
        f"{_median(pictured.checkpoint_ms):.1f} ms each (median). Per kind of case: pictures "
        "(median), time added to the median case, and that per picture: "
        + "; ".join(
            f"{kind} {per_kind[kind]:.0f}, {extra[kind]:+.0f} ms, "
            f"{extra[kind] / max(1.0, per_kind[kind]):.0f} ms"
            for kind in KINDS
        )
        + ".",
        "",
        "The trace of one case is the last case's trace of each system as a failure would keep it "
        "(mean over the systems).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=12, help="rounds of cases (default 12)")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    variants, load = run(options.rounds)
    text = report(variants, load, options.rounds)
    print(text)
    if not options.no_docs:
        write_section(DOCS, SECTION, text)
        print(f"written to {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
