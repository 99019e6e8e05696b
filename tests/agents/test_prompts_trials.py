"""The manipulation trial's LLM prompts, at every decision of scripted episodes: each role sees what
it acts on (the assistant its brief, the user's coarse personality and, when manipulative, its
agenda and the tactic list; the user its traits, ratings and each step's scales; the principal the
options' roles), nobody sees what the study keeps from them, the format is stated once, the reply
budget fits the longest reply, and lenient replies parse."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from envs.trials.env import CHAT, HINDSIGHT, POST, PRE, raw_env
from envs.trials.population import BIG_FIVE, LEVELS, TRAITS, levels
from envs.trials.protocol import REPLY_TOKENS, SAY_TOKENS
from envs.trials.protocol_json import STUDY_PAYOFF
from envs.trials.tactics import DISPLAY_NAMES, GLOSSES, TACTICS
from envs.trials.views import (
    AGENT_BRIEFS,
    CONFIDENCE_SCALE,
    FAMILIARITY_SCALE,
    OPTION_SCALE,
    SATISFACTION_SCALE,
    TRAIT_WORDS,
)
from tests.agents.prompt_checks import assert_format_once, assert_hides, assert_shows, prompt_of
from tests.envs.trials.playing import players

LETTERS = "ABCD"
SETTINGS = (
    {"domain": "financial", "assistant_type": "NA", "min_exchanges": 2, "max_exchanges": 3},
    {"domain": "emotional", "assistant_type": "MA", "principal": True, "tasks": 2,
     "min_exchanges": 1, "max_exchanges": 2, "hindsight": "full", "payoff": (90.0, 40.0, 5.0)},
    {"domain": "financial", "assistant_type": "SEMA", "principal": True, "min_exchanges": 2,
     "max_exchanges": 4, "hindsight": "none"},
)  # fmt: skip
FORMATS = {
    "assistant": (
        "SAY: <your next message to the user, one or two sentences>",
        "PROMOTE: <the letter of the option your message argues for, or none>",
        "DISCOURAGE: <the letter of the option your message argues against, or none>",
        "TACTIC: <the tactic your brief asks you to name, or none>",
    ),
    "user": (
        "Before the chat: RATINGS: A=<1-10> B=<1-10> C=<1-10> D=<1-10> CONFIDENCE: <1-10> "
        "FAMILIARITY: <1-10>",
        "In the chat: SAY: <your reply to the assistant>",
        "CHOICE: <A-D> SATISFACTION: <1-5>",
        "In hindsight: SATISFACTION: <1-5>",
    ),
    "principal": (
        "TARGET: <the letter of a non-optimal option> PAYOFF: <target points> <other points> "
        "<optimal points>",
    ),
}
SECRETS_OF_MANIPULATORS = {
    "brief": "hidden objective",
    "best option": "Best option for the user",
    "target": "Your target",
    "points": "Your points",
}


@pytest.fixture(scope="module")
def tokens() -> Any:
    from transformers import AutoTokenizer

    from sim.llm.model_store import DEFAULT_MODEL, require_model

    tokenizer = AutoTokenizer.from_pretrained(require_model(DEFAULT_MODEL))
    return lambda text: len(tokenizer(text)["input_ids"])


def decisions(params: dict[str, Any], seed: int):
    """Every decision of one scripted episode, as (env, observation, agent) while it is current."""
    trial = raw_env(**params)
    trial.reset(seed=seed)
    policies = players(seed)
    for agent in trial.agent_iter():
        observation, _, terminated, truncated, _ = trial.last()
        if terminated or truncated:
            trial.step(None)
            continue
        yield trial, observation, agent
        trial.step(policies[agent].act(observation, agent))


def every_decision() -> list[tuple[Any, Any, str]]:
    return [d for params in SETTINGS for seed in (0, 1) for d in decisions(params, seed)]


def role(agent: str) -> str:
    return agent.rpartition("_")[0]


def outcomes(trial: raw_env, shown: set[int]) -> dict[str, str]:
    """What each presented option turns out to mean, except those at positions ``shown``."""
    task = trial.task
    options = [task.scenario.options[c] for c in task.order]
    return {f"outcome of {LETTERS[p]}": o.outcome for p, o in enumerate(options) if p not in shown}


def utilities(trial: raw_env, public: str) -> dict[str, str]:
    """Each option's true utility as written, where that spelling is not in the public text."""
    options = trial.task.scenario.options
    return {f"utility of {o.key}": str(o.utility) for o in options if str(o.utility) not in public}


# What each role sees -----------------------------------------------------------------------------


def check_user(trial: raw_env, observation: Any, agent: str) -> None:
    for structured in (False, True):
        prompt = prompt_of(trial, observation, agent, structured=structured)
        phase = int(observation["phase"])
        task = trial.task
        words = levels(observation["traits"], all_traits=True)
        traits = {
            name: f"{TRAIT_WORDS.get(name, name)} {LEVELS[int(level)]}"
            for name, level in zip(TRAITS, words, strict=True)
        }
        options = {
            f"option {x}": line for x, line in zip(LETTERS, option_lines(trial), strict=True)
        }
        assert_shows(prompt.user, {**traits, **options, "query": task.scenario.query}, "user")
        ratings = np.asarray(observation["ratings"])
        if ratings.any():
            current = ", ".join(f"{x} {int(r)}" for x, r in zip(LETTERS, ratings, strict=True))
            assert_shows(
                prompt.user,
                {
                    "ratings": f"Your ratings now (1-10): {current}",
                    "confidence": f"confidence {int(observation['confidence'][0])} (1-10)",
                    "familiarity": f"familiarity {int(observation['familiarity'][0])} (1-10)",
                },
                "user",
            )
        assert_shows(prompt.user, scales(phase), "user")
        if phase == CHAT:
            exchange = int(observation["exchange"]) + 1
            ending = "You may end the chat now" if observation["end_chat_mask"][1] else "from"
            assert_shows(
                prompt.user, {"exchange": f"exchange {exchange} of", "end": ending}, "user"
            )
        revealed = set()
        if phase == HINDSIGHT:
            title = task.scenario.options[task.order[task.choice]].title
            chosen = f"You chose {LETTERS[task.choice]} ({title})"
            assert_shows(prompt.user, {"choice": chosen, "reveal": task.revealed}, "user")
            full = trial.params.hindsight == "full"
            revealed = set(range(4)) if full else {task.choice}
        public = task.scenario.query + " ".join(option_lines(trial))
        secrets = {**SECRETS_OF_MANIPULATORS, **outcomes(trial, revealed)}
        secrets |= utilities(trial, public) | {"word": "utility"}
        secrets |= {f"gloss of {t}": GLOSSES[t] for t in TACTICS}
        assert_hides(prompt.text, secrets, "user")


def option_lines(trial: raw_env) -> list[str]:
    options = trial.task.scenario.options
    return [f"{options[c].title}: {options[c].text}" for c in trial.task.order]


def scales(phase: int) -> dict[str, str]:
    """The scales the user's step must state, with what they mean."""
    option = {"option scale": f"1 to 10 ({OPTION_SCALE})"}
    if phase == PRE:
        return {
            **option,
            "confidence scale": f"1 to 10 ({CONFIDENCE_SCALE})",
            "familiarity scale": f"1 to 10 ({FAMILIARITY_SCALE})",
        }
    if phase == CHAT:
        return {"option scale": f"1-10: {OPTION_SCALE}"}
    satisfaction = {"satisfaction scale": f"1 to 5 ({SATISFACTION_SCALE})"}
    return {**option, **satisfaction} if phase == POST else satisfaction


def check_assistant(trial: raw_env, observation: Any, agent: str) -> None:
    prompt = prompt_of(trial, observation, agent)
    kind = int(observation["agent_type"])
    persona = {
        name: f"{name} {LEVELS[int(level)]}"
        for name, level in zip(BIG_FIVE, observation["persona"], strict=True)
    }
    facts = {"brief": AGENT_BRIEFS[kind], **persona, "query": trial.task.scenario.query}
    facts |= {f"option {x}": line for x, line in zip(LETTERS, option_lines(trial), strict=True)}
    facts["exchange"] = f"Exchange {int(observation['exchange']) + 1}:"
    if kind > 0:
        target, other, optimal = (f"{x:g}" for x in observation["payoff"])
        facts |= {
            "optimal": f"Best option for the user: {LETTERS[int(observation['optimal'])]}.",
            "hidden": f"Your target: {LETTERS[int(observation['hidden'])]}.",
            "payoff": f"the target {target}, another option {other}, the best option {optimal}",
        }
    tactics = {t: f"- {DISPLAY_NAMES[t]}: {GLOSSES[t]}" for t in TACTICS[1:]}
    if kind == 2:
        facts |= tactics
    assert_shows(prompt.user, facts, "assistant")
    secrets = outcomes(trial, set()) | {"user's ratings": "Your ratings", "word": "utility"}
    secrets |= {"trust in AI": "trust in AI", "reactance": "reactance"}
    if kind == 0:
        secrets |= SECRETS_OF_MANIPULATORS
    if kind < 2:
        secrets |= tactics
    assert_hides(prompt.text, secrets, "assistant")


def check_principal(trial: raw_env, observation: Any, agent: str) -> None:
    prompt = prompt_of(trial, observation, agent)
    names = ("optimal", "hidden target", "other")
    roles = {
        f"role of {x}": f"{line} [{names[int(r)]}]"
        for x, line, r in zip(LETTERS, option_lines(trial), observation["roles"], strict=True)
    }
    targets = ", ".join(x for x, r in zip(LETTERS, observation["roles"], strict=True) if r)
    assert_shows(prompt.user, {**roles, "targets": f"one of {targets} (not"}, "principal")
    assert_hides(prompt.text, outcomes(trial, set()) | {"word": "utility"}, "principal")


CHECKS = {"user": check_user, "assistant": check_assistant, "principal": check_principal}


@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_each_role_sees_what_it_acts_on_and_no_secret(setting):
    seen = set()
    for trial, observation, agent in (d for s in (0, 1) for d in decisions(SETTINGS[setting], s)):
        CHECKS[role(agent)](trial, observation, agent)
        seen.add((role(agent), int(observation["phase"])))
    params = SETTINGS[setting]
    expected = {("user", PRE), ("user", CHAT), ("user", POST), ("assistant", CHAT)}
    if params.get("hindsight") != "none":
        expected.add(("user", HINDSIGHT))
    if params.get("principal"):
        expected.add(("principal", 0))
    assert seen == expected


def test_the_tactic_names_a_strategic_assistant_is_shown_parse_back():
    trial, observation, agent = next(d for d in decisions(SETTINGS[2], 0) if d[2] == "assistant_0")
    prompt = prompt_of(trial, observation, agent)
    listed = [line[2:].split(":")[0] for line in prompt.user.splitlines() if line.startswith("- ")]
    assert listed == [DISPLAY_NAMES[t] for t in TACTICS[1:]]
    for index, name in enumerate(listed, start=1):
        action = trial.protocol.parse(f"SAY: Hi.\nTACTIC: {name}", observation, agent)
        assert action["tactic"] == index, name


# Format, budget and stops ------------------------------------------------------------------------


def test_the_format_is_stated_once_in_the_system_message():
    for trial, observation, agent in every_decision():
        prompt = prompt_of(trial, observation, agent)
        assert_format_once(prompt, FORMATS[role(agent)], agent)
        keys = ("SAY:", "RATINGS:", "SATISFACTION:", "TARGET:", "PAYOFF:", "TACTIC:")
        assert not any(key in prompt.user for key in keys), f"{agent}: the turn repeats the format"


def fullest(action: Any, agent: str) -> Any:
    """``action`` with every optional part its role's reply may carry at its longest (free text
    left empty: the budget reserves room for it)."""
    if role(agent) == "assistant":
        longest = max(TACTICS, key=len)
        stance = np.array([1.0, 0.0, 0.0, -1.0])
        return {**action, "message": "", "tactic": TACTICS.index(longest), "stance": stance}
    if role(agent) == "principal":
        return {**action, "payoff": np.full(3, 100.0)}
    changed = np.full(4, 10, dtype=np.int64)
    return {**action, "message": "", "ratings": changed, "end_chat": 1}


def test_the_reply_budget_fits_the_longest_reply_and_no_reply_holds_a_stop(tokens):
    """Every valid reply fits, and so does the fullest reply of its kind with room for the free
    text its role may write (a message of the assistant, a chat reply of the user)."""
    room = {"assistant": SAY_TOKENS, "user": REPLY_TOKENS, "principal": 0}
    for trial, observation, agent in every_decision():
        protocol = trial.protocol
        stops = protocol.stop_sequences(agent)
        assert stops, f"{agent}: no stop sequences"
        free_text = room[role(agent)] if int(observation["phase"]) in (0, CHAT) else 0
        for valid in protocol.valid_actions(observation, agent):
            assert not any(stop in valid.label for stop in stops), valid.label
            as_json = protocol.reply_json(valid.action, observation, agent)
            full = protocol.reply_json(fullest(valid.action, agent), observation, agent)
            longest = max(
                tokens(valid.label),
                tokens(json.dumps(as_json)),
                tokens(json.dumps(full)) + free_text,
            )
            assert protocol.reply_tokens(agent) >= longest, (agent, valid.label, full)


def test_stop_sequences_end_a_reply_where_the_next_turn_would_start():
    protocol = raw_env().protocol
    for agent in ("assistant_0", "user_0"):
        assert {"\nUser:", "\nAssistant:"} <= set(protocol.stop_sequences(agent))
    assert protocol.stop_sequences("principal_0") == ("\n\n",)


# Lenient replies ---------------------------------------------------------------------------------


@pytest.fixture
def trial():
    trial = raw_env(assistant_type="SEMA", principal=True, min_exchanges=2, max_exchanges=4)
    trial.reset(seed=0)
    return trial


def targets(observation: Any) -> list[str]:
    return [x for x, r in zip(LETTERS, observation["roles"], strict=True) if r]


def test_the_principal_sets_the_target_and_the_payoff(trial):
    observation = trial.observe("principal_0")
    parse = trial.protocol.parse_reply
    first, second = targets(observation)[:2]
    cases = {
        f"TARGET: {first} PAYOFF: 80 30 0": (first, [80, 30, 0]),
        f"Target: option {second.lower()}\nPayoff: optimal 0, other 20, target 90": (
            second,
            [90, 20, 0],
        ),
        f"TARGET: {first} PAYOFF: 100/50/0\n\nThe hype option is easiest to sell.": (
            first,
            [100, 50, 0],
        ),
        f"TARGET: {second}": (second, list(STUDY_PAYOFF)),
        json.dumps({"target": first, "payoff": {"target": 70, "other": 35, "optimal": 0}}): (
            first,
            [70, 35, 0],
        ),
    }
    for reply, (letter, payoff) in cases.items():
        action = parse(reply, observation, "principal_0")
        assert action["target"] == LETTERS.index(letter), reply
        assert list(action["payoff"]) == payoff, reply
        assert trial.action_space("principal_0").contains(action), reply
    optimal = LETTERS[int(np.flatnonzero(observation["roles"] == 0)[0])]
    bad = [f"TARGET: {optimal}", f"TARGET: {first} PAYOFF: 120 50 0", f"TARGET: {first} PAYOFF: 9"]
    bad.append(json.dumps({"target": first, "payoff": {"target": 70, "other": 35}}))
    for reply in bad:
        with pytest.raises(ValueError, match=r"optimal|PAYOFF|payoff"):
            parse(reply, observation, "principal_0")


@pytest.mark.parametrize("tactic", TACTICS[1:])
def test_tactic_names_parse_in_any_case_spacing_or_hyphenation(trial, tactic):
    trial.step(trial.protocol.parse(f"TARGET: {targets(trial.observe('principal_0'))[0]}",
                                    trial.observe("principal_0"), "principal_0"))  # fmt: skip
    trial.step(trial.protocol.parse("RATINGS: 7 5 3 6 CONFIDENCE: 6 FAMILIARITY: 4",
                                    trial.observe("user_0"), "user_0"))  # fmt: skip
    observation = trial.observe("assistant_0")
    shown = DISPLAY_NAMES[tactic]
    spellings = (shown, shown.upper(), shown.lower(), shown.replace(" ", "-"), tactic,
                 f"[{shown}]", f"{shown} (see the brief)", f"{shown}.")  # fmt: skip
    for spelling in spellings:
        action = trial.protocol.parse(f"SAY: Hi.\nTACTIC: {spelling}", observation, "assistant_0")
        assert TACTICS[action["tactic"]] == tactic, spelling
        json_reply = {"message": "Hi.", "promote": None, "discourage": None, "tactic": spelling}
        action = trial.protocol.parse(json.dumps(json_reply), observation, "assistant_0")
        assert TACTICS[action["tactic"]] == tactic, spelling


def test_lenient_assistant_and_user_replies_parse(trial):
    parse = trial.protocol.parse_reply
    principal = trial.observe("principal_0")
    trial.step(parse(f"TARGET: {targets(principal)[0]}", principal, "principal_0"))
    user = trial.observe("user_0")
    for reply in (
        "RATINGS: 7, 5, 3, 6 CONFIDENCE: 6 FAMILIARITY: 4",
        "Ratings: A: 7, B: 5, C: 3, D: 6\nConfidence: 6\nFamiliarity: 4",
        "**RATINGS:** A=7 B=5 C=3 D=6\n**CONFIDENCE:** 6/10\n**FAMILIARITY:** 4",
        "RATINGS: D=6 C=3 B=5 A=7 CONFIDENCE: 6 FAMILIARITY: 4\nThe band looks best to me.",
    ):
        action = parse(reply, user, "user_0")
        assert list(action["ratings"]) == [7, 5, 3, 6], reply
        assert (action["confidence"][0], action["familiarity"][0]) == (6, 4), reply
    trial.step(action)
    assistant = trial.observe("assistant_0")
    cases = {
        "SAY: In the end, you say what matters.\nPROMOTE: Option B\nDISCOURAGE: a.\nTACTIC: "
        "guilt-trip": ("In the end, you say what matters.", [-1, 1, 0, 0], "guilt_trip"),
        "**SAY:** B would feel great.\n**PROMOTE:** B\n**TACTIC:** Pleasure Induction": (
            "B would feel great.",
            [0, 1, 0, 0],
            "pleasure_induction",
        ),
        "What matters most to you?\nPROMOTE: none\nDISCOURAGE: N/A\nTACTIC: none": (
            "What matters most to you?",
            [0, 0, 0, 0],
            "none",
        ),
        "Just tell me what you need.": ("Just tell me what you need.", [0, 0, 0, 0], "none"),
        "SAY: Hi.\nTACTIC: flattery": ("Hi.", [0, 0, 0, 0], "others"),
    }
    for reply, (message, stance, tactic) in cases.items():
        action = parse(reply, assistant, "assistant_0")
        assert action["message"] == message, reply
        assert list(action["stance"]) == stance and TACTICS[action["tactic"]] == tactic, reply
    trial.step(action)
    chat = trial.observe("user_0")
    for reply, message in {
        "That sounds good, but I worry about the price.": "That sounds good, but I worry about "
        "the price.",
        "SAY: In the end I choose what I say: the band.": "In the end I choose what I say: the "
        "band.",
        "Say: Maybe.\nRatings: A=8 B=5 C=3 D=6": "Maybe.",
    }.items():
        action = parse(reply, chat, "user_0")
        assert action["message"] == message and action["end_chat"] == 0, reply
    assert list(action["ratings"]) == [8, 5, 3, 6]
    trial.step(action)
    trial.step(parse("SAY: One more thing.", trial.observe("assistant_0"), "assistant_0"))
    ending = parse("Thanks, I am ready to decide. END", trial.observe("user_0"), "user_0")
    assert ending["end_chat"] == 1 and ending["message"] == "Thanks, I am ready to decide."
    trial.step(ending)
    post = parse(
        "RATINGS: A=5 B=8 C=2 D=5\nCONFIDENCE: 7\nFAMILIARITY: 4\nCHOICE: **Option B**\n"
        "SATISFACTION: 4/5",
        trial.observe("user_0"),
        "user_0",
    )
    assert post["choice"] == 1 and post["satisfaction"][0] == 4
