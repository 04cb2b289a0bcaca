"""The demo federation: the nodes `jukinet pki init` and `jukinet up` create."""

from __future__ import annotations

from dataclasses import dataclass

from jukinet.contracts.principals import AGENCY, Principal, PrincipalKind

__all__ = ["BROKER_NAMES", "DEMO", "Federation"]

# the broker's host names: local runs, and the compose services of deploy/
BROKER_NAMES = ["localhost", "nats", "nats-1", "nats-2", "nats-3"]


@dataclass(frozen=True)
class Federation:
    prefectures: tuple[str, ...]
    municipalities: tuple[str, ...]
    ministries: tuple[str, ...]
    ops: tuple[str, ...] = ("admin",)

    @property
    def nodes(self) -> list[Principal]:
        """Agency, prefectures, municipalities: every principal that runs a service."""
        return [
            AGENCY,
            *(Principal.prefecture(code) for code in self.prefectures),
            *(Principal.municipality(code) for code in self.municipalities),
        ]

    @property
    def principals(self) -> list[Principal]:
        return [
            *self.nodes,
            *(Principal(PrincipalKind.MINISTRY, name) for name in self.ministries),
            *(Principal(PrincipalKind.OPS, name) for name in self.ops),
        ]

    def municipalities_of(self, prefecture: Principal) -> list[Principal]:
        return [
            Principal.municipality(code)
            for code in self.municipalities
            if Principal.municipality(code).prefecture_of == prefecture
        ]


DEMO = Federation(
    prefectures=("130001", "140007"),  # 東京都, 神奈川県
    municipalities=("131016", "131041", "142034", "141003"),  # 千代田区, 新宿区, 平塚市, 横浜市
    # lookup clients: the agency's permission table (Appended Table 1) and the
    # prefectures' bodies (Tables 5 and 6); see services/*/permissions/
    ministries=(
        "mofa-passport",
        "moj-registry",
        "nta-tax",
        "kkr-pension",
        "jpa-pension",
        "mhlw-license",
        "jasso-loan",
        "cao-disaster",
        "tokyo-police",
        "tokyo-edu",
        "kanagawa-police",
        "kanagawa-edu",
    ),
)
