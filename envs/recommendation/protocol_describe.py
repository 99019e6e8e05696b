"""`DialogueProtocol.describe`: an action as the command or keyed line that parses back to it,
or as its JSON reply where that cannot carry its texts exactly (`keyed_or_json`).

Texts are written as the env stores them (`normalize_text`); recommended items once each, at most
`recommend_size` (as the env takes them). A search cannot say ``use_known``: SEARCH looks among
the items fitting what the user said. A feature act whose value is not one of its feature's, an
accept of an item not recommended now, and a recommendation of no item have no reply
(`ActionParseError`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from envs.core.names import role_of
from envs.core.protocol import ActionParseError, keyed_or_json
from envs.core.spaces import normalize_text
from envs.recommendation import dialogue_acts as words

if TYPE_CHECKING:
    from envs.recommendation.dialogue_protocol import DialogueProtocol


def describe_dialogue(protocol: DialogueProtocol, action: Any, observation: Any, agent: str) -> str:
    if role_of(agent) == "recommender":
        act = words.REC_ACTS[int(action["act"])]
        query = normalize_text(action["query"], words.QUERY_CHARS)
        message = normalize_text(action["message"], words.MESSAGE_CHARS)
        feature = int(action["feature"])
        items = [int(i) for i in np.ravel(action["items"]) if i >= 0]
        items = list(dict.fromkeys(items))[: protocol.recommend_size]
        read = protocol.recommender_action(
            act, query=query, feature=feature, items=items, message=message
        )
        keyed = {
            "search": f"SEARCH {query}",
            "ask": f"ASK {protocol.features[feature]}",
            "recommend": f"RECOMMEND {', '.join(map(str, items))}"
            + (f": {message}" if message else ""),
            "respond": f"SAY {message}",
        }[act]
        return keyed_or_json(protocol, keyed, read, observation, agent)
    act = words.USER_ACTS[int(action["act"])]
    feature, value = int(action["feature"]), int(action["value"])
    name = protocol.features[feature]
    if act in words.FEATURE_ACTS and value >= len(protocol.values[name]):
        raise ActionParseError(f"{name} has no value {value}: this {act} has no reply")
    item = int(np.ravel(action["item"])[0])
    ratings = [int(r) for r in np.ravel(action["ratings"])]
    utterance = normalize_text(action["utterance"], words.MESSAGE_CHARS)
    reason = normalize_text(action["reason"], words.QUERY_CHARS)
    read = protocol.user_action(act, feature=feature, value=value, item=item,
                                utterance=utterance, ratings=ratings, reason=reason)  # fmt: skip
    parts = [f"ACT: {act}"]
    if act in words.FEATURE_ACTS:
        parts.append(f"FEATURE: {name} VALUE: {protocol.values[name][value]}")
    elif act == "accept":
        parts.append(f"ITEM: {item}")
    scores = " ".join(f"{scale}={r}" for scale, r in zip(words.SCALES, ratings, strict=True))
    parts += [f"SAY: {utterance}", f"RATINGS: {scores}", f"REASON: {reason}"]
    return keyed_or_json(protocol, " ".join(parts), read, observation, agent)
