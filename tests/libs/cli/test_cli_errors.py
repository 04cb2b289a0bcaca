"""The command line as an operator meets it: every mistake is a line or two saying what
and what to do, never a traceback; passwords never on the command line; an existing
operator's card is never touched by a second `create`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jukinet.pki import PkiLayout
from tests.principals import HIRATSUKA

PASSWORD = "correct horse battery"


def jukinet(*args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "JUKINET_OPERATOR_PASSWORD"}
    if password is not None:
        env["JUKINET_OPERATOR_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "jukinet.cli", *args], capture_output=True, text=True,
        timeout=120, check=False, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _one_or_two_lines(result: subprocess.CompletedProcess[str]) -> str:
    said = (result.stdout + result.stderr).strip()
    assert "Traceback" not in said
    assert 1 <= len(said.splitlines()) <= 2, said
    return said


@pytest.fixture(scope="module")
def office(layout: PkiLayout, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A migrated municipal database (given as a plain path) and a PKI of its own."""
    root = tmp_path_factory.mktemp("cli-errors")
    shutil.copytree(layout.root, root / "pki")
    db = root / "town.db"
    done = jukinet("db", "upgrade", "municipal", "--url", str(db))
    assert done.returncode == 0, done.stderr
    return db, root / "pki"


def _create(office: tuple[Path, Path], slug: str, password: str | None = PASSWORD):
    db, pki = office
    return jukinet("operators", "create", slug, "--role", "clerk", "--node", HIRATSUKA.uri,
                   "--db", str(db), "--pki-root", str(pki), password=password)  # fmt: skip


def test_creating_an_existing_operator_leaves_its_card_alone(office: tuple[Path, Path]) -> None:
    first = _create(office, "suzuki")
    assert first.returncode == 0, first.stdout + first.stderr
    card = office[1] / "nodes" / f"operator.{HIRATSUKA.code}.suzuki"
    before = {p.name: p.read_bytes() for p in card.iterdir()}
    again = _create(office, "suzuki")
    assert again.returncode == 1
    assert "already exists" in _one_or_two_lines(again)
    assert {p.name: p.read_bytes() for p in card.iterdir()} == before


def test_a_short_password_is_refused_before_any_card_is_made(
    office: tuple[Path, Path],
) -> None:
    short = _create(office, "sato", password="too short")
    assert short.returncode == 1
    assert "12 characters" in _one_or_two_lines(short)
    assert not (office[1] / "nodes" / f"operator.{HIRATSUKA.code}.sato").exists()


def test_a_password_is_never_a_command_line_option(office: tuple[Path, Path]) -> None:
    db, pki = office
    given = jukinet("operators", "create", "ito", "--role", "clerk", "--node", HIRATSUKA.uri,
                    "--db", str(db), "--pki-root", str(pki), "--password", PASSWORD)  # fmt: skip
    assert given.returncode == 2  # click: no such option
    assert "No such option" in given.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["operators", "list", "--db", "var/nowhere.db"], "no database file at var/nowhere.db"),
        (["pki", "issue", "spiffe://jukinet/nobody/x", "--root", "/nonexistent"], "principal"),
        (
            ["audit", "verify", "--db", "sqlite:///{db}", "--node", "spiffe://jukinet/x/y"],
            "principal",
        ),
        (["status", "--home", "/nonexistent"], "No running federation found"),
    ],
    ids=["missing-db", "bad-principal", "bad-node", "no-federation"],
)
def test_mistakes_are_told_in_a_line(
    office: tuple[Path, Path], args: list[str], expected: str
) -> None:
    result = jukinet(*(a.replace("{db}", str(office[0])) for a in args))
    assert result.returncode != 0
    assert expected in _one_or_two_lines(result)


def test_the_listed_help_is_each_commands_own() -> None:
    """`jukinet --help` lists the commands without importing them; what it says of each
    is the first paragraph of that command's own help."""
    import typer

    from jukinet.cli import COMMANDS, load_command

    for name, (_, _, short) in COMMANDS.items():
        command = load_command(name)
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert own == short, f"{name}: {own!r}"
        assert isinstance(command, typer.core.TyperGroup | typer.core.TyperCommand)


def test_the_help_lists_every_command_without_loading_them() -> None:
    """Imports are what made `jukinet --help` slow: it must not import the modules of
    the commands (which pull in the database, broker and web libraries)."""
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, runpy; sys.argv = ['jukinet', '--help']\n"
         "try:\n    runpy.run_module('jukinet.cli', run_name='__main__')\n"
         "except SystemExit: pass\n"
         "print(sorted(m for m in ('sqlalchemy', 'nats', 'fastapi', 'cryptography', "
         "'jukinet.cli.federation') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "bench" in probe.stdout
    assert "deploy" in probe.stdout
    assert probe.stdout.strip().splitlines()[-1] == "[]"
