"""Study files and the participants' book: validation, balanced arms, abandonment, restarts."""

from __future__ import annotations

import collections

import pytest
import yaml

from sim.engine.cells import ExperimentError
from sim.studio.studies import ParticipantBook, load_study

STUDY = {
    "name": "pilot",
    "participant": "bob",
    "participants_per_arm": 3,
    "consent": "I agree to take part.",
    "instructions": "Split $10,000 with Alice.",
    "env": "mercato/Bargaining-v0",
    "params": {"horizon": 4},
    "grid": {"discount_alice": [0.5, 0.9]},
    "roster": {"alice": "bargaining/equilibrium"},
}


def study(**changes):
    data = {**STUDY, **changes}
    return load_study({k: v for k, v in data.items() if v is not None})


def test_a_study_is_an_experiment_with_the_participants_seat_human(tmp_path):
    path = tmp_path / "pilot.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    loaded = load_study(path)
    assert loaded.agent == "bob_0" and loaded.title == "pilot"
    assert loaded.experiment.roster["bob_0"].policy == "human"
    assert loaded.experiment.episodes == 3 and loaded.experiment.shard_size == 1
    assert loaded.arm_ids() == ["c000", "c001"] and len(loaded.slots()) == 6


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"participants_per_arm": 0}, "participants_per_arm"),
        ({"consent": None}, "consent"),
        ({"episodes": 5}, "episodes: set by the study"),
        ({"participant": "carol"}, "participant: 'carol' is no agent or role"),
        ({"roster": {"alice": "random", "bob": "random"}}, "roster: names 'bob'"),
        ({"cells": [{"discount_alice": 0.7, "roster": {"bob_0": "random"}}]}, "cells[0].roster"),
        ({"params": {"horizon": -1}}, "horizon"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_study_is_one_line_naming_the_field(changes, says):
    with pytest.raises(ExperimentError) as error:
        study(**changes)
    message = str(error.value)
    assert says in message and "\n" not in message


def test_participants_fill_every_arm_evenly_and_then_are_turned_away(tmp_path):
    book = ParticipantBook(tmp_path, study(), seed=1)
    people = [book.enrol(now=0.0) for _ in range(6)]
    assert all(people) and book.enrol(now=0.0) is None
    arms = collections.Counter(person.arm for person, _ in people)
    assert arms == {"c000": 3, "c001": 3}
    slots = {(person.arm, person.episode_index) for person, _ in people}
    assert len(slots) == 6  # nobody shares an episode
    for step in range(1, 6):  # at every point of enrolment the arms differ by at most one
        counts = collections.Counter(person.arm for person, _ in people[:step])
        assert max(counts.values()) - min(counts.get(a, 0) for a in ("c000", "c001")) <= 1


def test_an_idle_participant_is_abandoned_and_their_slot_goes_to_someone_else(tmp_path):
    book = ParticipantBook(tmp_path, study(participants_per_arm=1), seed=0)
    first, _ = book.enrol(now=0.0)
    second, _ = book.enrol(now=0.0)
    book.update(second, now=10.0, status="completed")
    assert book.enrol(now=100.0) is None  # both slots held
    newcomer, _ = book.enrol(now=2000.0)  # first idle for 2,000 s > 1,800 s
    assert book.get(first.participant_id).status == "abandoned"
    assert (newcomer.arm, newcomer.episode_index) == (first.arm, first.episode_index)
    assert book.get(second.participant_id).status == "completed"  # a completion never expires


def test_the_book_survives_a_restart_and_finds_people_by_their_token(tmp_path):
    book = ParticipantBook(tmp_path, study(), seed=0)
    person, token = book.enrol(now=0.0)
    done = book.update(person, now=5.0, status="completed")
    assert done.completion_code and done.completion_code.startswith("MC-")
    assert book.update(done, now=6.0).completion_code == done.completion_code  # issued once
    reopened = ParticipantBook(tmp_path, study(), seed=0)
    assert reopened.find(token).participant_id == person.participant_id
    assert reopened.find(token + "x") is None
    assert token not in "".join(p.read_text() for p in tmp_path.glob("*.json"))  # only its hash
    assert reopened.progress()[person.arm]["completed"] == 1


def test_a_private_link_waits_unopened_and_idles_out_only_once_opened(tmp_path):
    book = ParticipantBook(tmp_path, study(participants_per_arm=1), seed=0)
    invited, _ = book.enrol(now=0.0, invited=True)
    assert invited.status == "invited"
    book.expire(now=10_000.0)  # hours later, never opened: still waiting for its person
    assert book.get(invited.participant_id).status == "invited"
    opened = book.update(invited, now=10_000.0, status="enrolled")  # what the first visit does
    book.expire(now=12_000.0)  # then idle for 2,000 s > 1,800 s
    assert book.get(opened.participant_id).status == "abandoned"
    assert book.progress()[invited.arm]["abandoned"] == 1
