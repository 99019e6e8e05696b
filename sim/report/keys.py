"""Short cell keys for reports: each cell named by what differs between cells, e.g.
``dA=0.8 dB=0.95 bob=llm``, so a table at 80 columns still tells the cells apart.

Parameter names are abbreviated deterministically (initials, lengthened until unique; short
names kept whole) and listed in a legend; agents lose their ``_0`` when they are their role's
only varying player; policy names lose their family prefix (and model key) when the shorter
values still tell the cells apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KEEP_WHOLE = 7
"""Parameter names up to this length are shown whole (``horizon``, ``domain``)."""


def abbreviations(names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """A short, unique, deterministic abbreviation of each name (``discount_alice`` -> ``dA``).

    A name's candidates grow longer (``dA``, ``diAl``, ``disAli``, ..., the name itself) until
    no two names (nor a name and ``taken``) share one; names of up to `KEEP_WHOLE` characters
    stay whole."""
    names = sorted(set(names))
    level = dict.fromkeys(names, 0)
    reserved = set(taken)
    while True:
        short = {name: _candidate(name, level[name]) for name in names}
        clashes = {
            name
            for name in names
            if short[name] in reserved or sum(s == short[name] for s in short.values()) > 1
        }
        if not clashes:
            return short
        for name in clashes:
            if short[name] != name:
                level[name] += 1
        if all(short[name] == name for name in clashes):  # only whole names left: unique
            return short


def _candidate(name: str, level: int) -> str:
    if len(name) <= KEEP_WHOLE:
        return name
    words = [w for w in name.split("_") if w]
    if not words:
        return name
    size = level + 1
    short = words[0][:size] + "".join(w[:size].capitalize() for w in words[1:])
    return name if size >= max(len(w) for w in words) or len(short) >= len(name) else short


def agent_keys(agents: Iterable[str]) -> dict[str, str]:
    """``bob_0`` -> ``bob`` where it is the only listed agent of its role, else the name."""
    agents = sorted(set(agents))
    roles = [a.rsplit("_", 1)[0] if a.rsplit("_", 1)[-1].isdigit() else a for a in agents]
    return {
        agent: role if roles.count(role) == 1 else agent
        for agent, role in zip(agents, roles, strict=True)
    }


def short_values(values: Mapping[str, str]) -> dict[str, str]:
    """Policy names per cell, shortened while distinct values stay distinct:
    ``bargaining/even-split`` -> ``even-split``, ``llm:smol`` -> ``llm``."""
    for shorten in (_bare_policy, _no_family, str):
        short = {cell: shorten(value) for cell, value in values.items()}
        if len(set(short.values())) == len(set(values.values())):
            return short
    return dict(values)


def _no_family(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _bare_policy(value: str) -> str:
    return _no_family(value).split(":", 1)[0]


def value_text(value: Any) -> str:
    """A parameter value as a key shows it: numbers as written (``0.8``, ``99``), text as is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def cell_keys(
    params: Mapping[str, Mapping[str, Any]], players: Mapping[str, Mapping[str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """Each cell's key from its varying ``params`` (cell -> name -> value) and varying
    ``players`` (cell -> agent -> policy), and the legend (abbreviation -> parameter name) of
    the abbreviated names (`legend`: from the names alone)."""
    cells = sorted(set(params) | set(players))
    agent_names = sorted({agent for roster in players.values() for agent in roster})
    names = sorted({name for values in params.values() for name in values})
    short = abbreviations(names)
    agents = {a: k if k not in short.values() else a for a, k in agent_keys(agent_names).items()}
    policies = {
        agent: short_values({cell: str(players.get(cell, {}).get(agent)) for cell in cells})
        for agent in agent_names
    }
    keys = {}
    for cell in cells:
        parts = [f"{short[n]}={value_text(params[cell][n])}" for n in names if n in params[cell]]
        parts += [f"{agents[a]}={policies[a][cell]}" for a in agent_names]
        keys[cell] = " ".join(parts) or cell
    return keys, legend(names)


def legend(names: Iterable[str]) -> dict[str, str]:
    """Abbreviation -> parameter name, for the names `abbreviations` shortens."""
    return {short: name for name, short in abbreviations(names).items() if short != name}
