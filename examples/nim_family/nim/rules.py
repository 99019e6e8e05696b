"""Nim's rules as pure functions: the env, the scripted player and the tests share them."""

from __future__ import annotations


def optimal_take(tokens: int, max_take: int) -> int:
    """The winning move: leave a multiple of ``max_take + 1``; take 1 when none exists."""
    return tokens % (max_take + 1) or 1


def first_should_win(tokens: int, max_take: int) -> bool:
    """Whether the first player wins with optimal play (the start is not a multiple of
    ``max_take + 1``)."""
    return tokens % (max_take + 1) != 0


def metrics(first_won: bool, turns: int, tokens: int, max_take: int) -> dict[str, float]:
    """The episode's final ``info["metrics"]``."""
    return {
        "first_wins": float(first_won),
        "turns": float(turns),
        "first_should_win": float(first_should_win(tokens, max_take)),
    }
