"""What the command line says when something goes wrong: one or two lines saying what
and what to do, never a traceback (``JUKINET_DEBUG=1`` shows it, for developers)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from sqlalchemy.exc import ArgumentError, DBAPIError

from jukinet.contracts.ids import InvalidCode
from jukinet.contracts.principals import InvalidPrincipal
from jukinet.pki import PkiError

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
    except (InvalidPrincipal, InvalidCode, PkiError, ValueError) as exc:
        _fail(str(exc))
    except FileNotFoundError as exc:
        _fail(str(exc) if not exc.filename else f"{exc.filename}: no such file")
    except PermissionError as exc:
        _fail(f"{exc.filename or 'a file'}: permission denied")
    except ArgumentError:
        _fail("the database URL is not valid (sqlite:///path or postgresql://…)")
    except DBAPIError as exc:
        _fail(f"the database refused: {type(exc.orig).__name__} (is it migrated, and reachable?)")
    except OSError as exc:
        _fail(f"{type(exc).__name__}: {exc.strerror or exc}")
    except Exception as exc:
        _fail(f"internal error ({type(exc).__name__}); JUKINET_DEBUG=1 shows where")


def _fail(message: str) -> None:
    err.print(f"[red]error:[/] {message}")
    sys.exit(1)
