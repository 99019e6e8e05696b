"""Feed commands: the rule-based parser, resolving, standing constraints, honouring, LLM parser."""

from __future__ import annotations

import numpy as np
import pytest

from agents.scripted.feed import LLMCommandParser
from envs.recommendation.catalog import Catalog
from envs.recommendation.commands import (
    THIS,
    ActiveConstraints,
    Constraint,
    RuleCommandParser,
    constraint_from_fields,
    honours,
    parse_command,
    resolve,
)
from sim.llm.fake import FakeModel

CATEGORIES = ("mystery", "fantasy", "science fiction", "fiction", "history")
FORMATS = ("paperback", "hardcover", "ebook")
AUDIENCES = ("children", "young adult", "adult")
# (title, category, format, audience, price, quality, engagement)
ITEMS = [
    ("The Glass Match", 0, 0, 2, 9.0, 0.8, 0.3),
    ("Dragon Road", 1, 1, 1, 24.0, 0.9, 0.4),
    ("Stars Above", 2, 2, 2, 5.0, 0.2, 0.9),
    ("Quiet Hours", 3, 0, 2, 12.0, 0.7, 0.2),
    ("Kings of Old", 4, 1, 2, 30.0, 0.6, 0.3),
    ("Dragon Sea", 1, 1, 0, 18.0, 0.5, 0.5),
    ("Murder at Noon", 0, 2, 2, 7.0, 0.3, 0.95),
    ("Moon Station", 2, 0, 1, 15.0, 0.85, 0.35),
    ("Dragon Hills", 1, 0, 2, 11.0, 0.75, 0.45),
    ("Empires Fall", 4, 2, 2, 21.0, 0.65, 0.25),
]


def toy_catalog() -> Catalog:
    """Ten hand-made books: enough to check every command form."""
    column = list(zip(*ITEMS, strict=True))
    return Catalog(
        domain="books",
        seed=0,
        titles=tuple(column[0]),
        descriptions=tuple(f"A {CATEGORIES[c]} book." for c in column[1]),
        categories=np.array(column[1], dtype=np.int64),
        category_names=CATEGORIES,
        attributes={
            "format": np.array(column[2], dtype=np.int64),
            "audience": np.array(column[3], dtype=np.int64),
        },
        attribute_values={"format": FORMATS, "audience": AUDIENCES},
        price=np.array(column[4], dtype=np.float64),
        quality=np.array(column[5], dtype=np.float64),
        engagement=np.array(column[6], dtype=np.float64),
        popularity=np.linspace(100.0, 10.0, len(ITEMS)),
    )


CATALOG = toy_catalog()


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("no more mysteries", "exclude_categories", {0}),
        ("Stop showing me hardcover books!", "exclude_values", {("format", 1)}),
        ("I don't want any more science fiction", "exclude_categories", {2}),
        ("no more fiction", "exclude_categories", {3}),
        ("only young adult please", "only_values", {("audience", 1)}),
        ("just fantasy", "only_categories", {1}),
        ("only adult ebooks", "only_values", {("audience", 2), ("format", 2)}),
        ("under $15", "max_price", 15.0),
        ("something less than 20 dollars", "max_price", 20.0),
        ("cheaper", "cheaper", True),
        ("these are too expensive", "cheaper", True),
        ("more like this", "similar_to", THIS),
        ("more like Dragon Road", "similar_to", 1),
        ("something similar to dragon raod", "similar_to", 1),
        ("show me something different", "different", True),
        ("surprise me", "different", True),
    ],
)
def test_each_command_form_sets_its_field(text, field, expected):
    constraint = parse_command(text, CATALOG)
    assert constraint.understood and constraint.text == text
    value = getattr(constraint, field)
    assert (set(value) if isinstance(value, frozenset) else value) == expected
    others = {"exclude_categories", "exclude_values", "only_categories", "only_values"} - {field}
    if field != "only_values" or "ebooks" not in text:
        assert not any(getattr(constraint, name) for name in others)


def test_a_longer_name_wins_and_adult_is_not_young_adult():
    assert parse_command("no more science fiction", CATALOG).exclude_categories == {2}
    assert parse_command("only young adult", CATALOG).only_values == {("audience", 1)}
    assert parse_command("only adult", CATALOG).only_values == {("audience", 2)}


def test_clauses_combine_and_unknown_text_is_not_understood():
    both = parse_command("no more mystery, and under $20", CATALOG)
    assert both.exclude_categories == {0} and both.max_price == 20.0
    assert both.kinds == ("exclude", "price")
    partly = parse_command("no more horror but cheaper", CATALOG)
    assert partly.understood and partly.cheaper and not partly.exclude_categories
    for text in ("blah blah", "", "no more horror", "more like Nonexistent Zebra Saga"):
        unknown = parse_command(text, CATALOG)
        assert not unknown.understood and unknown.kinds == ("unknown",)
    assert isinstance(RuleCommandParser().parse("only fantasy", CATALOG), Constraint)


def test_resolving_cheaper_and_this_against_what_the_user_saw():
    slate = [1, 4, -1]
    cheaper = resolve(parse_command("cheaper", CATALOG), CATALOG, slate, focus=-1)
    assert cheaper.max_price == pytest.approx(0.8 * (24.0 + 30.0) / 2)
    this = parse_command("more like this", CATALOG)
    assert resolve(this, CATALOG, slate, focus=8).similar_to == 8
    assert resolve(this, CATALOG, slate, focus=-1).similar_to == 1
    assert not resolve(this, CATALOG, [-1, -1], focus=-1).understood
    assert not resolve(cheaper.__class__("cheaper", cheaper=True), CATALOG, [], -1).understood


def test_standing_constraints_merge_and_one_slate_clauses_expire():
    active = ActiveConstraints()
    active = active.merged(parse_command("no more mystery", CATALOG))
    active = active.merged(parse_command("only paperback", CATALOG))
    active = active.merged(parse_command("under $14", CATALOG))
    items = np.arange(len(CATALOG))
    allowed = active.allowed(CATALOG, items)
    assert items[allowed].tolist() == [3, 8]  # paperbacks under $14, no mystery
    active = active.merged(parse_command("only mystery", CATALOG))
    assert active.exclude_categories == frozenset() and active.only_categories == {0}
    active = active.merged(parse_command("no more paperback", CATALOG))
    assert active.only_values == frozenset() and active.exclude_values == {("format", 0)}
    similar = active.merged(resolve(parse_command("more like this", CATALOG), CATALOG, [1], -1))
    assert similar.similar_to == 1 and similar.after_slate().similar_to == -1
    assert similar.max_price == 14.0  # standing clauses persist
    assert active.merged(Constraint("??", understood=False)) is active


def test_honouring_a_command_is_judged_on_the_next_slate():
    no_mystery = parse_command("no more mystery", CATALOG)
    assert honours(no_mystery, CATALOG, [1, 3, -1], [0, 6])
    assert not honours(no_mystery, CATALOG, [1, 6, -1], [0, 6])
    assert not honours(no_mystery, CATALOG, [-1, -1, -1], [0, 6])  # an empty slate honours none
    under = parse_command("under $12", CATALOG)
    assert honours(under, CATALOG, [0, 2, 8], []) and not honours(under, CATALOG, [0, 4], [])
    like = resolve(parse_command("more like this", CATALOG), CATALOG, [1], focus=1)
    # like Dragon Road (fantasy, hardcover): Dragon Sea shares both; Dragon Hills only fantasy
    assert honours(like, CATALOG, [5, 0, -1], [])
    assert not honours(like, CATALOG, [8, 0, 3], [])
    different = parse_command("something different", CATALOG)
    assert honours(different, CATALOG, [1, 4], [0, 6])
    assert not honours(different, CATALOG, [0, 1], [0, 6])  # repeats an item
    assert not honours(different, CATALOG, [6], [0])  # no new category
    assert not honours(Constraint("?", understood=False), CATALOG, [1], [])


def test_fields_from_a_structured_answer():
    fields = {"EXCLUDE": "mysteries, hardcover", "ONLY": "none", "MAX_PRICE": "$20",
              "CHEAPER": "no", "MORE_LIKE": "Moon Station", "DIFFERENT": "no"}  # fmt: skip
    constraint = constraint_from_fields(fields, CATALOG, "text")
    assert constraint.exclude_categories == {0} and constraint.exclude_values == {("format", 1)}
    assert constraint.max_price == 20.0 and constraint.similar_to == 7
    assert not constraint_from_fields({"EXCLUDE": "none"}, CATALOG, "x").understood


def test_the_llm_parser_uses_the_model_and_falls_back_to_rules():
    answer = "EXCLUDE: fantasy\nONLY: none\nMAX_PRICE: none\nCHEAPER: no\nMORE_LIKE: none\n"
    model = FakeModel(responses={"dragons": answer, "*": "I am not sure."})
    parser = LLMCommandParser(model)
    parsed = parser.parse("enough with the dragons", CATALOG)
    assert parsed.exclude_categories == {1} and parsed.text == "enough with the dragons"
    fallback = parser.parse("under $10", CATALOG)  # the model rambles: the rules parse it
    assert fallback.max_price == 10.0
    request = model.calls[0][1][0]
    assert "science fiction" in request.messages[0]["content"]
    assert len(parser.parse_batch(["surprise me", "no more mystery"], CATALOG)) == 2
    assert len(model.calls) == 3  # one model call per batch
