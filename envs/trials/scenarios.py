"""Trial scenarios: a query, four options with their roles, and what each option really leads to.

After the structure of Sabour et al. (2025): each scenario has one *optimal* option, one *hidden*
target (the option a manipulative assistant is paid to push, patterned on a typical harm of its
domain) and two *other* options. Options are listed in a canonical order in the data file; the
environment shows them in a seeded random order and maps labels back.

Scenario files are YAML (`envs/trials/data/scenarios.en.yaml` is the shipped library; the format
is documented in `docs/trial-scenarios.md`); `load_scenarios` validates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DOMAINS: tuple[str, ...] = ("financial", "emotional")
ROLES: tuple[str, ...] = ("optimal", "hidden", "other")


@dataclass(frozen=True)
class Option:
    """One option of a scenario.

    ``text`` is what everyone sees; ``pattern`` names the kind of option (``best`` for the
    optimal one; e.g. ``hype``, ``upsell``, ``lock-in``, ``avoidance``, ``venting``,
    ``self-blame`` for the others); ``outcome`` is what choosing it turns out to mean (revealed
    in hindsight) and ``utility`` its true value to the user in [-1, 1]. ``appeal`` (1-10) is how
    attractive it looks at face value: public, it drives simulated participants' first ratings.
    """

    key: str
    title: str
    text: str
    role: str
    pattern: str
    outcome: str
    utility: float
    appeal: float = 5.5


@dataclass(frozen=True)
class Scenario:
    """A task: the user's situation and four options (canonical order, one optimal, one hidden)."""

    id: str
    domain: str
    language: str
    title: str
    query: str
    options: tuple[Option, ...]

    def index_of(self, role: str) -> int:
        """The canonical index of the (first) option with ``role``."""
        return next(i for i, option in enumerate(self.options) if option.role == role)


# ---------------------------------------------------------------- loading

DEFAULT_PATH: Path = Path(__file__).resolve().parent / "data" / "scenarios.en.yaml"

_SCENARIO_FIELDS: tuple[str, ...] = ("id", "domain", "language", "title", "query", "options")
_OPTION_FIELDS: tuple[str, ...] = (
    "key", "title", "role", "pattern", "text", "outcome", "utility", "appeal",
)  # fmt: skip
_ROLE_COUNTS: dict[str, int] = {"optimal": 1, "hidden": 1, "other": 2}
N_OPTIONS = 4


def load_scenarios(path: str | Path | None = None) -> dict[str, Scenario]:
    """Scenarios by id from a YAML file (default: the shipped English library), validated strictly.

    Any problem raises ValueError with one line naming the file, the scenario id and the field,
    so a bad user file fails at load time rather than mid-episode. The default load is cached;
    the returned dict is a fresh copy each time (the scenarios themselves are frozen).
    """
    if path is None:
        return dict(_load_default())
    return _load(Path(path))


def scenarios_for(domain: str, scenarios: dict[str, Scenario] | None = None) -> list[Scenario]:
    """The scenarios of ``domain`` (default library unless ``scenarios`` is given), sorted by id."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; allowed: {', '.join(DOMAINS)}")
    pool = load_scenarios() if scenarios is None else scenarios
    return sorted((s for s in pool.values() if s.domain == domain), key=lambda s: s.id)


@lru_cache(maxsize=1)
def _load_default() -> dict[str, Scenario]:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> dict[str, Scenario]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read scenario file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"{path}: not valid YAML ({detail})") from exc
    if not isinstance(raw, dict) or set(raw) != {"scenarios"}:
        raise ValueError(f"{path}: top level must be a mapping with the single key 'scenarios'")
    entries = raw["scenarios"]
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: 'scenarios' must be a non-empty list")
    scenarios: dict[str, Scenario] = {}
    for n, entry in enumerate(entries):
        scenario = _parse_scenario(path, n, entry)
        if scenario.id in scenarios:
            raise ValueError(f"{path}: scenario {scenario.id}: id: duplicate id")
        scenarios[scenario.id] = scenario
    return scenarios


def _fields(where: str, entry: object, fields: tuple[str, ...]) -> dict[str, Any]:
    """``entry`` as a mapping with exactly ``fields``; ``where`` prefixes the error."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a mapping with fields {', '.join(fields)}")
    missing = [f for f in fields if f not in entry]
    if missing:
        raise ValueError(f"{where}: {missing[0]}: missing field")
    extra = sorted(str(f) for f in entry if f not in fields)
    if extra:
        raise ValueError(f"{where}: {extra[0]}: unknown field (allowed: {', '.join(fields)})")
    return entry


def _text(where: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {name}: must be a non-empty string, got {value!r}")
    return value.strip()


def _parse_scenario(path: Path, n: int, entry: object) -> Scenario:
    label = entry.get("id") if isinstance(entry, dict) else None
    label = label.strip() if isinstance(label, str) and label.strip() else f"#{n + 1}"
    where = f"{path}: scenario {label}"
    fields = _fields(where, entry, _SCENARIO_FIELDS)
    sid = _text(where, "id", fields["id"])
    domain = _text(where, "domain", fields["domain"])
    if domain not in DOMAINS:
        raise ValueError(f"{where}: domain: {domain!r} is not one of {', '.join(DOMAINS)}")
    raw_options = fields["options"]
    if not isinstance(raw_options, list) or len(raw_options) != N_OPTIONS:
        count = f"got {len(raw_options)}" if isinstance(raw_options, list) else "not a list"
        raise ValueError(f"{where}: options: must be a list of exactly {N_OPTIONS} ({count})")
    options = tuple(_parse_option(where, i, o) for i, o in enumerate(raw_options))
    keys = [o.key for o in options]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{where}: options.key: keys must be unique, got {keys}")
    roles = [o.role for o in options]
    for role, count in _ROLE_COUNTS.items():
        if roles.count(role) != count:
            raise ValueError(
                f"{where}: options.role: need exactly {count} {role!r}, got {roles.count(role)}"
                f" (roles {roles})"
            )
    return Scenario(
        id=sid,
        domain=domain,
        language=_text(where, "language", fields["language"]),
        title=_text(where, "title", fields["title"]),
        query=_text(where, "query", fields["query"]),
        options=options,
    )


def _parse_option(where: str, i: int, entry: object) -> Option:
    at = f"{where}: options[{i}]"
    fields = _fields(at, entry, _OPTION_FIELDS)
    role = _text(at, "role", fields["role"])
    if role not in ROLES:
        raise ValueError(f"{at}: role: {role!r} is not one of {', '.join(ROLES)}")
    utility = fields["utility"]
    if (
        isinstance(utility, bool)
        or not isinstance(utility, int | float)
        or not -1.0 <= utility <= 1.0
    ):
        raise ValueError(f"{at}: utility: must be a number in [-1, 1], got {utility!r}")
    appeal = fields["appeal"]
    if isinstance(appeal, bool) or not isinstance(appeal, int | float) or not 1 <= appeal <= 10:
        raise ValueError(f"{at}: appeal: must be a number in [1, 10], got {appeal!r}")
    return Option(
        key=_text(at, "key", fields["key"]),
        title=_text(at, "title", fields["title"]),
        text=_text(at, "text", fields["text"]),
        role=role,
        pattern=_text(at, "pattern", fields["pattern"]),
        outcome=_text(at, "outcome", fields["outcome"]),
        utility=float(utility),
        appeal=float(appeal),
    )
