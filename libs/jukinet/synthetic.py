"""Synthetic residents (Faker ja_JP) for demos, tests and benchmarks. No real person."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from faker import Faker

__all__ = ["MUNICIPALITY_NAMES", "SyntheticResidents"]

MUNICIPALITY_NAMES = {
    "131016": "東京都千代田区",
    "131041": "東京都新宿区",
    "142034": "神奈川県平塚市",
    "141003": "神奈川県横浜市",
}


class SyntheticResidents:
    """Registration bodies for the municipal API, reproducible from a seed."""

    def __init__(self, seed: int = 0) -> None:
        self._faker = Faker("ja_JP")
        self._faker.seed_instance(seed)
        self._random = random.Random(seed)  # noqa: S311 - synthetic data, not security

    def registration(self, municipality: str, *, reason: str = "birth") -> dict[str, Any]:
        f = self._faker
        sex = self._random.choice(("male", "female"))
        last, last_kana, _ = f.last_name_pair()
        pair = f.first_name_male_pair() if sex == "male" else f.first_name_female_pair()
        first, first_kana, _ = pair
        birth = f.date_of_birth(minimum_age=0, maximum_age=100)
        change = birth if reason == "birth" else _after(birth, self._random)
        return {
            "name": f"{last} {first}",
            "name_kana": f"{last_kana} {first_kana}",
            "birth_date": birth.isoformat(),
            "sex": sex,
            "address": self.address(municipality),
            "reason": reason,
            "change_date": change.isoformat(),
        }

    def address(self, municipality: str) -> str:
        place = MUNICIPALITY_NAMES.get(municipality, "")
        return f"{place}{self._faker.town()}{self._faker.chome()}{self._faker.ban()}"


def _after(birth: dt.date, rng: random.Random) -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    span = max((today - birth).days, 0)
    return birth + dt.timedelta(days=rng.randint(0, span))
