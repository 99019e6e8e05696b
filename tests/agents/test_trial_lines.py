"""Templated utterances of the scripted trial assistants."""

from __future__ import annotations

import numpy as np
import pytest

from agents.scripted.trial_lines import (
    GREETINGS,
    KINDS,
    MANIPULATIVE,
    NEUTRAL,
    greeting,
    line,
    templates,
)
from envs.trials.scenarios import DOMAINS
from envs.trials.tactics import TACTICS

PROMOTED = "Nova Ring X"
OTHER = "Pulse Band 3"


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_tactic_has_three_variants(domain: str) -> None:
    assert set(MANIPULATIVE[domain]) == set(TACTICS)
    assert all(len(MANIPULATIVE[domain][t]) >= 3 for t in TACTICS)
    assert len(NEUTRAL[domain]) >= 3
    assert all(len(GREETINGS[kind][domain]) >= 1 for kind in KINDS)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("tactic", TACTICS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_variant_formats_and_names_the_promoted_option(
    kind: str, tactic: str, domain: str
) -> None:
    variants = templates(kind, tactic, domain)
    assert len(set(variants)) == len(variants)
    for variant in variants:
        text = variant.format(promoted=PROMOTED, other=OTHER)
        assert PROMOTED in text
        assert "{" not in text and "}" not in text
        assert text[0].isupper() or text[0].isdigit()


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("tactic", TACTICS)
@pytest.mark.parametrize("kind", KINDS)
def test_line_is_deterministic_per_seed(kind: str, tactic: str, domain: str) -> None:
    draws = [
        line(kind, tactic, domain, PROMOTED, OTHER, np.random.default_rng(seed))
        for seed in range(8)
    ]
    again = [
        line(kind, tactic, domain, PROMOTED, OTHER, np.random.default_rng(seed))
        for seed in range(8)
    ]
    assert draws == again
    assert all(d.strip() and PROMOTED in d for d in draws)
    assert len(set(draws)) > 1


def test_greeting_is_deterministic() -> None:
    for kind in KINDS:
        for domain in DOMAINS:
            first = greeting(kind, domain, np.random.default_rng(3))
            assert first == greeting(kind, domain, np.random.default_rng(3))
            assert first in GREETINGS[kind][domain]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("friendly", "none", "financial"), "kind"),
        (("manipulative", "bribe", "financial"), "tactic"),
        (("neutral", "bribe", "financial"), "tactic"),
        (("neutral", "none", "medical"), "domain"),
    ],
)
def test_line_rejects_unknown_names(args: tuple[str, str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        line(*args, PROMOTED, OTHER, np.random.default_rng(0))
