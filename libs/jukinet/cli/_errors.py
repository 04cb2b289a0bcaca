"""What the command line says when something goes wrong: one or two lines saying what
and what to do, never a traceback (``JUKINET_DEBUG=1`` shows it, for developers)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from jukinet.contracts.ids import InvalidCode
from jukinet.contracts.principals import InvalidPrincipal

__all__ = ["database_url", "run_reporting_errors"]

err = Console(stderr=True, highlight=False, soft_wrap=True)


def database_url(value: str, *, create: bool = False) -> str:
    """``--db`` as given: a URL, or a plain path to a SQLite file — an existing one,
    unless ``create`` (a migration may make it)."""
    if "://" in value:
        return value
    path = Path(value)
    if not (path.is_file() or (create and path.parent.is_dir())):
        raise FileNotFoundError(f"no database file at {path} (give a path or a URL)")
    return f"sqlite:///{path.resolve()}"


def run_reporting_errors(command: Callable[[], object]) -> None:
    """Run the command; report a failure in a line and exit 1."""
    if os.environ.get("JUKINET_DEBUG") == "1":
        command()
        return
    try:
        command()
    except Exception as exc:  # every failure gets its line, none a traceback
        _fail(_message(exc))


def _message(exc: Exception) -> str:
    """What to say about ``exc`` (the database and PKI libraries are imported here, not
    at start: by now the command has loaded them if it used them)."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from jukinet.pki import PkiError

    if isinstance(exc, (InvalidPrincipal, InvalidCode, PkiError, ValueError)):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return str(exc) if not exc.filename else f"{exc.filename}: no such file"
    if isinstance(exc, PermissionError):
        return f"{exc.filename or 'a file'}: permission denied"
    if isinstance(exc, ArgumentError):
        return "the database URL is not valid (sqlite:///path or postgresql://…)"
    if isinstance(exc, DBAPIError):
        return f"the database refused: {type(exc.orig).__name__} (is it migrated, and reachable?)"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return f"internal error ({type(exc).__name__}); JUKINET_DEBUG=1 shows where"


def _fail(message: str) -> None:
    err.print(f"[red]error:[/] {message}")
    sys.exit(1)
