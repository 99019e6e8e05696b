"""Structured replies: the shape of a valid reply as a JSON Schema, and reading JSON replies.

A protocol states, for the current observation, which JSON object is a valid reply (a decision,
amounts within their bounds, enumerated items or targets, free text with a maximum length).
Backends enforce that schema while decoding, so even a small model answers in form. The builders
here keep every schema inside the subset that OpenAI's strict mode and the grammar engines accept
alike: objects list every property in ``required`` and set ``additionalProperties: false``;
variants are an ``anyOf`` of such objects told apart by a single-value ``enum`` field (`const`);
optional values are a union with ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from envs.core.protocol import ActionParseError

JSON_REPLY_WRAPPING = "`'\" \t\n"


def obj(properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A closed object: every property required, nothing else allowed."""
    return {
        "type": "object",
        "properties": {name: dict(schema) for name, schema in properties.items()},
        "required": list(properties),
        "additionalProperties": False,
    }


def const(value: str) -> dict[str, Any]:
    """Exactly ``value`` (the field that tells variants apart)."""
    return {"type": "string", "enum": [value]}


def choice(values: Sequence[str]) -> dict[str, Any]:
    """One of ``values`` (ids, items, targets)."""
    if not values:
        raise ValueError("choice: no values to choose from")
    return {"type": "string", "enum": list(dict.fromkeys(values))}


def number(minimum: float, maximum: float) -> dict[str, Any]:
    """A number within ``[minimum, maximum]``."""
    return {"type": "number", "minimum": float(minimum), "maximum": float(maximum)}


def integer(minimum: int, maximum: int) -> dict[str, Any]:
    """An integer within ``[minimum, maximum]``."""
    return {"type": "integer", "minimum": int(minimum), "maximum": int(maximum)}


def free_text(max_length: int) -> dict[str, Any]:
    """Free natural text of at most ``max_length`` characters (messages, utterances)."""
    return {"type": "string", "maxLength": int(max_length)}


def array(items: Mapping[str, Any], min_items: int, max_items: int) -> dict[str, Any]:
    """A list of ``min_items`` to ``max_items`` values of ``items``."""
    return {"type": "array", "items": dict(items), "minItems": min_items, "maxItems": max_items}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` or null (how strict mode writes an optional field)."""
    return {"anyOf": [dict(schema), {"type": "null"}]}


def one_of(variants: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One of several closed objects (a single variant is returned as is)."""
    if not variants:
        raise ValueError("one_of: no variants")
    if len(variants) == 1:
        return dict(variants[0])
    return {"anyOf": [dict(v) for v in variants]}


def json_object(reply: str) -> dict[str, Any] | None:
    """The JSON object a reply consists of, or None when the reply is not JSON (command text).

    Code fences (```json ... ```) and quoting around the object are tolerated; text around it is
    not (a reply is either JSON or command text). A reply that starts as JSON but does not parse
    raises `ActionParseError` saying so.
    """
    body = reply.strip()
    if body.startswith("```"):
        body = body[3:]
        if body[:4].lower() == "json":
            body = body[4:]
        body = body.rsplit("```", 1)[0]
    body = body.strip(JSON_REPLY_WRAPPING)
    if not body.startswith("{"):
        return None
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise ActionParseError(f"the reply is not valid JSON: {error.msg} at {error.pos}") from None
    if not isinstance(data, dict):
        raise ActionParseError("the reply must be one JSON object")
    return data


def get_field(data: Mapping[str, Any], name: str, kinds: type | tuple[type, ...]) -> Any:
    """``data[name]`` checked against ``kinds``, else an `ActionParseError` naming the field."""
    if name not in data:
        raise ActionParseError(f"the JSON reply needs the field {name!r}")
    value = data[name]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ActionParseError(f"field {name!r}: expected {_kind_names(kinds)}, got {value!r}")
    if not isinstance(value, kinds):
        raise ActionParseError(f"field {name!r}: expected {_kind_names(kinds)}, got {value!r}")
    return value


def only_fields(data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Refuse fields a JSON reply may not carry now (the schema's closed object, re-checked)."""
    unexpected = [key for key in data if key not in allowed]
    if unexpected:
        fields = ", ".join(repr(key) for key in unexpected)
        raise ActionParseError(f"unexpected field {fields} in the JSON reply now")


def _kind_names(kinds: type | tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        bool: "true/false",
    }
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def schema_summary(schema: Mapping[str, Any]) -> str:
    """The schema as compact JSON, for a prompt's answer-format line."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
