"""The client's own models agree with the server's OpenAPI schema, field by field: names, JSON
types, and the status values. They are written twice on purpose (the client installs without
the server); this test is what keeps the two from drifting apart."""

from __future__ import annotations

from typing import Any

import pytest
import whisper_jobs_client as client
from pydantic import BaseModel

from app.api.main import create_app
from app.contract.formats import FORMATS
from app.core.config import Settings


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))  # the schema needs no Redis
    return app.openapi()["components"]["schemas"]  # type: ignore[no-any-return]


def json_types(schema: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """A property's schema reduced to its JSON types (a `$ref` to the model's name)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        target = schemas.get(name, {})
        return {"string"} if "enum" in target else {name}
    if "anyOf" in schema:
        return set().union(*(json_types(s, schemas) for s in schema["anyOf"]))
    if "enum" in schema or "const" in schema:
        return {schema.get("type", "string")}
    kind = schema.get("type", "any")
    return {"number"} if kind == "integer" and schema.get("format") == "float" else {kind}


MODELS = [
    client.Job,
    client.JobOptions,
    client.TranscriptResult,
    client.Segment,
    client.Word,
    client.LanguageProbability,
    client.JobError,
    client.WebhookState,
    client.ModelInfo,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_fields_and_types_agree(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    server = schemas[model.__name__]
    ours = model.model_json_schema(ref_template="#/components/schemas/{model}")
    ours_defs = {**schemas, **ours.get("$defs", {})}
    assert set(ours["properties"]) == set(server["properties"]), model.__name__
    for name, prop in server["properties"].items():
        assert json_types(ours["properties"][name], ours_defs) == json_types(prop, schemas), (
            model.__name__,
            name,
        )
    assert set(ours.get("required", [])) == set(server.get("required", [])), model.__name__


def test_statuses_and_formats_agree(schemas: dict[str, Any]) -> None:
    assert [s.value for s in client.JobStatus] == schemas["JobStatus"]["enum"]
    from whisper_jobs_client._models import EXTENSIONS as CLIENT_EXTENSIONS

    assert {f.name: f.extension for f in FORMATS.values()} == CLIENT_EXTENSIONS
