"""How names and addresses compare in searches: spaces, width and variant kanji folded
(the MJ shrink map, then the Jōyō table's old forms), and nothing beyond what those
tables pair."""

from __future__ import annotations

import pytest

from jukinet.contracts.identity import address_key, name_key


@pytest.mark.parametrize(
    ("written", "registered"),
    [
        ("山田太郎", "山田 太郎"),
        ("山田　太郎", "山田 太郎"),
        ("髙橋 一郎", "高橋 一郎"),
        ("﨑山 花子", "崎山 花子"),
        ("齋藤 進", "斎藤 進"),
        ("渡邊 健", "渡辺 健"),
        ("渡邉 健", "渡辺 健"),
        ("渡邉 健", "渡邊 健"),
        ("齊藤 進", "斉藤 進"),
        ("濱田 櫻", "浜田 桜"),
        ("𠮷田 茂", "吉田 茂"),
        ("ＹＡＭＡＤＡ Ｔａｒｏ", "YAMADA Taro"),
    ],
)
def test_the_same_name_written_differently_compares_equal(written: str, registered: str) -> None:
    assert name_key(written) == name_key(registered)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("山田 太郎", "山田 太朗"),
        ("吉田 茂", "桔田 茂"),
        ("崎山 花子", "埼山 花子"),
        ("齊藤 進", "斎藤 進"),  # the MJ map pairs 齊 with 斉, not with 斎
        ("斉藤 進", "斎藤 進"),
    ],
)
def test_different_names_stay_apart(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


def test_addresses_fold_width_and_spaces() -> None:
    assert address_key("神奈川県平塚市 浅間町９－９") == address_key("神奈川県平塚市浅間町9-9")
