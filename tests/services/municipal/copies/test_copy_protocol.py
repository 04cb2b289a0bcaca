"""Nationwide copies, the parts without a network: the wire models, the one function that
turns a register row into wire data, the subjects and broker rules, the settings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from pydantic import ValidationError

from jukinet.broker import node_permissions
from jukinet.contracts.federation import DEMO
from jukinet.contracts.ids import resident_code_check_digit
from jukinet.contracts.principals import AGENCY, Principal
from jukinet.contracts.subjects import (
    copy_reply_subject,
    copy_request_subject,
    parse_copy_reply_subject,
    parse_copy_request_subject,
    stream_subjects,
)
from municipal.copies.protocol import (
    CopyAnswer,
    CopyOptions,
    CopyRecord,
    CopyRequest,
    IssueCopy,
    PersonQuery,
    Refusal,
)
from municipal.copies.provide import copy_record
from municipal.copies.settings import DEMO_ISSUERS, CopiesNotConfigured, CopySettings
from municipal.models import Resident
from tests.principals import CHIYODA, HIRATSUKA, KANAGAWA

CODE = "1234567890" + str(resident_code_check_digit("1234567890"))
DOMICILE = "北海道札幌市中央区北一条西二丁目1番地"
FAMILY_HEAD = "川辺 源三郎"
CLERK = "spiffe://jukinet/operator/142034/tanaka"


def resident(**changes: Any) -> Resident:
    fields: dict[str, Any] = {
        "id": "a" * 32, "resident_code": CODE, "name": "川辺 一郎", "name_kana": "カワベ イチロウ",
        "birth_date": dt.date(1980, 4, 1), "sex": "male", "address": "東京都千代田区千代田1番1号",
        "change_reason": "move_in", "change_date": dt.date(2019, 5, 1), "status": "live",
        "household_id": "b" * 32, "relation": "世帯主", "became_resident_on": dt.date(2019, 5, 1),
        "notified_on": dt.date(2019, 5, 7), "previous_address": "アメリカ合衆国ハワイ州",
        "previous_municipality": None, "next_address": None, "next_municipality": None,
        "registered_domicile": DOMICILE, "family_register_head": FAMILY_HEAD,
    }  # fmt: skip
    return Resident(**(fields | changes))


def options(**changes: Any) -> CopyOptions:
    person = {"name": "川辺 一郎", "birth_date": "1980-04-01"}
    body = {"purpose": "本人確認済み 転入手続き", "id_checked": True, "person": person}
    return CopyOptions.model_validate(body | changes)


# -- what leaves the home municipality ----------------------------------------------------


def test_a_record_never_carries_the_family_register() -> None:
    record = copy_record(resident(), "川辺 一郎", options(include_resident_code=True,
                                                         include_relation=True))  # fmt: skip
    wire = json.dumps(record.model_dump(mode="json"), ensure_ascii=False)
    for absent in (DOMICILE, FAMILY_HEAD, "domicile", "family_register", "notified_on"):
        assert absent not in wire
    assert (record.resident_code, record.relation) == (CODE, "世帯主")


def test_resident_code_and_relation_leave_only_when_specially_requested() -> None:
    plain = copy_record(resident(), "川辺 一郎", options())
    assert (plain.resident_code, plain.relation) == (None, None)
    dumped = plain.model_dump(mode="json", exclude_none=True)
    assert "resident_code" not in dumped
    assert "relation" not in dumped
    assert CODE not in json.dumps(dumped)
    assert copy_record(resident(), None, options(include_relation=True)).resident_code is None


def test_a_record_with_family_register_fields_is_not_a_record() -> None:
    fields = set(CopyRecord.model_fields)
    assert not fields & {"registered_domicile", "family_register_head", "honseki", "hittousha"}
    record = copy_record(resident(), None, options()).model_dump(mode="json")
    with pytest.raises(ValidationError, match="extra"):
        CopyRecord.model_validate(record | {"registered_domicile": DOMICILE})


# -- requests -----------------------------------------------------------------------------


def request(**changes: Any) -> dict[str, Any]:
    body = options().model_dump(mode="json")
    return body | {"clerk": CLERK, "clerk_role": "clerk"} | changes


def test_a_valid_request() -> None:
    parsed = CopyRequest.model_validate(request())
    assert parsed.clerk_office() == "142034"
    assert parsed.person.name == "川辺 一郎"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_checked": False}, "id_checked"),
        ({"purpose": "  "}, "blank"),
        ({"purpose": "目的\n改行"}, "line breaks"),
        ({"purpose": "x" * 201}, "at most 200"),
        ({"clerk": "spiffe://jukinet/municipality/142034"}, "not an operator"),
        ({"clerk": "tanaka"}, "not a principal URI"),
        ({"clerk_role": "administrator"}, "clerk_role"),
        ({"person": {"name": "川辺 一郎"}}, "together"),
        ({"person": {"address": "東京都千代田区千代田1番1号"}}, "name and birth_date"),
        ({"person": {"resident_code": "12345678900"}}, "check digit"),
        ({"registered_domicile": DOMICILE}, "extra"),
    ],
)
def test_an_invalid_request_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CopyRequest.model_validate(request(**changes))


def test_names_on_an_id_compare_in_one_form() -> None:
    stated = PersonQuery(name="川辺　一郎", birth_date=dt.date(1980, 4, 1))
    assert stated.name == "川辺 一郎"  # the register's canonical form


def test_the_counter_names_a_municipality_as_home() -> None:
    body = options().model_dump(mode="json")
    assert IssueCopy.model_validate(body | {"home_municipality": "131016"})
    for code in ("130001", "131017"):  # a prefecture; a bad check digit
        with pytest.raises(ValidationError):
            IssueCopy.model_validate(body | {"home_municipality": code})


# -- answers ------------------------------------------------------------------------------


def provided(**entry_changes: Any) -> CopyAnswer:
    record = copy_record(resident(**entry_changes), None, options())
    return CopyAnswer(
        in_reply_to="c" * 32, outcome="provided", home_name="千代田区", entries=[record]
    )


def test_an_answer_is_records_or_a_reason() -> None:
    with pytest.raises(ValidationError, match="entries"):
        CopyAnswer(in_reply_to="c" * 32, outcome="provided", home_name="千代田区")
    with pytest.raises(ValidationError, match="reason"):
        CopyAnswer(in_reply_to="c" * 32, outcome="refused")
    with pytest.raises(ValidationError, match="no entries"):
        CopyAnswer.model_validate(
            provided().model_dump() | {"outcome": "refused", "reason": "not_found"}
        )
    refusal = CopyAnswer.refused(Refusal.MOVED_OUT, in_reply_to=None, detail="x")
    assert (refusal.outcome, refusal.reason) == ("refused", Refusal.MOVED_OUT)
    with pytest.raises(ValidationError, match="detail"):
        CopyAnswer.refused(Refusal.INVALID_REQUEST, in_reply_to=None, detail="川辺")


def test_an_answer_must_not_give_more_than_was_asked() -> None:
    answer = provided()
    assert answer.conforms_to(options())
    with_code = answer.model_copy(
        update={"entries": [answer.entries[0].model_copy(update={"resident_code": CODE})]}
    )
    assert not with_code.conforms_to(options())
    assert with_code.conforms_to(options(include_resident_code=True))
    with_relation = answer.model_copy(
        update={"entries": [answer.entries[0].model_copy(update={"relation": "妻"})]}
    )
    assert not with_relation.conforms_to(options())
    two = answer.model_copy(update={"entries": answer.entries * 2})
    assert not two.conforms_to(options())
    assert two.conforms_to(options(whole_household=True))


# -- subjects and the broker --------------------------------------------------------------


def test_copy_subjects_round_trip() -> None:
    assert copy_request_subject(CHIYODA, HIRATSUKA) == "jukinet.copy.req.131016.142034"
    assert parse_copy_request_subject("jukinet.copy.req.131016.142034") == (CHIYODA, HIRATSUKA)
    reply = copy_reply_subject(HIRATSUKA, CHIYODA, "t0k")
    assert reply == "jukinet.copy.rep.142034.131016.t0k"
    assert parse_copy_reply_subject(reply) == (HIRATSUKA, CHIYODA, "t0k")


@pytest.mark.parametrize(
    "subject",
    [
        "jukinet.msg.131016.142034",
        "jukinet.copy.req.131016",
        "jukinet.copy.req.140007.142034",  # a prefecture is no home municipality
        "jukinet.copy.req.131016.142035",  # bad check digit
        "jukinet.copy.rep.142034.131016",
        "jukinet.copy.rep.142034.131016.a.b",
    ],
)
def test_other_subjects_are_not_copy_subjects(subject: str) -> None:
    parse = parse_copy_reply_subject if ".rep." in subject else parse_copy_request_subject
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError: the parsers' contract
        parse(subject)


def test_only_municipalities_get_copy_permissions() -> None:
    town = node_permissions(HIRATSUKA, DEMO)
    assert "jukinet.copy.req.*.142034" in town["publish"]["allow"]
    assert "jukinet.copy.rep.*.142034.*" in town["publish"]["allow"]
    assert "jukinet.copy.req.142034.142034" in town["publish"]["deny"]
    assert set(town["subscribe"]["allow"]) == {
        "_INBOX_142034.>", "jukinet.copy.req.142034.*", "jukinet.copy.rep.142034.*.*"
    }  # fmt: skip
    assert "allow_responses" not in town
    for node in (KANAGAWA, AGENCY):
        rules = json.dumps(node_permissions(node, DEMO))
        assert "jukinet.copy" not in rules


def test_no_stream_captures_copy_subjects() -> None:
    for node in DEMO.nodes:
        assert all(s.startswith("jukinet.msg.") for s in stream_subjects(node))


# -- settings -----------------------------------------------------------------------------


def test_demo_municipalities_have_an_issuer_and_others_must_configure_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ISSUER_NAME", "MAYOR"):
        monkeypatch.delenv(f"JUKINET_MUNICIPAL_{name}", raising=False)
    settings = CopySettings()
    assert settings.issuer(HIRATSUKA) == DEMO_ISSUERS["142034"]
    assert settings.issuer(HIRATSUKA).mayor.startswith("平塚市長")
    assert set(DEMO_ISSUERS) == set(DEMO.municipalities)
    with pytest.raises(CopiesNotConfigured, match="JUKINET_MUNICIPAL_ISSUER_NAME"):
        settings.issuer(Principal.municipality("011002"))

    monkeypatch.setenv("JUKINET_MUNICIPAL_ISSUER_NAME", "札幌市")
    monkeypatch.setenv("JUKINET_MUNICIPAL_MAYOR", "札幌市長　見本　夏子")
    configured = CopySettings().issuer(Principal.municipality("011002"))
    assert dataclasses.astuple(configured) == ("札幌市", "札幌市長　見本　夏子")


def test_issuer_name_and_mayor_are_set_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUKINET_MUNICIPAL_ISSUER_NAME", "札幌市")
    monkeypatch.delenv("JUKINET_MUNICIPAL_MAYOR", raising=False)
    with pytest.raises(ValidationError, match="together"):
        CopySettings()
