"""Benchmarks: figures measured in the same run, printed as a table and written as JSON."""

from jukinet.devtools.bench._report import Figure, Report, Target

__all__ = ["Figure", "Report", "Target"]
