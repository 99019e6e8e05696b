"""The bargaining game's text view: the state, the history of offers and the decision now, in
words, rendered from the structured observation (`envs.games.bargaining_protocol`)."""

from __future__ import annotations

from typing import Any

from envs.core.text import dollars, known_agent
from envs.games.bargaining_rules import ACCEPT, AGENTS, ALICE, NAMES, OFFER, OTHER
from envs.games.two_player import shown_rounds


def bargaining_view(observation: Any, agent: str) -> str:
    """What ``agent`` reads: the sum, both discount factors as far as known, the offers so far
    and what it decides now."""
    me, other = NAMES[known_agent(agent, AGENTS)], NAMES[OTHER[agent]]
    money = float(observation["money"][0])
    round_ = int(observation["round"])
    horizon = int(observation["horizon"])
    own = float(observation["own_discount"][0])
    lines = [
        f"Round {round_}" + (f" of at most {horizon}." if horizon else "."),
        f"You are {me}; {other} is the other player. The sum to split is {dollars(money)}.",
        f"Your discount factor is {own:g}: money you get in this round is worth "
        f"{own ** (round_ - 1):.1%} of its face value to you; {_waiting(own, 'you', 'your')}.",
    ]
    if observation["other_discount_known"]:
        theirs = float(observation["other_discount"][0])
        waiting = _waiting(theirs, other, f"{other}'s")
        lines.append(f"{other}'s discount factor is {theirs:g}: {waiting}.")
    else:
        lines.append(f"You do not know {other}'s discount factor.")
    if horizon:
        lines.append(f"The game ends with no deal if the offer in round {horizon} is rejected.")
    else:
        lines.append("The number of rounds is not announced.")
    lines.extend(_render_history(observation, agent, money, round_))
    mask = observation["decision_mask"]
    if mask[OFFER]:
        lines.extend(_render_proposal(observation, agent, money))
    elif mask[ACCEPT]:
        lines.extend(_render_response(observation, agent, money, round_, horizon, own))
    else:
        lines.append(f"It is {other}'s turn; you have nothing to decide now.")
    return "\n".join(lines)


def _waiting(discount: float, whom: str, whose: str) -> str:
    """What each round of waiting does to the worth of a player's money at ``discount``."""
    if discount >= 1.0:
        return f"waiting costs {whom} nothing"
    return f"each round of waiting multiplies the worth of {whose} money by {discount:g}"


def _render_history(observation: Any, agent: str, money: float, round_: int) -> list[str]:
    """The earlier rounds, each an offer (with its message) that was rejected: the latest
    `HISTORY_SHOWN` of them (`shown_rounds`), oldest first."""
    if round_ == 1:
        return []
    rounds, heading = shown_rounds(round_ - 1)
    offers, messages = observation["offers"], observation["offer_messages"]
    lines = [heading]
    for past in rounds:
        proposer = ALICE if past % 2 else OTHER[ALICE]
        mine = proposer == agent
        offerer, responder = ("you", NAMES[OTHER[agent]]) if mine else (NAMES[proposer], "you")
        line = f"- Round {past}: {offerer} offered {_split(float(offers[past - 1]), money)}; "
        line += f"{responder} rejected it."
        if messages[past - 1]:
            whose = "Your" if mine else f"{NAMES[proposer]}'s"
            line += f" {whose} message: {messages[past - 1]!r}"
        lines.append(line)
    return lines


def _render_proposal(observation: Any, agent: str, money: float) -> list[str]:
    """What to do now (the rejected offers are in the history)."""
    other = NAMES[OTHER[agent]]
    ask = f"Make your offer: a split of {dollars(money)} between Alice and Bob."
    if observation["messages_allowed"]:
        ask += f" You may add a message to {other}."
    return [ask]


def _render_response(
    observation: Any, agent: str, money: float, round_: int, horizon: int, own: float
) -> list[str]:
    """The offer on the table (with its message), what accepting and rejecting lead to."""
    other = NAMES[OTHER[agent]]
    alice_share = float(observation["offer"][0])
    mine = alice_share if agent == ALICE else 1.0 - alice_share
    worth = money * mine * own ** (round_ - 1)
    if round_ == horizon:
        after = "If you reject, the game ends with no deal and both of you get nothing."
    else:
        after = f"If you reject, round {round_ + 1} starts and you propose."
    return [
        f"{other} offers: {_split(alice_share, money)}.",
        *_message_line(observation, other),
        f"If you accept, you get {dollars(money * mine)}, worth {dollars(worth)} to you now.",
        after,
        "Accept or reject this offer.",
    ]


def _message_line(observation: Any, other: str) -> list[str]:
    message = observation["last_message"]
    return [f"{other}'s message: {message!r}"] if message else []


def _split(alice_share: float, money: float) -> str:
    alice = money * alice_share
    return f"Alice {dollars(alice)}, Bob {dollars(money - alice)}"
