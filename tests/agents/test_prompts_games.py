"""The economic games' LLM prompts, at the decisions of scripted episodes: each role sees what its
observation holds (offers, messages, history) and nothing it must not know, the answer format is
stated once, the reply budget fits the longest reply, lenient replies parse (ambiguous ones do
not), and both roles of a game get role texts of the same kind."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from agents.prompts import role_prompts
from envs.core.protocol import ActionParseError, protocol_of
from envs.core.text import MESSAGE_TOKENS, dollars
from envs.games.bargaining import raw_env as bargaining_env
from envs.games.bargaining_rules import ALICE, BOB, NAMES
from envs.games.negotiation import raw_env as negotiation_env
from envs.games.negotiation_rules import BUYER as NEGOTIATION_BUYER
from envs.games.negotiation_rules import NAMES as TRADERS
from envs.games.negotiation_rules import SELLER as NEGOTIATION_SELLER
from envs.games.persuasion import raw_env as persuasion_env
from envs.games.persuasion_rules import BUYER, SELLER, UNKNOWN, YES
from tests.agents.prompt_checks import assert_format_once, assert_hides, assert_shows, prompt_of
from tests.envs.games import episodes, negotiation_episodes, persuasion_episodes

M = 1_000_000.0  # GLEE's largest money scale: the longest amounts
BARGAINING = (
    {"money": M, "discount_alice": 0.8, "discount_bob": 0.95, "horizon": 12, "messages": True},
    {"discount_alice": 1.0, "discount_bob": 0.9, "complete_information": False},
    {"discount_alice": 0.9, "discount_bob": 1.0, "horizon": 3, "messages": True},
)
NEGOTIATION = (
    {"money": M, "seller_value_factor": 0.8, "buyer_value_factor": 1.2, "horizon": 10},
    {"seller_value_factor": 1.5, "buyer_value_factor": 1.2, "horizon": 30, "messages": True,
     "complete_information": False},
    {"seller_value_factor": 1.0, "buyer_value_factor": 1.5, "horizon": 5, "messages": True},
)  # fmt: skip
PERSUASION = (
    {"money": M, "p_high": 0.8, "value_high": 3.0, "rounds": 24, "message_type": "text"},
    {"p_high": 1 / 3, "value_high": 1.25, "rounds": 6, "complete_information": False},
    {"p_high": 0.5, "value_high": 2.0, "rounds": 6, "buyer_memory": "myopic",
     "message_type": "text"},
)  # fmt: skip
FORMATS = {
    "bargaining": ("'OFFER alice=<amount> bob=<amount>'", "'ACCEPT' or 'REJECT'",
                   "MESSAGE: <text>"),
    "negotiation": ("'OFFER <price>'", "'ACCEPT', 'REJECT' or 'OUTSIDE'", "MESSAGE: <text>"),
    SELLER: ("'RECOMMEND YES' or 'RECOMMEND NO'", "MESSAGE: <text>"),
    BUYER: ("'BUY' or 'PASS'", "MESSAGE: <text>"),
}  # fmt: skip
EXPLANATION = "I have weighed it up carefully."


@pytest.fixture(scope="module")
def tokens() -> Any:
    from transformers import AutoTokenizer

    from sim.llm.model_store import DEFAULT_MODEL, require_model

    tokenizer = AutoTokenizer.from_pretrained(require_model(DEFAULT_MODEL))
    return lambda text: len(tokenizer(text)["input_ids"])


# Scripted episodes ------------------------------------------------------------------------------


def offer_game_decisions(game: Any, seed: int, offer: Any, replies: Any) -> Iterator[Any]:
    """(env, observation copy, agent) at each decision of an offer game: ``offer(rng, agent,
    round)`` makes each offer, rejected until the last round or the sixth, whose offer is accepted
    (``replies`` holds the game's accept and reject actions)."""
    game.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for agent in game.agent_iter():
        observation, _, terminated, truncated, _ = game.last()
        if terminated or truncated:
            game.step(None)
            continue
        yield game, copy.deepcopy(observation), agent
        round_ = int(observation["round"])
        if observation["decision_mask"][0]:
            action = offer(rng, agent, round_)
        elif round_ >= min(6, game.horizon):
            action = replies.ACCEPT_ACTION
        else:
            action = replies.REJECT_ACTION
        game.step(action)


def bargaining_decisions(params: dict[str, Any], seed: int = 0) -> Iterator[tuple[Any, Any, str]]:
    """Bargaining decisions: whole-percent offers with messages."""

    def offer(rng: Any, agent: str, round_: int) -> Any:
        share = int(rng.integers(1, 100)) / 100
        return episodes.offer(share, f"{NAMES[agent]} in round {round_}")

    return offer_game_decisions(bargaining_env(**params), seed, offer, episodes)


def negotiation_decisions(params: dict[str, Any], seed: int = 0) -> Iterator[tuple[Any, Any, str]]:
    """Negotiation decisions: prices on a whole-hundredth grid with messages."""
    game = negotiation_env(**params)

    def offer(rng: Any, agent: str, round_: int) -> Any:
        price = game.money * int(rng.integers(50, 200)) / 100
        return negotiation_episodes.offer(price, f"{TRADERS[agent]} in round {round_}")

    return offer_game_decisions(game, seed, offer, negotiation_episodes)


def persuasion_decisions(params: dict[str, Any], seed: int = 0) -> Iterator[tuple[Any, Any, str]]:
    """(env, observation copy, agent) at each decision of a whole episode: random
    recommendations and purchases, each with a message naming its round."""
    game = persuasion_env(**params)
    game.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for agent in game.agent_iter():
        observation, _, terminated, truncated, _ = game.last()
        if terminated or truncated:
            game.step(None)
            continue
        yield game, copy.deepcopy(observation), agent
        choice, said = int(rng.integers(2)), f"{agent} in round {int(observation['round'])}"
        if agent == SELLER:
            game.step(persuasion_episodes.recommend(choice, said))
        else:
            game.step(persuasion_episodes.decide(choice, said))


def every_decision() -> Iterator[tuple[str, Any, Any, str]]:
    """(format key, env, observation, agent) at every decision of every scripted episode."""
    for params in BARGAINING:
        for game, observation, agent in bargaining_decisions(params):
            yield "bargaining", game, observation, agent
    for params in NEGOTIATION:
        for game, observation, agent in negotiation_decisions(params):
            yield "negotiation", game, observation, agent
    for params in PERSUASION:
        for game, observation, agent in persuasion_decisions(params):
            yield agent, game, observation, agent


DECISIONS = list(every_decision())


def number(value: float) -> re.Pattern[str]:
    """``value`` written as a whole number in the text, not as part of a longer one."""
    return re.compile(rf"(?<![\d.]){re.escape(value)}(?![\d]|\.\d)")


def assert_no_number(text: str, name: str, value: str, role: str) -> None:
    assert not number(value).search(text), f"{role}: the prompt shows hidden {name} = {value!r}"


def split(money: float, alice_share: float) -> str:
    """A bargaining offer as the prompt writes it."""
    alice = money * alice_share
    return f"Alice {dollars(alice)}, Bob {dollars(money - alice)}"


def listed_rounds(played: int) -> range:
    """The earlier rounds a prompt lists one by one: the latest 20."""
    return range(max(1, played - 19), played + 1)


def offer_history(
    observation: Any, agent: str, first: str, other: str, amount: Callable[[float], str]
) -> dict[str, str]:
    """The line of each listed earlier round of an alternating-offers game, read from the
    observation's ``offers`` and ``offer_messages``: ``first`` proposes in odd rounds, ``other``
    is how the prompt names the other player, ``amount`` writes an offer."""
    lines = {}
    for past in listed_rounds(int(observation["round"]) - 1):
        mine = (past % 2 == 1) == (agent == first)
        offerer, responder = ("you", other) if mine else (other, "you")
        offered = amount(float(observation["offers"][past - 1]))
        line = f"- Round {past}: {offerer} offered {offered}; {responder} rejected it."
        message = observation["offer_messages"][past - 1]
        if message:
            whose = "Your" if mine else f"{other[0].upper()}{other[1:]}'s"
            line += f" {whose} message: {message!r}"
        lines[f"offers[{past - 1}]"] = line
    return lines


# What each role sees -------------------------------------------------------------------------


@pytest.mark.parametrize("params", BARGAINING)
def test_bargaining_players_see_the_state_and_the_history(params: dict[str, Any]) -> None:
    seen = 0
    for game, observation, agent in bargaining_decisions(params):
        user = prompt_of(game, observation, agent).user
        other = NAMES[BOB if agent == ALICE else ALICE]
        money, round_ = float(observation["money"][0]), int(observation["round"])
        share = float(observation["offer"][0])
        facts: dict[str, Any] = {
            "round": f"Round {round_}",
            "money": dollars(money),
            "own_discount": f"Your discount factor is {float(observation['own_discount'][0]):g}",
        }
        if observation["other_discount_known"]:
            theirs = float(observation["other_discount"][0])
            facts["other_discount"] = f"{other}'s discount factor is {theirs:g}"
        else:
            phrases = (f"{other}'s discount factor is", f"costs {other}", f"{other}'s money")
            assert_hides(user, dict(enumerate(phrases)), agent)
        if observation["horizon"]:
            facts["horizon"] = f"round {int(observation['horizon'])} is rejected"
        else:
            assert_hides(user, {"horizon": f"round {game.horizon}"}, agent)
        if round_ > 1 or observation["decision_mask"][1]:
            facts["offer"] = split(money, share)
        facts |= offer_history(observation, agent, ALICE, other, functools.partial(split, money))
        if observation["last_message"]:
            facts["last_message"] = repr(observation["last_message"])
        if observation["decision_mask"][0]:
            facts["decision"] = "Make your offer"
            if observation["messages_allowed"]:
                facts["messages_allowed"] = f"You may add a message to {other}"
        else:
            facts["decision"] = "Accept or reject this offer"
        assert_shows(user, facts, agent)
        seen += 1
    assert seen >= 4


@pytest.mark.parametrize("params", NEGOTIATION)
def test_negotiation_players_see_their_values_and_the_history(
    params: dict[str, Any],
) -> None:
    seen = 0
    for game, observation, agent in negotiation_decisions(params):
        user = prompt_of(game, observation, agent).user
        other = "Buyer" if agent == NEGOTIATION_SELLER else "Seller"
        round_ = int(observation["round"])
        facts: dict[str, Any] = {
            "round": f"Round {round_}",
            "own_value": f"You value the good at {dollars(float(observation['own_value'][0]))}",
        }
        if observation["other_value_known"]:
            theirs = dollars(float(observation["other_value"][0]))
            facts["other_value"] = f"The {other} values it at {theirs}"
        else:
            assert_hides(user, {"other_value": f"The {other} values it"}, agent)
            secret = game.values[NEGOTIATION_BUYER if other == "Buyer" else NEGOTIATION_SELLER]
            shown = (observation["offer"][0], *observation["offers"][: round_ - 1])
            if secret not in shown:
                assert_no_number(user, "the other's value", dollars(secret), agent)
        if observation["horizon"]:
            facts["horizon"] = f"round {int(observation['horizon'])} is rejected"
        else:
            assert_hides(user, {"horizon": f"round {game.horizon}"}, agent)
        if round_ > 1 or observation["decision_mask"][1]:
            facts["offer"] = dollars(float(observation["offer"][0]))
        responding = bool(observation["decision_mask"][1])
        if round_ - (0 if responding else 1) > (1 if agent == NEGOTIATION_SELLER else 2):
            facts["own_offer"] = f"you offered {dollars(float(observation['own_offer'][0]))}"
        facts |= offer_history(observation, agent, NEGOTIATION_SELLER, f"the {other}", dollars)
        if observation["last_message"]:
            facts["last_message"] = repr(observation["last_message"])
        if responding:
            facts["decision"] = "Accept, reject or take the outside option"
        else:
            facts["decision"] = "Name your price"
            if observation["messages_allowed"]:
                facts["messages_allowed"] = f"You may add a message to the {other}"
        assert_shows(user, facts, agent)
        seen += 1
    assert seen >= 4


@pytest.mark.parametrize("params", PERSUASION)
def test_persuasion_players_see_their_values_and_the_record_they_hold(
    params: dict[str, Any],
) -> None:
    seen = {SELLER: 0, BUYER: 0}
    for game, observation, agent in persuasion_decisions(params):
        user = prompt_of(game, observation, agent).user
        price = float(observation["money"][0])
        facts: dict[str, Any] = {
            "round": f"Round {int(observation['round'])} of {int(observation['rounds'])}",
            "money": f"The price is {dollars(price)}",
            "p_high": f"{float(observation['p_high'][0]):.1%}",
            "value_low": dollars(float(observation["value_low"][0]) * price),
            "sold": f"bought {int(observation['sold'])} product",
            "high_sold": f"{int(observation['high_sold'])} of them of high quality",
        }
        high_value = dollars(float(observation["value_high"][0]) * price)
        if agent == SELLER:
            facts |= seller_facts(observation, high_value)
            if not observation["value_known"]:
                assert_no_number(user, "the buyer's value", dollars(game.value_high * price), agent)
        else:
            facts |= buyer_facts(observation, high_value)
            assert_hides(user, {"this round's quality": "This round's product is of"}, agent)
            if not observation["long_memory"]:
                assert_hides(user, {"history": "- Round 1:"}, agent)
        played = int(observation["played"])
        if played > 20:  # only the latest 20 rounds are listed
            assert_hides(user, {"an older round": f"- Round {played - 20}:"}, agent)
        assert_shows(user, facts, agent)
        seen[agent] += 1
    assert min(seen.values()) >= 6


def seller_facts(observation: Any, high_value: str) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "quality_high": "HIGH quality" if observation["quality_high"] else "LOW quality",
        "decision": "Recommend it or not",
    }
    if observation["long_memory"]:
        facts["long_memory"] = "The buyer is the same every round and sees every earlier round"
    else:
        facts["long_memory"] = "Each round a new buyer comes, who sees only how many"
    if observation["value_known"]:
        facts["value_high"] = high_value
    if observation["last_bought"] != UNKNOWN:
        facts["last_bought"] = "the buyer bought." if observation["last_bought"] else "passed."
    for past in listed_rounds(int(observation["played"])):
        recommended, bought, high = (
            observation[key][past - 1] == YES
            for key in ("history_recommended", "history_bought", "history_quality")
        )
        facts[f"history of round {past}"] = (
            f"- Round {past}: {'high' if high else 'low'} quality, "
            f"{'you recommended it' if recommended else 'you did not recommend it'}, "
            f"the buyer {'bought' if bought else 'passed'}."
        )
    if observation["text_messages"]:
        facts["messages"] = "You may add a message to the buyer"
        if observation["buyer_message"]:
            facts["buyer_message"] = repr(observation["buyer_message"])
    return facts


def buyer_facts(observation: Any, high_value: str) -> dict[str, Any]:
    said = "recommends" if observation["recommendation"] else "does not recommend"
    knows = "knows" if observation["value_known"] else "does not know"
    facts: dict[str, Any] = {
        "value_high": high_value,
        "value_known": f"The seller {knows} how much each product is worth to you",
        "recommendation": f"The seller {said} buying",
        "decision": "Buy it or not",
    }
    if observation["text_messages"]:
        facts["messages"] = "You may add a message to the seller"
        if observation["message"]:
            facts["message"] = repr(observation["message"])
    if not observation["long_memory"]:
        facts["long_memory"] = "Each round a new buyer comes; you are this round's."
        return facts
    for past in listed_rounds(int(observation["played"])):
        recommended, bought, high = (
            observation[key][past - 1] == YES
            for key in ("history_recommended", "history_bought", "history_quality")
        )
        facts[f"history of round {past}"] = (
            f"- Round {past}: {'recommended' if recommended else 'not recommended'}, "
            f"you {'bought' if bought else 'passed'}, {'high' if high else 'low'} quality."
        )
    return facts


def test_a_discount_factor_of_one_is_not_called_costly() -> None:
    """A quarter of GLEE's bargaining cells have δ = 1: nothing may say that waiting costs."""
    game, observation, agent = next(bargaining_decisions({"discount_alice": 1.0}))
    assert agent == ALICE
    prompt = prompt_of(game, observation, agent)
    assert "Your discount factor is 1: " in prompt.user
    assert "waiting costs you nothing" in prompt.user
    for claim in ("worth less", "costly", "quick agreement"):
        assert claim not in prompt.text


def test_both_roles_of_each_game_get_role_texts_of_the_same_kind() -> None:
    """Same number of sentences, about as long, and no advice for either side."""
    for make in (bargaining_env, negotiation_env, persuasion_env):
        first, second = role_prompts(make()).values()
        assert first.count(".") == second.count("."), (first, second)
        assert abs(len(first.split()) - len(second.split())) <= 3, (first, second)
        for text in (first, second):
            for advice in ("only if", "never", "remember", "better than none", "weigh", "aim"):
                assert advice not in text.lower(), text


# Format, budget, stops, lenient parsing -----------------------------------------------------


@pytest.mark.parametrize("index", range(0, len(DECISIONS), 5))
def test_the_answer_format_is_stated_once(index: int) -> None:
    kind, game, observation, agent = DECISIONS[index]
    assert_format_once(prompt_of(game, observation, agent), FORMATS[kind], agent)


def test_the_reply_budget_fits_the_longest_reply_and_a_message(tokens: Any) -> None:
    longest: dict[tuple[str, str], int] = {}
    for kind, game, observation, agent in DECISIONS:
        protocol = protocol_of(game)
        for valid in protocol.valid_actions(observation, agent):
            replies = (
                protocol.describe(valid.action, observation, agent),
                json.dumps(protocol.reply_json(valid.action, observation, agent)),
            )
            key = (kind, agent)
            longest[key] = max(longest.get(key, 0), *(tokens(reply) for reply in replies))
            budget = protocol.reply_tokens(agent)
            assert budget >= max(tokens(reply) for reply in replies) + MESSAGE_TOKENS, replies
    protocols = {kind: protocol_of(game) for kind, game, _, _ in DECISIONS}
    for kind, agent in longest:
        assert protocols[kind].reply_tokens(agent) <= 2 * (longest[kind, agent] + MESSAGE_TOKENS)


def test_stop_sequences_end_a_reply_but_never_a_valid_one() -> None:
    for _, game, observation, agent in DECISIONS[::7]:
        protocol = protocol_of(game)
        stops = protocol.stop_sequences(agent)
        assert "\n\n" in stops
        for valid in protocol.valid_actions(observation, agent):
            reply = protocol.describe(valid.action, observation, agent)
            assert not any(stop in reply for stop in stops), (reply, stops)


def carries_messages(kind: str, observation: Any) -> bool:
    """Whether an offer or recommendation made now is sent with a message."""
    if kind in ("bargaining", "negotiation"):
        return bool(observation["messages_allowed"] and observation["decision_mask"][0])
    return bool(observation["text_messages"])


def same_decision(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(np.array_equal(a[key], b[key]) for key in a if key != "message")


@pytest.mark.parametrize("index", range(0, len(DECISIONS), 3))
def test_a_command_followed_by_an_explanation_parses(index: int) -> None:
    kind, game, observation, agent = DECISIONS[index]
    protocol = protocol_of(game)
    message = EXPLANATION if carries_messages(kind, observation) else ""
    for valid in protocol.valid_actions(observation, agent):
        for reply in (f"{valid.label}. {EXPLANATION}", f"{valid.label}\n{EXPLANATION}"):
            action = protocol.parse_reply(reply, observation, agent)
            assert same_decision(action, valid.action), (reply, action)
            assert action["message"] == message, (reply, action)


@pytest.mark.parametrize("index", range(0, len(DECISIONS), 3))
def test_a_reply_naming_two_answers_is_rejected(index: int) -> None:
    _, game, observation, agent = DECISIONS[index]
    protocol = protocol_of(game)
    first, *_, last = protocol.valid_actions(observation, agent)
    for reply in (f"{first.label} or {last.label}", f"{last.label}\n{first.label.upper()}"):
        with pytest.raises(ActionParseError):
            protocol.parse_reply(reply, observation, agent)


@pytest.mark.parametrize(
    ("make", "agent", "reply", "expected"),
    [
        (bargaining_env, ALICE, "OFFER alice=6000 bob=4000. Fair: 60% for me", "Fair: 60% for me"),
        (bargaining_env, ALICE, "Offer: 6000, 4000 (you get 40%)", "you get 40%)"),
        (negotiation_env, NEGOTIATION_SELLER, "OFFER $9,500 - 5% below list", "5% below list"),
        (persuasion_env, SELLER, "RECOMMEND YES. No doubt about it!", "No doubt about it!"),
        (persuasion_env, SELLER, "No. It is not for you.", "It is not for you."),
        (persuasion_env, SELLER, "YES MESSAGE: buy it, do not pass", "buy it, do not pass"),
    ],
)  # fmt: skip
def test_explanations_become_the_message(make: Any, agent: str, reply: str, expected: str) -> None:
    game = make(messages=True) if make is not persuasion_env else make(message_type="text")
    game.reset(seed=0)
    action = protocol_of(game).parse_reply(reply, game.observe(agent), agent)
    assert action["message"] == expected


@pytest.mark.parametrize(
    ("make", "agent", "reply"),
    [
        (bargaining_env, BOB, "ACCEPT or REJECT"),
        (bargaining_env, BOB, "REJECT. Actually, ACCEPT."),
        (bargaining_env, BOB, "ACCEPTED"),
        (bargaining_env, ALICE, "OFFER 6000 4000 5000"),
        (negotiation_env, NEGOTIATION_BUYER, "REJECT or walk away"),
        (persuasion_env, SELLER, "No problem, buy it!"),
        (persuasion_env, BUYER, "BUY, PASS."),
    ],
)
def test_ambiguous_replies_are_rejected(make: Any, agent: str, reply: str) -> None:
    game = make()
    game.reset(seed=0)
    first = game.agent_selection
    if agent != first:  # the second mover answers the first's opening
        game.step(episodes.offer(0.6) if make is bargaining_env else first_move(make))
    with pytest.raises(ActionParseError):
        protocol_of(game).parse_reply(reply, game.observe(agent), agent)


def first_move(make: Any) -> dict[str, Any]:
    if make is negotiation_env:
        return negotiation_episodes.offer(11_000.0)
    return persuasion_episodes.recommend(YES)
