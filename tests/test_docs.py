"""The documents that name files — docs/flows.md and README.md's Layout — name files that
exist, so moving a module without updating them fails here."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("libs/", "services/", "tests/", "deploy/", "docs/")
ROOT_FILES = {"README.md", "DESIGN.md", "pyproject.toml", "Makefile", "uv.lock"}
ENTRY = re.compile(r"^( {0,6})(\S+)(?: {2,}|$)")  # a path column, then its description


def named_in_backticks(text: str) -> list[str]:
    """`libs/...`, `services/...` and the like, quoted in prose."""
    tokens = re.findall(r"`([^`\s]+)`", text)
    return [t for t in tokens if t.startswith(TOP) or t in ROOT_FILES]


def layout_section(readme: str) -> str:
    match = re.search(r"^## Layout\n(.*?)^## ", readme, re.S | re.M)
    assert match, "README.md has a '## Layout' section"
    return match.group(1)


def named_in_tree(block: str) -> list[str]:
    """The paths of an indented tree: `libs/jukinet/` then `  cli/` is libs/jukinet/cli/.
    Lines indented further than a path column continue the description above."""
    paths: list[str] = []
    parents: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = ENTRY.match(line)
        if not match or not ("/" in match.group(2) or "." in match.group(2)):
            continue
        indent, name = len(match.group(1)), match.group(2)
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + name
        paths.append(path)
        if name.endswith("/"):
            parents.append((indent, path))
    return paths


def exists(path: str) -> bool:
    """A path, a glob (at least one match), or a pattern with a <placeholder> (its
    directory must exist)."""
    if "<" in path:
        return (ROOT / path[: path.index("<")]).is_dir()
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def test_the_tree_parser_reads_nesting_and_continuations() -> None:
    block = "a/          x\n  b/        y\n            z/ is prose\n  c.py      w\nd.md        v\n"
    assert named_in_tree(block) == ["a/", "a/b/", "a/c.py", "d.md"]


def _flows() -> list[str]:
    return named_in_backticks((ROOT / "docs" / "flows.md").read_text())


def _layout() -> list[str]:
    section = layout_section((ROOT / "README.md").read_text())
    tree = re.search(r"^```\n(.*?)^```", section, re.S | re.M)
    assert tree, "the Layout section draws the tree in a code block"
    return named_in_tree(tree.group(1)) + named_in_backticks(section)


@pytest.mark.parametrize(("document", "paths"), [("docs/flows.md", _flows), ("README.md", _layout)])
def test_every_path_a_document_names_exists(document: str, paths: Callable[[], list[str]]) -> None:
    named = paths()
    assert len(named) >= 20, f"{document}: too few paths found to be checking anything"
    assert [p for p in named if not exists(p)] == [], f"{document} names missing paths"


def test_the_layout_lists_the_library_in_the_order_of_its_layers() -> None:
    """README.md's libs/jukinet/ packages, top to bottom, are the import contract's layers."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    contract = [name.strip() for layer in layers for name in layer.split("|")]
    listed = [
        p.removeprefix("libs/jukinet/").rstrip("/")
        for p in _layout()
        if re.fullmatch(r"libs/jukinet/\w+/", p)
    ]
    assert listed == contract
