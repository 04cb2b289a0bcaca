"""The lookup client: three calls, typed answers, typed refusals."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

__all__ = [
    "BatchAnswer",
    "BatchItem",
    "Change",
    "ChangesPage",
    "CodeAnswer",
    "FactsAnswer",
    "LookupClient",
    "LookupError",
    "LookupInvalid",
    "LookupRefused",
]

PathLike = str | Path


class LookupError(Exception):
    """Anything the lookup server answered other than a result."""

    def __init__(self, status: int, title: str, detail: str | None) -> None:
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))
        self.status, self.title, self.detail = status, title, detail


class LookupRefused(LookupError):
    """The law, the permission table or the quota refuses this lookup. ``reason`` is one
    of the documented codes: no_grant, affair_not_permitted, query_kind_not_permitted,
    grant_expired, quota_exhausted (status 429), client_suspended, not_government,
    not_a_lookup_client."""

    def __init__(self, status: int, title: str, detail: str | None, reason: str) -> None:
        super().__init__(status, title, detail)
        self.reason = reason


class LookupInvalid(LookupError):
    """The request itself is not valid; ``errors`` name each field and what is wrong
    (``message`` in English, ``message_ja`` in Japanese)."""

    def __init__(self, status: int, title: str, errors: list[dict[str, Any]]) -> None:
        summary = "; ".join(f"{'.'.join(e.get('loc', []))}: {e.get('message')}" for e in errors)
        super().__init__(status, title, summary or None)
        self.errors = errors


@dataclass(frozen=True)
class CodeAnswer:
    found: bool
    record: dict[str, Any] | None  # only the fields the grant allows, and status


@dataclass(frozen=True)
class FactsAnswer:
    match: Literal["unique", "none", "ambiguous"]
    record: dict[str, Any] | None


@dataclass(frozen=True)
class BatchItem:
    resident_code: str
    found: bool
    record: dict[str, Any] | None


@dataclass(frozen=True)
class BatchAnswer:
    results: list[BatchItem] = field(default_factory=list)

    def found(self) -> dict[str, dict[str, Any]]:
        """The records found, by resident code."""
        return {i.resident_code: i.record for i in self.results if i.record is not None}


@dataclass(frozen=True)
class Change:
    """One change of a watched resident (see ``LookupClient.changes``)."""

    cursor: str
    resident_code: str
    previous_code: str | None  # for a code change: the code it replaced
    change_reason: str
    change_date: dt.date
    record: dict[str, Any]  # only the fields the grant allows, and status


@dataclass(frozen=True)
class ChangesPage:
    changes: list[Change]
    cursor: str | None  # keep it: the next call starts after it
    more: bool


class LookupClient:
    """A lookup server's client, authenticated by the caller's certificate."""

    def __init__(
        self,
        url: str,
        *,
        cert: PathLike,
        key: PathLike,
        ca: PathLike,
        timeout: float = 30.0,
    ) -> None:
        context = ssl.create_default_context(cafile=str(ca))
        context.load_cert_chain(str(cert), str(key))
        self._http = httpx.Client(base_url=url, verify=context, timeout=timeout)

    def __enter__(self) -> LookupClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def by_code(self, affair: str, resident_code: str) -> CodeAnswer:
        doc = self._post("/lookups/by-code", {"affair": affair, "resident_code": resident_code})
        return CodeAnswer(found=bool(doc["found"]), record=doc.get("record"))

    def by_facts(
        self,
        affair: str,
        *,
        name: str,
        birth_date: dt.date,
        sex: Literal["male", "female"],
        address: str | None = None,
    ) -> FactsAnswer:
        body: dict[str, Any] = {
            "affair": affair, "name": name, "birth_date": birth_date.isoformat(), "sex": sex,
        }  # fmt: skip
        if address is not None:
            body["address"] = address
        doc = self._post("/lookups/by-facts", body)
        return FactsAnswer(match=doc["match"], record=doc.get("record"))

    def batch(self, affair: str, resident_codes: Sequence[str]) -> BatchAnswer:
        """Up to 10,000 codes in one request."""
        body = {"affair": affair, "resident_codes": list(resident_codes)}
        doc = self._post("/lookups/batch", body)
        return BatchAnswer([_item(i) for i in doc["results"]])

    def watch(
        self, affair: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> tuple[int, int]:
        """Start and stop watching residents for the change feed (up to 100,000 codes
        each per call); how many of ``add`` were new and of ``remove`` were watched."""
        body = {"affair": affair, "add": list(add), "remove": list(remove)}
        doc = self._post("/subscriptions", body)
        return int(doc["added"]), int(doc["removed"])

    def changes(self, affair: str, cursor: str | None = None, limit: int = 1000) -> ChangesPage:
        """The next changes of the watched residents after ``cursor`` (None: from the
        start). Store the page's cursor only once its changes are processed."""
        body: dict[str, Any] = {"affair": affair, "limit": limit}
        if cursor is not None:
            body["cursor"] = cursor
        doc = self._post("/subscriptions/changes", body)
        items = [
            Change(
                c["cursor"],
                c["resident_code"],
                c.get("previous_code"),
                c["change_reason"],
                dt.date.fromisoformat(c["change_date"]),
                c["record"],
            )
            for c in doc["changes"]
        ]
        return ChangesPage(items, doc.get("cursor"), bool(doc["more"]))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self._http.post(path, json=body)
        if r.status_code == 200:
            doc: dict[str, Any] = r.json()
            return doc
        raise _error(r)


def _item(doc: dict[str, Any]) -> BatchItem:
    return BatchItem(
        resident_code=doc["resident_code"], found=bool(doc["found"]), record=doc.get("record")
    )


def _error(r: httpx.Response) -> LookupError:
    try:
        doc = r.json()
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    title = str(doc.get("title") or r.reason_phrase)
    detail = doc.get("detail")
    if r.status_code == 422 and isinstance(doc.get("errors"), list):
        return LookupInvalid(r.status_code, title, doc["errors"])
    if isinstance(doc.get("reason"), str):
        return LookupRefused(r.status_code, title, detail, doc["reason"])
    return LookupError(r.status_code, title, detail)
