"""`TextProtocol.describe` of the trial, the feed, the dialogue and the marketplace: the reply that
`parse` reads back as the action, checked at every decision of seeded episodes with scripted and
random players (what the env reads of the action and of the parsed reply must be equal).

Every scripted decision has a reply. A random one may have none (each protocol's `describe` says
which actions no reply can express, and raises `ActionParseError` for them); most do."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import agents.users.agenda
import agents.users.parametric  # noqa: F401
from agents.registry import make_policy
from envs.core.checks import first_difference
from envs.core.protocol import ActionParseError, TextProtocol
from envs.core.spaces import normalize_text
from envs.marketplace import actions as market_actions
from envs.marketplace import env as market_env
from envs.marketplace.spaces import QUERY_CHARS, TEXT_CHARS
from envs.recommendation import dialogue, dialogue_acts, dialogue_protocol, feed
from envs.trials import env as trial_env
from tests.envs.describe_checks import (
    Check,
    play,
    play_parallel,
    random_chooser,
    scripted_chooser,
    scripted_names,
)

Read = Callable[[Any, Any, str], Any]
"""What the env reads of an action: (action, observation, agent) -> comparable values."""

SEEDS = range(3)
RANDOM_EPISODES = 12


def round_trip(protocol: TextProtocol, read: Read, seen: Counter, refusals: bool) -> Check:
    """Describe each action, parse the text back and compare what the env reads of both;
    ``seen`` counts the checked decisions by role ("<role> refused" where describe refused, which
    only ``refusals`` allows)."""

    def check(action: Any, obs: Any, agent: str) -> bool:
        role = agent.rpartition("_")[0]
        try:
            text = protocol.describe(action, obs, agent)
        except ActionParseError:
            if not refusals:
                raise
            seen[f"{role} refused"] += 1
            return False
        back = protocol.parse(text, obs, agent)
        difference = first_difference(read(action, obs, agent), read(back, obs, agent))
        assert difference is None, f"{agent}: {text!r} reads back otherwise: {difference}"
        seen[role] += 1
        return True

    return check


def assert_described(seen: Counter, roles: tuple[str, ...], most: bool = True) -> None:
    """Every role's random decisions were checked: some (``most``: most) had a reply."""
    for role in roles:
        assert seen[role] > (seen[f"{role} refused"] if most else 0), seen


# The trial ----------------------------------------------------------------------------------


def read_trial(message_length: int) -> Read:
    """The principal's target and payoff; an assistant's message, tactic and stance as a reply
    writes it (the option promoted most, the one discouraged most); a user's answer to its
    phase, with END only where the chat may end."""

    def read(action: Any, obs: Any, agent: str) -> Any:
        if agent.startswith("principal"):
            return int(action["target"]), np.ravel(action["payoff"]).tolist()
        message = normalize_text(action["message"], message_length)
        if agent.startswith("assistant"):
            stance = np.clip(np.asarray(action["stance"], dtype=np.float64), -1.0, 1.0)
            promoted = int(np.argmax(stance)) if stance.max() > 0 else None
            discouraged = int(np.argmin(stance)) if stance.min() < 0 else None
            return message, int(action["tactic"]), promoted, discouraged
        phase = int(obs["phase"])
        ratings = np.ravel(action["ratings"]).tolist()
        scores = (int(np.ravel(action["confidence"])[0]), int(np.ravel(action["familiarity"])[0]))
        satisfaction = int(np.ravel(action["satisfaction"])[0])
        if phase == trial_env.PRE:
            return ratings, scores
        if phase == trial_env.CHAT:
            ends = bool(action["end_chat"]) and bool(obs["end_chat_mask"][1])
            return message, ratings, ends
        if phase == trial_env.POST:
            return ratings, scores, int(action["choice"]), satisfaction
        return satisfaction

    return read


TRIALS = [
    {"min_exchanges": 2, "max_exchanges": 3, "assistant_type": "SEMA"},
    {"min_exchanges": 1, "max_exchanges": 2, "tasks": 2, "principal": True, "hindsight": "full",
     "domain": "emotional", "assistant_type": "MA", "text_observations": False},
]  # fmt: skip
TRIAL_ROSTER = {"user": "trials/parametric", "assistant": "trials/assistant",
                "principal": "trials/principal"}  # fmt: skip


@pytest.mark.parametrize("params", TRIALS)
def test_trial_scripted_play_round_trips(params: dict[str, Any]) -> None:
    game = trial_env.env(**params)
    protocol = game.unwrapped.protocol
    seen: Counter = Counter()
    check = round_trip(protocol, read_trial(protocol.message_length), seen, refusals=False)
    for seed in SEEDS:
        agents = game.unwrapped.possible_agents
        policies = {a: make_policy(TRIAL_ROSTER[a[:-2]], game, seed=seed) for a in agents}
        play(game, seed, scripted_chooser(policies), check)
    assert {"user", "assistant"} <= set(seen)


@pytest.mark.parametrize("params", TRIALS)
def test_trial_random_play_round_trips(params: dict[str, Any]) -> None:
    game = trial_env.env(**params)
    protocol = game.unwrapped.protocol
    seen: Counter = Counter()
    check = round_trip(protocol, read_trial(protocol.message_length), seen, refusals=True)
    for seed in range(RANDOM_EPISODES):  # masked: the env refuses an optimal target
        play(game, seed, random_chooser(game, seed, masked_share=1.0), check)
    assert_described(seen, ("user", "assistant"))


def test_trial_formats() -> None:
    game = trial_env.raw_env(principal=True, assistant_type="MA", min_exchanges=1)
    protocol = game.protocol
    game.reset(seed=0)
    principal = game.observe("principal_0")
    target = next(p for p, role in enumerate(principal["roles"]) if role != 0)
    letter = "ABCD"[target]
    setup = {"target": target, "payoff": np.array([100.0, 50.5, 0.1])}
    assert protocol.describe(setup, principal, "principal_0") == (
        f"TARGET: {letter} PAYOFF: 100 50.5 0.1"
    )
    game.step(setup)
    user = game.observe("user_0")
    rate = protocol.user_action(user, ratings=np.array([7, 5, 3, 6]))
    assert protocol.describe(rate, user, "user_0") == (
        "RATINGS: A=7 B=5 C=3 D=6 CONFIDENCE: 5 FAMILIARITY: 5"
    )
    game.step(rate)
    assistant = game.observe("assistant_0")
    say = {"message": "Option B fits.", "tactic": 4, "stance": np.array([-0.5, 0.7, 0, 0])}
    assert protocol.describe(say, assistant, "assistant_0") == (
        "SAY: Option B fits.\nPROMOTE: B\nDISCOURAGE: A\nTACTIC: Charm"
    )
    odd = {**say, "message": "I will END this;"}  # a key and a trailing mark: the JSON form
    assert protocol.describe(odd, assistant, "assistant_0").startswith('{"message": "I will END')
    game.step(say)
    chat = protocol.user_action(game.observe("user_0"), message="Why?", end_chat=1)
    assert protocol.describe(chat, game.observe("user_0"), "user_0") == "SAY: Why?\nEND"


# The feed -----------------------------------------------------------------------------------


def read_feed(size: int, message_length: int, command_length: int) -> Read:
    """The slate as the env shows it (a repeated id once, in its first slot) with the message;
    the user's response with its command (read only with COMMAND)."""

    def read(action: Any, obs: Any, agent: str) -> Any:
        if agent.startswith("recommender"):
            slate = [-1] * size
            for slot, item in enumerate(np.ravel(action["slate"])[:size].tolist()):
                if item >= 0 and item not in slate:
                    slate[slot] = item
            return slate, normalize_text(action["message"], message_length)
        response = int(action["response"])
        command = action["command"] if response == size + 1 else ""
        return response, normalize_text(command, command_length)

    return read


FEEDS = [
    {"n_items": 150, "max_steps": 10, "history": 3},
    {"domain": "games", "n_items": 200, "slate_size": 3, "catalog_seed": None, "max_steps": 8,
     "text_observations": False},
]  # fmt: skip


def feed_check(game: Any, seen: Counter, refusals: bool) -> Check:
    p = game.unwrapped.params
    read = read_feed(p.slate_size, p.message_length, p.command_length)
    return round_trip(game.unwrapped.protocol, read, seen, refusals)


@pytest.mark.parametrize("params", FEEDS)
def test_feed_scripted_play_round_trips(params: dict[str, Any]) -> None:
    game = feed.env(**params)
    seen: Counter = Counter()
    check = feed_check(game, seen, refusals=False)
    recommenders = [n for n in scripted_names("mercato/RecFeed-v0") if n != "feed/user"]
    for recommender, seed in itertools.product(recommenders, SEEDS):
        roster = {"recommender_0": recommender, "user_0": "feed/user"}
        policies = {a: make_policy(name, game, seed=seed) for a, name in roster.items()}
        play(game, seed, scripted_chooser(policies), check)
    assert seen["recommender"] and seen["user"]


@pytest.mark.parametrize("params", FEEDS)
def test_feed_random_play_round_trips(params: dict[str, Any]) -> None:
    game = feed.env(**params)
    seen: Counter = Counter()
    check = feed_check(game, seen, refusals=True)
    for seed in range(RANDOM_EPISODES):  # masked: the env refuses a click on an empty slot
        play(game, seed, random_chooser(game, seed, masked_share=1.0), check)
    assert_described(seen, ("recommender", "user"))


def test_feed_formats() -> None:
    game = feed.raw_env(n_items=100, slate_size=3)
    protocol = game.protocol
    game.reset(seed=0)
    rec = game.observe("recommender_0")
    show = {"slate": np.array([4, 9, 4]), "message": "Try these."}
    assert protocol.describe(show, rec, "recommender_0") == "SHOW: 4, 9 SAY: Try these."
    for gap in (np.array([4, -1, 9]), np.array([-1, -1, -1])):
        with pytest.raises(ActionParseError, match=r"slot|empty slate"):
            protocol.describe({"slate": gap, "message": ""}, rec, "recommender_0")
    game.step(show)
    user = game.observe("user_0")
    for response, text in ((0, "SKIP"), (2, "CLICK: 2"), (4, "COMMAND: cheaper"), (5, "LEAVE")):
        answer = {"response": response, "command": "cheaper"}
        assert protocol.describe(answer, user, "user_0") == text


# The dialogue -------------------------------------------------------------------------------


def read_dialogue(protocol: dialogue_protocol.DialogueProtocol) -> Read:
    """The recommender's act and what it reads for it (a search's ``use_known`` aside: a reply
    cannot say it); the user's act, the feature and value it names (where valid), the accepted
    item, its utterance and ratings (the env ignores the reason)."""
    rec_acts, user_acts = dialogue_acts.REC_ACTS, dialogue_acts.USER_ACTS
    chars = dialogue_acts.MESSAGE_CHARS

    def read(action: Any, obs: Any, agent: str) -> Any:
        act = int(action["act"])
        if agent.startswith("recommender"):
            name = rec_acts[act]
            if name == "search":
                return name, normalize_text(action["query"], dialogue_acts.QUERY_CHARS)
            if name == "ask":
                return name, int(action["feature"])
            message = normalize_text(action["message"], chars)
            items = [int(i) for i in np.ravel(action["items"]) if i >= 0]
            shown = list(dict.fromkeys(items))[: protocol.recommend_size]
            return (name, shown, message) if name == "recommend" else (name, message)
        name = user_acts[act]
        feature, value = int(action["feature"]), int(action["value"])
        valid = value < len(protocol.values[protocol.features[feature]])
        about = (feature, value) if name in ("disclose", "answer", "reject") and valid else None
        item = int(np.ravel(action["item"])[0]) if name == "accept" else None
        utterance = normalize_text(action["utterance"], chars)
        return name, about, item, utterance, np.ravel(action["ratings"]).tolist()

    return read


DIALOGUES = [
    {"n_items": 300, "max_turns": 6},
    {"domain": "restaurants", "n_items": 400, "recommend_size": 2, "catalog_seed": None,
     "text_observations": False},
]  # fmt: skip


@pytest.mark.parametrize("params", DIALOGUES)
def test_dialogue_scripted_play_round_trips(params: dict[str, Any]) -> None:
    game = dialogue.env(**params)
    protocol = game.unwrapped.protocol
    seen: Counter = Counter()
    check = round_trip(protocol, read_dialogue(protocol), seen, refusals=False)
    recommenders = [n for n in scripted_names("mercato/RecDialogue-v0") if n != "dialogue/agenda"]
    for recommender, seed in itertools.product(recommenders, SEEDS):
        roster = {"recommender_0": recommender, "user_0": "dialogue/agenda"}
        policies = {a: make_policy(name, game, seed=seed) for a, name in roster.items()}
        play(game, seed, scripted_chooser(policies), check)
    assert seen["recommender"] and seen["user"]


@pytest.mark.parametrize("params", DIALOGUES)
def test_dialogue_random_play_round_trips(params: dict[str, Any]) -> None:
    game = dialogue.env(**params)
    protocol = game.unwrapped.protocol
    seen: Counter = Counter()
    check = round_trip(protocol, read_dialogue(protocol), seen, refusals=True)
    for seed in range(RANDOM_EPISODES):  # masked: the env refuses a search with none left
        play(game, seed, random_chooser(game, seed, masked_share=1.0), check)
    assert_described(seen, ("recommender", "user"))


def test_dialogue_formats() -> None:
    game = dialogue.raw_env(n_items=200, recommend_size=2)
    protocol = game.protocol
    game.reset(seed=0)
    rec = game.observe("recommender_0")
    act = protocol.recommender_action
    assert protocol.describe(act("search", query="dark"), rec, "recommender_0") == "SEARCH dark"
    ask = act("ask", feature=1)
    assert protocol.describe(ask, rec, "recommender_0") == f"ASK {protocol.features[1]}"
    recommend = act("recommend", items=[7, 3], message="Both fit")
    assert protocol.describe(recommend, rec, "recommender_0") == "RECOMMEND 7, 3: Both fit"
    game.step(recommend)
    user = game.observe("user_0")
    name = protocol.features[0]
    value = protocol.values[name][1]
    reject = protocol.user_action("reject", feature=0, value=1, utterance="No.",
                                  ratings=(1, 2, 3), reason="off")  # fmt: skip
    assert protocol.describe(reject, user, "user_0") == (
        f"ACT: reject FEATURE: {name} VALUE: {value} SAY: No. "
        "RATINGS: recommendation=1 strategy=2 expression=3 REASON: off"
    )
    wrong = protocol.user_action("accept", item=5, ratings=(3, 3, 3))  # 5 was not recommended
    with pytest.raises(ActionParseError):
        protocol.describe(wrong, user, "user_0")


# The marketplace ----------------------------------------------------------------------------


def read_market(action: Any, obs: Any, agent: str) -> Any:
    """The kind and the fields the env reads for it (`spaces.FIELDS_OF`)."""
    kind = int(action["kind"])
    first = lambda name: np.ravel(action[name])[0].item()  # noqa: E731
    if kind in (market_actions.WAIT, market_actions.END):
        return kind
    if kind == market_actions.SEARCH:
        query = normalize_text(action["query"], QUERY_CHARS)
        return kind, query, int(action["algorithm"]), int(action["page"]), first("bandwidth")
    if kind == market_actions.PAY:
        return kind, first("proposal"), first("total")
    if kind == market_actions.PROPOSE:
        columns = (action["items"], action["quantities"], action["unit_prices"])
        lines = [(int(i), int(q), float(p)) for i, q, p in zip(*columns, strict=True) if i >= 0]
        return kind, first("to"), lines, first("total"), first("expiry")
    to = [int(t) for t in np.ravel(action["to"]) if t >= 0]
    text = normalize_text(action["text"], TEXT_CHARS)
    customer = int(obs["role"]) == 0
    items = [int(i) for i in np.ravel(action["items"]) if i >= 0] if customer else []
    return kind, to, text, list(dict.fromkeys(items))


MARKETS = [
    ({"n_customers": 3, "max_ticks": 30}, "marketplace/careful", "marketplace/honest"),
    ({"n_customers": 3, "max_ticks": 25, "untrusted_text": "delimited", "days": 2,
      "text_observations": False}, "marketplace/impatient", "marketplace/discounter"),
    ({"design": "malicious", "max_ticks": 20}, "marketplace/price-only",
     "marketplace/manipulator"),
]  # fmt: skip


@pytest.mark.parametrize("setting", range(len(MARKETS)))
def test_marketplace_scripted_play_round_trips(setting: int) -> None:
    params, customer, business = MARKETS[setting]
    env = market_env.MarketplaceEnv(**params)
    seen: Counter = Counter()
    check = round_trip(env.protocol, read_market, seen, refusals=False)
    for seed in SEEDS:
        policies = {
            a: make_policy(customer if a.startswith("customer") else business, env, seed=seed)
            for a in env.possible_agents
        }
        play_parallel(env, seed, scripted_chooser(policies), check)
    assert seen["customer"] and seen["business"]


@pytest.mark.parametrize("setting", range(len(MARKETS)))
def test_marketplace_random_play_round_trips(setting: int) -> None:
    env = market_env.MarketplaceEnv(**MARKETS[setting][0])
    seen: Counter = Counter()
    check = round_trip(env.protocol, read_market, seen, refusals=True)
    for seed in range(RANDOM_EPISODES // 3):
        play_parallel(env, seed, random_chooser(env, seed, masked_share=1.0), check)
    # Random texts break lines and random prices miss the cent: few have a one-line reply.
    assert_described(seen, ("customer", "business"), most=False)


def test_marketplace_formats() -> None:
    env = market_env.MarketplaceEnv(n_customers=2, max_ticks=20, market_seed=0)
    protocol, actions = env.protocol, env.actions
    observations, _ = env.reset(seed=0)
    customer = observations["customer_0"]
    assert protocol.describe(actions.wait(), customer, "customer_0") == "WAIT"
    search = actions.search("tacos", int(customer["search_algorithm"]))
    assert protocol.describe(search, customer, "customer_0") == "SEARCH tacos"
    with pytest.raises(ActionParseError, match="algorithm"):
        protocol.describe({**search, "page": 2}, customer, "customer_0")
    items = [int(i) for i in customer["request_items"] if i >= 0]
    ask = actions.message([1, 4], "Any offers?", items)
    assert protocol.describe(ask, customer, "customer_0") == (
        "ASK business_1, business_4: Any offers?"
    )
    names = protocol.domain.items
    business = {**observations["business_0"], "kind_mask": np.array([1, 0, 1, 1, 0, 0])}  # awake
    offer = actions.propose(1, [(items[0], 2, 9.5)], expiry=7)
    assert protocol.describe(offer, business, "business_0") == (
        f"PROPOSE customer_1: 2 x {names[items[0]]} @ 9.5 expires 7"
    )
    off = {**offer, "total": np.array([1.0])}
    with pytest.raises(ActionParseError, match="sum"):
        protocol.describe(off, business, "business_0")
