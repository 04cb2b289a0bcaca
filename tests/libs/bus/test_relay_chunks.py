"""The relay splits a backlog into messages of at most ``per_message`` items and at most
``max_bytes`` of payload (UTF-8 bytes, not characters); an item larger than the cap goes
alone; order is kept and nothing is lost or duplicated."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jukinet.bus._relay import _chunks


def rows(*payloads: str) -> list[Any]:
    return [SimpleNamespace(id=i, payload=p) for i, p in enumerate(payloads)]


def size(chunk: list[Any]) -> int:
    return sum(len(r.payload.encode()) for r in chunk)


def ids(chunks: list[list[Any]]) -> list[list[int]]:
    return [[r.id for r in chunk] for chunk in chunks]


def test_runs_are_capped_by_count_and_by_bytes() -> None:
    ten = "x" * 10
    assert ids(list(_chunks(rows(*[ten] * 7), 3, 1000))) == [[0, 1, 2], [3, 4, 5], [6]]
    assert ids(list(_chunks(rows(*[ten] * 7), 100, 25))) == [[0, 1], [2, 3], [4, 5], [6]]
    assert ids(list(_chunks(rows(*[ten] * 4), 100, 20))) == [[0, 1], [2, 3]]  # exactly full


def test_bytes_not_characters_are_counted() -> None:
    kanji = "東" * 10  # 10 characters, 30 bytes in UTF-8
    assert ids(list(_chunks(rows(kanji, kanji, kanji), 100, 50))) == [[0], [1], [2]]


def test_an_oversized_item_goes_alone_and_the_rest_keep_their_order() -> None:
    small, big = "s" * 10, "B" * 500
    chunks = list(_chunks(rows(small, small, big, small, big, big, small), 100, 100))
    assert ids(chunks) == [[0, 1], [2], [3], [4], [5], [6]]


def test_nothing_in_nothing_out() -> None:
    assert list(_chunks([], 10, 10)) == []


@given(
    st.lists(st.text(max_size=40), max_size=60),
    st.integers(1, 8),
    st.integers(1, 120),
)
def test_chunks_partition_the_backlog_greedily(
    payloads: list[str], per_message: int, max_bytes: int
) -> None:
    backlog = rows(*payloads)
    chunks = list(_chunks(backlog, per_message, max_bytes))
    assert [r for chunk in chunks for r in chunk] == backlog  # order kept, nothing lost
    for chunk in chunks:
        assert 1 <= len(chunk) <= per_message
        assert size(chunk) <= max_bytes or len(chunk) == 1
    for chunk, following in pairwise(chunks):
        # a chunk is closed only when the next item would not fit in it
        assert len(chunk) == per_message or size(chunk) + size(following[:1]) > max_bytes
