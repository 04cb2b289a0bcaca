from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Integer, MetaData, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jukinet.db.engine import (
    NAMING_CONVENTION,
    UtcDateTime,
    async_url,
    create_engine,
    session_factory,
    transaction,
)
from jukinet.node.problems import Conflict, install_problem_handlers
from jukinet.node.settings import NodeSettings


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Stamp(Base):
    __tablename__ = "stamp"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Query(BaseModel):
    resident_code: str
    birth_date: dt.date


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/q")
    async def q(body: Query) -> dict[str, str]:
        if body.resident_code == "00000000000":
            raise Conflict("already registered", reason="duplicate")
        return {"ok": "yes"}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret 12345678903")

    return app


async def _client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_domain_errors_are_problem_json() -> None:
    async with await _client() as client:
        r = await client.post(
            "/q", json={"resident_code": "00000000000", "birth_date": "2000-01-01"}
        )
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "duplicate"
    assert r.json()["title"] == "Conflict"


async def test_validation_errors_never_echo_the_input() -> None:
    async with await _client() as client:
        r = await client.post("/q", json={"resident_code": "12345678903", "birth_date": "山田太郎"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert "山田太郎" not in r.text
    assert r.json()["errors"][0]["loc"] == ["body", "birth_date"]


async def test_unexpected_errors_are_opaque() -> None:
    async with await _client() as client:
        r = await client.get("/boom")
    assert r.status_code == 500
    assert "12345678903" not in r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_utc_timestamps_round_trip_on_each_backend(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = session_factory(engine)
        moment = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))
        async with transaction(sessions) as session:
            session.add(Stamp(id=1, at=moment))
        async with sessions() as session:
            stored = (await session.execute(select(Stamp.at))).scalar_one()
        assert stored == moment
        assert stored.tzinfo is not None
        assert stored.utcoffset() == dt.timedelta(0)
    finally:
        await engine.dispose()


async def test_naive_datetimes_are_refused(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        with pytest.raises(Exception, match="naive"):
            async with transaction(session_factory(engine)) as session:
                session.add(Stamp(id=1, at=dt.datetime(2026, 1, 1)))
    finally:
        await engine.dispose()


def test_urls_map_to_asyncio_drivers() -> None:
    assert async_url("sqlite:///var/a.db") == "sqlite+aiosqlite:///var/a.db"
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUKINET_PRINCIPAL", "spiffe://jukinet/municipality/142034")
    monkeypatch.setenv("JUKINET_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("JUKINET_API_TOKEN", "t" * 32)
    settings = NodeSettings()  # type: ignore[call-arg]
    assert settings.node.code == "142034"
    monkeypatch.setenv("JUKINET_PRINCIPAL", "spiffe://jukinet/municipality/142035")
    with pytest.raises(ValueError, match="check digit"):
        NodeSettings()  # type: ignore[call-arg]
