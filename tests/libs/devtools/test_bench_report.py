"""Benchmark reports: a target is met on the value or on the ratio to its baseline, and
each row carries that ratio (value / baseline value) and whether the target was met."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from jukinet.cli.bench import bench
from jukinet.devtools.bench import Figure, Report, Target
from jukinet.devtools.bench._run import BenchOptions


@pytest.mark.parametrize(
    ("target", "value", "ratio", "met"),
    [
        (Target(100), 100.0, None, True),
        (Target(100), 99.9, None, False),
        (Target(100, at="most"), 100.0, None, True),
        (Target(100, at="most"), 100.1, None, False),
        (Target(0.5, on="ratio"), 1.0, 0.5, True),
        (Target(0.5, on="ratio"), 1e9, 0.4, False),  # the value does not matter
        (Target(1.3, at="most", on="ratio"), 1.0, 1.31, False),
        (Target(1.3, at="most", on="ratio"), 1e9, 1.2, True),
        (Target(0.5, on="ratio"), 1.0, None, None),  # no baseline: not judged
    ],
)
def test_a_target_is_met_on_its_subject(
    target: Target, value: float, ratio: float | None, met: bool | None
) -> None:
    assert target.met(value, ratio) is met


def test_rows_carry_ratios_to_their_baselines_and_the_targets_met(tmp_path: Path) -> None:
    report = Report(settings={"size": 3})
    report.add(Figure("base", 200.0, "req/s"))
    report.add(Figure("fast", 500.0, "req/s", baseline="base", target=Target(2, on="ratio")))
    report.add(Figure("slow", 50.0, "req/s", baseline="base", target=Target(0.5, on="ratio")))
    report.add(Figure("latency", 300.0, "ms", target=Target(250, at="most")))
    report.add(Figure("orphan", 1.0, "ms", baseline="missing"))
    report.add(Figure("zero", 0.0, "req/s"))
    report.add(Figure("over zero", 5.0, "req/s", baseline="zero"))
    rows = {row["name"]: row for row in report.rows()}
    assert rows["fast"]["ratio"] == pytest.approx(2.5)
    assert rows["fast"]["target_met"] is True
    assert rows["fast"]["target"] == "≥ 2×"
    assert rows["slow"]["ratio"] == pytest.approx(0.25)
    assert rows["slow"]["target_met"] is False
    assert rows["latency"]["ratio"] is None
    assert rows["latency"]["target_met"] is False
    assert rows["latency"]["target"] == "≤ 250"
    assert rows["base"]["ratio"] is None
    assert rows["base"]["target_met"] is None
    assert rows["orphan"]["ratio"] is None
    assert rows["over zero"]["ratio"] is None  # no division by a zero baseline

    report.write(tmp_path / "out" / "bench.json")
    doc = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert set(doc) == {"machine", "settings", "figures"}
    assert doc["settings"] == {"size": 3}
    assert [f["name"] for f in doc["figures"]] == list(rows)
    assert doc["figures"][1]["ratio"] == pytest.approx(2.5)


def test_make_bench_keeps_its_durations() -> None:
    """`jukinet bench` without options measures as the README's figures were measured:
    the shorter runs are only for test_bench."""
    cli = {n: p.default for n, p in inspect.signature(bench).parameters.items()}
    for defaults in (cli, vars(BenchOptions())):
        assert (defaults["seconds"], defaults["latency_seconds"]) == (30, 10)
        assert defaults["lookup_seconds"] == 10
        assert defaults["baseline_seconds"] is None  # 3 s of seal+open, 5 s of FastAPI hello
        assert (defaults["size"], defaults["records"]) == (100_000, 1_000_000)
        assert defaults["light_rate"] == 10
