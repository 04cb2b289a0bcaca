"""`jukinet bench`: run a local federation and measure it against same-run baselines."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jukinet.bench import Figure, Report
from jukinet.bench._baselines import envelope_round_trips, jetstream_publish
from jukinet.bench._propagation import sustained_changes
from jukinet.localfed import LocalFederation

console = Console(width=120)


def bench(
    seconds: Annotated[float, typer.Option(help="Sustained-load duration.")] = 30.0,
    out: Annotated[Path, typer.Option(help="JSON output.")] = Path("var/bench.json"),
) -> None:
    """Measure baselines and end-to-end change propagation; print a table, write JSON."""
    report = asyncio.run(_run(seconds))
    report.print(console)
    report.write(out)
    console.print(f"figures written to {out}")


async def _run(seconds: float) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="jukinet-bench-") as root:
        fed = LocalFederation(Path(root))
        try:
            console.print("starting a local federation (SQLite)…")
            await fed.start()
            report.add(Figure("envelope seal+open", envelope_round_trips(fed), "msg/s"))
            rate = await jetstream_publish(fed)
            report.add(Figure("JetStream publish, pipelined, mTLS", rate, "msg/s"))
            console.print(f"offering registrations for {seconds:.0f} s…")
            changes = await sustained_changes(fed, seconds)
            report.add(
                Figure(
                    "changes municipality→agency (SQLite)",
                    changes,
                    "changes/s",
                    baseline="envelope seal+open",
                )
            )
        finally:
            fed.stop()
    return report
