"""GLEE's released game logs (Shapira et al., arXiv 2410.05254) read as episodes of our games.

GLEE stores each game in its own folder holding ``config.json`` (players and ``game_args``) and
``game.csv`` (one row per action; persuasion adds one "Nature" row per round). `read_games`
finds every such folder under a source directory and yields, per game, an `ImportedGame` (its
env id, mapped parameters, players, steps, and the final ``info["metrics"]`` and returns our env
would give: each game's ``*_rules.episode_metrics``, the paper's definitions of games.md §4, not
GLEE code's §4.1 deviations) or a `SkippedGame` saying why not (GLEE's partial saves, unreadable
files). It is registered as the games' ``"glee"`` importer; ``mercato import-glee`` writes the
result into a run directory. The mapping is documented in docs/glee-import.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from envs.core.imported import ImportedGame, ImportedStep, SkippedGame
from envs.games import bargaining_rules as bargaining
from envs.games import negotiation_rules as negotiation
from envs.games import persuasion_rules as persuasion
from envs.games.glee_format_rows import (
    CONFIG,
    GAME,
    NATURE,
    GameError,
    agent_of,
    extras,
    flag,
    manifest_players,
    need_columns,
    parse_number,
    players_of,
    policy_of,
    read_config,
    read_rows,
    required_number,
    round_of,
    text,
    word,
)

BARGAINING_ID = "mercato/Bargaining-v0"
NEGOTIATION_ID = "mercato/Negotiation-v0"
PERSUASION_ID = "mercato/Persuasion-v0"

_OUTSIDE_WORDS = {"selltojhon", "buyfromjhon", "dealwithjhon"}
_PERSUASION_DEFAULTS = {
    "total_rounds": 20,
    "is_seller_know_cv": True,
    "is_buyer_know_p": True,
    "seller_message_type": "text",
    "allow_buyer_message": False,
}
"""GLEE's PersuasionGame defaults, for configs that leave these keys out."""

__all__ = ["GameError", "find_games", "parse_number", "read_game", "read_games"]

Rows = list[dict[str, Any]]


def find_games(source_dir: str | os.PathLike[str]) -> list[Path]:
    """Every folder under ``source_dir`` (itself included) holding both config.json and
    game.csv, sorted."""
    found = []
    for root, folders, files in os.walk(source_dir):
        folders.sort()
        if CONFIG in files and GAME in files:
            found.append(Path(root))
    return sorted(found)


def read_games(source_dir: str | os.PathLike[str]) -> Iterator[ImportedGame | SkippedGame]:
    """Every game under ``source_dir``, in folder order: imported, or skipped with the reason
    (one odd game never stops an import)."""
    for folder in find_games(source_dir):
        try:
            yield read_game(folder)
        except GameError as error:
            yield SkippedGame(folder, error.kind, error.detail)
        except Exception as error:
            yield SkippedGame(folder, "unreadable", f"{type(error).__name__}: {error}")


def read_game(folder: str | os.PathLike[str]) -> ImportedGame:
    """Read one GLEE game folder; GameError says why it cannot be imported."""
    folder = Path(folder)
    config = read_config(folder)
    reader = _READERS.get(word(config.get("game_type")) or "")
    if reader is None:
        raise GameError("unsupported", f"game_type {config.get('game_type')!r}")
    return reader(folder, config, read_rows(folder / GAME))


def _game(
    folder: Path,
    env_id: str,
    params: dict[str, Any],
    players: dict[str, dict[str, Any]],
    metrics: dict[str, float | None],
    returns: dict[str, float],
    steps: Rows,
) -> ImportedGame:
    game_id = folder.name
    return ImportedGame(
        location=folder,
        game_id=game_id,
        env_id=env_id,
        params=params,
        roster={agent: policy_of(player) for agent, player in players.items()},
        players=manifest_players(players),
        metrics=metrics,
        returns=returns,
        steps=tuple(
            ImportedStep(
                s["agent"], s["action"], s["message"], {**s["info"], "glee_game_id": game_id}
            )
            for s in steps
        ),
    )


def _step(agent: str, action: dict[str, Any], message: str | None, **info: Any) -> dict[str, Any]:
    return {"agent": agent, "action": action, "message": message, "info": info}


def _undecided(steps: Rows, horizon: int) -> GameError:
    last = steps[-1]["info"]["round"] if steps else 0
    return GameError("truncated", f"no decision: ends in round {last} of {horizon}")


def _two_player_params(args: dict[str, Any], mapped: set[str], **params: Any) -> dict[str, Any]:
    """Bargaining's and negotiation's parameters: ``params``, then the two flags both games
    map, then the unmapped ``game_args``."""
    params |= {
        "complete_information": flag(args.get("complete_information"), "complete_information"),
        "messages": flag(args.get("messages_allowed"), "messages_allowed"),
    }
    return params | extras(args, mapped | {"complete_information", "messages_allowed"})


# --- bargaining ---


def _read_bargaining(folder: Path, config: dict[str, Any], rows: Rows) -> ImportedGame:
    agents = (bargaining.ALICE, bargaining.BOB)
    args = config.get("game_args") or {}
    players = players_of(config, agents)
    money = required_number(args, "money_to_divide")
    horizon = int(required_number(args, "max_rounds"))
    deltas = {
        agent: required_number(players[agent]["args"], "delta", f"player_{n}_args")
        for n, agent in enumerate(agents, start=1)
    }
    params = _two_player_params(
        args,
        {"money_to_divide", "max_rounds"},
        money=money,
        discount_alice=deltas[bargaining.ALICE],
        discount_bob=deltas[bargaining.BOB],
        horizon=horizon,
    )
    need_columns(rows, ("alice_gain", "bob_gain", "message", "player", "round", "decision"))

    steps: Rows = []
    share, outcome = None, None
    for row in rows:
        if outcome is not None:
            raise GameError("unreadable", "rows after the game ended")
        agent, round_ = agent_of(row["player"], players, agents), round_of(row)
        decision = word(row["decision"])
        if decision in {"accept", "reject"}:
            if share is None:
                raise GameError("unreadable", f"round {round_}: a response before any offer")
            accept = decision == "accept"
            action = {"decision": bargaining.ACCEPT if accept else bargaining.REJECT}
            if accept:
                outcome = (True, round_, share)
            elif round_ >= horizon:
                outcome = (False, round_, None)
            steps.append(_step(agent, action, None, round=round_, glee_decision=decision))
            continue
        if decision is not None:
            raise GameError("unreadable", f"round {round_}: unknown decision {decision!r}")
        alice_gain, bob_gain = parse_number(row["alice_gain"]), parse_number(row["bob_gain"])
        if alice_gain is None:
            raise GameError("truncated", f"round {round_}: an offer without alice_gain")
        share = alice_gain / money
        action = {"decision": bargaining.OFFER, "alice_share": share}
        glee = {"alice_gain": alice_gain, "bob_gain": bob_gain}
        steps.append(_step(agent, action, text(row["message"]), round=round_, glee=glee))
    if outcome is None:
        raise _undecided(steps, horizon)
    deal, round_, share = outcome
    announced = horizon <= bargaining.ANNOUNCE_LIMIT
    metrics = bargaining.episode_metrics(
        deal, round_, share, params["discount_alice"], params["discount_bob"], horizon, announced
    )
    returns = {
        bargaining.ALICE: money * metrics["self_gain_alice"],
        bargaining.BOB: money * metrics["self_gain_bob"],
    }
    return _game(folder, BARGAINING_ID, params, players, metrics, returns, steps)


# --- negotiation ---


def _read_negotiation(folder: Path, config: dict[str, Any], rows: Rows) -> ImportedGame:
    agents = (negotiation.SELLER, negotiation.BUYER)
    args = config.get("game_args") or {}
    players = players_of(config, agents)
    money = required_number(args, "product_price_order")
    horizon = int(required_number(args, "max_rounds"))
    params = _two_player_params(
        args,
        {"product_price_order", "seller_value", "buyer_value", "max_rounds"},
        money=money,
        seller_value_factor=required_number(args, "seller_value"),
        buyer_value_factor=required_number(args, "buyer_value"),
        horizon=horizon,
    )
    need_columns(rows, ("message", "product_price", "player", "round", "decision"))

    steps: Rows = []
    price, outcome = None, None
    for row in rows:
        if outcome is not None:
            raise GameError("unreadable", "rows after the game ended")
        agent, round_ = agent_of(row["player"], players, agents), round_of(row)
        said = word(row["decision"])
        if said is not None:
            decision = _negotiation_decision(said, round_)
            if decision != negotiation.OUTSIDE and price is None:
                raise GameError("unreadable", f"round {round_}: a response before any offer")
            if decision == negotiation.ACCEPT:
                outcome = (True, False, round_)
            elif decision == negotiation.OUTSIDE:
                outcome = (False, True, round_)
            elif round_ >= horizon:
                outcome = (False, False, round_)
            original = text(row["decision"]).strip()
            action = {"decision": decision}
            steps.append(_step(agent, action, None, round=round_, glee_decision=original))
            continue
        price = parse_number(row["product_price"])
        if price is None:
            raise GameError("truncated", f"round {round_}: an offer without product_price")
        action = {"decision": negotiation.OFFER, "price": price}
        steps.append(_step(agent, action, text(row["message"]), round=round_))
    if outcome is None:
        raise _undecided(steps, horizon)
    trade, outside, round_ = outcome
    seller_value = params["seller_value_factor"] * money
    buyer_value = params["buyer_value_factor"] * money
    known = params["complete_information"] and horizon <= negotiation.ANNOUNCE_LIMIT
    metrics = negotiation.episode_metrics(
        seller_value, buyer_value, money, price if trade else None, outside, round_, horizon, known
    )
    returns = {
        negotiation.SELLER: money * metrics["self_gain_seller"],
        negotiation.BUYER: money * metrics["self_gain_buyer"],
    }
    return _game(folder, NEGOTIATION_ID, params, players, metrics, returns, steps)


def _negotiation_decision(said: str, round_: int) -> int:
    if said == "acceptoffer":
        return negotiation.ACCEPT
    if said == "rejectoffer":
        return negotiation.REJECT
    if said in _OUTSIDE_WORDS:
        return negotiation.OUTSIDE
    raise GameError("unreadable", f"round {round_}: unknown decision {said!r}")


# --- persuasion ---


def _read_persuasion(folder: Path, config: dict[str, Any], rows: Rows) -> ImportedGame:
    agents = (persuasion.SELLER, persuasion.BUYER)
    args = {**_PERSUASION_DEFAULTS, **(config.get("game_args") or {})}
    players = players_of(config, agents)
    money = required_number(args, "product_price")
    rounds = int(required_number(args, "total_rounds"))
    message_type = word(args["seller_message_type"])
    if message_type not in persuasion.MESSAGE_TYPES:
        raise GameError("unreadable", f"config seller_message_type {message_type!r}")
    if "is_myopic" not in args:
        raise GameError("unreadable", "config game_args lacks 'is_myopic'")
    params = {
        "money": money,
        "p_high": required_number(args, "p"),
        "value_high": required_number(args, "v"),
        "value_low": required_number(args, "c"),
        "rounds": rounds,
        "message_type": message_type,
        "buyer_memory": "myopic" if flag(args["is_myopic"], "is_myopic") else "long",
        "complete_information": flag(args["is_seller_know_cv"], "is_seller_know_cv"),
    }
    mapped = {"product_price", "total_rounds", "seller_message_type", "is_myopic", "p", "v", "c"}
    unmatched = {"is_buyer_know_p", "allow_buyer_message"}
    params |= {f"glee_{k}": flag(args[k], k) for k in sorted(unmatched)}
    params |= extras(args, mapped | unmatched | {"is_seller_know_cv"})
    need_columns(rows, ("round_quality", "product_worth", "player", "round", "message", "decision"))

    steps: Rows = []
    quality: dict[int, bool] = {}
    bought: dict[int, bool] = {}
    for row in rows:
        agent, round_ = agent_of(row["player"], players, agents, nature=True), round_of(row)
        if round_ > rounds or round_ in bought:
            raise GameError("unreadable", f"round {round_}: a row after the round ended")
        if agent == NATURE:
            said = word(row["round_quality"])
            if said is None or not said.startswith(("high", "low")):
                raise GameError("unreadable", f"round {round_}: quality {said!r}")
            quality[round_] = said.startswith("high")
            continue
        if round_ not in quality:
            raise GameError("unreadable", f"round {round_}: an action before Nature's row")
        high = int(quality[round_])
        choice = word(row["decision"])
        if choice not in {None, "yes", "no"}:
            raise GameError("unreadable", f"round {round_}: decision {choice!r}")
        value = None if choice is None else int(choice == "yes")
        message = text(row["message"])
        if agent == persuasion.SELLER:
            if value is None and message is None:
                raise GameError("truncated", f"round {round_}: a seller row without content")
            action = {"recommend": value, "message": message or ""}
        else:
            if value is None:
                raise GameError("truncated", f"round {round_}: a buyer row without a decision")
            action = {"decision": value, "message": message or ""}
            bought[round_] = bool(value)
        steps.append(_step(agent, action, message, round=round_, quality_high=high))
    played = len(bought)
    if sorted(bought) != list(range(1, played + 1)) or played < rounds:
        raise GameError("truncated", f"{played} of {rounds} rounds decided")
    highs = sum(quality[t] for t in bought)
    high_sold = sum(quality[t] and bought[t] for t in bought)
    sold = sum(bought.values())
    metrics = persuasion.episode_metrics(
        rounds, highs, high_sold, sold, params["p_high"], params["value_high"], params["value_low"]
    )
    returns = {
        persuasion.SELLER: rounds * money * metrics["self_gain_seller"],
        persuasion.BUYER: rounds * money * metrics["self_gain_buyer"],
    }
    return _game(folder, PERSUASION_ID, params, players, metrics, returns, steps)


_READERS: dict[str, Callable[[Path, dict[str, Any], Rows], ImportedGame]] = {
    "bargaining": _read_bargaining,
    "negotiation": _read_negotiation,
    "persuasion": _read_persuasion,
}
