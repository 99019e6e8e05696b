"""Counterfactual DPO pairs: go back to a recorded decision, try the other actions, play them out.

Runs are seeded, so any recorded decision state can be reached again by replaying its episode
(same cell, players, policy seeds and model spec as the batch runner used). At a sampled state
the candidates are the recorded reply and every other valid action of the env's text protocol
(its label is the reply that parses to it). LLM decisions reached by constrained choice or the
protocol's default are states too (a small model that never answers in format still yields
pairs): their recorded candidate is the label of the action taken, or, when no label matches,
it is replayed for the check but paired with nothing. Each candidate is one replayed episode in
which the deciding agent's k-th decision plays the candidate's action (its policy is still asked,
so its memory stays as in the run); the rest plays as the players choose. Candidates are ranked
by the deciding agent's realised return.

The recorded reply's replay is an oracle: it must give back the recorded return exactly, else
the env or a player is not deterministic (or the code changed since the run), and the other
candidates' outcomes would not be comparable. Such a state raises `ExportError`, or is skipped
with ``verify=False``. Cost: one replayed episode per candidate, LLM players in lockstep batches.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pettingzoo.utils.wrappers import BaseParallelWrapper, BaseWrapper

from agents.llm import JSON_FORMAT_MARKER
from envs.core.turns import deciding_agents
from sim.engine.records import to_json
from sim.engine.rollout import EnvPool, EpisodeJob, play, wants_batches
from sim.export.decisions import RunData, load_run
from sim.export.errors import ExportError
from sim.export.rehydrate import from_json
from sim.export.scripted import RolePrompt, TextDecision, text_decisions
from sim.export.texts import PAIRINGS, Run, assistant_message, selected_texts, unique_pairs

SOURCE = "counterfactual"
RANK_BY = "return"


# --- substituting one action ---


@dataclass(frozen=True)
class Substitution:
    """Play ``action`` at ``agent``'s ``index``-th decision (0-based) instead of its policy's."""

    agent: str
    index: int
    action: Any


class SubstituteAEC(BaseWrapper):
    """An AEC env whose ``step`` swaps in the substitution's action at the agent's k-th decision.

    A decision is a step of the selected agent while it is live (done agents step ``None``)."""

    def __init__(self, env: Any, substitution: Substitution) -> None:
        super().__init__(env)
        self.substitution = substitution
        self.decisions = 0

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.decisions = 0
        self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> None:
        env, sub = self.env, self.substitution
        agent = env.agent_selection
        if agent == sub.agent and not (env.terminations[agent] or env.truncations[agent]):
            if self.decisions == sub.index:
                action = sub.action
            self.decisions += 1
        env.step(action)


class SubstituteParallel(BaseParallelWrapper):
    """A Parallel env whose ``step`` swaps in the substitution's action at the agent's k-th
    decision; a step is a decision of the agents the env's ``deciding_agents()`` names (all live
    agents without it), as in the rollout (the others play the env's ``idle_action``)."""

    def __init__(self, env: Any, substitution: Substitution) -> None:
        super().__init__(env)
        self.substitution = substitution
        self.decisions = 0

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.decisions = 0
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: dict[str, Any]) -> Any:
        env, sub = self.env, self.substitution
        deciding = deciding_agents(env)
        if sub.agent in deciding:
            if self.decisions == sub.index:
                actions = {**actions, sub.agent: sub.action}
            self.decisions += 1
        return env.step(actions)


class SubstitutingPool(EnvPool):
    """Envs of a shared pool, each wrapped for one episode's substitution.

    `EnvPool.get` strips wrappers (`innermost_aec`); this pool wraps after that, so the rollout
    steps the wrapper, and hands the bare env back to the shared pool."""

    def __init__(self, shared: EnvPool, substitution: Substitution) -> None:
        super().__init__(shared.factory)
        self.shared = shared
        self.substitution = substitution

    def probe(self) -> Any:
        return self.shared.probe()

    def get(self) -> Any:
        env = self.shared.get()
        wrapper = SubstituteParallel if _is_parallel(env) else SubstituteAEC
        return wrapper(env, self.substitution)

    def put(self, env: Any) -> None:
        self.shared.put(env.env if isinstance(env, SubstituteAEC | SubstituteParallel) else env)


def _is_parallel(env: Any) -> bool:
    from pettingzoo import ParallelEnv

    return isinstance(env, ParallelEnv)


# --- states and candidates ---


@dataclass
class Candidate:
    """One reply to try at a state: its text, the action it parses to, and the replay's return."""

    text: str | None  # None: a recorded action no reply text stands for (never paired)
    action: Any
    recorded: bool
    outcome: float | None = None


@dataclass
class CounterfactualState:
    """A recorded decision and its candidates; ``index`` is the decision's k among the agent's
    decisions in the episode. ``reproduced`` says whether the recorded reply's replay gave back
    the recorded return (the determinism check)."""

    text: TextDecision
    index: int
    candidates: list[Candidate]
    reproduced: bool | None = None

    @property
    def recorded(self) -> Candidate:
        return next(c for c in self.candidates if c.recorded)


def counterfactual_states(
    run: Run,
    *,
    agents: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    cells: Sequence[str] | None = None,
    max_states: int = 32,
    seed: int = 0,
    include_scripted: bool = False,
    role_prompt: RolePrompt = None,
    verify: bool = True,
) -> list[CounterfactualState]:
    """Sampled decision states with every candidate's replayed return (see the module doc).

    States whose recorded reply did not replay as recorded raise `ExportError` (``verify``) or
    are left out (``verify=False``)."""
    if max_states < 1:
        raise ExportError(f"max_states must be >= 1, got {max_states}")
    data = load_run(run)
    texts = _state_texts(data, agents, roles, cells, include_scripted, role_prompt)
    replayer = Replayer(data)
    try:
        states = [replayer.state(t) for t in _pick(texts, max_states, seed)]
        replayer.play([(s, s.recorded) for s in states])  # the oracle first: fail fast
        for state in states:
            _check(data, state, verify)
        states = [s for s in states if s.reproduced]
        replayer.play([(s, c) for s in states for c in s.candidates if not c.recorded])
    finally:
        replayer.close()
    return states


def counterfactual_pairs(
    run: Run,
    *,
    agents: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    cells: Sequence[str] | None = None,
    max_states: int = 32,
    seed: int = 0,
    include_scripted: bool = False,
    role_prompt: RolePrompt = None,
    pairs: str = "best-worst",
    min_margin: float = 0.0,
    verify: bool = True,
) -> list[dict[str, Any]]:
    """DPO rows (the columns of `dpo_pairs`, ``source`` "counterfactual") from replayed states.

    At each state the best candidate by the deciding agent's return is paired with the worst
    (``pairs="best-worst"``) or every better one with every worse one (``"all"``), when the
    returns differ by more than ``min_margin``; states where all candidates tie give no pair.
    A pair with the same prompt, chosen and rejected reply as an earlier one (a state that
    recurs in alike episodes) is left out (`unique_pairs`).
    """
    if pairs not in PAIRINGS:
        raise ExportError(f"pairs {pairs!r} is unknown; allowed: {list(PAIRINGS)}")
    states = counterfactual_states(
        run, agents=agents, roles=roles, cells=cells, max_states=max_states, seed=seed,
        include_scripted=include_scripted, role_prompt=role_prompt, verify=verify,
    )  # fmt: skip
    return unique_pairs([row for state in states for row in _rows(state, pairs, min_margin)])


def _state_texts(
    data: RunData,
    agents: Sequence[str] | None,
    roles: Sequence[str] | None,
    cells: Sequence[str] | None,
    include_scripted: bool,
    role_prompt: RolePrompt,
) -> list[TextDecision]:
    """The decisions to branch from, in run order: those dpo exports as text, plus LLM decisions
    reached by choice or default (completion ``""``: the label of the action taken is found when
    the state is built)."""
    selected = data.select(agents, roles, cells)
    texts = text_decisions(data, selected, include_scripted, role_prompt)
    texts += [
        TextDecision(d, d.prompt, "", "llm")
        for d in selected
        if d.is_llm and not d.from_reply and d.prompt
    ]
    if not texts:
        # no decision offers a state: this raises, saying why and what to do instead
        return selected_texts(data, "dpo", agents, roles, cells, include_scripted, role_prompt)
    return sorted(texts, key=lambda t: (t.decision.episode_id, t.decision.step))


def _pick(texts: list[TextDecision], max_states: int, seed: int) -> list[TextDecision]:
    """At most ``max_states`` decisions, in run order, drawn with ``random.Random(seed)``:
    distinct prompts first (a prompt seen again is drawn only once every distinct one is), so a
    small budget is not spent on the same opening state of many alike episodes."""
    if len(texts) <= max_states:
        return list(texts)
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    seen: dict[bytes, int] = {}
    repeat = {}
    for i in order:
        key = orjson.dumps([texts[i].decision.role, texts[i].prompt])
        repeat[i] = seen.get(key, 0)
        seen[key] = repeat[i] + 1
    chosen = sorted(order, key=lambda i: repeat[i])[:max_states]
    return [texts[i] for i in sorted(chosen)]


def _check(run: RunData, state: CounterfactualState, verify: bool) -> None:
    """The oracle: the recorded reply's replay must give the recorded return exactly."""
    d = state.text.decision
    replayed = state.recorded.outcome
    state.reproduced = replayed == d.episode_return
    if state.reproduced or not verify:
        return
    raise ExportError(
        f"run {run.run_id}: episode {d.episode_id} did not replay as recorded (playing step "
        f"{d.step}'s recorded action, {d.agent}'s return was {replayed!r}, recorded "
        f"{d.episode_return!r}): the environment or a player is not deterministic (e.g. a model "
        "sampling without a fixed seed, or a fake model cycling through a list of replies), or "
        "the code changed since the run; pass verify=False to skip such states"
    )


def _rows(state: CounterfactualState, pairs: str, min_margin: float) -> list[dict[str, Any]]:
    """Preference rows for one state, best candidates first (the recorded reply wins ties)."""
    texts = [c for c in state.candidates if c.text is not None]
    ranked = sorted(texts, key=lambda c: -_outcome(c))
    if len(ranked) < 2:
        return []
    matches = (
        [(ranked[0], ranked[-1])]
        if pairs == "best-worst"
        else [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
    )
    rows = []
    for chosen, rejected in matches:
        margin = _outcome(chosen) - _outcome(rejected)
        if margin <= min_margin:
            continue
        rows.append(
            {
                "prompt": state.text.prompt,
                "chosen": assistant_message(str(chosen.text)),
                "rejected": assistant_message(str(rejected.text)),
                "role": state.text.decision.role,
                "chosen_outcome": _outcome(chosen),
                "rejected_outcome": _outcome(rejected),
                "margin": margin,
                "chosen_count": 1,
                "rejected_count": 1,
                "rank_by": RANK_BY,
                "source": SOURCE,
            }
        )
    return rows


def _outcome(candidate: Candidate) -> float:
    if candidate.outcome is None:
        raise AssertionError("candidate was not replayed")
    return candidate.outcome


# --- replaying ---


@dataclass
class _Cell:
    """A cell ready to replay: its shared env pool, probe env, seat plans and protocol."""

    pool: EnvPool
    probe: Any
    plans: dict[str, Any]
    protocol: Any


class Replayer:
    """Rebuilds a run's episodes as the batch runner played them (`sim.engine.batch.play_shard`):
    the manifest's experiment gives each cell's params and roster and the model specs, the
    episodes table the reset seeds; policy seeds derive from those as in the run."""

    def __init__(self, run: RunData) -> None:
        from sim.engine.experiment import ExperimentError, load_experiment
        from sim.engine.roster import ModelPool

        self.run = run
        self._cells: dict[str, _Cell] = {}
        resolved = self.run.manifest.experiment
        if not resolved:
            raise ExportError(
                f"run {self.run.run_id} has no experiment in its manifest, so its episodes "
                "cannot be replayed for counterfactual pairs (only runs of `mercato run` can)"
            )
        try:
            self.experiment = load_experiment(resolved)
        except ExperimentError as error:
            raise ExportError(
                f"run {self.run.run_id}: its experiment no longer loads ({error})"
            ) from None
        self.models = ModelPool(self.experiment.models)
        self.seeds = {
            str(k): int(v) for k, v in self.run.episodes.set_index("episode_id")["seed"].items()
        }
        self.decision_index = _decision_indices(self.run)

    def close(self) -> None:
        self.models.close()

    def cell(self, cell_id: str) -> _Cell:
        """The cell's env pool, seat plans and protocol (built once)."""
        if cell_id not in self._cells:
            from envs.core.protocol import protocol_of
            from sim.engine.batch import make_env
            from sim.engine.roster import plan_roster

            cell = {c.cell_id: c for c in self.experiment.cells()}[cell_id]
            env_id = self.experiment.env
            pool = EnvPool(lambda: make_env(env_id, cell.params))
            probe = pool.get()
            plans = plan_roster(
                cell.roster,
                env_id,
                list(probe.possible_agents),
                self.models,
                self.experiment.temperature,
            )
            pool.put(probe)
            try:
                protocol = protocol_of(probe)
            except ValueError:
                raise ExportError(
                    f"{env_id} has no text protocol: no valid actions to try as counterfactuals"
                ) from None
            self._cells[cell_id] = _Cell(pool, probe, plans, protocol)
        return self._cells[cell_id]

    def state(self, t: TextDecision) -> CounterfactualState:
        """The decision's candidates: the recorded reply, then each valid action that differs."""
        d = t.decision
        cell = self.cell(d.cell_id)
        where = f"{d.episode_id} step {d.step} ({d.agent})"
        observation = from_json(
            d.observation, cell.probe.observation_space(d.agent), f"{where} observation"
        )
        played = from_json(d.action, cell.probe.action_space(d.agent), f"{where} action")
        valid_actions = cell.protocol.valid_actions(observation, d.agent)
        reply_of = _reply_writer(cell.protocol, observation, d)
        recorded_text: str | None = t.completion
        if not recorded_text:  # a choice or default: the reply of the action taken, if listed
            labels = {_canonical(v.action): reply_of(v) for v in valid_actions}
            recorded_text = labels.get(_canonical(played))
        seen = {_canonical(played)}
        candidates = [Candidate(recorded_text, played, recorded=True)]
        for valid in valid_actions:
            key = _canonical(valid.action)
            if key not in seen:
                seen.add(key)
                candidates.append(Candidate(reply_of(valid), valid.action, recorded=False))
        index = self.decision_index[(d.episode_id, d.agent, d.step)]
        return CounterfactualState(t, index, candidates)

    def play(self, items: list[tuple[CounterfactualState, Candidate]]) -> None:
        """Replay each (state, candidate) and set the candidate's outcome; the episodes with LLM
        players go to one `play` call, so their model calls are batched in lockstep."""
        jobs: dict[str, tuple[EpisodeJob, Candidate]] = {}
        for state, candidate in items:
            job = self.job(state, candidate, f"cf{len(jobs)}")
            jobs[job.episode_id] = (job, candidate)
        batched = [job for job, _ in jobs.values() if _wants_batches(job)]
        scripted = [job for job, _ in jobs.values() if not _wants_batches(job)]
        lockstep = self.experiment.lockstep
        for group in (batched, scripted):
            for result in play(group, lockstep=lockstep, record_steps=False):
                job, candidate = jobs[result.record.episode_id]
                candidate.outcome = float(result.record.returns[_substitution(job).agent])

    def job(self, state: CounterfactualState, candidate: Candidate, job_id: str) -> EpisodeJob:
        """The state's episode as the batch runner built it, with the candidate substituted."""
        d = state.text.decision
        cell = self.cell(d.cell_id)
        seed = self.seeds[d.episode_id]
        substitution = Substitution(d.agent, state.index, candidate.action)
        return EpisodeJob(
            episode_id=job_id,
            seed=seed,
            envs=SubstitutingPool(cell.pool, substitution),
            policies={a: plan.make(cell.probe, seed, a) for a, plan in cell.plans.items()},
            policy_names={a: plan.label for a, plan in cell.plans.items()},
            cell_id=d.cell_id,
            env_id=self.experiment.env,
        )


def _substitution(job: EpisodeJob) -> Substitution:
    pool = job.envs
    assert isinstance(pool, SubstitutingPool)
    return pool.substitution


def _wants_batches(job: EpisodeJob) -> bool:
    return any(map(wants_batches, job.policies.values()))


def _decision_indices(run: RunData) -> dict[tuple[str, str, int], int]:
    """(episode, agent, step) -> k: the decision's index among the agent's in the episode."""
    counts: dict[tuple[str, str], int] = {}
    out = {}
    for d in sorted(run.decisions, key=lambda d: (d.episode_id, d.step)):
        k = counts.get((d.episode_id, d.agent), 0)
        out[(d.episode_id, d.agent, d.step)] = k
        counts[(d.episode_id, d.agent)] = k + 1
    return out


def _canonical(action: Any) -> bytes:
    """An action as canonical JSON, to tell candidates apart."""
    return orjson.dumps(orjson.loads(to_json(action)), option=orjson.OPT_SORT_KEYS)


__all__ = [
    "Candidate",
    "CounterfactualState",
    "Replayer",
    "SubstituteAEC",
    "SubstituteParallel",
    "SubstitutingPool",
    "Substitution",
    "counterfactual_pairs",
    "counterfactual_states",
]


def _reply_writer(protocol: Any, observation: Any, decision: Any) -> Any:
    """How a candidate action is written as the model's reply: as the JSON the prompt asked for
    (structured replies), else as its command-text label."""
    prompt = decision.prompt or []
    asks_json = bool(prompt) and JSON_FORMAT_MARKER in prompt[-1]["content"]

    def reply(valid: Any) -> str:
        if asks_json:
            try:
                data = protocol.reply_json(valid.action, observation, decision.agent)
            except NotImplementedError:
                return valid.label
            return json.dumps(data, ensure_ascii=False)
        return valid.label

    return reply
