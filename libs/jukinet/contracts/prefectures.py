"""The 47 prefectures by the first two digits of their local government code (JIS X 0401,
the codes 01–47 the Ministry of Internal Affairs and Communications assigns), as printed
before a municipality's name on certificates: 神奈川県平塚市."""

from __future__ import annotations

from jukinet.contracts.ids import parse_local_government_code

__all__ = ["PREFECTURE_NAMES", "prefecture_name"]

PREFECTURE_NAMES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県",
    "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県",
    "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県",
    "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県",
    "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県",
    "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県",
    "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip


def prefecture_name(code: str) -> str:
    """The name of the prefecture a local government code belongs to (01 北海道 … 47
    沖縄県); raises :class:`~jukinet.contracts.ids.InvalidCode` for an invalid code."""
    parsed = parse_local_government_code(code)
    return PREFECTURE_NAMES[int(parsed.code[:2]) - 1]
