"""One check every protocol's structured replies must pass, at any observation.

- the schema is a valid JSON Schema (Draft 2020-12);
- every valid action's `reply_json` is admitted by the schema and parses back to that action;
- every random instance of the schema parses to an action (what any constrained decoder may say);
- numbers outside their bounds are rejected by the schema.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import numpy as np
from gymnasium.utils.env_checker import data_equivalence

from envs.core.protocol import TextProtocol
from sim.llm.schema_sample import sample_instance


def check_structured(
    protocol: TextProtocol,
    observation: Any,
    agent: str,
    rng: np.random.Generator,
    samples: int = 20,
) -> dict[str, Any]:
    """Run every check at one decision; return the schema (for further assertions)."""
    schema = protocol.reply_schema(observation, agent)
    assert schema is not None, f"{protocol.name}: no reply schema for {agent}"
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for valid in protocol.valid_actions(observation, agent):
        data = protocol.reply_json(valid.action, observation, agent)
        errors = list(validator.iter_errors(data))
        assert not errors, f"{protocol.name}: {valid.label!r} as {data} breaks the schema: {errors}"
        parsed = protocol.parse(json.dumps(data), observation, agent)
        assert data_equivalence(parsed, valid.action), (valid.label, data, parsed, valid.action)
    for _ in range(samples):
        data = sample_instance(schema, rng)
        assert not list(validator.iter_errors(data)), data
        protocol.parse(json.dumps(data), observation, agent)  # must not raise
    for data, path, bound in _out_of_bounds(schema, rng):
        assert list(validator.iter_errors(data)), f"{path} = {bound} was admitted: {data}"
    return schema


def _out_of_bounds(schema: dict[str, Any], rng: np.random.Generator) -> list[tuple[Any, str, Any]]:
    """Instances with one bounded number pushed past its bound (one per bounded field)."""
    found = []
    for variant in schema.get("anyOf", [schema]):
        if variant.get("type") != "object":
            continue
        base = sample_instance(variant, rng)
        for name, sub in variant.get("properties", {}).items():
            if sub.get("type") in ("number", "integer"):
                for key, step in (("maximum", 1), ("minimum", -1)):
                    if key in sub:
                        bad = copy.deepcopy(base)
                        bad[name] = sub[key] + step
                        found.append((bad, name, bad[name]))
    return found
