"""The municipal register's tables (住民基本台帳, the identity part) and its bus tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from jukinet.audit import checkpoint_table
from jukinet.bus import bus_tables
from jukinet.contracts.identity import kana_key, name_key
from jukinet.db.engine import NAMING_CONVENTION, UtcDateTime
from jukinet.operators import operator_tables, webauthn_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


bus = bus_tables(Base.metadata)
operators = operator_tables(Base.metadata)
browser_cards = webauthn_tables(Base.metadata)  # IC cards as FIDO2 authenticators (ui/)
checkpoints = checkpoint_table(Base.metadata)  # kept for the nodes this one witnesses


class Resident(Base):
    """A resident as registered here. Never hard-deleted: 消除 is a status with a date."""

    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(300))
    change_reason: Mapped[str] = mapped_column(String(32))
    change_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # The rest of the register: it never leaves the municipality (the nationwide copy
    # carries some of it, never 本籍 or 筆頭者).
    household_id: Mapped[str | None] = mapped_column(String(32), index=True)  # households.id
    relation: Mapped[str | None] = mapped_column(String(20))  # 続柄 to the household head
    became_resident_on: Mapped[dt.date | None] = mapped_column(Date)  # 住民となった年月日
    notified_on: Mapped[dt.date | None] = mapped_column(Date)  # 届出年月日 of the last change
    previous_address: Mapped[str | None] = mapped_column(String(300))  # 前住所
    previous_municipality: Mapped[str | None] = mapped_column(String(6))
    next_address: Mapped[str | None] = mapped_column(String(300))  # 転出先
    next_municipality: Mapped[str | None] = mapped_column(String(6))
    # 旧氏 (a national's, at their request) or a foreign resident's nationality and 通称
    former_surname: Mapped[str | None] = mapped_column(String(100))
    former_surname_kana: Mapped[str | None] = mapped_column(String(200))
    nationality: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    alias: Mapped[str | None] = mapped_column(String(100))
    alias_kana: Mapped[str | None] = mapped_column(String(200))
    # 個人番号, as the agency generated it (番号法第7条・第8条): 特定個人情報, never logged
    individual_number: Mapped[str | None] = mapped_column(String(12), unique=True)
    number_requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    registered_domicile: Mapped[str | None] = mapped_column(String(300))  # 本籍
    family_register_head: Mapped[str | None] = mapped_column(String(100))  # 筆頭者
    # the name and reading as a search compares them (kept by the validators below)
    name_key: Mapped[str] = mapped_column(String(100), index=True, default="")
    kana_key: Mapped[str | None] = mapped_column(String(200), index=True)

    @validates("name")
    def _key_name(self, _: str, value: str) -> str:
        self.name_key = name_key(value)
        return value

    @validates("name_kana")
    def _key_kana(self, _: str, value: str | None) -> str | None:
        self.kana_key = kana_key(value) if value is not None else None
        return value


class ResidentAlias(Base):
    """A foreign resident's 通称 as recorded and, once deleted, until when: the alias's own
    history (通称の記載及び削除に関する事項), which a certificate shows on request."""

    __tablename__ = "resident_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    alias: Mapped[str] = mapped_column(String(100))
    alias_kana: Mapped[str | None] = mapped_column(String(200))
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    municipality: Mapped[str] = mapped_column(String(6))  # where it was recorded
    deleted_on: Mapped[dt.date | None] = mapped_column(Date)


class Household(Base):
    """A household (世帯): its head and address. Members point at it with their relation."""

    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    head_id: Mapped[str | None] = mapped_column(String(32))  # a resident id
    address: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class HouseholdChange(Base):
    """A change of a household's head (世帯主変更), with its dates and who recorded it."""

    __tablename__ = "household_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(32), index=True)
    previous_head_id: Mapped[str | None] = mapped_column(String(32))
    head_id: Mapped[str] = mapped_column(String(32))
    change_date: Mapped[dt.date] = mapped_column(Date)
    notified_on: Mapped[dt.date | None] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ResidentVersion(Base):
    """Every version of a resident's identity record, as sent to the network."""

    __tablename__ = "resident_versions"
    __table_args__ = (UniqueConstraint("resident_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    resident_code: Mapped[str] = mapped_column(String(11))
    change_reason: Mapped[str] = mapped_column(String(32))
    change_date: Mapped[dt.date] = mapped_column(Date)
    record: Mapped[str] = mapped_column(Text)
    correlation_id: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # the change's register data: notification date, previous/next address, household,
    # the operator who made it (JSON; kept here, never sent)
    detail: Mapped[str | None] = mapped_column(Text)


class CodePoolEntry(Base):
    """Resident codes the agency designated to this municipality; drawn at random, never
    reused (a drawn code keeps its row)."""

    __tablename__ = "code_pool"
    __table_args__ = (Index("ix_code_pool_undrawn", "drawn_at", "code"),)

    code: Mapped[str] = mapped_column(String(11), primary_key=True)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    designation_id: Mapped[str | None] = mapped_column(String(32))  # None: made locally


class CodeRequest(Base):
    """A refill request sent to the agency, remembered so that the pool is not asked for
    again while an answer is on its way."""

    __tablename__ = "code_pool_requests"

    request_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wanted: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    designation_id: Mapped[str | None] = mapped_column(String(32))


class Disclosure(Base):
    """A resident's request, made at this counter, to be told who received their record."""

    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DisclosureAnswer(Base):
    """One tier's answer (prefecture or agency), as it arrived, sealed to this municipality."""

    __tablename__ = "disclosure_answers"
    __table_args__ = (UniqueConstraint("disclosure_id", "tier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    disclosure_id: Mapped[str] = mapped_column(ForeignKey("disclosures.id"), index=True)
    tier: Mapped[str] = mapped_column(String(80))
    provisions: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ResidentCard(Base):
    """A resident's My Number card as the town handed it over: the public half of the key
    only the resident holds. It signs their online move-out (転出届の特例); a new card
    revokes the old, and a move-out takes it on to the new town (継続利用)."""

    __tablename__ = "resident_cards"

    public_key: Mapped[str] = mapped_column(String(43), primary_key=True)  # base64url
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class FiledMoveOut(Base):
    """An online move-out this town accepted (its record of the filing): the card that
    signed it, its nonce (never accepted twice), the dates and the destination."""

    __tablename__ = "online_move_outs"
    __table_args__ = (UniqueConstraint("card_key", "nonce"),)

    notice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    card_key: Mapped[str] = mapped_column(String(43))
    nonce: Mapped[str] = mapped_column(String(32))
    planned_on: Mapped[dt.date] = mapped_column(Date)
    visit_on: Mapped[dt.date] = mapped_column(Date)
    destination: Mapped[str] = mapped_column(String(6))
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class IncomingMoveOut(Base):
    """転出証明書情報 another town sent here for a 転入 (転出届の特例): pending until the
    clerk records the move-in from it, expired when its period ends unused."""

    __tablename__ = "incoming_move_outs"
    __table_args__ = (Index("ix_incoming_move_outs_status", "status", "valid_until"),)

    notice_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender: Mapped[str] = mapped_column(String(6))  # the old town's code
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    certificate: Mapped[str] = mapped_column(Text)  # MoveOutCertificate JSON (sealed in transit)
    planned_on: Mapped[dt.date] = mapped_column(Date)
    visit_on: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))  # pending, used, expired
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    resident_id: Mapped[str | None] = mapped_column(String(32))  # the move-in's record
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
