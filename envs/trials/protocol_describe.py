"""`TrialProtocol.describe`: an action as the keyed lines that parse back to it, or as its JSON
reply where the lines cannot carry its message exactly (`keyed_or_json`).

Messages are written as the env stores them (`normalize_text`); an assistant's stance as the
option it promotes most and the one it discourages most (as `reply_json` does: a reply cannot
say more); a user's reply holds what its phase asks for (the env reads nothing else then), with
END only where the chat may end (the env ends it nowhere else); payoff points exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envs.core.names import role_of
from envs.core.protocol import keyed_or_json
from envs.core.spaces import normalize_text
from envs.core.text import exact_amount
from envs.trials.protocol_views import CHAT
from envs.trials.tactics import DISPLAY_NAMES

if TYPE_CHECKING:
    from envs.trials.protocol import TrialProtocol


def describe(protocol: TrialProtocol, action: Any, observation: Any, agent: str) -> str:
    read = as_read(protocol, action, observation, agent)
    keyed = keyed_lines(protocol.reply_json(read, observation, agent), agent)
    return keyed_or_json(protocol, keyed, read, observation, agent)


def as_read(protocol: TrialProtocol, action: Any, observation: Any, agent: str) -> Any:
    """``action`` as the env reads it: its message normalised and, from a user, END dropped
    where the chat may not end yet."""
    if role_of(agent) == "principal":
        return action
    read = {**action, "message": normalize_text(action["message"], protocol.message_length)}
    if role_of(agent) != "assistant" and int(observation["phase"]) == CHAT:
        read["end_chat"] = int(bool(action["end_chat"]) and observation["end_chat_mask"][1])
    return read


def keyed_lines(reply: dict[str, Any], agent: str) -> str:
    """The keyed lines of an action's JSON reply (its letters, tactic and ratings)."""
    if role_of(agent) == "assistant":
        return "\n".join(
            (
                f"SAY: {reply['message']}",
                f"PROMOTE: {reply['promote'] or 'none'}",
                f"DISCOURAGE: {reply['discourage'] or 'none'}",
                f"TACTIC: {DISPLAY_NAMES[reply['tactic']]}",
            )
        )
    if role_of(agent) == "principal":
        points = " ".join(exact_amount(points) for points in reply["payoff"].values())
        return f"TARGET: {reply['target']} PAYOFF: {points}"
    parts = []
    if reply.get("ratings"):
        parts.append("RATINGS: " + " ".join(f"{x}={r}" for x, r in reply["ratings"].items()))
    if "confidence" in reply:
        parts += [f"CONFIDENCE: {reply['confidence']}", f"FAMILIARITY: {reply['familiarity']}"]
    if "choice" in reply:
        parts.append(f"CHOICE: {reply['choice']}")
    if "satisfaction" in reply:
        parts.append(f"SATISFACTION: {reply['satisfaction']}")
    if "message" in reply:
        return "\n".join([f"SAY: {reply['message']}", *parts, *(["END"] * reply["end_chat"])])
    return " ".join(parts)
