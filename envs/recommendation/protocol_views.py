"""What the recommendation players read, rendered by their protocols from the structured
observation alone (the envs' ``text`` field is the same view): the feed's recommender and user
(`recommender_view`, `user_view`) and the dialogue's (`dialogue_recommender_view`,
`dialogue_user_view`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.recommendation.commands import ActiveConstraints, describe
from envs.recommendation.need import STYLES


@dataclass(frozen=True)
class Layout:
    """A catalog's names behind an observation's codes (the same for every seed of an env)."""

    domain: str
    category_names: tuple[str, ...]
    attribute_values: Mapping[str, tuple[str, ...]]

    def values_of(self, codes: Sequence[int]) -> list[tuple[str, str]]:
        """(attribute, value) of one item's attribute codes (ints), in attribute order."""
        return [
            (name, values[code])
            for (name, values), code in zip(self.attribute_values.items(), codes, strict=True)
        ]

    def flat_values(self, flags: Any) -> frozenset[tuple[str, int]]:
        """The (attribute, code) pairs set in a flat per-value vector (attribute order)."""
        on = np.flatnonzero(flags).tolist()
        pairs, start = [], 0
        for name, values in self.attribute_values.items():
            pairs += [(name, i - start) for i in on if start <= i < start + len(values)]
            start += len(values)
        return frozenset(pairs)


@dataclass(frozen=True)
class _Names:
    """What `commands.describe` reads of a catalog: its names and the titles it may cite."""

    category_names: tuple[str, ...]
    attribute_values: Mapping[str, tuple[str, ...]]
    titles: Mapping[int, str]


def catalog_line(
    item: int, title: str, category: str, values: Sequence[tuple[str, str]], price: float
) -> str:
    """An item as its catalog describes it (`Catalog.describe`): id, title, category,
    attributes, price."""
    described = ", ".join(f"{name}: {value}" for name, value in values)
    return f"[{item}] {title} ({category}; {described}; ${price:.2f})"


def item_line(
    item: int,
    title: str,
    category: str,
    values: Sequence[tuple[str, str]],
    price: float,
    quality: float,
    engagement: float,
) -> str:
    """An item as a feed player reads it: its catalog line, its rating (quality) and buzz
    (engagement)."""
    line = catalog_line(item, title, category, values, price)
    return f"{line} rating {quality * 5:.1f}/5, buzz {engagement:.2f}"


def requests(observation: Mapping[str, Any], layout: Layout) -> str:
    """The user's standing requests in words ("no horror; only paperback; under $20.00")."""
    similar = int(observation["similar_to"][0])
    constraints = ActiveConstraints(
        exclude_categories=frozenset(np.flatnonzero(observation["excluded_categories"]).tolist()),
        exclude_values=layout.flat_values(observation["excluded_values"]),
        only_categories=frozenset(np.flatnonzero(observation["only_categories"]).tolist()),
        only_values=layout.flat_values(observation["only_values"]),
        max_price=float(observation["price_ceiling"][0]),
        similar_to=similar,
        different=bool(observation["different"]),
    )
    names = _Names(
        layout.category_names, layout.attribute_values, {similar: observation["similar_title"]}
    )
    return describe(constraints, names)  # type: ignore[arg-type]


def response_words(slate: Any, response: int, command: str, title: str) -> str:
    """One response in words: "clicked slot 2: [12] Title", "skipped", a command, "left"."""
    size = len(slate)
    if response < 0:
        return "-"
    if response == 0:
        return "skipped the slate"
    if response <= size:
        return f"clicked slot {response}: [{int(slate[response - 1])}] {title}"
    if response == size + 1:
        return f'said "{command}"'
    return "left the feed"


def history_lines(observation: Mapping[str, Any]) -> list[str]:
    """Recent slates (ids) and the user's response to each, newest first; none when empty."""
    responses = observation["history_responses"].tolist()
    if not responses or responses[0] < 0:  # newest first: no row, no history
        return []
    lines = ["Recent slates (newest first):"]
    for slate, response, command, title in zip(
        observation["history_slates"].tolist(), responses, observation["history_commands"],
        observation["history_titles"], strict=True,
    ):  # fmt: skip
        if response < 0:
            break
        ids = " ".join(f"[{i}]" for i in slate if i >= 0) or "(empty)"
        lines.append(f"  {ids} -> {response_words(slate, response, command, title)}")
    return lines


def recommender_view(
    observation: Mapping[str, Any], layout: Layout, max_steps: int, slate_size: int
) -> str:
    """The recommender's view: standing requests, recent slates with responses, candidates."""
    n_items = len(observation["item_category"])
    lines = [
        f"Feed step {int(observation['step']) + 1} of {max_steps}. Show the user up to "
        f"{slate_size} items from a {layout.domain} catalog of {n_items} items "
        f"(ids 0-{n_items - 1}).",
        f"The user's requests: {requests(observation, layout)}",
        *history_lines(observation),
    ]
    shortlist = [i for i in observation["candidates"].tolist() if i >= 0]
    if shortlist:
        lines.append("Candidates:")
        keys = ("category", "attributes", "price", "quality", "engagement")
        columns = [observation[f"item_{key}"][shortlist].tolist() for key in keys]
        titles = observation["candidate_titles"]
        for n, (item, category, codes, price, quality, engagement) in enumerate(
            zip(shortlist, *columns, strict=True)
        ):
            line = item_line(item, titles[n], layout.category_names[category],
                             layout.values_of(codes), price, quality, engagement)  # fmt: skip
            lines.append(f"  {line}")
    return "\n".join(lines)


def user_view(observation: Mapping[str, Any], layout: Layout) -> str:
    """The user's view: its recent slates and responses (newest first), the slate by slot, the
    recommender's message, its requests and its own state."""
    lines = [*history_lines(observation), f"Your feed, step {int(observation['step']) + 1}:"]
    shown = []
    keys = ("category", "attributes", "price", "quality", "engagement")
    columns = [observation[f"slate_{key}"].tolist() for key in keys]
    for slot, item in enumerate(observation["slate"].tolist()):
        if item < 0:
            continue
        category, codes, price, quality, engagement = (column[slot] for column in columns)
        line = item_line(item, observation["slate_title"][slot], layout.category_names[category],
                         layout.values_of(codes), price, quality, engagement)  # fmt: skip
        shown.append(f"  {slot + 1}. {line}")
    lines += shown or ["  (empty)"]
    if observation["message"]:
        lines.append(f"The recommender says: {observation['message']}")
    lines.append(f"Your requests so far: {requests(observation, layout)}")
    satisfaction, budget = float(observation["satisfaction"][0]), float(observation["budget"][0])
    lines.append(f"You feel {satisfaction:.2f} satisfied (0-1); your budget is about ${budget:.2f}")
    return "\n".join(lines)


# The dialogue ------------------------------------------------------------------------------------

SPEAKERS = ("recommender", "user")
"""Who said a dialogue chat line (the observation's ``chat_from``; -1 marks an empty slot)."""


def chat_lines(observation: Mapping[str, Any]) -> list[str]:
    """The latest turns of the conversation, one line each."""
    lines = [
        f"{SPEAKERS[who].capitalize()}: {text}"
        for who, text in zip(observation["chat_from"].tolist(), observation["chat"], strict=True)
        if who >= 0
    ]
    return lines or ["(no conversation yet)"]


def dialogue_recommender_view(
    observation: Mapping[str, Any],
    layout: Layout,
    features: Sequence[str],
    max_turns: int,
    n_items: int | None,
) -> str:
    """What the recommender knows: the turn, what the user said, the conversation, the last
    search hits and the searches left."""
    names = [layout.category_names, *layout.attribute_values.values()]
    known = [
        f"{name}={names[f][int(code)]}"
        for f, (name, code) in enumerate(zip(features, observation["known"], strict=True))
        if code >= 0
    ]
    lines = [
        f"Turn {int(observation['turn']) + 1} of {max_turns}. Help the user find the one item "
        f"they have in mind from a catalog of {n_items} {layout.domain}.",
        f"What the user has told you: {', '.join(known) or 'nothing yet'}.",
        f"Features you can ask about: {', '.join(features)}.",
        "Conversation:", *chat_lines(observation),
    ]  # fmt: skip
    hits = [
        (item, title, codes, price)
        for item, title, codes, price in zip(
            observation["results"].tolist(), observation["result_titles"],
            observation["result_features"].tolist(), observation["result_prices"].tolist(),
            strict=True,
        )
        if item >= 0
    ]  # fmt: skip
    if hits:
        lines.append("Last search results:")
        for item, title, codes, price in hits:
            category = layout.category_names[codes[0]]
            line = catalog_line(item, title, category, layout.values_of(codes[1:]), price)
            lines.append(f"- {line}")
    lines.append(f"Searches left this turn: {int(observation['searches_left'])}.")
    return "\n".join(lines)


def dialogue_user_view(
    observation: Mapping[str, Any], layout: Layout, features: Sequence[str]
) -> str:
    """What the simulated user knows: its target, what it wants (in the order it tells it), its
    style and patience, and the conversation."""
    names = [layout.category_names, *layout.attribute_values.values()]
    need = observation["need"]
    wants = ", ".join(
        f"{features[int(f)].replace('_', ' ')}: {names[int(f)][int(need[int(f)])]}"
        for f in observation["agenda"]
    )
    style = STYLES[int(observation["style"])]
    lines = [
        f"You are looking for one {layout.domain[:-1]}: \"{observation['target_title']}\" "
        f"({wants}). Never say its title; describe what you want instead.",
        f"Your style: {style}; you give up after about {int(observation['patience'][0])} "
        "turns without success.",
        "Conversation:", *chat_lines(observation),
    ]  # fmt: skip
    return "\n".join(lines)
