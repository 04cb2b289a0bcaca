"""Synthetic residents (Faker ja_JP) for demos, tests and benchmarks. No real person."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faker import Faker

__all__ = ["MUNICIPALITY_NAMES", "SyntheticRegister", "SyntheticResidents"]

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
        body = {
            "name": f"{last} {first}",
            "name_kana": f"{last_kana} {first_kana}",
            "birth_date": birth.isoformat(),
            "sex": sex,
            "address": self.address(municipality),
            "reason": reason,
            "change_date": change.isoformat(),
        }
        if reason in _NOTIFIED:
            body["notified_on"] = min(change + dt.timedelta(days=self._random.randint(0, 14)),
                                      _today()).isoformat()  # fmt: skip
        if reason == "move_in":  # from abroad: a new resident code is drawn
            body["previous_address"] = "アメリカ合衆国カリフォルニア州サンノゼ市"
        return body

    def foreign_registration(self, municipality: str) -> dict[str, Any]:
        """A foreign resident moving in from abroad: the name in capitals of the Latin
        alphabet as on the residence card, a nationality, and — for some — a 通称."""
        nationality, locale = self._random.choice(_FOREIGN)
        faker = Faker(locale)
        faker.seed_instance(self._random.getrandbits(32))
        sex = self._random.choice(("male", "female"))
        given = faker.first_name_male() if sex == "male" else faker.first_name_female()
        name = _latin_capitals(f"{faker.last_name()} {given}")
        body = self.registration(municipality, reason="move_in")
        body |= {"name": name, "sex": sex, "nationality": nationality}
        del body["name_kana"]
        if self._random.random() < 0.5:  # many use a Japanese alias at work and school
            last, last_kana, _ = self._faker.last_name_pair()
            first, first_kana, _ = self._faker.first_name_pair()
            body |= {"alias": f"{last} {first}", "alias_kana": f"{last_kana} {first_kana}"}
        body["previous_address"] = _ABROAD[nationality]
        return body

    def address(self, municipality: str) -> str:
        place = MUNICIPALITY_NAMES.get(municipality, "")
        return f"{place}{self._faker.town()}{self._faker.chome()}{self._faker.ban()}"


_NOTIFIED = {"birth", "move_in"}  # recording reasons entered on a resident's notification
# nationalities among the largest groups of foreign residents, with a Faker locale whose
# names are written in the Latin alphabet
_FOREIGN = (("VN", "vi_VN"), ("PH", "en_PH"), ("BR", "pt_BR"), ("US", "en_US"), ("ID", "id_ID"))
_ABROAD = {"VN": "ベトナム社会主義共和国ハノイ市", "PH": "フィリピン共和国マニラ市",
           "BR": "ブラジル連邦共和国サンパウロ市", "US": "アメリカ合衆国カリフォルニア州サンノゼ市",
           "ID": "インドネシア共和国ジャカルタ市"}  # fmt: skip


def _latin_capitals(name: str) -> str:
    """NGUYEN VAN AN for Nguyễn Văn An: the residence card's form (accents dropped)."""
    plain = unicodedata.normalize("NFKD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).upper()


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _after(birth: dt.date, rng: random.Random) -> dt.date:
    today = _today()
    span = max((today - birth).days, 0)
    return birth + dt.timedelta(days=rng.randint(0, span))


class SyntheticRegister:
    """A whole register as CSV, fast enough for a million rows: names, kana, towns and
    dates are drawn from pools that Faker fills once, then combined at random."""

    COLUMNS = ("name", "name_kana", "birth_date", "sex", "address", "reason", "change_date")

    def __init__(self, municipality: str, seed: int = 0, pool: int = 400) -> None:
        faker = Faker("ja_JP")
        faker.seed_instance(seed)
        self._random = random.Random(seed)  # noqa: S311 - synthetic data, not security
        self._last = [faker.last_name_pair()[:2] for _ in range(pool)]
        self._male = [faker.first_name_male_pair()[:2] for _ in range(pool)]
        self._female = [faker.first_name_female_pair()[:2] for _ in range(pool)]
        place = MUNICIPALITY_NAMES.get(municipality, "")
        self._towns = [f"{place}{faker.town()}" for _ in range(pool)]
        epoch = dt.date(1925, 1, 1)
        self._days = (dt.date(2025, 1, 1) - epoch).days
        self._epoch = epoch

    def rows(self, count: int) -> Iterator[str]:
        """``count`` CSV lines (no header), each a registration recorded ex officio."""
        r = self._random
        for _ in range(count):
            male = r.random() < 0.5
            last, last_kana = r.choice(self._last)
            first, first_kana = r.choice(self._male if male else self._female)
            birth = self._epoch + dt.timedelta(days=r.randrange(self._days))
            block = f"{r.randint(1, 9)}丁目{r.randint(1, 40)}番{r.randint(1, 30)}号"
            address = f"{r.choice(self._towns)}{block}"
            yield (
                f"{last} {first},{last_kana} {first_kana},{birth.isoformat()},"
                f"{1 if male else 2},{address},ex_officio_record,{birth.isoformat()}\n"
            )

    def write(self, path: Path, count: int) -> Path:
        with path.open("w", encoding="utf-8") as f:
            f.write(",".join(self.COLUMNS) + "\n")
            f.writelines(self.rows(count))
        return path
