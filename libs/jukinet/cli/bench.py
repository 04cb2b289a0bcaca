"""`jukinet bench`: run local federations and measure them against same-run baselines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(width=160)


def bench(
    backend: Annotated[
        str, typer.Option(help="Database of the propagation and migration federation.")
    ] = "sqlite",
    size: Annotated[int, typer.Option(min=1, help="Residents in the bulk migration.")] = 100_000,
    records: Annotated[
        int,
        typer.Option(
            min=10_000, help="Identity records at the agency; also measured at 1/100 and 1/10."
        ),
    ] = 1_000_000,
    seconds: Annotated[
        float, typer.Option(min=1, help="Sustained change-propagation duration.")
    ] = 30.0,
    light_rate: Annotated[
        float, typer.Option(min=1, help="Light load for latency (also measured at 20x).")
    ] = 10.0,
    lookup_seconds: Annotated[float, typer.Option(min=1, help="Each lookup run.")] = 10.0,
    connections: Annotated[
        int, typer.Option(min=1, max=64, help="Clients of the single-lookup runs.")
    ] = 64,
    latency_seconds: Annotated[
        float, typer.Option(min=1, help="Each light-load latency run.")
    ] = 10.0,
    baseline_seconds: Annotated[
        float | None,
        typer.Option(min=1, help="Envelope and FastAPI baseline runs (default 3 s and 5 s)."),
    ] = None,
    lookups: Annotated[bool, typer.Option(help="Measure lookups (needs PostgreSQL).")] = True,
    pg_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL admin URL (default $JUKINET_BENCH_PG, $JUKINET_TEST_PG)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON output.")] = Path("var/bench.json"),
) -> None:
    """Measure baselines, change propagation, bulk migration and lookups; print a table
    and write the same figures as JSON. Targets are reported, never asserted."""
    if backend not in ("sqlite", "postgresql"):
        raise typer.BadParameter("sqlite or postgresql", param_hint="--backend")
    # imported here: the bench pulls in every service and the load tools, which the
    # rest of the command line (and its --help) should not wait for
    from jukinet.devtools.bench._run import BenchOptions, default_pg_url, run_benchmarks

    options = BenchOptions(
        backend=backend,  # type: ignore[arg-type]
        size=size,
        records=records,
        seconds=seconds,
        light_rate=light_rate,
        lookup_seconds=lookup_seconds,
        connections=connections,
        latency_seconds=latency_seconds,
        baseline_seconds=baseline_seconds,
        pg_url=pg_url or default_pg_url(),
        lookups=lookups,
    )
    report = asyncio.run(run_benchmarks(options, console))
    report.print(console)
    report.write(out)
    console.print(f"figures written to {out}")
