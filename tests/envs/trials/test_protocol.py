"""The trial's text protocol: keyed lines parse per role and phase; errors say what is missing."""

from __future__ import annotations

import numpy as np
import pytest

from envs.core.checks import first_difference
from envs.core.protocol import ActionParseError
from envs.trials.env import raw_env
from envs.trials.tactics import TACTICS


@pytest.fixture
def trial():
    trial = raw_env(assistant_type="SEMA", min_exchanges=2, max_exchanges=4)
    trial.reset(seed=0)
    return trial


def test_assistant_lines_parse_to_message_stance_and_tactic(trial):
    obs = trial.observe("assistant_0")
    reply = "SAY: The second one would feel great.\nPROMOTE: b\nDISCOURAGE: A\n"
    action = trial.protocol.parse(reply + "TACTIC: Pleasure Induction", obs, "assistant_0")
    assert action["message"] == "The second one would feel great."
    assert list(action["stance"]) == [-1.0, 1.0, 0.0, 0.0]
    assert TACTICS[action["tactic"]] == "pleasure_induction"
    unknown = trial.protocol.parse("SAY: hi TACTIC: flattery", obs, "assistant_0")
    assert TACTICS[unknown["tactic"]] == "others" and not unknown["stance"].any()
    with pytest.raises(ActionParseError, match="start with SAY"):
        trial.protocol.parse("PROMOTE: A", obs, "assistant_0")
    with pytest.raises(ActionParseError, match="PROMOTE must be a letter"):
        trial.protocol.parse("SAY: hi PROMOTE: Z", obs, "assistant_0")


def test_user_lines_parse_per_phase(trial):
    parse = trial.protocol.parse
    pre = parse(
        "RATINGS: A=7 B=5 C=3 D=6 CONFIDENCE: 6 FAMILIARITY: 4", trial.observe("user_0"), "user_0"
    )
    assert list(pre["ratings"]) == [7, 5, 3, 6] and pre["confidence"][0] == 6
    with pytest.raises(ActionParseError, match="missing D"):
        parse(
            "RATINGS: A=7 B=5 C=3 CONFIDENCE: 6 FAMILIARITY: 4", trial.observe("user_0"), "user_0"
        )
    with pytest.raises(ActionParseError, match="FAMILIARITY needs a whole number from 1 to 10"):
        parse("RATINGS: A=7 B=5 C=3 D=2 CONFIDENCE: 6", trial.observe("user_0"), "user_0")
    trial.step(pre)
    trial.step({"message": "hi", "tactic": 0, "stance": np.zeros(4)})
    chat_obs = trial.observe("user_0")
    chat = parse("SAY: Sounds nice. RATINGS: A=6 B=6 C=3 D=6", chat_obs, "user_0")
    assert chat["message"] == "Sounds nice." and list(chat["ratings"]) == [6, 6, 3, 6]
    keep = parse("SAY: ok", chat_obs, "user_0")
    assert list(keep["ratings"]) == [7, 5, 3, 6] and keep["end_chat"] == 0
    with pytest.raises(ActionParseError, match="cannot END yet"):
        parse("SAY: bye END", chat_obs, "user_0")
    trial.step(keep)
    trial.step({"message": "more", "tactic": 0, "stance": np.zeros(4)})
    done = parse("SAY: thanks. END", trial.observe("user_0"), "user_0")
    assert done["end_chat"] == 1
    trial.step(done)
    post = parse("RATINGS: A=5 B=8 C=2 D=5 CONFIDENCE: 7 FAMILIARITY: 4 CHOICE: B SATISFACTION: 4",
                 trial.observe("user_0"), "user_0")  # fmt: skip
    assert post["choice"] == 1 and post["satisfaction"][0] == 4
    trial.step(post)
    assert "What happened" in trial.observe("user_0")["text"]
    assert parse("SATISFACTION: 2", trial.observe("user_0"), "user_0")["satisfaction"][0] == 2


def test_valid_actions_parse_to_themselves_in_every_phase(trial):
    seen = 0
    for agent in trial.agent_iter():
        observation, _, done, _, _ = trial.last()
        if done:
            trial.step(None)
            continue
        valid = trial.protocol.valid_actions(observation, agent)
        for option in valid:
            assert first_difference(trial.protocol.parse(option.label, observation, agent),
                                    option.action) is None  # fmt: skip
            assert trial.action_space(agent).contains(option.action), option.label
        seen += 1
        trial.step(valid[-1].action)
    assert seen >= 2 + 2 * 2  # pre, >= 2 exchanges, post, hindsight


def test_render_is_the_view_and_the_format_is_in_the_instructions(trial):
    observation = trial.observe("user_0")
    text = trial.protocol.render(observation, "user_0")
    assert text == observation["text"] and "Options:" in text and "RATINGS:" not in text
    assert "FAMILIARITY: <1-10>" in trial.protocol.instructions("user_0")
    assert "SAY:" in trial.protocol.instructions("assistant_0")
