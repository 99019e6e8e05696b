"""A simulated user's hidden need in a recommendation dialogue, and how the user talks about it.

The need is a target item plus what the user knows it wants: the target's category and attribute
values, in an order of importance (the agenda of what to disclose), a persona (patience in turns,
how picky it is, a linguistic style) and the three satisfaction scales it rates each turn with.
Utterances are built from attribute values only, never from the target's title.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.recommendation.catalog import Catalog

CATEGORY = "category"
STYLES: tuple[str, ...] = ("terse", "chatty", "formal")


@dataclass(frozen=True)
class Persona:
    """Behavioural traits (patience, pickiness) and a linguistic style."""

    patience: int
    pickiness: float
    style: str


@dataclass(frozen=True)
class Need:
    """What the user wants: a target item and its features in disclosure order."""

    target: int
    features: tuple[tuple[str, str], ...]
    persona: Persona

    def wants(self, attribute: str) -> str:
        return dict(self.features)[attribute]


def feature_names(catalog: Catalog) -> tuple[str, ...]:
    """The askable features of a catalog: the category, then every attribute."""
    return (CATEGORY, *catalog.attribute_names)


def feature_of(catalog: Catalog, item: int, name: str) -> str:
    if name == CATEGORY:
        return catalog.category_names[int(catalog.categories[item])]
    return catalog.value_of(item, name)


def draw_need(
    catalog: Catalog, rng: np.random.Generator, *, patience: tuple[int, int] = (4, 10)
) -> Need:
    """A target drawn by popularity (people look for findable things) and its features in a
    random order of importance, with a persona."""
    weights = np.asarray(catalog.popularity, dtype=np.float64)
    target = int(rng.choice(len(catalog), p=weights / weights.sum()))
    names = list(feature_names(catalog))
    order = rng.permutation(len(names))
    features = tuple((names[i], feature_of(catalog, target, names[i])) for i in order)
    persona = Persona(
        patience=int(rng.integers(patience[0], patience[1] + 1)),
        pickiness=float(rng.uniform(0.0, 1.0)),
        style=STYLES[int(rng.integers(len(STYLES)))],
    )
    return Need(target, features, persona)


# How the user phrases things, by style; {attribute} and {value} are filled in.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "disclose": {
        "terse": ("{value} {attribute}, please.", "Looking for {attribute}: {value}."),
        "chatty": ("I'd really love something where the {attribute} is {value}!",
                   "Honestly, {value} is what I'm after for the {attribute}."),
        "formal": ("I am looking for an option whose {attribute} is {value}.",
                   "My preference regarding {attribute} is {value}."),
    },
    "answer": {
        "terse": ("{value}.", "{attribute}: {value}."),
        "chatty": ("Oh, {value} for sure when it comes to {attribute}.",
                   "Good question! I'd say {value}."),
        "formal": ("Regarding {attribute}, I would prefer {value}.", "{value}, thank you."),
    },
    "reject": {
        "terse": ("Not that. I want {attribute}: {value}.", "No. {value} {attribute}."),
        "chatty": ("Hmm, not quite; I was hoping for a {value} {attribute}.",
                   "Close, but I really want the {attribute} to be {value}."),
        "formal": ("That does not suit me; I need {attribute} to be {value}.",
                   "I must decline; the {attribute} should be {value}."),
    },
    "accept": {
        "terse": ("That one. Thanks.",), "chatty": ("Yes! That's exactly it, thank you so much!",),
        "formal": ("That is the one I was looking for. Thank you.",),
    },
    "inquire": {
        "terse": ("What do you suggest?",), "chatty": ("So what would you recommend for me?",),
        "formal": ("What would you recommend?",),
    },
    "quit": {
        "terse": ("Never mind.",), "chatty": ("I think I'll look elsewhere, thanks anyway.",),
        "formal": ("I will end the conversation here.",),
    },
}  # fmt: skip


def phrase(
    kind: str, style: str, rng: np.random.Generator, attribute: str = "", value: str = ""
) -> str:
    options = PHRASES[kind][style]
    text = options[int(rng.integers(len(options)))]
    return text.format(attribute=attribute.replace("_", " "), value=value)
