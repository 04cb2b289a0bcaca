"""The published API documents (docs/openapi/*.json) are what the services serve: every
change to an API shows in the diff. Regenerate them with `make openapi`. And they say
enough to call the APIs without reading the code (the rules: the tests below)."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from jukinet.lookups import create_lookup_app
from jukinet.node.problems import Problem
from jukinet.pki import PkiLayout
from tests.principals import AGENCY, HIRATSUKA, KANAGAWA

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "openapi"
WRITE = os.environ.get("JUKINET_WRITE_OPENAPI") == "1"
COMMON: dict[str, object] = {"database_url": "sqlite:///unused.db", "api_token": "t" * 32}


def _municipal(pki: Path) -> FastAPI:
    from municipal.app import create_app
    from municipal.settings import MunicipalSettings

    return create_app(MunicipalSettings(principal=HIRATSUKA.uri, pki_root=pki, **COMMON))


def _prefecture(pki: Path) -> FastAPI:
    from prefecture.app import create_app
    from prefecture.settings import PrefectureSettings

    return create_app(PrefectureSettings(principal=KANAGAWA.uri, pki_root=pki, **COMMON))


def _agency(pki: Path) -> FastAPI:
    from agency.app import create_app
    from agency.settings import AgencySettings

    return create_app(AgencySettings(principal=AGENCY.uri, pki_root=pki, **COMMON))


def _agency_lookups(pki: Path) -> FastAPI:
    from agency.lookup_server import server  # what `python -m agency.lookup_server` serves
    from agency.settings import AgencySettings

    settings = AgencySettings(principal=AGENCY.uri, pki_root=pki, **COMMON)
    return create_lookup_app(settings, server.records, server.lookups,
                             title="jukinet lookups (agency)", watches=server.watches,
                             numbers=server.numbers)  # fmt: skip


def _prefecture_lookups(pki: Path) -> FastAPI:
    from prefecture.models import lookups, records
    from prefecture.settings import PrefectureSettings

    settings = PrefectureSettings(principal=KANAGAWA.uri, pki_root=pki, **COMMON)
    return create_lookup_app(settings, records, lookups, title="jukinet lookups (prefecture)")


APPS: dict[str, Callable[[Path], FastAPI]] = {
    "municipal": _municipal,
    "prefecture": _prefecture,
    "agency": _agency,
    "agency-lookups": _agency_lookups,
    "prefecture-lookups": _prefecture_lookups,
}


def _document(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", sorted(APPS))
def test_the_published_document_is_what_the_service_serves(name: str, layout: PkiLayout) -> None:
    served = _document(APPS[name](layout.root))
    path = DOCS / f"{name}.json"
    if WRITE:
        DOCS.mkdir(parents=True, exist_ok=True)
        path.write_text(served, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run `make openapi`"
    assert path.read_text(encoding="utf-8") == served, f"{path} is stale: run `make openapi`"


def test_every_document_is_published() -> None:
    assert {p.stem for p in DOCS.glob("*.json")} == set(APPS)


FASTAPI_SCHEMAS = frozenset({"HTTPValidationError", "ValidationError"})  # FastAPI's own
DATE_NAME = re.compile(r"(^|_)(date|born)$|_on$")  # birth_date, change_date, notified_on…
SERVICES = ("jukinet", "municipal", "prefecture", "agency")


@pytest.fixture(scope="module")
def apps(layout: PkiLayout) -> dict[str, FastAPI]:
    return {name: build(layout.root) for name, build in APPS.items()}


@pytest.fixture(scope="module")
def served(apps: dict[str, FastAPI]) -> dict[str, dict[str, Any]]:
    return {name: app.openapi() for name, app in apps.items()}


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def _is_reference(schema: dict[str, Any]) -> bool:
    """A schema that only points at another component: ``$ref``, or allOf of one."""
    return "$ref" in schema or [set(s) for s in schema.get("allOf", [])] == [{"$ref"}]


def _refers(schema: dict[str, Any]) -> bool:
    """Values that are other components: the reference itself, optional, or a list."""
    branches = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    return all(_is_reference(s) or _is_reference(s.get("items", {})) for s in branches)


def _has_example(schema: dict[str, Any]) -> bool:
    return "examples" in schema or "example" in schema


def _formats(schema: dict[str, Any]) -> set[str | None]:
    return {s.get("format") for s in schema.get("anyOf", [schema]) if s.get("type") != "null"}


def _gaps(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(operation or schema, what it lacks) for every rule broken."""
    for where, operation in _operations(doc):
        if not operation.get("description", "").strip():
            yield where, "description"
        for param in operation.get("parameters", []):
            name = param["name"]
            if not param.get("description", "").strip():
                yield where, f"parameter {name}: description"
            if not (_has_example(param) or _has_example(param["schema"])):
                yield where, f"parameter {name}: example"
            if DATE_NAME.search(name) and _formats(param["schema"]) != {"date"}:
                yield where, f"parameter {name}: format date"
    for name, schema in doc["components"]["schemas"].items():
        if name in FASTAPI_SCHEMAS:
            continue
        if not schema.get("description", "").strip():
            yield name, "description"
        for prop, value in schema.get("properties", {}).items():
            if not _is_reference(value) and not value.get("description", "").strip():
                yield name, f"{prop}: description"
            if not _refers(value) and not _has_example(value):
                yield name, f"{prop}: example"
            if DATE_NAME.search(prop) and _formats(value) != {"date"}:
                yield name, f"{prop}: format date"


@pytest.mark.parametrize("name", sorted(APPS))
def test_every_operation_and_field_is_documented(
    name: str, served: dict[str, dict[str, Any]]
) -> None:
    """Every operation has a description (what it does, who may call it, what it refuses)
    beside its summary; every parameter, and every property of every component schema,
    has a description and an example; every component schema has a description.
    A property whose schema is only a reference to another component (``$ref``, or allOf
    of one) needs neither: the component documents itself. One whose values are other
    components (that reference, optional, or a list of them) needs a description but no
    example: the component has its own. A parameter or property named as a date
    (``*_date``, ``date``, ``*_born``, ``*_on``) is ``format: date``. FastAPI's own
    validation schemas are left alone."""
    gaps = [f"{where}: {what}" for where, what in _gaps(served[name])]
    assert not gaps, "undocumented:\n" + "\n".join(gaps)


def _problem_kinds() -> set[type[Problem]]:
    """Every Problem subclass of the services (the apps imported them all)."""
    found: set[type[Problem]] = set()
    todo = [Problem]
    while todo:
        for kind in todo.pop().__subclasses__():
            todo.append(kind)
            if kind.__module__.split(".")[0] in SERVICES:
                found.add(kind)
    return found


def _responses_text(operation: dict[str, Any]) -> str:
    return "\n".join(r.get("description", "") for r in operation["responses"].values())


def test_every_refusal_reason_is_documented(served: dict[str, dict[str, Any]]) -> None:
    """A problem answered with a ``reason`` code lists every code it can carry in its
    ``reasons`` (the next test holds the raising code to them). Each such problem is
    named by its type under some route's responses, and every operation that names it
    lists each of its codes there, as `code`."""
    kinds = {kind for kind in _problem_kinds() if kind.reasons}
    assert kinds, "no problem carries reason codes: is Problem.reasons still read?"
    for kind in kinds:
        naming = [
            (f"{doc_name}: {where}", text)
            for doc_name, doc in served.items()
            for where, operation in _operations(doc)
            if f"`{kind.type}`" in (text := _responses_text(operation))
        ]
        assert naming, f"{kind.__name__} (`{kind.type}`) is in no route's responses"
        for where, text in naming:
            missing = [code for code in kind.reasons if f"`{code}`" not in text]
            assert not missing, f"{where} does not list {kind.__name__}'s reasons {missing}"


def _sources() -> Iterator[tuple[str, Path]]:
    for base, top in ((ROOT / "libs", "jukinet"), (ROOT / "services", None)):
        for path in sorted(base.glob("**/*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if "migrations" in parts[:-1] or (top is not None and parts[0] != top):
                continue
            yield ".".join(p for p in parts if p != "__init__"), path


def _literals(node: ast.expr) -> list[str] | None:
    """The strings an expression can be, when it is a literal or a choice of literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def _reason_given(call: ast.Call, kind: type[Problem]) -> ast.expr | None:
    """The ``reason`` argument of a call building ``kind``: by keyword, or by position
    where the class's own ``__init__`` takes it first (as Refused does)."""
    for keyword in call.keywords:
        if keyword.arg == "reason":
            return keyword.value
    names = list(inspect.signature(kind.__init__).parameters)[1:]
    if call.args and names and names[0] == "reason":
        return call.args[0]
    return None


def test_problems_are_raised_only_with_documented_reasons(apps: dict[str, FastAPI]) -> None:
    """Wherever the code builds a Problem subclass with a literal ``reason`` (or a choice
    of literals), each is one of the class's ``reasons``: a new code cannot slip past the
    OpenAPI documents. (A reason computed at run time comes from a map built from
    ``reasons``, or is looked up in them, as Refused does.)"""
    names = {kind.__name__ for kind in _problem_kinds()}  # the apps imported them all
    wrong: list[str] = []
    for module_name, path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if node.func.id in names
        ]
        if not calls:
            continue
        module = importlib.import_module(module_name)
        for call in calls:
            assert isinstance(call.func, ast.Name)
            kind = getattr(module, call.func.id, None)
            if not (isinstance(kind, type) and issubclass(kind, Problem)):
                continue
            given = _reason_given(call, kind)
            for code in (_literals(given) if given is not None else None) or []:
                if code not in kind.reasons:
                    wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}: {kind.__name__} {code}")
    assert not wrong, "reasons missing from the classes' `reasons`:\n" + "\n".join(wrong)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _fields_and_models(app: FastAPI) -> tuple[list[FieldInfo], set[type[BaseModel]]]:
    """The parameters of every route, and every model a route takes or answers (and the
    models those hold)."""
    fields: list[FieldInfo] = []
    todo: list[Any] = []
    for context in iter_route_contexts(app.routes):  # the routes of included routers too
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        todo += [route.response_model, *(r.get("model") for r in route.responses.values())]
        for d in _dependants(route.dependant):
            fields += [p.field_info for p in (*d.path_params, *d.query_params)]
            todo += [p.field_info.annotation for p in d.body_params]
    models: set[type[BaseModel]] = set()
    while todo:
        kind = todo.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if kind not in models:
                models.add(kind)
                todo += [field.annotation for field in kind.model_fields.values()]
        else:
            todo += get_args(kind)
    return fields, models


@pytest.mark.parametrize("name", sorted(APPS))
def test_every_example_is_valid(name: str, apps: dict[str, FastAPI]) -> None:
    """Each example, of a field, a parameter or a whole model, passes the validation the
    value itself would (a resident code's check digit, a municipality code's, a date)."""
    fields, models = _fields_and_models(apps[name])
    checks = [(f"parameter {f.alias or f.title}", f) for f in fields]
    checks += [(f"{m.__name__}.{n}", f) for m in models for n, f in m.model_fields.items()]
    for where, field in checks:
        adapter = TypeAdapter(Annotated[field.annotation, field])
        for example in field.examples or []:
            try:
                adapter.validate_json(json.dumps(example))
            except ValueError as exc:
                pytest.fail(f"{where}: example {example!r} is not valid: {exc}")
    for model in models:
        extra = model.model_config.get("json_schema_extra")
        for example in extra.get("examples", []) if isinstance(extra, dict) else []:
            try:
                model.model_validate_json(json.dumps(example))
            except ValueError as exc:
                pytest.fail(f"{model.__name__}: example {example!r} is not valid: {exc}")
