"""A benchmark report: figures with units and the baseline each is compared with."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str | None = None  # the name of the figure this one is a ratio of

    def ratio(self, figures: dict[str, Figure]) -> float | None:
        if self.baseline is None or self.baseline not in figures:
            return None
        base = figures[self.baseline].value
        return self.value / base if base else None


@dataclass
class Report:
    figures: dict[str, Figure] = field(default_factory=dict)

    def add(self, figure: Figure) -> None:
        self.figures[figure.name] = figure

    @staticmethod
    def machine() -> dict[str, object]:
        return {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "machine": self.machine(),
            "figures": [
                {**asdict(f), "ratio": f.ratio(self.figures)} for f in self.figures.values()
            ],
        }
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))

    def print(self, console: Console) -> None:
        table = Table(title="jukinet benchmarks (same run, same machine)")
        for column in ("figure", "value", "unit", "vs baseline"):
            table.add_column(column, no_wrap=True)
        for f in self.figures.values():
            ratio = f.ratio(self.figures)
            versus = f"{ratio:.2f}× {f.baseline}" if ratio is not None else ""
            table.add_row(f.name, f"{f.value:,.1f}", f.unit, versus)
        console.print(table)
