"""A benchmark report: figures with units, the baseline each is compared with, and the
issue's target where there is one (reported, never asserted)."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Target:
    """``value`` (or the ratio to the baseline, ``on="ratio"``) must be ``at least`` or
    ``at most`` ``bound``."""

    bound: float
    at: Literal["least", "most"] = "least"
    on: Literal["value", "ratio"] = "value"

    def met(self, value: float, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        return subject >= self.bound if self.at == "least" else subject <= self.bound

    def __str__(self) -> str:
        sign = "≥" if self.at == "least" else "≤"
        return f"{sign} {self.bound:g}×" if self.on == "ratio" else f"{sign} {self.bound:,g}"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str | None = None  # the name of the figure this one is a ratio of
    target: Target | None = None

    def ratio(self, figures: dict[str, Figure]) -> float | None:
        if self.baseline is None or self.baseline not in figures:
            return None
        base = figures[self.baseline].value
        return self.value / base if base else None


@dataclass
class Report:
    figures: dict[str, Figure] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    def add(self, figure: Figure) -> None:
        self.figures[figure.name] = figure

    @staticmethod
    def machine() -> dict[str, object]:
        return {
            "cpus": os.cpu_count(),
            "memory_gib": _memory_gib(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": _cpu_model() or platform.machine(),
        }

    def rows(self) -> list[dict[str, object]]:
        out = []
        for f in self.figures.values():
            finite = math.isfinite(f.value)  # no samples: no figure (JSON has no NaN)
            ratio = f.ratio(self.figures) if finite else None
            ratio = ratio if ratio is None or math.isfinite(ratio) else None
            doc = asdict(f)
            if not finite:
                doc["value"] = None
            doc["target"] = str(f.target) if f.target else None
            doc["ratio"] = ratio
            doc["target_met"] = f.target.met(f.value, ratio) if f.target and finite else None
            out.append(doc)
        return out

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"machine": self.machine(), "settings": self.settings, "figures": self.rows()}
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))

    def print(self, console: Console) -> None:
        table = Table(title="jukinet benchmarks (same run, same machine)")
        for column in ("figure", "value", "unit", "vs baseline", "target", "met"):
            table.add_column(column, no_wrap=True)
        for row in self.rows():
            ratio = row["ratio"]
            versus = f"{ratio:.3g}× {row['baseline']}" if isinstance(ratio, float) else ""
            met = {True: "yes", False: "NO", None: ""}[row["target_met"]]  # type: ignore[index]
            value = row["value"]
            shown = "n/a" if not isinstance(value, float | int) else _shown(float(value))
            table.add_row(
                str(row["name"]), shown, str(row["unit"]), versus, str(row["target"] or ""), met
            )
        console.print(table)
        console.print(f"machine: {self.machine()}")


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 1)


def _shown(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
