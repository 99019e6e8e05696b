"""The three GLEE games' parameters, validated once at construction (one line per bad field).

`max_cycles` is PettingZoo's truncation cap, in rounds; the env's ``render_mode`` is checked by
the env itself, as in PettingZoo's built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass

from envs.core.params import Params, choice, flag, integer, real
from envs.games.persuasion_rules import BUYER_MEMORIES, MESSAGE_TYPES

MAX_AMOUNT = 1e29
"""The largest money and value negotiation allows: prices up to 10x this still fit float64."""


def _money(default: float) -> float:
    return real(default, 0.0, open_low=True, doc="the sum at stake")


def _horizon(default: int) -> int:
    return integer(default, 1, doc="rounds before the game ends without a deal")


def _announce() -> bool | None:
    return flag(None, optional=True, doc="tell players the horizon (None: when it is short)")


def _complete() -> bool:
    return flag(True, doc="each player knows the other's parameters")


def _message_length() -> int:
    return integer(500, 1, doc="characters of a message")


def _max_cycles() -> int | None:
    return integer(None, 1, optional=True, doc="truncate after this many rounds")


@dataclass(frozen=True)
class BargainingParams(Params):
    """Alternating-offers bargaining over ``money`` (see `envs.games.bargaining`)."""

    money: float = _money(10_000.0)
    discount_alice: float = real(0.9, 0.0, 1.0, open_low=True, doc="Alice's discount per round")
    discount_bob: float = real(0.9, 0.0, 1.0, open_low=True, doc="Bob's discount per round")
    horizon: int = _horizon(99)
    announce_horizon: bool | None = _announce()
    complete_information: bool = _complete()
    messages: bool = flag(False, doc="players may add a message to each offer")
    message_length: int = _message_length()
    max_cycles: int | None = _max_cycles()


@dataclass(frozen=True)
class NegotiationParams(Params):
    """A seller and a buyer haggle over one item's price (see `envs.games.negotiation`)."""

    money: float = real(10_000.0, 0.0, MAX_AMOUNT, open_low=True, doc="the item's reference value")
    seller_value_factor: float = real(1.0, 0.0, open_low=True, doc="seller's value / money")
    buyer_value_factor: float = real(1.0, 0.0, open_low=True, doc="buyer's value / money")
    horizon: int = _horizon(1)
    announce_horizon: bool | None = _announce()
    complete_information: bool = _complete()
    messages: bool = flag(False, doc="players may add a message to each offer")
    message_length: int = _message_length()
    max_cycles: int | None = _max_cycles()

    def validate(self) -> NegotiationParams:
        for name in ("seller_value_factor", "buyer_value_factor"):
            factor = getattr(self, name)
            if factor * self.money > MAX_AMOUNT:
                raise ValueError(
                    f"{name} times money must be at most {MAX_AMOUNT:g}, got {factor!r}"
                )
        return self


@dataclass(frozen=True)
class PersuasionParams(Params):
    """A seller who knows the product's quality talks a buyer into it (`envs.games.persuasion`)."""

    money: float = _money(10_000.0)
    p_high: float = real(0.5, 0.0, 1.0, doc="chance a product is of high quality")
    value_high: float = real(
        1.25, 1.0, open_low=True, doc="a high-quality product's worth / price",
        why="at value_high <= 1 even a high-quality product is worth no more than its price, "
        "so buying never pays",
    )  # fmt: skip
    value_low: float = real(
        0.0, 0.0, 1.0, open_high=True, doc="a low-quality product's worth / price",
        why="a low-quality product is worth less than its price",
    )  # fmt: skip
    rounds: int = integer(20, 1, doc="products sold, one per round")
    message_type: str = choice("binary", MESSAGE_TYPES, doc="the seller's signal")
    buyer_memory: str = choice("long", BUYER_MEMORIES, doc="one long-lived or a new buyer each")
    complete_information: bool = _complete()
    message_length: int = _message_length()
    max_cycles: int | None = _max_cycles()
