"""Form controls from every family's reply schemas: valid actions and random schema instances
go reply -> form values -> reply unchanged and parse to actions; bad values are refused with
a message naming the field; roles without a schema get their valid actions as buttons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo import ParallelEnv

import envs  # noqa: F401  (registers every env)
from envs.core.names import role_of
from envs.core.protocol import TextProtocol, ValidAction, protocol_of
from envs.core.registry import list_envs, make_env
from envs.trials.protocol_views import CHAT
from sim.llm.schema_sample import sample_instance
from sim.studio.forms import (
    ACTION_FIELD,
    Choice,
    FormError,
    MultiChoice,
    Number,
    OptionalGroup,
    Rows,
    Text,
    Variant,
    build_form,
    controls_of,
)

ENV_IDS = sorted(spec.id for spec in list_envs())
DECISIONS = 40  # decisions sampled per env
SAMPLES = 4  # random schema instances per decision


def decisions(env_id: str, seed: int = 0) -> Iterator[tuple[TextProtocol, Any, str]]:
    """(protocol, observation, agent) at each decision of a seeded episode of random valid
    actions, up to `DECISIONS`."""
    env = make_env(env_id)
    protocol = protocol_of(env)
    rng = np.random.default_rng(seed)
    count = 0
    if isinstance(env, ParallelEnv):
        observations, _ = env.reset(seed=seed)
        while env.agents and count < DECISIONS:
            actions = {}
            for agent in env.agents:
                observation = observations[agent]
                yield protocol, observation, agent
                count += 1
                actions[agent] = _pick(protocol.valid_actions(observation, agent), rng)
            observations, *_ = env.step(actions)
        return
    env.reset(seed=seed)
    for agent in env.agent_iter():
        observation, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        if count >= DECISIONS:
            break
        yield protocol, observation, agent
        count += 1
        env.step(_pick(protocol.valid_actions(observation, agent), rng))


def _pick(choices: list[ValidAction], rng: np.random.Generator) -> Any:
    return choices[int(rng.integers(len(choices)))].action


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_role_round_trips(env_id: str) -> None:
    rng = np.random.default_rng(1)
    roles_with_forms: set[str] = set()
    roles: set[str] = set()
    for protocol, observation, agent in decisions(env_id):
        roles.add(role_of(agent))
        form = build_form(protocol, observation, agent)
        if form.buttons:  # only where the protocol has no schema
            assert protocol.reply_schema(observation, agent) is None, (env_id, agent)
            continue
        roles_with_forms.add(role_of(agent))
        for valid in protocol.valid_actions(observation, agent):
            reply = protocol.reply_json(valid.action, observation, agent)
            values = form.values_of(reply)
            assert all(isinstance(v, str | list) for v in values.values()), values
            assert form.reply(values) == reply, (valid.label, values)
            parsed = protocol.parse_reply(form.reply_text(values), observation, agent)
            assert data_equivalence(parsed, valid.action), (valid.label, parsed)
        schema = protocol.reply_schema(observation, agent)
        for _ in range(SAMPLES):
            reply = sample_instance(schema, rng)
            assert form.reply(form.values_of(reply)) == reply
            protocol.parse_reply(form.reply_text(form.values_of(reply)), observation, agent)
    assert roles_with_forms == roles, f"{env_id}: roles without a form {roles - roles_with_forms}"


def test_shapes_of_every_kind_occur() -> None:
    """Across the families every control kind is built (so the round trips above cover each)."""
    kinds: set[str] = set()

    def walk(controls: Any) -> None:
        for control in controls:
            kinds.add(control.kind)
            if isinstance(control, Variant):
                for branch in control.branches:
                    walk(branch.controls)
            if isinstance(control, OptionalGroup):
                walk(control.controls)
            if isinstance(control, Rows):
                walk(control.rows)

    for env_id in ENV_IDS:
        for protocol, observation, agent in decisions(env_id):
            walk(build_form(protocol, observation, agent).controls)
    assert kinds == {"choice", "number", "text", "multi", "variant", "optional", "rows"}


def _bargaining_form(role: str) -> tuple[Any, Any, Any, str]:
    env = make_env("mercato/Bargaining-v0")
    env.reset(seed=0)
    protocol = protocol_of(env)
    for agent in env.agent_iter():
        observation = env.last()[0]
        if role_of(agent) == role:
            return build_form(protocol, observation, agent), protocol, observation, agent
        env.step(protocol.valid_actions(observation, agent)[0].action)
    raise AssertionError(role)


def test_bargaining_controls() -> None:
    form, *_ = _bargaining_form("alice")
    decision, amount = form.controls
    assert isinstance(decision, Choice) and decision.options == ("offer",)
    assert isinstance(amount, Number) and (amount.minimum, amount.maximum) == (0.0, 10000.0)
    assert not amount.integer and amount.step is None
    # the only option of a fixed field may be left out
    assert form.reply({"alice_gets": "4000"}) == {"decision": "offer", "alice_gets": 4000.0}
    exact = {"decision": "offer", "alice_gets": 10000 / 3}  # every digit survives the form
    assert form.reply(form.values_of(exact)) == exact


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"alice_gets": "20000"}, "alice gets: 20000 is outside 0 to 10000"),
        ({"alice_gets": "lots"}, "alice gets: 'lots' is not a number"),
        ({"alice_gets": "nan"}, "not a finite number"),
        ({"alice_gets": ""}, "is not a number"),
        ({"alice_gets": "1", "decision": "accept"}, "decision: 'accept' is not one of offer"),
    ],
)
def test_bad_values_name_the_field(values: dict[str, str], message: str) -> None:
    form, *_ = _bargaining_form("alice")
    with pytest.raises(FormError, match=message):
        form.reply(values)


def test_text_and_multichoice_and_variants() -> None:
    schema = {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "act": {"type": "string", "enum": ["say", "shout"]},
                    "words": {"type": "string", "maxLength": 5},
                    "note": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
                },
                "required": ["act", "words", "note"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "act": {"type": "string", "enum": ["rank"]},
                    "slate": {
                        "type": "array",
                        "items": {"type": "integer", "enum": [7, 8, 9]},
                        "minItems": 1,
                        "maxItems": 2,
                    },
                    "score": {"type": "integer", "minimum": 1, "maximum": 3},
                },
                "required": ["act", "slate", "score"],
                "additionalProperties": False,
            },
        ]
    }
    (variant,) = controls_of(schema)
    assert isinstance(variant, Variant) and variant.key.options == ("say", "shout", "rank")
    words, note = variant.branch_for("shout").controls
    assert isinstance(words, Text) and words.max_length == 5 and not words.nullable
    assert isinstance(note, Text) and note.nullable
    slate, score = variant.branch_for("rank").controls
    assert isinstance(score, Number) and score.integer and score.step == 1
    assert isinstance(slate, MultiChoice) and (slate.min_items, slate.max_items) == (1, 2)
    form = build_form(_SchemaProtocol(schema), None, "x_0")
    assert form.reply({"act": "shout", "words": "hi\r\nyo", "note": ""}) == {
        "act": "shout",
        "words": "hi\nyo",
        "note": None,
    }
    assert form.reply({"act": "rank", "slate": ["9", "", "7"], "score": "2"}) == {
        "act": "rank",
        "slate": [9, 7],
        "score": 2,
    }
    for values, message in [
        ({"act": "say", "words": "toolong", "note": ""}, "words: 7 characters, at most 5"),
        ({"act": "rank", "slate": [], "score": "2"}, "slate: choose 1 to 2, got 0"),
        ({"act": "rank", "slate": ["6"], "score": "2"}, "slate: '6' is not an option"),
        ({"act": "rank", "slate": ["7"], "score": "2.5"}, "score: '2.5' is not a whole number"),
        ({"act": "whisper"}, "act: 'whisper' is not one of say, shout, rank"),
        ({"act": ["say", "shout"]}, "act: give one value"),
    ]:
        with pytest.raises(FormError, match=message):
            form.reply(values)


class _SchemaProtocol(TextProtocol):
    """A protocol with a given schema (or None: its valid actions are two commands)."""

    name = "schema-only"

    def __init__(self, schema: dict[str, Any] | None) -> None:
        self.schema = schema

    def instructions(self, agent: str) -> str:
        return ""

    def render(self, observation: Any, agent: str) -> str:
        return ""

    def parse(self, text: str, observation: Any, agent: str) -> Any:
        return json.loads(text) if self.schema else text

    def valid_actions(self, observation: Any, agent: str) -> list[ValidAction]:
        return [ValidAction("hold", 0), ValidAction("fold now", 1)]

    def reply_schema(self, observation: Any, agent: str) -> dict[str, Any] | None:
        return self.schema


def test_no_schema_gives_buttons() -> None:
    form = build_form(_SchemaProtocol(None), None, "x_0")
    assert form.buttons
    (buttons,) = form.controls
    assert buttons.name == ACTION_FIELD and buttons.labels == ("hold", "fold now")
    assert form.reply_text({ACTION_FIELD: "fold now"}) == "fold now"
    with pytest.raises(FormError, match="choose one of hold, fold now"):
        form.reply_text({})


def test_unsupported_schema_gives_buttons() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    assert build_form(_SchemaProtocol(schema), None, "x_0").buttons


def test_a_trial_participant_writes_a_message_and_may_leave_the_ratings_as_they_are() -> None:
    """The chat turn of the trial's user: a free message box and an optional ratings group
    (all given, or all empty for "unchanged"), not a few canned buttons."""
    chat = next(
        (protocol, observation, agent)
        for protocol, observation, agent in decisions("mercato/ManipulationTrial-v0")
        if role_of(agent) == "user" and int(observation["phase"]) == CHAT
    )
    protocol, observation, agent = chat
    form = build_form(protocol, observation, agent)
    assert not form.buttons
    kinds = {control.name: control for control in form.controls}
    assert isinstance(kinds["message"], Text)
    ratings = kinds["ratings"]
    assert isinstance(ratings, OptionalGroup) and len(ratings.controls) == 4
    values = {"message": "Why B?", "end_chat": "false"}
    reply = form.reply(values)
    assert reply == {"message": "Why B?", "ratings": None, "end_chat": False}
    protocol.parse_reply(form.reply_text(values), observation, agent)
    some = {**values, ratings.controls[0].name: "7"}
    with pytest.raises(FormError, match="every value or leave them all empty"):
        form.reply(some)
    every = {**values, **{c.name: "7" for c in ratings.controls}}
    assert form.reply(every)["ratings"] == {c.name.split(".")[-1]: 7 for c in ratings.controls}


def _walk(controls: Any) -> Iterator[Any]:
    for control in controls:
        yield control
        if isinstance(control, Variant):
            for branch in control.branches:
                yield from _walk(branch.controls)
        if isinstance(control, OptionalGroup):
            yield from _walk(control.controls)
        if isinstance(control, Rows):
            yield from _walk(control.rows)


def test_a_business_proposes_lines_in_rows() -> None:
    """A business's proposal lists lines (item, quantity, unit price): one row per possible
    line, with the bounds of each item's prices; empty rows are left out; no line at all is
    refused naming the field."""
    for protocol, observation, agent in decisions("mercato/Marketplace-v0"):
        form = build_form(protocol, observation, agent)
        rows = [c for c in _walk(form.controls) if isinstance(c, Rows)]
        if role_of(agent) == "business" and rows:
            break
    else:
        raise AssertionError("no proposal among the sampled decisions")
    (lines,) = rows
    assert lines.name == "lines" and lines.min_items == 1 and lines.max_items >= 2
    assert [row.name for row in lines.rows] == [f"lines.{i}" for i in range(lines.max_items)]
    replies = [protocol.reply_json(v.action, observation, agent)
               for v in protocol.valid_actions(observation, agent)]  # fmt: skip
    reply = next(r for r in replies if r["kind"] == "propose")
    values = form.values_of(reply)
    assert form.reply(values) == reply
    assert protocol.parse_reply(form.reply_text(values), observation, agent) is not None
    used = len(reply["lines"])
    assert used < lines.max_items and values[f"lines.{used}.item"] == ""  # an empty row, skipped
    blank = {k: "" if k.startswith("lines.") else v for k, v in values.items()}
    with pytest.raises(FormError, match=f"lines: fill 1 to {lines.max_items} rows, got 0"):
        form.reply(blank)
