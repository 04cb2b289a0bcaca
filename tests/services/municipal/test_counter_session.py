"""Where the counter is: behind a TLS proxy its configured public origin is the WebAuthn
site, the only origin that may post, and makes the session cookie Secure; locally each
request's own host, which must be a name (WebAuthn refuses IP addresses)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.requests import Request

from municipal.settings import MunicipalSettings
from municipal.ui.session import ForeignOrigin, check_same_origin, set_session, site_of
from tests.principals import HIRATSUKA

PUBLIC = "https://madoguchi.city.example"


def _request(host: str, origin: str | None, configured: str | None) -> Request:
    app = FastAPI()
    app.state.counter_origin = configured
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    scope = {"type": "http", "method": "POST", "path": "/ui/login", "headers": headers,
             "scheme": "http", "server": (host, 8000), "query_string": b"", "app": app}  # fmt: skip
    return Request(scope)


def test_behind_a_proxy_the_configured_origin_rules() -> None:
    request = _request("municipality-142034:8000", PUBLIC, PUBLIC)
    check_same_origin(request)
    site = site_of(request)
    assert site is not None
    assert (site.rp_id, site.origin) == ("madoguchi.city.example", PUBLIC)
    response = Response()
    set_session(response, request, "jks_token", 60)
    assert "secure" in response.headers["set-cookie"].lower()
    for other in ("http://madoguchi.city.example", "https://evil.example", None):
        with pytest.raises(ForeignOrigin):
            check_same_origin(_request("municipality-142034:8000", other, PUBLIC))


def test_a_spoofed_host_does_not_move_the_configured_site() -> None:
    site = site_of(_request("evil.example", PUBLIC, PUBLIC))
    assert site is not None
    assert site.rp_id == "madoguchi.city.example"


def test_locally_the_request_names_the_site_and_an_ip_address_cannot() -> None:
    local = site_of(_request("localhost:8105", "http://localhost:8105", None))
    assert local is not None
    assert (local.rp_id, local.origin) == ("localhost", "http://localhost:8105")
    assert site_of(_request("127.0.0.1:8105", "http://127.0.0.1:8105", None)) is None


@pytest.mark.parametrize(
    "origin",
    ["madoguchi.city.example", "ftp://x.example", "https://x.example/ui", "https://u@x.example"],
)
def test_the_configured_origin_is_an_origin(origin: str) -> None:
    with pytest.raises(ValidationError):
        MunicipalSettings(
            principal=HIRATSUKA.uri, database_url="sqlite:///x.db", api_token="t" * 32,
            counter_origin=origin,
        )  # fmt: skip
