"""Grammar-constrained decoding in the local backend, on the real bundled model (SmolLM2-135M).

Every constrained reply must be JSON that its schema admits, whatever the row's companions in the
batch, its temperature or its seed; rows without a schema and ``structured="off"`` are free text.
"""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from sim.llm import make_model

pytestmark = pytest.mark.real_llm

SYSTEM = "You answer with one JSON object and nothing else."


def closed(**properties):
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def enum(*values):
    return {"type": "string", "enum": list(values)}


DECISION = {
    "anyOf": [
        closed(
            action=enum("offer"),
            price={"type": "number", "minimum": 2.5, "maximum": 40.0},
            quantity={"type": "integer", "minimum": 1, "maximum": 5},
        ),
        closed(action=enum("accept")),
        closed(action=enum("reject"), reason=enum("too_high", "not_needed")),
    ]
}
COLOR = closed(color=enum("red", "green", "blue"))
NULLABLE_MESSAGE = closed(
    to=enum("alice", "bob"),
    message={"anyOf": [{"type": "string", "maxLength": 40}, {"type": "null"}]},
)
BASKET = closed(
    items={"type": "array", "items": enum("bread", "milk", "eggs"), "minItems": 1, "maxItems": 3}
)


def ask(text, schema=None, **fields):
    return {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
        "max_tokens": 48,
        **({"schema": schema} if schema is not None else {}),
        **fields,
    }


def assert_valid(completion, schema):
    assert completion.error is None
    assert completion.finish_reason == "stop", completion
    assert completion.usage.structured == "grammar"
    jsonschema.validate(json.loads(completion.text), schema)


@pytest.fixture(scope="module")
def model(local_model):
    """The session's bundled model (tests/llm/conftest.py), loaded once."""
    return local_model


MIXED = [
    ask("The seller asks 30 euros for cheese. Decide.", DECISION),
    ask("Pick a color for the stall.", COLOR, temperature=0.9, seed=5),
    ask("Name a fruit.", max_tokens=8),
    ask("Send a note to Bob, or none.", NULLABLE_MESSAGE),
    ask("What do you buy for breakfast?", BASKET, temperature=1.0, seed=7),
    ask("The seller asks 12 euros for wine. Decide.", DECISION, temperature=0.7, seed=1),
]


@pytest.fixture(scope="module")
def mixed_replies(model):
    """The model's replies to `MIXED` as one batch (computed once; greedy or seeded rows)."""
    return model.generate(MIXED)


def test_a_mixed_batch_gives_schema_valid_json_and_free_text(model, mixed_replies):
    out = mixed_replies
    for request, completion in zip(MIXED, out, strict=True):
        if "schema" in request:
            assert_valid(completion, request["schema"])
        else:
            assert completion.usage.structured == "off" and completion.text.strip()
    # the reply ends with its JSON object: no end token is spent after the closing brace
    assert out[0].usage.completion_tokens == len(
        model.tokenizer(out[0].text, add_special_tokens=False)["input_ids"]
    )


def test_a_reply_does_not_depend_on_its_batch(model, mixed_replies):
    batched = mixed_replies
    for i in (0, 1, 4):  # greedy and seeded rows, alone: the same reply as in the batch
        alone = model.generate([MIXED[i]])[0]
        assert alone.text == batched[i].text
    again = model.generate([MIXED[3], ask("Hi", max_tokens=30), MIXED[0]])
    assert [again[0].text, again[2].text] == [batched[3].text, batched[0].text]


def test_structured_off_ignores_the_schema():
    off = make_model({"backend": "local", "structured": "off"})
    try:
        assert off.structured == "off"
        with_schema = off.generate([ask("Pick a color for the stall.", COLOR)])[0]
        without = off.generate([ask("Pick a color for the stall.")])[0]
        assert with_schema.usage.structured == "off"
        assert with_schema.text == without.text
    finally:
        off.close()


def test_json_schema_is_a_synonym_and_unknown_modes_fail():
    synonym = make_model({"backend": "local", "structured": "json_schema"})
    assert synonym.structured == "grammar"
    synonym.close()
    with pytest.raises(ValueError, match="structured"):
        make_model({"backend": "local", "structured": "regex"})


def test_a_cut_reply_says_length_and_a_bad_schema_fails_alone(model):
    out = model.generate(
        [
            ask("Pick a color.", COLOR, max_tokens=3),
            ask("Pick a color.", {"type": "strange"}),
            ask("Pick a color.", COLOR),
        ]
    )
    assert out[0].finish_reason == "length" and out[0].text.startswith('{"')
    assert out[1].failed and not out[1].transient and "strange" in out[1].error
    assert_valid(out[2], COLOR)


def test_each_distinct_schema_is_compiled_once(model):
    schema = closed(size=enum("small", "large"))
    model.generate([ask("Pick a size.", schema), ask("Pick a size.", dict(schema))])
    compiled = model.grammars.compiled
    out = model.generate([ask("Choose a size.", schema, temperature=1.0, seed=s) for s in (1, 2)])
    assert model.grammars.compiled == compiled
    for completion in out:
        assert_valid(completion, schema)


# ------------------------------------------------------------ property: random schemas and seeds

WORDS = ("apple", "pear", "fig", "plum", "lime", "kiwi")


def random_schema(rng: np.random.Generator) -> dict:
    """A schema of the family the protocols build: closed objects of enums, bounded numbers and
    integers, short (nullable) strings and bounded arrays, sometimes an anyOf of variants."""

    def field(kind: int) -> dict:
        if kind == 0:
            return enum(*rng.choice(WORDS, size=int(rng.integers(1, 4)), replace=False).tolist())
        if kind == 1:
            low = float(rng.integers(-50, 50))
            return {"type": "number", "minimum": low, "maximum": low + float(rng.integers(1, 200))}
        if kind == 2:
            low = int(rng.integers(0, 10))
            return {"type": "integer", "minimum": low, "maximum": low + int(rng.integers(0, 20))}
        if kind == 3:
            text = {"type": "string", "maxLength": int(rng.integers(5, 30))}
            return {"anyOf": [text, {"type": "null"}]} if rng.random() < 0.5 else text
        low = int(rng.integers(0, 2))
        return {
            "type": "array",
            "items": enum(*WORDS[:4]),
            "minItems": low,
            "maxItems": low + int(rng.integers(1, 3)),
        }

    def variant() -> dict:
        kinds = rng.choice(5, size=int(rng.integers(1, 4)), replace=False)
        return closed(**{f"f{k}": field(int(k)) for k in kinds})

    if rng.random() < 0.4:
        return {
            "anyOf": [closed(kind=enum(name), **variant()["properties"]) for name in ("a", "b")]
        }
    return variant()


def test_random_schemas_and_seeds_decode_to_valid_json(model):
    rng = np.random.default_rng(2024)
    cases = [(random_schema(rng), int(rng.integers(1 << 30))) for _ in range(16)]
    drawn = json.dumps([schema for schema, _ in cases])
    for part in ('"enum"', '"number"', '"integer"', '"null"', '"array"', '"anyOf"'):
        assert part in drawn  # the draw covers every kind of field and both schema shapes
    requests = [
        ask(
            "Fill in the object: " + json.dumps(schema, separators=(",", ":")),
            schema,
            temperature=float(rng.choice([0.0, 0.7, 1.0])),
            seed=seed,
            max_tokens=160,
        )
        for schema, seed in cases
    ]
    for (schema, _), completion in zip(cases, model.generate(requests), strict=True):
        assert_valid(completion, schema)


LETTER = closed(
    message={"type": "string", "maxLength": 2000},
    promote=enum("A", "B", "C", "D"),
    tactic=enum("none", "flattery", "urgency"),
    score={"type": "integer", "minimum": 1, "maximum": 10},
)


def test_a_long_free_text_is_wrapped_up_within_the_token_budget(model):
    """A string's maxLength counts characters, not tokens: a rambling message is closed in time,
    and the fields after it still get written, so the reply is whole JSON within max_tokens."""
    prompt = "Write a very long, detailed letter (at least a thousand words) about every option."
    out = model.generate(
        [ask(prompt, LETTER, max_tokens=60, temperature=0.8, seed=s) for s in range(4)]
    )
    for completion in out:
        assert_valid(completion, LETTER)
        assert completion.usage.completion_tokens <= 60
