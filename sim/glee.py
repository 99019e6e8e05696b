"""Import GLEE's released game logs (Shapira et al., arXiv 2410.05254) as a mercato run directory.

GLEE stores each game in its own folder holding ``config.json`` (players and ``game_args``) and
``game.csv`` (one row per action; persuasion adds one "Nature" row per round). `import_glee` finds
every such folder under a source directory, recovers each game's outcome, computes our envs'
``info["metrics"]`` with the paper's definitions (games.md §4, not GLEE code's §4.1 deviations;
the formulas come from our ``*_rules`` modules where they exist) and writes a run directory that
`sim.store.load` and ``mercato report`` read. Games that ended before they were decided (GLEE's
partial saves) or cannot be read are skipped and counted in the manifest, never fatal.

The format mapping (config keys -> ``param_*``, CSV rows -> steps) is documented in
docs/glee-import.md.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pandas as pd

from envs.core.names import role_of
from envs.games import bargaining_rules as bargaining
from envs.games import negotiation_rules as negotiation
from envs.games import persuasion_rules as persuasion
from sim.records import EpisodeRecord, StepColumns, to_json
from sim.store import create_run

CONFIG, GAME = "config.json", "game.csv"
INDEX = "glee_games.csv"
"""Written into the run directory: which GLEE game (folder) each episode came from."""

SHARD_SIZE = 1000
SKIPPED_LISTED = 1000
"""The manifest lists at most this many skipped games (all are counted)."""

BARGAINING_ID = "mercato/Bargaining-v0"
NEGOTIATION_ID = "mercato/Negotiation-v0"
PERSUASION_ID = "mercato/Persuasion-v0"
ENV_IDS = {"bargaining": BARGAINING_ID, "negotiation": NEGOTIATION_ID, "persuasion": PERSUASION_ID}

NATURE = "nature"
_NULL_TEXT = {"", "none", "nan", "null"}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_OUTSIDE_WORDS = {"selltojhon", "buyfromjhon", "dealwithjhon"}


class GameError(Exception):
    """A game that cannot be imported: ``kind`` is truncated, unreadable or unsupported."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class Game:
    """One GLEE game as mercato sees it: parameters, players, outcome and action rows."""

    folder: Path
    env_id: str
    params: dict[str, Any]
    roster: dict[str, str]
    players: dict[str, dict[str, Any]]
    metrics: dict[str, float | None]
    returns: dict[str, float]
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def game_id(self) -> str:
        return self.folder.name


# --- values ---


def parse_number(value: Any) -> float | None:
    """A number as GLEE's parser reads one: ``$`` and thousands separators stripped; None when
    empty or ``None``; GameError when not a number."""
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    text = str(value).strip()
    if text.lower() in _NULL_TEXT:
        return None
    cleaned = _THOUSANDS.sub("", text.replace("$", "")).replace(" ", "")
    try:
        number = float(cleaned)
    except ValueError:
        raise GameError("unreadable", f"not a number: {text!r}") from None
    if math.isnan(number):
        return None
    return number


def _text(value: Any) -> str | None:
    """A CSV cell as text; None for empty cells and GLEE's ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return None if text.strip().lower() in _NULL_TEXT else text


def _word(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text.strip().strip("\"'").lower()


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    word = _word(value)
    if word in {"true", "1", "yes"}:
        return True
    if word in {"false", "0", "no"}:
        return False
    raise GameError("unreadable", f"config {key}: expected true or false, got {value!r}")


def _required_number(args: dict[str, Any], key: str, where: str = "game_args") -> float:
    if key not in args:
        raise GameError("unreadable", f"config {where} lacks {key!r}")
    number = parse_number(args[key])
    if number is None:
        raise GameError("unreadable", f"config {where}.{key} is empty")
    return number


# --- reading one game ---


def find_games(source_dir: str | os.PathLike[str]) -> list[Path]:
    """Every folder under ``source_dir`` (itself included) holding both config.json and
    game.csv, sorted."""
    found = []
    for root, folders, files in os.walk(source_dir):
        folders.sort()
        if CONFIG in files and GAME in files:
            found.append(Path(root))
    return sorted(found)


def read_game(folder: str | os.PathLike[str]) -> Game:
    """Read one GLEE game folder; GameError says why it cannot be imported."""
    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GameError("unreadable", f"{CONFIG}: {error}") from None
    if not isinstance(config, dict):
        raise GameError("unreadable", f"{CONFIG}: not a JSON object")
    family = _word(config.get("game_type"))
    reader = _READERS.get(family or "")
    if reader is None:
        raise GameError("unsupported", f"game_type {config.get('game_type')!r}")
    rows = _read_rows(folder / GAME)
    return reader(folder, config, rows)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise GameError("truncated", f"{GAME} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, csv.Error) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GameError("unreadable", f"{GAME}: {message}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.to_dict("records")


def _need_columns(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    if not rows:
        raise GameError("truncated", f"{GAME} has no action rows")
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise GameError("unreadable", f"{GAME} lacks columns {missing}")


def _players(config: dict[str, Any], agents: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Each agent's GLEE player: type, model name and public name (player_1 is the first agent)."""
    players = {}
    for number, agent in enumerate(agents, start=1):
        args = config.get(f"player_{number}_args") or {}
        if not isinstance(args, dict):
            raise GameError("unreadable", f"config player_{number}_args is not an object")
        players[agent] = {
            "player_type": config.get(f"player_{number}_type"),
            "model_name": args.get("model_name"),
            "public_name": args.get("public_name"),
            "args": args,
        }
    return players


def _policy(player: dict[str, Any]) -> str:
    """``type:model`` (just ``type`` when the model name repeats it or is absent)."""
    kind = str(player.get("player_type") or "unknown")
    model = player.get("model_name")
    return kind if model in (None, "", kind) else f"{kind}:{model}"


def _agent_of(
    name: Any, players: dict[str, dict[str, Any]], agents: tuple[str, str], nature: bool = False
) -> str:
    """Which agent a CSV ``player`` value names (Nature too, in persuasion)."""
    word = _word(name)
    if word is None:
        raise GameError("truncated", "an incomplete row (no player)")
    if nature and word == "nature":
        return NATURE
    first, second = agents
    names = {
        first: {"alice", _word(players[first]["public_name"])},
        second: {"bob", "the buyer", _word(players[second]["public_name"])},
    }
    for agent in agents:
        if word in names[agent]:
            return agent
    raise GameError("unreadable", f"unknown player {_text(name)!r}")


def _round(row: dict[str, Any]) -> int:
    number = parse_number(row.get("round"))
    if number is None or number < 1 or number != int(number):
        raise GameError("truncated" if number is None else "unreadable", "a row without a round")
    return int(number)


def _extras(game_args: dict[str, Any], mapped: set[str]) -> dict[str, Any]:
    """game_args keys with no mercato parameter, kept as ``glee_<key>`` (scalars only)."""
    extras = {}
    for key in sorted(set(game_args) - mapped):
        value = game_args[key]
        extras[f"glee_{key}"] = (
            value if value is None or isinstance(value, str | int | float) else (to_json(value))
        )
    return extras


def _step(agent: str, action: dict[str, Any], message: str | None, **info: Any) -> dict[str, Any]:
    return {"agent": agent, "action": action, "message": message, "info": info}


# --- bargaining ---


def _read_bargaining(folder: Path, config: dict[str, Any], rows: list[dict[str, Any]]) -> Game:
    agents = (bargaining.ALICE, bargaining.BOB)
    args = config.get("game_args") or {}
    players = _players(config, agents)
    money = _required_number(args, "money_to_divide")
    horizon = int(_required_number(args, "max_rounds"))
    deltas = {
        agent: _required_number(players[agent]["args"], "delta", f"player_{n}_args")
        for n, agent in enumerate(agents, start=1)
    }
    params = {
        "money": money,
        "discount_alice": deltas[bargaining.ALICE],
        "discount_bob": deltas[bargaining.BOB],
        "horizon": horizon,
        "complete_information": _flag(args.get("complete_information"), "complete_information"),
        "messages": _flag(args.get("messages_allowed"), "messages_allowed"),
    }
    mapped = {"money_to_divide", "max_rounds", "complete_information", "messages_allowed"}
    params |= _extras(args, mapped)
    _need_columns(rows, ("alice_gain", "bob_gain", "message", "player", "round", "decision"))

    steps, share, outcome = [], None, None
    for row in rows:
        if outcome is not None:
            raise GameError("unreadable", "rows after the game ended")
        agent, round_ = _agent_of(row["player"], players, agents), _round(row)
        decision = _word(row["decision"])
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
        steps.append(_step(agent, action, _text(row["message"]), round=round_, glee=glee))
    if outcome is None:
        raise GameError(
            "truncated", f"no decision: ends in round {_last_round(steps)} of {horizon}"
        )
    deal, round_, share = outcome
    announced = horizon <= bargaining.ANNOUNCE_LIMIT
    metrics = bargaining_metrics(
        deal, round_, share, params["discount_alice"], params["discount_bob"], horizon, announced
    )
    returns = {
        bargaining.ALICE: money * metrics["self_gain_alice"],
        bargaining.BOB: money * metrics["self_gain_bob"],
    }
    roster = {agent: _policy(players[agent]) for agent in agents}
    return Game(folder, BARGAINING_ID, params, roster, players, metrics, returns, steps)


def bargaining_metrics(
    deal: bool,
    round_: int,
    share: float | None,
    discount_alice: float,
    discount_bob: float,
    horizon: int,
    announced: bool,
) -> dict[str, float | None]:
    """The bargaining env's final ``info["metrics"]`` for a deal at Alice share ``share`` in round
    ``round_`` (or no deal), with the paper's definitions (no deal: gains 0, efficiency 0,
    fairness 1)."""
    spe = bargaining.spe_alice_share(discount_alice, discount_bob, horizon, announced)
    spe_share = None if math.isnan(spe) else spe
    if not deal or share is None:
        return {
            "deal": 0.0,
            "round": float(round_),
            "alice_share": None,
            "self_gain_alice": 0.0,
            "self_gain_bob": 0.0,
            "efficiency": 0.0,
            "fairness": 1.0,
            "spe_alice_share": spe_share,
            "regret_alice_share": None,
        }
    gain_alice = discount_alice ** (round_ - 1) * share
    gain_bob = discount_bob ** (round_ - 1) * (1.0 - share)
    return {
        "deal": 1.0,
        "round": float(round_),
        "alice_share": share,
        "self_gain_alice": gain_alice,
        "self_gain_bob": gain_bob,
        "efficiency": gain_alice + gain_bob,
        "fairness": 1.0 - 4.0 * (share - 0.5) ** 2,
        "spe_alice_share": spe_share,
        "regret_alice_share": None if spe_share is None else abs(share - spe_share),
    }


def _last_round(steps: list[dict[str, Any]]) -> int:
    return steps[-1]["info"]["round"] if steps else 0


# --- negotiation ---


def _read_negotiation(folder: Path, config: dict[str, Any], rows: list[dict[str, Any]]) -> Game:
    agents = (negotiation.SELLER, negotiation.BUYER)
    args = config.get("game_args") or {}
    players = _players(config, agents)
    money = _required_number(args, "product_price_order")
    horizon = int(_required_number(args, "max_rounds"))
    params = {
        "money": money,
        "seller_value_factor": _required_number(args, "seller_value"),
        "buyer_value_factor": _required_number(args, "buyer_value"),
        "horizon": horizon,
        "complete_information": _flag(args.get("complete_information"), "complete_information"),
        "messages": _flag(args.get("messages_allowed"), "messages_allowed"),
    }
    mapped = {"product_price_order", "seller_value", "buyer_value", "max_rounds"}
    params |= _extras(args, mapped | {"complete_information", "messages_allowed"})
    _need_columns(rows, ("message", "product_price", "player", "round", "decision"))

    steps, price, outcome = [], None, None
    for row in rows:
        if outcome is not None:
            raise GameError("unreadable", "rows after the game ended")
        agent, round_ = _agent_of(row["player"], players, agents), _round(row)
        word = _word(row["decision"])
        if word is not None:
            decision = _negotiation_decision(word, round_)
            if decision != negotiation.OUTSIDE and price is None:
                raise GameError("unreadable", f"round {round_}: a response before any offer")
            if decision == negotiation.ACCEPT:
                outcome = (True, False, round_)
            elif decision == negotiation.OUTSIDE:
                outcome = (False, True, round_)
            elif round_ >= horizon:
                outcome = (False, False, round_)
            glee_decision = _text(row["decision"]).strip()
            steps.append(
                _step(
                    agent, {"decision": decision}, None, round=round_, glee_decision=glee_decision
                )
            )
            continue
        price = parse_number(row["product_price"])
        if price is None:
            raise GameError("truncated", f"round {round_}: an offer without product_price")
        action = {"decision": negotiation.OFFER, "price": price}
        steps.append(_step(agent, action, _text(row["message"]), round=round_))
    if outcome is None:
        raise GameError(
            "truncated", f"no decision: ends in round {_last_round(steps)} of {horizon}"
        )
    trade, outside, round_ = outcome
    seller_value = params["seller_value_factor"] * money
    buyer_value = params["buyer_value_factor"] * money
    known = params["complete_information"] and horizon <= negotiation.ANNOUNCE_LIMIT
    metrics = negotiation_metrics(
        seller_value, buyer_value, money, price if trade else None, outside, round_, horizon, known
    )
    returns = {
        negotiation.SELLER: money * metrics["self_gain_seller"],
        negotiation.BUYER: money * metrics["self_gain_buyer"],
    }
    roster = {agent: _policy(players[agent]) for agent in agents}
    return Game(folder, NEGOTIATION_ID, params, roster, players, metrics, returns, steps)


def _negotiation_decision(word: str, round_: int) -> int:
    if word == "acceptoffer":
        return negotiation.ACCEPT
    if word == "rejectoffer":
        return negotiation.REJECT
    if word in _OUTSIDE_WORDS:
        return negotiation.OUTSIDE
    raise GameError("unreadable", f"round {round_}: unknown decision {word!r}")


def negotiation_metrics(
    seller_value: float,
    buyer_value: float,
    money: float,
    price: float | None,
    outside: bool,
    round_: int,
    horizon: int,
    known: bool,
) -> dict[str, float | None]:
    """The negotiation env's final ``info["metrics"]`` for a trade at ``price`` (None: no trade),
    with the paper's definitions; ``known``: complete information and an announced horizon."""
    spe = negotiation.spe_price(seller_value, buyer_value, horizon) if known else None
    trade = price is not None
    return {
        "trade": float(trade),
        "outside_option": float(outside),
        "round": float(round_),
        "price": price,
        "self_gain_seller": (price - seller_value) / money if trade else 0.0,
        "self_gain_buyer": (buyer_value - price) / money if trade else 0.0,
        "efficiency": negotiation.efficiency(seller_value, buyer_value, price),
        "fairness": negotiation.fairness(seller_value, buyer_value, price, money),
        "spe_price": spe,
        "regret_price": None if spe is None or price is None else abs(price - spe) / money,
    }


# --- persuasion ---

_PERSUASION_DEFAULTS = {
    "total_rounds": 20,
    "is_seller_know_cv": True,
    "is_buyer_know_p": True,
    "seller_message_type": "text",
    "allow_buyer_message": False,
}
"""GLEE's PersuasionGame defaults, for configs that leave these keys out."""


def _read_persuasion(folder: Path, config: dict[str, Any], rows: list[dict[str, Any]]) -> Game:
    agents = (persuasion.SELLER, persuasion.BUYER)
    args = {**_PERSUASION_DEFAULTS, **(config.get("game_args") or {})}
    players = _players(config, agents)
    money = _required_number(args, "product_price")
    rounds = int(_required_number(args, "total_rounds"))
    message_type = _word(args["seller_message_type"])
    if message_type not in persuasion.MESSAGE_TYPES:
        raise GameError("unreadable", f"config seller_message_type {message_type!r}")
    if "is_myopic" not in args:
        raise GameError("unreadable", "config game_args lacks 'is_myopic'")
    params = {
        "money": money,
        "p_high": _required_number(args, "p"),
        "value_high": _required_number(args, "v"),
        "value_low": _required_number(args, "c"),
        "rounds": rounds,
        "message_type": message_type,
        "buyer_memory": "myopic" if _flag(args["is_myopic"], "is_myopic") else "long",
        "complete_information": _flag(args["is_seller_know_cv"], "is_seller_know_cv"),
    }
    mapped = {"product_price", "total_rounds", "seller_message_type", "is_myopic", "p", "v", "c"}
    extras = {"is_buyer_know_p", "allow_buyer_message"}
    params |= {f"glee_{k}": _flag(args[k], k) for k in sorted(extras)}
    params |= _extras(args, mapped | extras | {"is_seller_know_cv"})
    _need_columns(
        rows, ("round_quality", "product_worth", "player", "round", "message", "decision")
    )

    steps: list[dict[str, Any]] = []
    quality: dict[int, bool] = {}
    bought: dict[int, bool] = {}
    for row in rows:
        agent, round_ = _agent_of(row["player"], players, agents, nature=True), _round(row)
        if round_ > rounds or round_ in bought:
            raise GameError("unreadable", f"round {round_}: a row after the round ended")
        if agent == NATURE:
            word = _word(row["round_quality"])
            if word is None or not word.startswith(("high", "low")):
                raise GameError("unreadable", f"round {round_}: quality {word!r}")
            quality[round_] = word.startswith("high")
            continue
        if round_ not in quality:
            raise GameError("unreadable", f"round {round_}: an action before Nature's row")
        high = int(quality[round_])
        choice = _word(row["decision"])
        if choice not in {None, "yes", "no"}:
            raise GameError("unreadable", f"round {round_}: decision {choice!r}")
        value = None if choice is None else int(choice == "yes")
        message = _text(row["message"])
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
    metrics = persuasion_metrics(
        rounds, highs, high_sold, sold, params["p_high"], params["value_high"], params["value_low"]
    )
    returns = {
        persuasion.SELLER: rounds * money * metrics["self_gain_seller"],
        persuasion.BUYER: rounds * money * metrics["self_gain_buyer"],
    }
    roster = {agent: _policy(players[agent]) for agent in agents}
    return Game(folder, PERSUASION_ID, params, roster, players, metrics, returns, steps)


def persuasion_metrics(
    rounds: int,
    high_rounds: int,
    high_sold: int,
    sold: int,
    p_high: float,
    value_high: float,
    value_low: float,
) -> dict[str, float | None]:
    """The persuasion env's final ``info["metrics"]`` with the paper's definitions: T rounds, n
    high-quality, k high-quality sold, r low-quality not sold; efficiency k/n (None at n = 0),
    fairness r/(T-n) (None at n = T), buyer gain [k(v-1) + (T-n-r)(c-1)]/T."""
    low = rounds - high_rounds
    low_sold = sold - high_sold
    low_kept = low - low_sold
    sale_rate = sold / rounds
    commitment = persuasion.commitment_sale_rate(p_high, value_high, value_low)
    buyer_gain = high_sold * (value_high - 1.0) + low_sold * (value_low - 1.0)
    return {
        "sales": float(sold),
        "high_rounds": float(high_rounds),
        "sale_rate": sale_rate,
        "self_gain_seller": sale_rate,
        "self_gain_buyer": buyer_gain / rounds,
        "efficiency": high_sold / high_rounds if high_rounds else None,
        "fairness": low_kept / low if low else None,
        "commitment_sale_rate": commitment,
        "regret_sale_rate": abs(sale_rate - commitment),
    }


_READERS: dict[str, Callable[[Path, dict[str, Any], list[dict[str, Any]]], Game]] = {
    "bargaining": _read_bargaining,
    "negotiation": _read_negotiation,
    "persuasion": _read_persuasion,
}


# --- the import ---


def _cell_key(game: Game) -> str:
    return json.dumps([game.env_id, game.params, game.roster], sort_keys=True, default=str)


def import_glee(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fresh: bool = False,
    shard_size: int = SHARD_SIZE,
) -> Path:
    """Import every GLEE game under ``source_dir`` into a new run directory ``out_dir``.

    One cell per distinct (env, parameters, players), ids ``c000``, ... in sorted order; episodes
    within a cell ordered by game folder. Skipped games are counted in the manifest's ``skipped``.
    ValueError when ``source_dir`` is missing or ``out_dir`` is taken (see `create_run`).
    """
    source = Path(source_dir)
    if not source.is_dir():
        raise ValueError(f"{source}: no such directory")
    folders = find_games(source)
    games: list[Game] = []
    skipped: list[dict[str, str]] = []
    for folder in folders:
        try:
            games.append(read_game(folder))
        except GameError as error:
            skipped.append(
                {"game": _relative(folder, source), "kind": error.kind, "reason": error.detail}
            )
        except Exception as error:  # one odd game never stops an import
            skipped.append(
                {
                    "game": _relative(folder, source),
                    "kind": "unreadable",
                    "reason": f"{type(error).__name__}: {error}",
                }
            )

    cells: dict[str, list[Game]] = {}
    for game in games:
        cells.setdefault(_cell_key(game), []).append(game)
    keys = sorted(cells)
    width = max(3, len(str(len(keys) - 1)))
    cell_ids = {key: f"c{i:0{width}d}" for i, key in enumerate(keys)}
    manifest_cells = [_manifest_cell(cell_ids[key], cells[key][0]) for key in keys]
    env_ids = sorted({game.env_id for game in games})
    created = datetime.now(UTC)
    plan = list(_episodes(keys, cells, cell_ids))
    shard_count = math.ceil(len(plan) / shard_size) if plan else 0
    run = create_run(
        out_dir,
        {
            "run_id": f"glee-{created:%Y%m%dT%H%M%SZ}-{uuid4().hex[:6]}",
            "name": "glee",
            "env": env_ids[0] if len(env_ids) == 1 else None,
            "envs": env_ids,
            "fingerprint": hashlib.sha256(
                json.dumps(manifest_cells, sort_keys=True).encode()
            ).hexdigest(),
            "seed": None,
            "source": "glee",
            "source_path": str(source.resolve()),
            "plan": {"cells": len(keys), "episodes": len(plan), "shards": shard_count},
            "games": {"found": len(folders), "imported": len(games), "skipped": len(skipped)},
            "skipped": {
                "count": len(skipped),
                "kinds": dict(sorted(Counter(s["kind"] for s in skipped).items())),
                "games": skipped[:SKIPPED_LISTED],
            },
            "cells": manifest_cells,
        },
        fresh=fresh,
    )
    try:
        shard_width = max(5, len(str(max(shard_count - 1, 0))))
        episode_width = max(5, len(str(max((len(g) for g in cells.values()), default=1) - 1)))
        index_rows = []
        for n in range(shard_count):
            records, steps = [], StepColumns()
            for cell_id, index, game in plan[n * shard_size : (n + 1) * shard_size]:
                episode_id = f"{cell_id}-e{index:0{episode_width}d}"
                records.append(_record(run.run_id, cell_id, episode_id, index, game))
                _add_steps(steps, episode_id, game)
                index_rows.append(
                    {
                        "episode_id": episode_id,
                        "cell_id": cell_id,
                        "game_id": game.game_id,
                        "path": _relative(game.folder, source),
                    }
                )
            run.write_shard(f"s{n:0{shard_width}d}", records, steps)
        pd.DataFrame(index_rows, columns=["episode_id", "cell_id", "game_id", "path"]).to_csv(
            run.path / INDEX, index=False
        )
        run.update_manifest(status="complete")
    finally:
        run.close()
    return run.path


def _episodes(
    keys: list[str], cells: dict[str, list[Game]], cell_ids: dict[str, str]
) -> Iterator[tuple[str, int, Game]]:
    for key in keys:
        ordered = sorted(cells[key], key=lambda g: (g.game_id, str(g.folder)))
        for index, game in enumerate(ordered):
            yield cell_ids[key], index, game


def _manifest_cell(cell_id: str, game: Game) -> dict[str, Any]:
    players = {
        agent: {
            "policy": game.roster[agent],
            "player_type": player["player_type"],
            "model_name": player["model_name"],
            "public_name": player["public_name"],
        }
        for agent, player in game.players.items()
    }
    return {
        "cell_id": cell_id,
        "env_id": game.env_id,
        "params": json.loads(to_json(game.params)),
        "roster": json.loads(to_json(players)),
    }


def _record(run_id: str, cell_id: str, episode_id: str, index: int, game: Game) -> EpisodeRecord:
    return EpisodeRecord(
        run_id=run_id,
        cell_id=cell_id,
        episode_id=episode_id,
        episode_index=index,
        env_id=game.env_id,
        params=game.params,
        seed=None,  # type: ignore[arg-type]  # GLEE games are unseeded
        roster=game.roster,
        metrics=game.metrics,  # type: ignore[arg-type]
        returns=game.returns,
        steps=len(game.steps),
        llm_calls=None,  # type: ignore[arg-type]  # not in GLEE's game logs
        llm_tokens=None,  # type: ignore[arg-type]
        errors=None,  # type: ignore[arg-type]
        wall_s=None,  # type: ignore[arg-type]
    )


def _add_steps(steps: StepColumns, episode_id: str, game: Game) -> None:
    for number, step in enumerate(game.steps):
        agent = step["agent"]
        steps.add(
            episode_id=episode_id,
            step=number,
            agent=agent,
            role=role_of(agent),
            action=to_json(step["action"]),
            message=step["message"],
            info=to_json({**step["info"], "glee_game_id": game.game_id}),
            policy=game.roster[agent],
        )


def _relative(folder: Path, source: Path) -> str:
    try:
        return folder.relative_to(source).as_posix() or "."
    except ValueError:
        return str(folder)
