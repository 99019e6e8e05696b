"""What LLM players of the recommendation dialogue and the feed are shown, and what they may answer.

At decisions reached by scripted play with fixed seeds, for every role: the prompt shows each
observation field the role acts on (values read from the observation), hides what the role must
not see, states the answer format once, and budgets enough tokens for the longest valid reply
(measured with the bundled SmolLM2 tokenizer) plus room for its free text; lenient replies parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import agents.scripted
import agents.users  # noqa: F401  (registers the players)
from agents.registry import make_policy
from envs.core.protocol import ActionParseError
from envs.recommendation import dialogue, dialogue_acts, dialogue_protocol, feed, feed_protocol
from envs.recommendation.need import STYLES
from tests.agents.prompt_checks import assert_format_once, assert_hides, assert_shows, prompt_of
from tests.envs.recommendation.test_commands import toy_catalog
from tests.envs.recommendation.test_dialogue import factorial_catalog

REC, USER = "recommender_0", "user_0"
DIALOGUES = (
    ({"n_items": 300, "max_turns": 6}, "dialogue/elimination"),
    ({"domain": "games", "n_items": 400, "recommend_size": 2}, "dialogue/retrieval"),
    ({"domain": "restaurants", "n_items": 2000, "max_turns": 4}, "dialogue/popular"),
    ({"catalog": factorial_catalog(), "recommend_size": 3, "max_turns": 8}, "dialogue/elimination"),
)  # fmt: skip
FEEDS = (
    ({"n_items": 300, "max_steps": 8}, "feed/satisfaction"),
    ({"domain": "games", "n_items": 2000, "slate_size": 4, "max_steps": 6}, "feed/clickbait"),
    ({"domain": "restaurants", "n_items": 500, "max_steps": 8}, "feed/popular"),
    ({"catalog": toy_catalog(), "slate_size": 4, "max_steps": 8, "churn_hazard": 0.0},
     "feed/random"),
)  # fmt: skip
DIALOGUE_FORMAT = {
    REC: ("SEARCH <query>", "ASK <feature>", "RECOMMEND <item id>, <item id>", "SAY <message>"),
    USER: ("ACT: <act>", "RATINGS: recommendation=<0-5>", "RATINGS rate the recommender"),
}
FEED_FORMAT = {
    REC: ("SHOW: <up to",),
    USER: ("CLICK: <slot number> | SKIP | COMMAND: <your request in words> | LEAVE",),
}


@pytest.fixture(scope="module")
def tokens():
    """Token count of a text in the bundled SmolLM2 tokenizer."""
    from transformers import AutoTokenizer

    from sim.llm.model_store import DEFAULT_MODEL, require_model

    tokenizer = AutoTokenizer.from_pretrained(require_model(DEFAULT_MODEL))
    return lambda text: len(tokenizer.encode(text))


def decisions(make_env: Any, params: dict[str, Any], recommender: str, user: str,
              seeds: range) -> Iterator[tuple[Any, str, Any]]:  # fmt: skip
    """(env, agent, observation) at every decision of scripted episodes, before the move."""
    game = make_env(**params)
    for seed in seeds:
        game.reset(seed=seed)
        players = {REC: make_policy(recommender, game, seed=seed),
                   USER: make_policy(user, game, seed=seed + 100)}  # fmt: skip
        for agent in game.agent_iter():
            observation, _, terminated, truncated, _ = game.last()
            if terminated or truncated:
                game.step(None)
                continue
            yield game.unwrapped, agent, observation
            game.step(players[agent].act(observation, agent))


def spaced(name: str) -> str:
    return name.replace("_", " ")


def signed(score: float) -> str:
    return f"{round(float(score), 1) + 0.0:+.1f}"


# Recommendation dialogue -------------------------------------------------------------------------


def dialogue_recommender_facts(game: Any, seen: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "turn": f"Turn {int(seen['turn']) + 1} of",
        "searches_left": f"Searches left this turn: {int(seen['searches_left'])}",
        "matches": f"fit everything the user said: {int(seen['matches'][0])}",
    }
    for name in game.features:
        facts[f"feature {name}"] = name
    for name, code in zip(game.features, seen["known"], strict=True):
        if code >= 0:
            facts[f"known {name}"] = f"{name}={game.values[name][int(code)]}"
    for i in seen["results"][seen["results"] >= 0]:
        facts[f"result {i}"] = f"[{int(i)}]"
    for i in seen["rejected"][seen["rejected"] >= 0]:
        facts[f"rejected {i}"] = str(int(i))
    act = int(seen["last_act"])
    if act < len(dialogue_acts.USER_ACTS):
        facts["last_act"] = f"last act: {dialogue_acts.USER_ACTS[act]}"
        if dialogue_acts.USER_ACTS[act] in dialogue_acts.FEATURE_ACTS:
            name = game.features[int(seen["last_feature"])]
            facts["last_value"] = f"({name}: {game.values[name][int(seen['last_value'])]})"
    return facts


def dialogue_user_facts(game: Any, seen: Any) -> dict[str, Any]:
    target = int(seen["target"][0])
    facts: dict[str, Any] = {
        "target": f'"{game.catalog.titles[target]}"',
        "patience": f"give up after about {int(seen['patience'][0])} turns",
        "pickiness": f"{float(seen['pickiness'][0]):.2f}",
        "style": f"Your style: {STYLES[int(seen['style'])]}",
        "turn": f"turn {int(seen['turn']) + 1}",
    }
    for name, code in zip(game.features, seen["need"], strict=True):
        facts[f"need {name}"] = f"{spaced(name)}: {game.values[name][int(code)]}"
    first = game.features[int(seen["agenda"][0])]  # the need is listed in agenda order
    facts["agenda"] = (
        f"({spaced(first)}: {game.values[first][int(seen['need'][seen['agenda'][0]])]}"
    )
    if int(seen["asked"]) < len(game.features):
        facts["asked"] = f"asked about: {spaced(game.features[int(seen['asked'])])}"
    recommended = [int(i) for i in seen["recommended"] if i >= 0]
    if recommended:
        facts["recommended"] = ", ".join(map(str, recommended))
    for row, item in enumerate(recommended):
        codes = seen["recommended_features"][row]
        last = game.features[-1]
        facts[f"item {item}"] = f"[{item}] {game.catalog.titles[item]}"
        facts[f"item {item} {last}"] = f"{last}: {game.values[last][int(codes[-1])]}"
    for scale in dialogue_acts.SCALES:
        facts[f"scale {scale}"] = f"- {scale}:"
    facts["scale range"] = "from 0 to 5"
    for act in dialogue_acts.USER_ACTS:
        facts[f"act {act}"] = f"{act} ("
    return facts


def dialogue_secrets(game: Any) -> dict[str, Any]:
    """What the user's view holds that the recommender must not read."""
    wants = ", ".join(f"{spaced(name)}: {value}" for name, value in game.need.features)
    persona = game.need.persona
    secrets = {
        "need": wants,
        "patience": f"give up after about {persona.patience}",
        "pickiness": f"{persona.pickiness:.2f}",
        "style": f"style: {persona.style}",
        "title quoted": f'"{game.title}"',
    }
    if not (game.retrieved or game.recommended_ever):  # a found target shows in the hits
        secrets["title"] = game.title
        secrets["target"] = f"[{game.need.target}]"
    return secrets


@pytest.mark.parametrize("setting", range(len(DIALOGUES)))
def test_dialogue_prompts_show_what_each_role_acts_on_and_hide_the_need(setting):
    params, recommender = DIALOGUES[setting]
    counts = {REC: 0, USER: 0}
    for game, agent, seen in decisions(dialogue.env, params, recommender, "dialogue/agenda",
                                       range(2)):  # fmt: skip
        prompt = prompt_of(game, seen, agent)
        assert_format_once(prompt, DIALOGUE_FORMAT[agent], agent)
        if agent == REC:
            assert_shows(prompt.user, dialogue_recommender_facts(game, seen), agent)
            assert_hides(prompt.text, dialogue_secrets(game), agent)
        else:
            if params.get("text_observations", True):
                assert_shows(prompt.text, dialogue_user_facts(game, seen), agent)
            assert_hides(prompt.text, {"search hits": "Last search results"}, agent)
        counts[agent] += 1
    assert min(counts.values()) >= 4


def longest_dialogue_replies(game: Any, seen: Any, agent: str) -> list[Any]:
    """Actions of the longest replies: the valid ones now, and the recommendation of the highest
    ids or a rejection naming each feature's longest value."""
    protocol = game.protocol
    actions = [valid.action for valid in protocol.valid_actions(seen, agent)]
    if agent == REC:
        top = range(len(game.catalog) - 1, len(game.catalog) - 1 - protocol.recommend_size, -1)
        return [*actions, protocol.recommender_action("recommend", items=list(top))]
    for feature, name in enumerate(game.features):
        value = max(range(len(game.values[name])), key=lambda v: len(game.values[name][v]))
        rejection = protocol.user_action(
            "reject", feature=feature, value=value, utterance="I'd like it.", ratings=(3, 3, 3),
            reason="ok",
        )  # fmt: skip
        actions.append(rejection)
    return actions


def dialogue_reply_texts(game: Any, seen: Any, agent: str) -> list[str]:
    protocol = game.protocol
    texts = [valid.label for valid in protocol.valid_actions(seen, agent)]
    for action in longest_dialogue_replies(game, seen, agent):
        texts.append(json.dumps(protocol.reply_json(action, seen, agent)))
    return texts


@pytest.mark.parametrize("setting", range(len(DIALOGUES)))
def test_dialogue_reply_budgets_fit_the_longest_reply_and_its_free_text(setting, tokens):
    params, recommender = DIALOGUES[setting]
    room = {
        REC: dialogue_protocol.SAY_TOKENS,
        USER: dialogue_protocol.SAY_TOKENS + dialogue_protocol.REASON_TOKENS,
    }
    for game, agent, seen in decisions(dialogue.env, params, recommender, "dialogue/agenda",
                                       range(1)):  # fmt: skip
        protocol = game.protocol
        texts = dialogue_reply_texts(game, seen, agent)
        longest = max(tokens(text) for text in texts)
        assert protocol.reply_tokens(agent) >= longest + room[agent], (agent, max(texts, key=len))
        stops = protocol.stop_sequences(agent)
        assert stops and not any(stop in text for stop in stops for text in texts)


def test_lenient_dialogue_replies_parse():
    game = dialogue.raw_env(n_items=300, max_turns=6)
    game.reset(seed=1)
    protocol, features = game.protocol, game.features
    seen = game.observe(REC)
    tone = features.index("tone")
    for reply in ("Recommender: ASK tone", "ASK about the tone?", "ask Tone."):
        assert protocol.parse_reply(reply, seen, REC)["feature"] == tone, reply
    with pytest.raises(ActionParseError, match="ASK one of"):
        protocol.parse_reply("ASK about the tone and the era", seen, REC)
    recommended = protocol.parse_reply("RECOMMEND 12, 40: try these\nBoth fit.", seen, REC)
    assert recommended["items"][:2].tolist() == [12, 40] and recommended["message"] == "try these"
    game.step(protocol.recommender_action("recommend", items=[12, 40]))
    seen = game.observe(USER)
    value = game.values["tone"][1]
    reply = protocol.parse_reply(
        f"ACT: Reject. FEATURE: Tone VALUE: {value.title()}. SAY: Not those. RATINGS: 2 3 4 "
        "REASON: wrong mood",
        seen, USER,
    )  # fmt: skip
    assert (reply["act"], reply["feature"], reply["value"]) == (4, tone, 1)
    assert reply["ratings"].tolist() == [2, 3, 4] and reply["utterance"] == "Not those."
    named = protocol.parse_reply(
        "ACT: accept ITEM: 40 SAY: Yes! RATINGS: recommendations=5 strategy: 4 expr=9", seen, USER
    )
    assert int(named["item"][0]) == 40 and named["ratings"].tolist() == [5, 4, 5]
    with pytest.raises(ActionParseError, match="items recommended now: 12, 40"):
        protocol.parse_reply("ACT: accept ITEM: 7 SAY: ok RATINGS: 1 1 1", seen, USER)
    with pytest.raises(ActionParseError, match="RATINGS needs expression"):
        protocol.parse_reply("ACT: inquire RATINGS: recommendation=1 strategy=2", seen, USER)


# Feed --------------------------------------------------------------------------------------------


def feed_recommender_facts(game: Any, seen: Any) -> dict[str, Any]:
    catalog = game.catalog
    facts: dict[str, Any] = {"step": f"step {int(seen['step']) + 1} of"}
    for code in np.flatnonzero(seen["excluded_categories"]):
        facts[f"excluded {code}"] = catalog.category_names[code]
    for code in np.flatnonzero(seen["only_categories"]):
        facts[f"only {code}"] = f"only {catalog.category_names[code]}"
    if seen["price_ceiling"][0]:
        facts["price_ceiling"] = f"under ${seen['price_ceiling'][0]:.2f}"
    if seen["similar_to"][0] >= 0:
        facts["similar_to"] = f"more like [{int(seen['similar_to'][0])}]"
    if seen["different"]:
        facts["different"] = "something different"
    for row, response in enumerate(seen["history_responses"]):
        if response >= 0:
            ids = " ".join(f"[{int(i)}]" for i in seen["history_slates"][row] if i >= 0)
            facts[f"history {row}"] = f"{ids} -> "
    if game.history and game.history[0][2]:
        facts["last command"] = f'said "{game.history[0][2]}"'
    if int(seen["last_command"]) == feed.NOT_UNDERSTOOD:
        facts["last_command"] = "could not read the user's last command"
    shortlist = game.protocol.candidates(seen)[: game.params.text_candidates]
    for item in shortlist[:5]:
        facts[f"candidate {item}"] = f"[{item}] {catalog.titles[item]}"
    return facts


def feed_user_facts(game: Any, seen: Any) -> dict[str, Any]:
    catalog = game.catalog
    facts: dict[str, Any] = {
        "satisfaction": f"{float(seen['satisfaction'][0]):.2f} satisfied",
        "budget": f"${float(seen['budget'][0]):.2f}",
        "step": f"step {int(seen['step']) + 1}",
    }
    for code, name in enumerate(catalog.category_names):
        facts[f"interest {name}"] = f"{name} {signed(seen['interests'][code])}"
    start = 0
    for attribute, values in catalog.attribute_values.items():
        for offset, value in enumerate(values):
            score = seen["value_interests"][start + offset]
            facts[f"interest {attribute}={value}"] = f"{value} {signed(score)}"
        start += len(values)
    fits = []
    for slot, item in enumerate(seen["slate"], start=1):
        if item >= 0:
            facts[f"slot {slot}"] = f"{slot}. [{int(item)}] {catalog.titles[int(item)]}"
            fits.append(f"{slot}: {signed(game.user.fit(catalog, int(item)))}")
    facts["fit"] = "fits your tastes: " + ", ".join(fits)
    if seen["last_click"][0] >= 0:
        facts["last_click"] = f"last click: item [{int(seen['last_click'][0])}]"
    for code in np.flatnonzero(seen["excluded_categories"]):
        facts[f"excluded {code}"] = catalog.category_names[code]
    if seen["price_ceiling"][0]:
        facts["price_ceiling"] = f"under ${seen['price_ceiling'][0]:.2f}"
    return facts


def feed_secrets(game: Any) -> dict[str, Any]:
    """The user's mind, which the recommender must not read."""
    names, interests = game.catalog.category_names, game.user.interests
    favourite = int(np.argmax(interests))
    return {
        "tastes": "Your tastes",
        "interests": f"{names[favourite]} {signed(interests[favourite])}, ",
        "fit": "fits your tastes",
        "satisfaction": f"{game.user.satisfaction:.2f} satisfied",
        "budget": f"budget is about ${game.user.budget:.2f}",
    }


@pytest.mark.parametrize("setting", range(len(FEEDS)))
def test_feed_prompts_show_what_each_role_acts_on_and_hide_the_users_mind(setting):
    params, recommender = FEEDS[setting]
    counts = {REC: 0, USER: 0}
    for game, agent, seen in decisions(feed.env, params, recommender, "feed/user", range(2)):
        prompt = prompt_of(game, seen, agent)
        assert_format_once(prompt, FEED_FORMAT[agent], agent)
        if agent == REC:
            assert_shows(prompt.user, feed_recommender_facts(game, seen), agent)
            assert_hides(prompt.text, feed_secrets(game), agent)
        else:
            assert_shows(prompt.user, feed_user_facts(game, seen), agent)
            assert_hides(prompt.text, {"candidates": "Candidates:"}, agent)
        counts[agent] += 1
    assert min(counts.values()) >= 4


def test_the_feed_recommender_sees_the_users_commands_and_whether_they_were_read():
    game = feed.raw_env(n_items=300)
    game.reset(seed=3)
    protocol = game.protocol
    for command in ("no more romance, under $20", "make it sparkle"):
        game.step(protocol.recommender_action([1, 2, 3]))
        game.step(protocol.user_action(protocol.slate_size + 1, command))
        seen = game.observe(REC)
        text = prompt_of(game, seen, REC).user
        assert_shows(text, {"command": f'said "{command}"'}, REC)
        read = "could not read the user's last command"
        if command.startswith("no more"):
            assert_shows(text, {"request": "no romance; under $20.00"}, REC)
            assert read not in text
        else:
            assert_shows(text, {"not understood": read}, REC)
    user = prompt_of(game, game.observe(USER), USER).user
    assert_shows(user, {"requests": "Your requests so far: no romance; under $20.00"}, USER)


def test_the_users_view_lists_its_recent_slates():
    game = feed.raw_env(n_items=300)
    game.reset(seed=0)
    protocol = game.protocol
    for response, command in ((2, ""), (protocol.slate_size + 1, "cheaper")):
        game.step(protocol.recommender_action([4, 9]))
        game.step(protocol.user_action(response, command))
    game.step(protocol.recommender_action([4, 9]))
    text = prompt_of(game, game.observe(USER), USER).user
    assert text.index("Recent slates") < text.index("Your feed, step 3")
    assert f"[4] [9] -> clicked slot 2: [9] {game.catalog.titles[9]}" in text
    assert '[4] [9] -> said "cheaper"' in text


@pytest.mark.parametrize("setting", range(len(FEEDS)))
def test_feed_reply_budgets_fit_the_longest_reply_and_its_free_text(setting, tokens):
    params, recommender = FEEDS[setting]
    room = {REC: feed_protocol.SAY_TOKENS, USER: feed_protocol.COMMAND_TOKENS}
    for game, agent, seen in decisions(feed.env, params, recommender, "feed/user", range(1)):
        protocol = game.protocol
        valid = protocol.valid_actions(seen, agent)
        actions = [v.action for v in valid]
        if agent == REC:  # the highest ids, as many as a slate holds
            top = range(len(game.catalog) - 1, len(game.catalog) - 1 - protocol.slate_size, -1)
            actions.append(protocol.recommender_action(list(top)))
        texts = [v.label for v in valid]
        texts += [json.dumps(protocol.reply_json(a, seen, agent)) for a in actions]
        longest = max(tokens(text) for text in texts)
        assert protocol.reply_tokens(agent) >= longest + room[agent], (agent, max(texts, key=len))
        stops = protocol.stop_sequences(agent)
        assert stops and not any(stop in text for stop in stops for text in texts)


def test_lenient_feed_replies_parse():
    game = feed.raw_env(n_items=300, slate_size=3)
    game.reset(seed=0)
    protocol = game.protocol
    seen = game.observe(REC)
    shown = protocol.parse_reply("SHOW: [12], [45], [12]\nSAY: picked for you", seen, REC)
    assert shown["slate"].tolist() == [12, 45, -1] and shown["message"] == "picked for you"
    game.step(shown)
    seen = game.observe(USER)
    for reply, response, command in [
        ("skip", 0, ""),
        ("CLICK: slot 2", 2, ""),
        ("I won't leave yet. SKIP", 0, ""),
        ("COMMAND: show me things I won't skip\nI am bored of these.", 4,
         "show me things I won't skip"),
        ("LEAVE. Nothing here for me.", 5, ""),
    ]:  # fmt: skip
        action = protocol.parse_reply(reply, seen, USER)
        assert (action["response"], action["command"]) == (response, command), reply
    with pytest.raises(ActionParseError, match="slot 3 is empty"):
        protocol.parse_reply("CLICK: 3", seen, USER)
