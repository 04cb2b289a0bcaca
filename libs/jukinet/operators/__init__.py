"""Operators of an office: password and IC-card login, roles, sessions, lockout, and the
hash-chained operation log of everything they do."""

from jukinet.operators._api import (
    OPERATORS,
    AuditDep,
    AuditEntry,
    OperatorContext,
    OperatorsDep,
    guard,
    record_operation,
)
from jukinet.operators._auth import (
    MIN_PASSWORD,
    AuthPolicy,
    card_principal,
    challenge_key,
    challenge_message,
    hash_password,
    resolve_token,
)
from jukinet.operators._browser import (
    SLUG,
    BrowserLogin,
    browser_enrol,
    browser_login,
    enrolment_router,
)
from jukinet.operators._client import IcCard, card_login
from jukinet.operators._makers import CardMakers, CardMakersError
from jukinet.operators._manage import list_operators, register_operator, replace_card, set_state
from jukinet.operators._model import ANONYMOUS, SYSTEM, Actor, Role, roles_for
from jukinet.operators._oplog import (
    Operation,
    append_operation,
    verify_operations,
)
from jukinet.operators._routes import operator_routers
from jukinet.operators._strangers import AnonymousFailures
from jukinet.operators._tables import OperatorTables, append_only_sql, operator_tables
from jukinet.operators._throttle import LoginGate, ThrottlePolicy
from jukinet.operators._webauthn import (
    BrowserCard,
    WebAuthnTables,
    authentication_options,
    enrol_card,
    issue_enrolment,
    registration_options,
    webauthn_login,
    webauthn_tables,
)

__all__ = [
    "ANONYMOUS",
    "MIN_PASSWORD",
    "OPERATORS",
    "SLUG",
    "SYSTEM",
    "Actor",
    "AnonymousFailures",
    "AuditDep",
    "AuditEntry",
    "AuthPolicy",
    "BrowserCard",
    "BrowserLogin",
    "CardMakers",
    "CardMakersError",
    "IcCard",
    "LoginGate",
    "Operation",
    "OperatorContext",
    "OperatorTables",
    "OperatorsDep",
    "Role",
    "ThrottlePolicy",
    "WebAuthnTables",
    "append_only_sql",
    "append_operation",
    "authentication_options",
    "browser_enrol",
    "browser_login",
    "card_login",
    "card_principal",
    "challenge_key",
    "challenge_message",
    "enrol_card",
    "enrolment_router",
    "guard",
    "hash_password",
    "issue_enrolment",
    "list_operators",
    "operator_routers",
    "operator_tables",
    "record_operation",
    "register_operator",
    "registration_options",
    "replace_card",
    "resolve_token",
    "roles_for",
    "set_state",
    "verify_operations",
    "webauthn_login",
    "webauthn_tables",
]
