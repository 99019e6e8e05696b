"""The core install (``pip install mercato``, no extras) plays every environment.

A fresh venv (no pip, no network) gets only the distributions of pyproject's core
``dependencies`` and their dependencies, linked from this venv; an isolated interpreter (``-I``)
there imports ``envs`` and the players, plays one seeded episode of every registered env with
scripted players (random where a role has none), one with an LLM player on the fake model (the
text protocol end to end), resets every single-agent Gymnasium view, and checks that no extra's
package is importable or was imported.
A module on the core path that imports an extra's package at the top fails here, as
`test_extra_import_on_core_path_fails` shows on a copy of the packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import envs

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = (
    "torch", "transformers", "accelerate", "ray", "datasets", "minari", "stable_baselines3",
    "pyarrow",
)  # fmt: skip
"""Packages of the extras that the core install must neither hold nor import."""

PLAY = r"""
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
forbidden = json.loads(sys.argv[2])
import pettingzoo
import envs, agents.scripted, agents.users
from agents.registry import make_policy
from envs.core.names import role_of
from envs.core.turns import deciding_agents, idle_action
from envs.core.embedding import SentenceEncoder
from sim.llm import make_model

ROSTERS = {  # env id -> role -> scripted player; a role not named here plays randomly
    "mercato/Bargaining-v0": {"alice": "bargaining/equilibrium", "bob": "bargaining/even-split"},
    "mercato/Negotiation-v0": {
        "seller": "negotiation/anchoring", "buyer": "negotiation/equilibrium"
    },
    "mercato/Persuasion-v0": {"seller": "persuasion/commitment", "buyer": "persuasion/bayesian"},
    "mercato/Marketplace-v0": {"customer": "marketplace/careful", "business": "marketplace/honest"},
    "mercato/ManipulationTrial-v0": {
        "assistant": "trials/assistant",
        "principal": "trials/principal",
        "user": "trials/parametric",
    },
    "mercato/RecDialogue-v0": {"recommender": "dialogue/retrieval", "user": "dialogue/agenda"},
    "mercato/RecFeed-v0": {"recommender": "feed/blend", "user": "feed/user"},
}
fake = make_model("fake")

def seat(env, env_id, agent, seed, llm):
    if agent == llm:
        return "llm", make_policy("llm", env, seed=seed, env_id=env_id, model=fake)
    name = ROSTERS.get(env_id, {}).get(role_of(agent), "random")
    return name, make_policy(name, env, seed=seed, env_id=env_id)

def play(info, seed, llm_seat):
    env = pettingzoo.make(info.kind, info.id)
    reset = env.reset(seed=seed)
    llm = env.possible_agents[0] if llm_seat else None
    seats = {a: seat(env, info.id, a, seed, llm) for a in env.possible_agents}
    names, policies = {a: s[0] for a, s in seats.items()}, {a: s[1] for a, s in seats.items()}
    decisions, returns = 0, dict.fromkeys(env.possible_agents, 0.0)
    if info.kind == "aec":
        for agent in env.agent_iter():
            observation, reward, terminated, truncated, _ = env.last()
            returns[agent] += reward
            done = terminated or truncated
            env.step(None if done else policies[agent].act(observation, agent))
            decisions += not done
    else:
        observations = reset[0]
        while env.agents:
            actions = {a: policies[a].act(observations[a], a) for a in deciding_agents(env)}
            decisions += len(actions)
            idle = idle_action(env)
            if idle is not None:
                actions = {a: actions.get(a, idle) for a in env.agents}
            observations, rewards, *_ = env.step(actions)
            for a, r in rewards.items():
                returns[a] += r
    return {"policies": sorted(set(names.values())), "decisions": decisions, "returns": returns}

played = {
    info.id: {"scripted": play(info, 0, False), "llm": play(info, 1, True)}
    for info in envs.list_envs()
}
import gymnasium, sim  # sim registers the single-agent views
views = sorted(view for view in gymnasium.registry if view.startswith("mercato/"))
for view in views:
    gymnasium.make(view).reset(seed=0)
errors = {}
for what, call in {
    "local": lambda: make_model("local"),
    "embedding": lambda: SentenceEncoder(folder=sys.argv[3]).encode(["x"]),
}.items():
    try:
        call()
    except Exception as error:
        errors[what] = f"{type(error).__name__}: {error}"
print(json.dumps({
    "prefix": sys.prefix,
    "path": sys.path,
    "played": played,
    "views": views,
    "errors": errors,
    "importable": [m for m in forbidden if importlib.util.find_spec(m) is not None],
    "imported": sorted({m.split(".")[0] for m in sys.modules} & set(forbidden)),
}))
"""


def core_requirements() -> list[Requirement]:
    """pyproject's core ``dependencies``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively (markers and extras
    evaluated here), by normalised name."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(req, "") for req in requirements]
    while todo:
        req, extra = todo.pop()
        key = (normalised(req.name), frozenset(req.extras))
        if key in seen or (req.marker and not req.marker.evaluate({"extra": extra})):
            continue
        seen.add(key)
        dist = found.setdefault(key[0], metadata.distribution(req.name))
        for line in dist.requires or ():
            todo += [(Requirement(line), e) for e in ("", *req.extras)]
    return found


def link_site_packages(dists: dict[str, metadata.Distribution], site: Path) -> None:
    """Link the files of ``dists`` into ``site``: a whole top-level folder where only these
    distributions own files in it, file by file where others do too (namespace packages)."""
    owners: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = normalised(dist.metadata["Name"])
        for top in {file.parts[0] for file in dist.files or () if file.parts}:
            owners.setdefault(top, set()).add(name)
    for dist in dists.values():
        if dist.files is None:
            raise RuntimeError(f"{dist.metadata['Name']} lists no files (no RECORD)")
        for file in dist.files:
            if not file.parts or file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            whole = owners[file.parts[0]] <= dists.keys()
            rel = Path(file.parts[0]) if whole else Path(*file.parts)
            target = site / rel
            if target.exists() or target.is_symlink():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(Path(dist.locate_file(rel)).resolve())


@pytest.fixture(scope="module")
def core_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv's interpreter that sees the core distributions only."""
    venv = tmp_path_factory.mktemp("core-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    link_site_packages(closure(core_requirements()), site / "site-packages")
    return venv / "bin" / "python"


def run_core(python: Path, root: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Play every env under ``python`` -I with the packages of ``root`` on its path."""
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "MERCATO_CACHE": str(tmp)}
    model = tmp / "no-model"  # a model folder for the encoder, so the missing extra shows first
    model.mkdir(exist_ok=True)
    argv = [str(root), json.dumps(EXTRAS_ONLY), str(model)]
    return subprocess.run(
        [str(python), "-I", "-c", PLAY, *argv],
        cwd=tmp, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_core_install_plays_every_env_without_extras(core_python: Path, tmp_path: Path) -> None:
    done = run_core(core_python, ROOT, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert Path(report["prefix"]) == core_python.parent.parent  # the core venv, isolated
    assert not any(p.startswith(sys.prefix) for p in report["path"]), report["path"]
    assert report["importable"] == [], "extras' packages in the core install"
    assert report["imported"] == []
    built_in = {i.id for i in envs.list_envs() if str(i.entry_point).startswith("envs.")}
    assert set(report["played"]) == built_in  # (tests may register fixtures in this process)
    for env_id, runs in report["played"].items():
        scripted, llm = runs["scripted"], runs["llm"]
        assert scripted["decisions"] > 0 and llm["decisions"] > 0, env_id
        assert "llm" in llm["policies"] and "llm" not in scripted["policies"], env_id
        assert any("/" in name for name in scripted["policies"]), f"{env_id}: no scripted player"
    assert report["views"], "no single-agent Gymnasium view was registered"
    for what in ("local", "embedding"):
        assert "pip install 'mercato[llm]'" in report["errors"][what], report["errors"]


def test_cli_names_its_extra_in_core_install(core_python: Path, tmp_path: Path) -> None:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import sim.cli"
    done = subprocess.run(
        [str(core_python), "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line, no traceback
    assert "pip install 'mercato[ray]'" in done.stderr


def test_extra_import_on_core_path_fails(core_python: Path, tmp_path: Path) -> None:
    """The guard works: a copy of the packages whose scripted players import torch at the top
    cannot even be imported in the core install."""
    copy = tmp_path / "repo"
    for package in ("envs", "agents", "sim"):
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    module = copy / "agents" / "scripted" / "bargaining.py"
    text = module.read_text()
    future = "from __future__ import annotations\n"
    module.write_text(text.replace(future, future + "import torch\n", 1))
    assert "import torch" in module.read_text()
    done = run_core(core_python, copy, tmp_path)
    assert done.returncode != 0
    assert "No module named 'torch'" in done.stderr
