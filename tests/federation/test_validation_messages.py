"""A clerk or an integrator who sends something wrong learns, for each error, which field
and what rule — in English and in Japanese — and the answer never repeats what was sent."""

from __future__ import annotations

import pytest

from jukinet.devtools.localfed import LocalFederation
from tests.principals import AGENCY, HIRATSUKA, MOFA

pytestmark = [pytest.mark.federation, pytest.mark.asyncio(loop_scope="session")]

SECRET_NAME = "秘密 花子"  # must never come back in an answer
BAD_CODE = "12345678901"  # eleven digits, wrong check digit


async def test_a_bad_registration_names_each_field_and_rule_in_two_languages(
    federation: LocalFederation,
) -> None:
    body = {
        "name": SECRET_NAME, "name_kana": "ひみつ はなこ", "birth_date": "2099-01-01",
        "sex": "other", "address": "神奈川県平塚市浅間町1-1", "reason": "birth",
        "change_date": "2099-01-01", "resident_code": BAD_CODE,
    }  # fmt: skip
    async with federation.client(HIRATSUKA) as client:
        r = await client.post("/residents", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {tuple(e["loc"]): e for e in r.json()["errors"]}
    kana = errors[("body", "name_kana")]
    assert kana["message"] == "kana reading is written in katakana"
    assert kana["message_ja"] == "ふりがな: ふりがなはカタカナで入力してください"
    assert errors[("body", "sex")]["message_ja"].startswith("性別: ")
    for error in errors.values():
        assert error["message"], error
        assert error["message_ja"], error
    for sent in (SECRET_NAME, BAD_CODE, "ひみつ", "2099"):
        assert sent not in r.text


async def test_a_bad_lookup_says_what_is_wrong_without_echoing_the_code(
    federation: LocalFederation,
) -> None:
    body = {"affair": "passport-issuance", "resident_code": BAD_CODE}
    async with federation.lookup_client(AGENCY, MOFA) as client:
        r = await client.post("/lookups/by-code", json=body)
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["loc"] == ["body", "resident_code"]
    assert error["message"] == "the check digit does not match"
    assert error["message_ja"] == "住民票コード: 検査数字が一致しません"
    assert BAD_CODE not in r.text
