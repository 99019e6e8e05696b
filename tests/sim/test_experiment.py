"""Experiments: strict one-line validation errors with field paths, and the cell/episode plan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envs.core.seeding import derive_seed
from sim.engine.cells import REQUIRED, RosterEntry, env_parameters
from sim.engine.experiment import Experiment, ExperimentError, load_experiment
from tests.sim.ultimatum_runs import ULTIMATUM_ID, experiment_data, register_fixtures

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def _fixtures() -> None:
    register_fixtures()


def error_of(data: dict[str, Any] | Path) -> str:
    with pytest.raises(ExperimentError) as caught:
        load_experiment(data)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_good_experiment_resolves_cells_and_rosters():
    experiment = load_experiment(experiment_data())
    cells = experiment.cells()
    assert [c.cell_id for c in cells] == ["c000", "c001"]
    assert [c.index for c in cells] == [0, 1]
    assert cells[0].params == {"min_pie": 10, "max_pie": 20, "max_cycles": 1, "render_mode": None}
    assert cells[1].params["max_pie"] == 50
    assert cells[0].roster == {
        "proposer_0": RosterEntry(policy="random"),
        "responder_0": RosterEntry(policy="llm", model="smol"),
    }
    assert experiment.resolve_model("smol") == "fake"
    assert experiment.resolve_model("local") == "local"


def test_agent_name_wins_over_role():
    roster = {"proposer": "random", "responder": "random", "proposer_0": "human"}
    cell = load_experiment(experiment_data(roster=roster)).cells()[0]
    assert cell.roster["proposer_0"].policy == "human"
    assert cell.roster["responder_0"].policy == "random"


def test_grid_is_a_cartesian_product_in_stable_order():
    grid = {"min_pie": [1, 2], "max_pie": [50, 60, 70]}
    data = experiment_data(params={}, grid=grid)
    first, again = load_experiment(data).cells(), load_experiment(data).cells()
    pairs = [(c.params["min_pie"], c.params["max_pie"]) for c in first]
    assert pairs == [(1, 50), (1, 60), (1, 70), (2, 50), (2, 60), (2, 70)]
    assert [c.cell_id for c in first] == [f"c{i:03d}" for i in range(6)]
    assert [(c.cell_id, c.params) for c in again] == [(c.cell_id, c.params) for c in first]


def test_extra_cells_follow_the_grid_and_override_params_and_roster():
    extra = [
        {"max_pie": 30, "roster": {"proposer_0": {"policy": "llm", "model": "fake"}}},
        {"min_pie": 5},
    ]
    cells = load_experiment(experiment_data(cells=extra)).cells()
    assert [c.cell_id for c in cells] == ["c000", "c001", "c002", "c003"]
    assert cells[2].params == {"min_pie": 10, "max_pie": 30, "max_cycles": 1, "render_mode": None}
    assert cells[2].roster["proposer_0"] == RosterEntry(policy="llm", model="fake")
    assert cells[2].roster["responder_0"] == RosterEntry(policy="llm", model="smol")
    # an extra cell starts from params and the env's defaults, not from a grid point
    assert cells[3].params == {"min_pie": 5, "max_pie": 100, "max_cycles": 1, "render_mode": None}
    assert cells[3].roster == cells[0].roster


def test_episode_seeds_do_not_depend_on_shard_size():
    plans = [load_experiment(experiment_data(shard_size=n)) for n in (1, 2, 4, 50)]
    specs = [p.episode_specs() for p in plans]
    assert all(s == specs[0] for s in specs)
    assert [(s.cell_id, s.episode_index) for s in specs[0]] == [
        (c, i) for c in ("c000", "c001") for i in range(3)
    ]
    assert [s.seed for s in specs[0]] == [
        derive_seed(0, s.cell_id, s.episode_index) for s in specs[0]
    ]
    assert len({s.seed for s in specs[0]}) == 6
    assert specs[0][4].episode_id == "c001-e00001"
    for plan in plans:
        shards = plan.shards()
        assert [e for shard in shards for e in shard.episodes] == specs[0]
        assert all(len(s.episodes) <= plan.shard_size for s in shards)
        assert [s.shard_id for s in shards] == [f"s{i:05d}" for i in range(len(shards))]
    assert len(plans[1].shards()) == 3


def test_other_experiment_seed_gives_other_episode_seeds():
    seeds = {s.seed for s in load_experiment(experiment_data(seed=1)).episode_specs()}
    assert seeds.isdisjoint(s.seed for s in load_experiment(experiment_data()).episode_specs())


def test_resolved_round_trips_and_fingerprints_the_experiment():
    experiment = load_experiment(experiment_data(cells=[{"max_pie": 30}]))
    again = load_experiment(experiment.resolved())
    assert again.resolved() == experiment.resolved()
    assert again.fingerprint() == experiment.fingerprint()
    assert experiment.resolved()["cells"] == [{"max_pie": 30}]
    assert load_experiment(experiment_data(episodes=4)).fingerprint() != experiment.fingerprint()


def test_yaml_file_names_the_experiment_after_its_stem(tmp_path):
    path = tmp_path / "my-study.yaml"
    path.write_text(
        f"env: {ULTIMATUM_ID}\nroster: {{proposer: random, responder: random}}\nepisodes: 2\n"
    )
    assert load_experiment(path).name == "my-study"
    assert load_experiment(str(path)).episodes == 2


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(f"env: {ULTIMATUM_ID}\nepisodes: 2\nroster: [random\n")
    message = error_of(path)
    assert message.startswith("experiment.yaml: invalid YAML at line ")
    assert error_of(tmp_path / "missing.yaml").endswith("missing.yaml: no such file")
    (tmp_path / "list.yaml").write_text("- 1\n")
    assert error_of(tmp_path / "list.yaml").startswith("list.yaml: expected a mapping")


def test_model_specs_are_checked_without_building_models():
    remote = {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}
    models = {"smol": "fake", "big": "local:/no/such/model", "remote": remote}
    assert load_experiment(experiment_data(models=models)).models == models


@pytest.mark.parametrize(
    ("changes", "start", "detail"),
    [
        ({"env": "mercato/Nope-v0"}, "env: 'mercato/Nope-v0' is not registered", ULTIMATUM_ID),
        (
            {"grid": {"max_pie": [20, 5]}},
            "grid.max_pie[1]: 5 is invalid: ",
            "min_pie <= max_pie",
        ),
        ({"grid": {"max_pie": []}}, "grid.max_pie: [] is invalid", "at least 1 item"),
        ({"grid": {"max_pie": 5}}, "grid.max_pie: 5 is invalid", "valid list"),
        ({"grid": {"max_pi": [1]}}, "grid.max_pi: unknown parameter", "'max_pie'"),
        ({"params": {"colour": 1}}, "params.colour: unknown parameter", "'min_pie'"),
        ({"params": {"render_mode": "human"}}, "params.render_mode: 'human' is invalid", "ansi"),
        ({"params": {"max_pie": 30}}, "grid.max_pie: also set in params", "either fixed"),
        ({"cells": [{"max_pie": 3}]}, "cells[0].max_pie: 3 is invalid", "min_pie"),
        ({"cells": [{"pie": 3}]}, "cells[0].pie: unknown parameter", "'max_pie'"),
        ({"cells": ["x"]}, "cells[0]: 'x' is invalid", "dictionary"),
        ({"models": {"smol": "gpt"}}, "models.smol: model spec 'gpt': unknown", "valid forms"),
        ({"models": {"smol": 5}}, "models.smol: expected a spec string", "'backend'"),
        ({"models": {"smol": {"backend": "vllm"}}}, "models.smol: backend 'vllm'", "['fake'"),
        (
            {"models": {"smol": {"backend": "openai", "model": "m"}}},
            "models.smol: backend 'openai' needs field(s) ['base_url']",
            "",
        ),
        (
            {"models": {"s": {"backend": "fake", "api_key": "sk-1"}}},
            "models.s: unknown field(s) ['api_key']",
            "allowed",
        ),
        ({"episodes": 0}, "episodes: 0 is invalid", "greater than or equal to 1"),
        ({"shard_size": 0}, "shard_size: 0 is invalid", "greater than or equal to 1"),
        ({"lockstep": "many"}, "lockstep: 'many' is invalid", "integer"),
        ({"episodes": None}, "episodes: None is invalid", "integer"),
        ({"extra_cells": []}, "extra_cells: unknown field; allowed: ['cells'", "'shard_size'"),
        ({"colour": 1}, "colour: unknown field", "'roster'"),
        ({"roster": None}, "roster: None is invalid", "dictionary"),
    ],
)
def test_bad_fields_give_one_line_with_the_field_path(changes, start, detail):
    message = error_of(experiment_data(**changes))
    assert message.startswith(start)
    assert detail in message


def test_missing_field_is_named():
    data = experiment_data()
    del data["episodes"]
    assert error_of(data) == "episodes: required field is missing"


@pytest.mark.parametrize(
    ("roster", "start", "detail"),
    [
        (
            {"proposer": "random", "responder": "random", "carol_0": "random"},
            "roster.carol_0: no such agent or role in mercato/TestUltimatum-v0; agents: "
            "['proposer_0', 'responder_0']",
            "roles: ['proposer', 'responder']",
        ),
        (
            {"proposer": "random"},
            "roster: no player for agent(s) ['responder_0'] in cell c000",
            "['responder']",
        ),
        ({}, "roster: no player for agent(s) ['proposer_0', 'responder_0']", ""),
        (
            {"proposer": "ultimatum/nope", "responder": "random"},
            "roster.proposer.policy: 'ultimatum/nope' is unknown; valid: ",
            "'ultimatum/fixed-offer'",
        ),
        (
            {"proposer": {"policy": "random", "polcy": 1}, "responder": "random"},
            "roster.proposer.polcy: unknown field; allowed: ",
            "'role_prompt'",
        ),
        (
            {"proposer": {"policy": "random", "model": "smol"}, "responder": "random"},
            "roster.proposer.model: policy 'random' takes no model",
            "",
        ),
        (
            {"proposer": {"policy": "llm"}, "responder": "random"},
            "roster.proposer.model: policy 'llm' needs a model",
            "['smol']",
        ),
        (
            {"proposer": {"policy": "llm", "model": "gpt"}, "responder": "random"},
            "roster.proposer.model: 'gpt' is neither a key of models (['smol']) nor a model spec",
            "valid forms",
        ),
        (
            {"proposer": {"policy": "random", "role_prompt": "hi"}, "responder": "random"},
            "roster.proposer.role_prompt: policy 'random' takes no role prompt",
            "",
        ),
        (
            {"proposer": {"policy": "random", "options": {"x": 1}}, "responder": "random"},
            "roster.proposer.options: unknown option(s) ['x'] for policy 'random'; allowed: []",
            "",
        ),
        (
            {"proposer": "ultimatum/fixed-offer", "responder": "random"},
            "roster.proposer.options: policy 'ultimatum/fixed-offer' needs option(s) ['offer']",
            "",
        ),
    ],
)
def test_bad_rosters_give_one_line_with_the_field_path(roster, start, detail):
    message = error_of(experiment_data(roster=roster))
    assert message.startswith(start)
    assert detail in message


def test_cell_roster_overrides_are_checked_against_that_cell():
    bad_key = [{"roster": {"dealer_0": "random"}}]
    assert error_of(experiment_data(cells=bad_key)).startswith("cells[0].roster.dealer_0: no such")
    bad_entry = [{"roster": {"proposer": {"policy": "random", "bad": 1}}}]
    assert error_of(experiment_data(cells=bad_entry)).startswith(
        "cells[0].roster.proposer.bad: unknown field"
    )
    bad_policy = [{"roster": {"proposer": "nope"}}]
    assert error_of(experiment_data(cells=bad_policy)).startswith(
        "cells[0].roster.proposer.policy: 'nope' is unknown"
    )


def test_policy_options_and_role_prompts_pass_validation():
    roster = {
        "proposer": {"policy": "ultimatum/fixed-offer", "options": {"offer": 3}},
        "responder": {"policy": "llm", "model": "fake", "role_prompt": "Be fair.",
                      "options": {"max_reasks": 1}},
    }  # fmt: skip
    cell = load_experiment(experiment_data(roster=roster)).cells()[0]
    assert cell.roster["proposer_0"].options == {"offer": 3}
    assert cell.roster["responder_0"].role_prompt == "Be fair."


def test_cells_of_a_directly_built_experiment_are_checked_on_use():
    experiment = Experiment.model_validate(experiment_data(grid={"max_pie": [5]}))
    with pytest.raises(ExperimentError, match=r"^grid\.max_pie\[0\]: 5 is invalid"):
        experiment.cells()


def test_env_parameters_reads_the_constructor():
    assert env_parameters(ULTIMATUM_ID) == {
        "min_pie": 10,
        "max_pie": 100,
        "max_cycles": 1,
        "render_mode": None,
    }
    assert REQUIRED not in env_parameters(ULTIMATUM_ID).values()


def test_env_parameters_of_a_class_entry_point_include_registered_defaults():
    from envs.core.registry import register_env

    register_env(
        "TestUltimatumRaw-v0",
        kind="aec",
        entry_point="tests.envs_fixtures.ultimatum:raw_env",
        family="test",
        summary="The raw ultimatum class with other defaults (test fixture).",
        kwargs={"max_pie": 50},
    )
    assert env_parameters("mercato/TestUltimatumRaw-v0")["max_pie"] == 50
    cell = load_experiment(experiment_data(env="mercato/TestUltimatumRaw-v0", grid={})).cells()[0]
    assert cell.params["max_pie"] == 50


def test_validation_never_loads_a_model_library():
    code = (
        "import sys\n"
        "from tests.sim.ultimatum_runs import experiment_data, register_fixtures\n"
        "from sim.engine.experiment import load_experiment\n"
        "register_fixtures()\n"
        "models = {'smol': {'backend': 'local', 'path': '/no/such/model'}, 'big': 'local'}\n"
        "load_experiment(experiment_data(models=models))\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
