"""`mercato/RecDialogue-v0`: conformance, determinism, the title never leaks, and the oracles."""

from __future__ import annotations

import numpy as np
import pytest

import agents.scripted
import agents.users  # noqa: F401
from agents.registry import make_policy
from envs.core.checks import check_aec_env
from envs.recommendation.catalog import Catalog
from envs.recommendation.dialogue import USER, env, raw_env


def play(trial, seed: int, recommender: str = "dialogue/elimination", oracle: bool = False):
    trial.reset(seed=seed)
    players = {
        "recommender_0": make_policy(recommender, trial, seed=seed),
        "user_0": make_policy("dialogue/agenda", trial, seed=seed),
    }
    base = trial.unwrapped
    info = {}
    for agent in trial.agent_iter():
        observation, _, done, truncated, info = trial.last()
        if done or truncated:
            trial.step(None)
        elif oracle and agent == "recommender_0":
            target = base.need.target
            trial.step(base.protocol.recommender_action("recommend", items=[target]))
        else:
            trial.step(players[agent].act(observation, agent))
    return info["metrics"], base


@pytest.mark.parametrize(
    "params",
    [
        {"n_items": 200, "max_turns": 5},
        {"domain": "games", "n_items": 300, "catalog_seed": None, "text_observations": False},
    ],
)
def test_conformance(params):
    check_aec_env(lambda: env(**params), num_cycles=60, max_steps=1000)


def test_scripted_dialogues_are_reproducible():
    a = [play(env(n_items=500), seed)[0] for seed in range(5)]
    b = [play(env(n_items=500), seed)[0] for seed in range(5)]
    assert a == b


@pytest.mark.parametrize("domain", ["books", "games", "restaurants"])
def test_the_user_never_says_the_target_title(domain):
    for catalog_seed in (0, 1, 2):
        trial = env(domain=domain, n_items=300, catalog_seed=catalog_seed, max_turns=12)
        for seed in range(10):
            for recommender in ("dialogue/elimination", "dialogue/retrieval"):
                metrics, base = play(trial, seed, recommender)
                title = base.title.lower()
                said = [text.lower() for who, text in base.chat if who == "user"]
                assert said and not any(title in text for text in said)
                assert metrics["leaks"] == 0


def test_a_title_in_an_utterance_is_redacted_and_counted():
    trial = raw_env(n_items=200)
    trial.reset(seed=0)
    trial.step(trial.protocol.recommender_action("respond", message="Hi!"))
    leak = trial.protocol.user_action("inquire", utterance=f"Do you have {trial.title.upper()}?")
    trial.step(leak)
    assert trial.title.lower() not in trial.chat[-1][1].lower() and "[...]" in trial.chat[-1][1]
    assert trial.counts["leaks"] == 1


def test_a_recommender_that_knows_the_target_succeeds_on_turn_one():
    trial = env(n_items=1000)
    for seed in range(20):
        metrics, _ = play(trial, seed, oracle=True)
        assert metrics["success"] == 1.0 and metrics["sr_at_1"] == 1.0
        assert metrics["turns_to_success"] == 1.0


def factorial_catalog() -> Catalog:
    """4 categories x 3 x 3 x 3 attribute values: every item is a unique combination."""
    combos = [(c, a, b, d) for c in range(4) for a in range(3) for b in range(3) for d in range(3)]
    n = len(combos)
    column = np.array(combos)
    return Catalog(
        domain="books", seed=0,
        titles=tuple(f"Book {i}" for i in range(n)),
        descriptions=tuple(f"A book, number {i}." for i in range(n)),
        categories=column[:, 0], category_names=("mystery", "fantasy", "history", "poetry"),
        attributes={"length": column[:, 1], "tone": column[:, 2], "era": column[:, 3]},
        attribute_values={"length": ("short", "medium", "long"),
                          "tone": ("light", "dark", "wry"), "era": ("old", "modern", "future")},
        price=np.full(n, 10.0), quality=np.full(n, 0.5), engagement=np.full(n, 0.5),
        popularity=np.linspace(1.0, 2.0, n),
    )  # fmt: skip


def test_attribute_elimination_needs_at_most_four_turns_on_a_factorial_catalog():
    # 4 features; after asking 3 of them at most 3 items fit, and 3 are recommended at once
    trial = env(catalog=factorial_catalog(), recommend_size=3, patience_low=20, patience_high=20,
                max_turns=20)  # fmt: skip
    for seed in range(30):
        metrics, _ = play(trial, seed)
        assert metrics["success"] == 1.0 and metrics["turns_to_success"] <= 4
        assert metrics["asks"] <= 3


def test_success_at_t_is_monotone_and_metrics_are_complete():
    metrics, _ = play(env(n_items=1000, max_turns=8), seed=3)
    sr = [metrics[f"sr_at_{t}"] for t in range(1, 9)]
    assert sr == sorted(sr)
    for key in ("recall_retrieved", "recall_recommended", "rating_recommendation",
                "rating_strategy", "rating_expression", "turns", "quit"):  # fmt: skip
        assert metrics[key] is not None


def test_bad_parameters_fail_with_one_line():
    with pytest.raises(ValueError, match=r"n_items must be an int in \[100, 100000\]"):
        raw_env(n_items=5)
    with pytest.raises(ValueError, match="domain must be one of"):
        raw_env(domain="movies")
    assert USER == "user_0"
