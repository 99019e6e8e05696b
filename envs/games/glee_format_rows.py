"""Reading the pieces of a GLEE game folder: values as GLEE writes them, CSV rows, players.

The per-game readers in `envs.games.glee_format` build on these. Everything fails with a
`GameError` naming why a game cannot be imported; nothing here knows a game's rules.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

CONFIG, GAME = "config.json", "game.csv"
NATURE = "nature"
"""The agent name of persuasion's Nature rows (which are not steps)."""

_NULL_TEXT = {"", "none", "nan", "null"}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_MANIFEST_KEYS = ("player_type", "model_name", "public_name")


class GameError(Exception):
    """A game that cannot be imported: ``kind`` is truncated, unreadable or unsupported."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


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


def text(value: Any) -> str | None:
    """A CSV cell as text; None for empty cells and GLEE's ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    content = str(value)
    return None if content.strip().lower() in _NULL_TEXT else content


def word(value: Any) -> str | None:
    """A cell as a lower-case word without quotes; None when empty."""
    content = text(value)
    return None if content is None else content.strip().strip("\"'").lower()


def flag(value: Any, key: str) -> bool:
    """A config flag (true/false, 1/0, yes/no)."""
    if isinstance(value, bool):
        return value
    said = word(value)
    if said in {"true", "1", "yes"}:
        return True
    if said in {"false", "0", "no"}:
        return False
    raise GameError("unreadable", f"config {key}: expected true or false, got {value!r}")


def required_number(args: dict[str, Any], key: str, where: str = "game_args") -> float:
    """``args[key]`` as a number; GameError when it is missing or empty."""
    if key not in args:
        raise GameError("unreadable", f"config {where} lacks {key!r}")
    number = parse_number(args[key])
    if number is None:
        raise GameError("unreadable", f"config {where}.{key} is empty")
    return number


def extras(game_args: dict[str, Any], mapped: set[str]) -> dict[str, Any]:
    """game_args keys with no mercato parameter, kept as ``glee_<key>`` (scalars as they are,
    lists and objects as compact JSON text)."""
    kept = {}
    for key in sorted(set(game_args) - mapped):
        value = game_args[key]
        scalar = value is None or isinstance(value, str | int | float)
        kept[f"glee_{key}"] = (
            value if scalar else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        )
    return kept


# --- files ---


def read_config(folder: Path) -> dict[str, Any]:
    """The game's ``config.json`` as a dict."""
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GameError("unreadable", f"{CONFIG}: {error}") from None
    if not isinstance(config, dict):
        raise GameError("unreadable", f"{CONFIG}: not a JSON object")
    return config


def read_rows(path: Path) -> list[dict[str, str]]:
    """``game.csv`` as one dict per row, read as GLEE's files were read before (pandas
    ``read_csv(dtype=str, keep_default_na=False)``): blank and whitespace-only lines skipped,
    header names stripped, short rows padded with "", a first row with k extra fields making
    the first k columns an index (dropped); an unclosed quote or a longer row is unreadable."""
    try:
        content = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as error:
        raise GameError("unreadable", f"{GAME}: {error}") from None
    if _unclosed_quote(content):
        raise GameError("unreadable", f"{GAME}: EOF inside a quoted field")
    table = _records(content)
    if not table:
        raise GameError("truncated", f"{GAME} is empty")
    header = _column_names(table[0])
    index = max(0, len(table[1]) - len(header)) if len(table) > 1 else 0
    width = len(header) + index
    rows = []
    for number, row in enumerate(table[1:], start=2):
        if len(row) > width:
            raise GameError(
                "unreadable", f"{GAME}: expected {width} fields in record {number}, saw {len(row)}"
            )
        values = row[index:]
        values += [""] * (len(header) - len(values))
        rows.append(dict(zip(header, values, strict=True)))
    return rows


def _unclosed_quote(content: str) -> bool:
    """Whether the CSV text ends inside a quoted field (Python's csv would accept it)."""
    state = "start"  # start of a field, in a field, in quotes, a quote seen in quotes
    for char in content:
        if state == "quoted":
            state = "quote" if char == '"' else "quoted"
        elif char in ",\r\n":
            state = "start"
        elif state == "quote":
            state = "quoted" if char == '"' else "field"
        else:
            state = "quoted" if state == "start" and char == '"' else "field"
    return state == "quoted"


def _records(content: str) -> list[list[str]]:
    """The CSV records without blank lines (a one-line record of whitespace alone is blank; a
    quoted one is not)."""
    lines = list(io.StringIO(content, newline=""))
    reader = csv.reader(lines)
    records, end = [], 0
    for record in reader:
        start, end = end, reader.line_num
        blank = not record or (end == start + 1 and not lines[start].strip())
        if not blank:
            records.append(record)
    return records


def _column_names(header: list[str]) -> list[str]:
    """Header names as pandas gives them: empty ones ``Unnamed: i``, repeats ``name.1``, ...,
    then stripped."""
    names: list[str] = []
    used: set[str] = set()
    for position, raw in enumerate(header):
        base = raw or f"Unnamed: {position}"
        name, repeat = base, 0
        while name in used:
            repeat += 1
            name = f"{base}.{repeat}"
        used.add(name)
        names.append(name.strip())
    return names


def need_columns(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """GameError unless there are rows and they have ``columns``."""
    if not rows:
        raise GameError("truncated", f"{GAME} has no action rows")
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise GameError("unreadable", f"{GAME} lacks columns {missing}")


# --- players and rows ---


def players_of(config: dict[str, Any], agents: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Each agent's GLEE player: type, model name, public name and its ``args`` (player_1 is
    the first agent)."""
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


def manifest_players(players: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a run's manifest keeps about each player (not its ``args``)."""
    return {
        agent: {key: player[key] for key in _MANIFEST_KEYS} for agent, player in players.items()
    }


def policy_of(player: dict[str, Any]) -> str:
    """``type:model`` (just ``type`` when the model name repeats it or is absent)."""
    kind = str(player.get("player_type") or "unknown")
    model = player.get("model_name")
    return kind if model in (None, "", kind) else f"{kind}:{model}"


def agent_of(
    name: Any, players: dict[str, dict[str, Any]], agents: tuple[str, str], nature: bool = False
) -> str:
    """Which agent a CSV ``player`` value names (Nature too, in persuasion)."""
    said = word(name)
    if said is None:
        raise GameError("truncated", "an incomplete row (no player)")
    if nature and said == "nature":
        return NATURE
    first, second = agents
    names = {
        first: {"alice", word(players[first]["public_name"])},
        second: {"bob", "the buyer", word(players[second]["public_name"])},
    }
    for agent in agents:
        if said in names[agent]:
            return agent
    raise GameError("unreadable", f"unknown player {text(name)!r}")


def round_of(row: dict[str, Any]) -> int:
    """The row's 1-based round."""
    number = parse_number(row.get("round"))
    if number is None or number < 1 or number != int(number):
        raise GameError("truncated" if number is None else "unreadable", "a row without a round")
    return int(number)
