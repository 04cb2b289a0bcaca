"""The demo federation's principals, named once for every test (see contracts.federation)."""

from __future__ import annotations

from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind

__all__ = [
    "AGENCY",
    "CHIYODA",
    "HIRATSUKA",
    "JPA",
    "KANAGAWA",
    "MHLW",
    "MOFA",
    "OPS",
    "OSAKA_KITA",
    "SHINJUKU",
    "TOKYO",
    "YOKOHAMA",
]

TOKYO = Principal.prefecture("130001")  # 東京都
KANAGAWA = Principal.prefecture("140007")  # 神奈川県
CHIYODA = Principal.municipality("131016")  # 千代田区 (東京都)
SHINJUKU = Principal.municipality("131041")  # 新宿区 (東京都)
HIRATSUKA = Principal.municipality("142034")  # 平塚市 (神奈川県)
YOKOHAMA = Principal.municipality("141003")  # 横浜市 (神奈川県)
OSAKA_KITA = Principal.municipality("271276")  # 大阪市北区: not in the demo federation
MOFA = Principal(PrincipalKind.MINISTRY, "mofa-passport")
MHLW = Principal(PrincipalKind.MINISTRY, "mhlw-license")
JPA = Principal(PrincipalKind.MINISTRY, "jpa-pension")
OPS = Principal(PrincipalKind.OPS, "admin")
