"""Options of the OpenAI-compatible backend: where keys go, structured forms, the max-tokens
field."""

from __future__ import annotations

import json

import httpx
import pytest

from sim.llm import make_model
from sim.llm.errors import EndpointError
from sim.llm.openai_compatible import OpenAICompatibleModel
from sim.llm.wrappers import CachedModel

SECRET = "sk-openai-default-key-0000"
SCHEMA = {
    "type": "object",
    "properties": {"price": {"type": "number", "minimum": 0, "maximum": 10}},
    "required": ["price"],
    "additionalProperties": False,
}


def test_a_string_spec_to_a_local_url_sends_no_key(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    model = make_model(f"openai:m@{server.base_url}")
    try:
        assert model.generate([{"messages": "hi"}])[0].text == "echo: hi"
        assert model.key_note == "no API key sent"
    finally:
        model.close()
    assert "Authorization" not in server.requests[0]["headers"]


def test_a_named_key_variable_is_sent(server, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("MY_KEY", "my-own-key-123")
    spec = {
        "backend": "openai",
        "model": "m",
        "base_url": server.base_url,
        "api_key_env": "MY_KEY",
        "cache": str(tmp_path / "c.sqlite"),
    }
    model = make_model(spec)
    try:
        assert isinstance(model, CachedModel) and model.key_note == "key from $MY_KEY"
        assert model.structured == "json_schema"
        model.generate([{"messages": "hi"}])
    finally:
        model.close()
    assert server.requests[0]["headers"]["Authorization"] == "Bearer my-own-key-123"


def _mock_openai(monkeypatch, **options) -> tuple[OpenAICompatibleModel, list[httpx.Request]]:
    """A model for api.openai.com whose HTTP client answers locally (no network)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        return httpx.Response(200, json=reply)

    model = OpenAICompatibleModel(model="gpt-x", base_url="https://api.openai.com/v1", **options)
    model._transport.client = httpx.Client(transport=httpx.MockTransport(answer))
    return model, seen


def test_the_default_key_goes_to_api_openai_com_with_its_max_tokens_field(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    model, seen = _mock_openai(monkeypatch)
    with model:
        assert model.key_note == "key from $OPENAI_API_KEY"
        assert model.generate([{"messages": "hi", "max_tokens": 9}])[0].text == "ok"
    (request,) = seen
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    body = json.loads(request.content)
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body


def test_api_openai_com_without_its_key_fails_the_call_in_one_line(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model, seen = _mock_openai(monkeypatch)
    with model, pytest.raises(EndpointError, match=r"\$OPENAI_API_KEY is not set"):
        model.generate([{"messages": "hi"}])
    assert seen == [] and model.key_note == "key from $OPENAI_API_KEY (not set)"


def test_the_max_tokens_field_can_be_chosen(server, connect):
    model = connect(max_tokens_field="max_completion_tokens")
    model.generate([{"messages": "hi", "max_tokens": 7}])
    body = server.requests[0]["body"]
    assert body["max_completion_tokens"] == 7 and "max_tokens" not in body
    with pytest.raises(ValueError, match="max_tokens_field"):
        connect(max_tokens_field="n_predict")
    with pytest.raises(ValueError, match="structured"):
        connect(structured="grammar")


@pytest.mark.parametrize(
    ("mode", "field", "form"),
    [
        (
            "json_schema",
            "response_format",
            {
                "type": "json_schema",
                "json_schema": {"name": "reply", "strict": True, "schema": SCHEMA},
            },
        ),
        ("guided", "guided_json", SCHEMA),
        ("llamacpp", "json_schema", SCHEMA),
        ("off", None, None),
    ],
)
def test_each_structured_mode_sends_the_schema_its_way(server, connect, mode, field, form):
    model = connect(structured=mode)
    with_schema, without = model.generate(
        [{"messages": "price?", "schema": SCHEMA}, {"messages": "chat"}]
    )
    assert with_schema.usage.structured == mode and without.usage.structured == "off"
    bodies = {r["body"]["messages"][-1]["content"]: r["body"] for r in server.requests}
    schema_fields = {"response_format", "guided_json", "json_schema"}
    assert not schema_fields & set(bodies["chat"])
    if field is None:
        assert not schema_fields & set(bodies["price?"])
    else:
        assert bodies["price?"][field] == form
        assert not (schema_fields - {field}) & set(bodies["price?"])


def test_a_rejected_response_format_names_the_model_and_the_way_out(server, connect):
    model = connect(max_retries=3)
    server.script = ["400"]
    with pytest.raises(EndpointError) as caught:
        model.generate([{"messages": "price?", "schema": SCHEMA}])
    message = str(caught.value)
    assert "'fake-model'" in message and f"{server.base_url}/chat/completions" in message
    assert "structured: json_schema" in message and "`structured: off`" in message
    assert "fake 400" in message and "\n" not in message
    assert len(server.requests) == 1  # never retried, never silently re-sent another way


def test_a_context_length_400_fails_only_its_request(server, connect):
    model = connect()
    out = model.generate(
        [
            {"messages": "short", "schema": SCHEMA},
            {"messages": "long [fault:400ctx]", "schema": SCHEMA},
            {"messages": "plain [fault:400]"},
        ]
    )
    assert [c.failed for c in out] == [False, True, True]
    assert "maximum context length" in out[1].error and not out[1].transient
    assert "HTTP 400" in out[2].error and not out[2].transient


def test_variant_schemas_are_wrapped_for_strict_mode_and_unwrapped(server, connect):
    """OpenAI's strict mode wants an object at the root: an anyOf goes as {"reply": ...}."""
    variants = {
        "anyOf": [
            {"type": "object", "properties": {"d": {"type": "string", "enum": ["a"]}},
             "required": ["d"], "additionalProperties": False},
            {"type": "object", "properties": {"d": {"type": "string", "enum": ["b"]}},
             "required": ["d"], "additionalProperties": False},
        ]
    }  # fmt: skip
    server.script = ['say:{"reply": {"d": "b"}}']
    model = connect(structured="json_schema")
    (completion,) = model.generate([{"messages": "pick", "schema": variants}])
    sent = server.requests[-1]["body"]["response_format"]["json_schema"]["schema"]
    assert sent["type"] == "object" and sent["properties"]["reply"] == variants
    assert completion.text == '{"d": "b"}'
    model = connect(structured="guided")
    server.script = ['say:{"d": "a"}']
    (completion,) = model.generate([{"messages": "pick", "schema": variants}])
    assert (
        server.requests[-1]["body"]["guided_json"] == variants and completion.text == '{"d": "a"}'
    )
