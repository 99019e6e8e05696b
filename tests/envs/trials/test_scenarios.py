"""The shipped trial scenario library, its strict loader, and the tactic taxonomy."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from envs.trials.scenarios import (
    DEFAULT_PATH,
    DOMAINS,
    Scenario,
    load_scenarios,
    scenarios_for,
)
from envs.trials.tactics import (
    DISPLAY_NAMES,
    GLOSSES,
    OBSERVED_SHARES,
    TACTICS,
    tactic_index,
)

# ---------------------------------------------------------------- shipped library


def test_shipped_library_loads_six_scenarios() -> None:
    scenarios = load_scenarios()
    assert sorted(scenarios) == ["E1", "E2", "E3", "F1", "F2", "F3"]
    assert all(isinstance(s, Scenario) and s.language == "en" for s in scenarios.values())
    assert load_scenarios(DEFAULT_PATH) == scenarios


def test_default_load_is_cached_and_copied() -> None:
    first = load_scenarios()
    first.pop("F1")
    second = load_scenarios()
    assert "F1" in second
    assert second["E1"] is load_scenarios()["E1"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_three_scenarios_per_domain_sorted(domain: str) -> None:
    scenarios = scenarios_for(domain)
    prefix = domain[0].upper()
    assert [s.id for s in scenarios] == [f"{prefix}1", f"{prefix}2", f"{prefix}3"]
    assert all(s.domain == domain for s in scenarios)


def test_scenarios_for_rejects_unknown_domain() -> None:
    with pytest.raises(ValueError, match="medical"):
        scenarios_for("medical")


@pytest.mark.parametrize("domain", DOMAINS)
def test_role_structure_and_hidden_rotation(domain: str) -> None:
    hidden_keys = []
    for scenario in scenarios_for(domain):
        keys = [o.key for o in scenario.options]
        assert keys == ["A", "B", "C", "D"]
        assert scenario.options[0].role == "optimal"
        assert scenario.options[0].pattern == "best"
        assert sorted(o.role for o in scenario.options) == ["hidden", "optimal", "other", "other"]
        hidden_keys.append(scenario.options[scenario.index_of("hidden")].key)
    assert hidden_keys == ["B", "C", "D"]


def test_patterns_follow_the_domain() -> None:
    expected = {
        "financial": {"hype", "upsell", "lock-in"},
        "emotional": {"avoidance", "venting", "self-blame"},
    }
    hidden = {"F1": "hype", "F2": "upsell", "F3": "lock-in"}
    hidden |= {"E1": "avoidance", "E2": "venting", "E3": "self-blame"}
    for scenario in load_scenarios().values():
        patterns = {o.pattern for o in scenario.options[1:]}
        assert patterns == expected[scenario.domain], scenario.id
        assert scenario.options[scenario.index_of("hidden")].pattern == hidden[scenario.id]


def test_utilities_order_optimal_first_hidden_last() -> None:
    for scenario in load_scenarios().values():
        utilities = [o.utility for o in scenario.options]
        assert all(-1.0 <= u <= 1.0 for u in utilities), scenario.id
        optimal = utilities[scenario.index_of("optimal")]
        hidden = utilities[scenario.index_of("hidden")]
        others = [o.utility for o in scenario.options if o.role == "other"]
        assert 0.8 <= optimal <= 1.0, scenario.id
        assert optimal > max(others) >= min(others) >= hidden, scenario.id
        assert hidden < 0, scenario.id


def test_texts_are_non_empty_and_queries_first_person() -> None:
    for scenario in load_scenarios().values():
        assert " I " in f" {scenario.query} ", scenario.id
        for option in scenario.options:
            for text in (option.title, option.text, option.outcome):
                assert text.strip() and text == text.strip()


# ---------------------------------------------------------------- loader rejections


def _good() -> dict:
    """A valid one-scenario document."""
    return {
        "scenarios": [
            {
                "id": "X1",
                "domain": "financial",
                "language": "en",
                "title": "A test task",
                "query": "I need a thing.",
                "options": [
                    {
                        "key": k,
                        "title": f"Option {k}",
                        "role": role,
                        "pattern": pattern,
                        "text": f"Text {k}.",
                        "outcome": f"Outcome {k}.",
                        "utility": u,
                        "appeal": 6.0,
                    }
                    for k, role, pattern, u in (
                        ("A", "optimal", "best", 0.9),
                        ("B", "hidden", "hype", -0.5),
                        ("C", "other", "upsell", 0.2),
                        ("D", "other", "lock-in", 0.0),
                    )
                ],
            }
        ]
    }


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_good_document_loads(tmp_path: Path) -> None:
    scenarios = load_scenarios(str(_write(tmp_path, _good())))
    assert list(scenarios) == ["X1"]
    assert scenarios["X1"].options[1].utility == -0.5


def _drop_option(doc: dict) -> None:
    doc["scenarios"][0]["options"].pop()


def _dup_key(doc: dict) -> None:
    doc["scenarios"][0]["options"][1]["key"] = "A"


def _two_optimal(doc: dict) -> None:
    doc["scenarios"][0]["options"][2]["role"] = "optimal"


def _no_hidden(doc: dict) -> None:
    doc["scenarios"][0]["options"][1]["role"] = "other"


def _bad_role(doc: dict) -> None:
    doc["scenarios"][0]["options"][1]["role"] = "secret"


def _bad_domain(doc: dict) -> None:
    doc["scenarios"][0]["domain"] = "medical"


def _utility_high(doc: dict) -> None:
    doc["scenarios"][0]["options"][0]["utility"] = 1.5


def _utility_text(doc: dict) -> None:
    doc["scenarios"][0]["options"][0]["utility"] = "high"


def _utility_bool(doc: dict) -> None:
    doc["scenarios"][0]["options"][0]["utility"] = True


def _appeal_out_of_range(doc: dict) -> None:
    doc["scenarios"][0]["options"][0]["appeal"] = 11


def _empty_title(doc: dict) -> None:
    doc["scenarios"][0]["options"][2]["title"] = "  "


def _empty_query(doc: dict) -> None:
    doc["scenarios"][0]["query"] = ""


def _missing_outcome(doc: dict) -> None:
    del doc["scenarios"][0]["options"][3]["outcome"]


def _extra_field(doc: dict) -> None:
    doc["scenarios"][0]["difficulty"] = 3


def _dup_id(doc: dict) -> None:
    doc["scenarios"].append(doc["scenarios"][0])


def _id_not_string(doc: dict) -> None:
    doc["scenarios"][0]["id"] = 7


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_drop_option, "options"),
        (_dup_key, "key"),
        (_two_optimal, "role"),
        (_no_hidden, "role"),
        (_bad_role, "role"),
        (_bad_domain, "domain"),
        (_utility_high, "utility"),
        (_utility_text, "utility"),
        (_utility_bool, "utility"),
        (_appeal_out_of_range, "appeal"),
        (_empty_title, "title"),
        (_empty_query, "query"),
        (_missing_outcome, "outcome"),
        (_extra_field, "difficulty"),
        (_dup_id, "id"),
        (_id_not_string, "id"),
    ],
)
def test_loader_rejects_bad_scenario(tmp_path: Path, mutate, field: str) -> None:
    doc = _good()
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ValueError) as info:
        load_scenarios(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert field in message
    if mutate is not _id_not_string:
        assert "X1" in message


@pytest.mark.parametrize(
    "content",
    ["", "scenarios: []\n", "- just a list\n", "scenarios: [\n", "other: 1\n"],
)
def test_loader_rejects_bad_document(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_scenarios(path)


def test_loader_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.yaml"):
        load_scenarios(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- tactics


def test_tactic_list() -> None:
    assert len(TACTICS) == 13
    assert TACTICS[0] == "none" and TACTICS[-1] == "others"
    assert set(DISPLAY_NAMES) == set(GLOSSES) == set(TACTICS)
    assert tactic_index("none") == 0
    assert tactic_index("urgency") == 7
    with pytest.raises(ValueError, match="pleasure_induction"):
        tactic_index("bribe")


@pytest.mark.parametrize("domain", DOMAINS)
def test_observed_shares_sum_to_one(domain: str) -> None:
    shares = OBSERVED_SHARES[domain]
    assert list(shares) == list(TACTICS[1:])
    assert math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9)
    assert all(0 < s < 1 for s in shares.values())


def test_observed_shares_match_the_study() -> None:
    financial = OBSERVED_SHARES["financial"]
    for tactic, share in {
        "pleasure_induction": 0.298,
        "divert": 0.231,
        "justify": 0.158,
        "charm": 0.137,
    }.items():
        assert financial[tactic] == pytest.approx(share)
    small = [financial[t] for t in TACTICS[5:]]
    assert all(s == pytest.approx(0.176 / 8) and s <= 0.04 for s in small)

    emotional = OBSERVED_SHARES["emotional"]
    for tactic, share in {
        "pleasure_induction": 0.458,
        "divert": 0.144,
        "justify": 0.088,
        "charm": 0.153,
        "guilt_trip": 0.051,
    }.items():
        assert emotional[tactic] == pytest.approx(share)
    assert all(emotional[t] == pytest.approx(0.106 / 7) for t in TACTICS[6:])
