"""Play episodes of any registered environment (AEC or Parallel), many instances in lockstep.

Scripted AEC episodes run one after another in a tight loop on the unwrapped env. When any player
wants batches (an `LLMPolicy`), up to ``lockstep`` episodes advance together: at each tick every
pending decision of every instance and agent is collected, and all LLM decisions are served
through `agents.llm.act_together`, so calls to one model go out as one batch.

Parallel envs are stepped natively: every agent that decides this step (all live agents, or
those the env's ``deciding_agents()`` names; the others get its ``idle_action``) is asked at once,
so one step of a 100-customer market sends its LLM decisions as one batch, merged with those of
the other instances in lockstep. Only decisions are recorded as step rows; the rewards of steps
an agent sat out accrue to its next row.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import BaseWrapper

from agents.base import Policy, decides_in_batches
from agents.llm import DecisionRecord, act_together
from envs.core.names import role_of
from envs.core.turns import deciding_agents, idle_action
from sim.engine.costs import charge, cost_metrics, priced
from sim.engine.records import EpisodeRecord, LLMTally, StepColumns, StepRow, to_json, total_tally


def innermost_aec(env: Any) -> Any:
    """``env`` without its PettingZoo wrappers (order and bounds checks cost more than the step),
    stopping at the last AEC env (for a Parallel env, its ``parallel_to_aec`` view)."""
    if isinstance(env, ParallelEnv):
        return env
    while isinstance(env, BaseWrapper) and isinstance(env.env, AECEnv):
        env = env.env
    return env


class EnvPool:
    """Idle instances of one environment configuration, reused across episodes (reset is cheap,
    construction is not). The rollout steps their unwrapped form."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._idle: list[Any] = []

    def probe(self) -> Any:
        """An instance to inspect (it stays in the pool)."""
        if not self._idle:
            self._idle.append(self.get())
        return self._idle[-1]

    def get(self) -> Any:
        if self._idle:
            return self._idle.pop()
        return innermost_aec(self.factory())

    def put(self, env: Any) -> None:
        self._idle.append(env)


@dataclass
class EpisodeJob:
    """One episode to play: where its env comes from, its reset seed, a policy per agent, labels."""

    episode_id: str
    seed: int
    envs: EnvPool
    policies: Mapping[str, Policy]
    policy_names: Mapping[str, str]
    run_id: str = ""
    cell_id: str = ""
    episode_index: int = 0
    env_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    model_keys: Mapping[str, str] = field(default_factory=dict)
    """Agent -> the model key its LLM decisions are tallied under (default: the model's label)."""
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Model key -> (price per 1k prompt tokens, per 1k completion tokens)."""


@dataclass
class EpisodeResult:
    """A played episode: its table row and its steps."""

    record: EpisodeRecord
    steps: StepColumns


@dataclass
class _Episode:
    """An episode in progress."""

    job: EpisodeJob
    env: Any
    steps: StepColumns
    started: float
    returns: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    turns: int = 0
    rows: int = 0
    observations: dict[str, Any] = field(default_factory=dict)
    infos: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, float] = field(default_factory=dict)
    llm: dict[str, LLMTally] = field(default_factory=dict)
    trace: Any = field(default_factory=hashlib.sha256)
    """Running fingerprint of the recorded rows: agent, observation, action, reward."""


@dataclass(frozen=True)
class Batching:
    """How lockstep rollouts fill model batches; all on by default.

    ``across_cells``: the episodes of every cell of a shard that has LLM players run in one
    lockstep (`sim.engine.batch.play_shard`), not cell by cell. ``advance_scripted``: scripted turns
    are played at once, so each episode waits in the batch only for an LLM decision.
    ``share_identical``: identical requests in one batch (greedy ones whatever their seed) are
    sent once. Turning them off gives the former scheduling, the benchmark's baseline.
    """

    across_cells: bool = True
    advance_scripted: bool = True
    share_identical: bool = True


BATCHING = Batching()


def wants_batches(policy: Policy) -> bool:
    """Whether ``policy`` decides in batches (an `LLMPolicy`) rather than one call at a time."""
    return decides_in_batches(policy)


def play(
    jobs: Iterable[EpisodeJob],
    *,
    lockstep: int = 32,
    record_steps: bool = True,
    batching: Batching = BATCHING,
    on_drained: Callable[[], None] | None = None,
) -> Iterator[EpisodeResult]:
    """Play ``jobs``; yield each finished episode (in completion order).

    ``on_drained`` is called once the last job has started (from then on the lockstep can only
    shrink): how a benchmark tells full batches from the tail.
    """
    pending = iter(jobs)
    first = next(pending, None)
    if first is None:
        return
    jobs_all = _chain(first, pending, on_drained)
    batching_on = any(wants_batches(p) for p in first.policies.values())
    if isinstance(first.envs.probe(), ParallelEnv):
        yield from _play_parallel(jobs_all, lockstep if batching_on else 1, record_steps, batching)
    elif batching_on:
        yield from _play_lockstep(jobs_all, lockstep, record_steps, batching)
    else:
        for job in jobs_all:
            yield _play_one(job, record_steps)


def _chain(
    first: EpisodeJob, rest: Iterator[EpisodeJob], on_drained: Callable[[], None] | None
) -> Iterator[EpisodeJob]:
    yield first
    yield from rest
    if on_drained is not None:
        on_drained()


def _start(job: EpisodeJob) -> _Episode:
    env = job.envs.get()
    started = time.perf_counter()
    reset = env.reset(seed=job.seed)
    episode = _Episode(job, env, StepColumns(), started, {a: 0.0 for a in env.possible_agents})
    if isinstance(env, ParallelEnv):
        episode.observations, episode.infos = reset
        episode.pending = dict.fromkeys(env.possible_agents, 0.0)
    return episode


def _play_one(job: EpisodeJob, record_steps: bool) -> EpisodeResult:
    """The fast path: one episode, scripted players, no batching."""
    episode = _start(job)
    env = episode.env
    policies = job.policies
    while env.agents:
        agent = env.agent_selection
        if env.terminations[agent] or env.truncations[agent]:
            _finish_agent(episode, agent, record_steps)
            continue
        observation = env.observe(agent)
        action = policies[agent].act(observation, agent)
        _take_turn(episode, agent, observation, action, None, record_steps)
    return _result(episode)


def _in_lockstep(
    jobs: Iterator[EpisodeJob], width: int, advance: Callable[[list[_Episode]], None]
) -> Iterator[EpisodeResult]:
    """Keep up to ``width`` episodes running; ``advance`` moves them all one tick together."""
    running: list[_Episode] = []
    while True:
        while len(running) < width:
            job = next(jobs, None)
            if job is None:
                break
            running.append(_start(job))
        if not running:
            return
        advance(running)
        still = []
        for episode in running:
            if episode.env.agents:
                still.append(episode)
            else:
                yield _result(episode)
        running = still


def _play_lockstep(
    jobs: Iterator[EpisodeJob], width: int, record_steps: bool, batching: Batching
) -> Iterator[EpisodeResult]:
    def advance(running: list[_Episode]) -> None:
        decisions = _pending_decisions(running, record_steps, batching.advance_scripted)
        _decide(decisions, batching.share_identical)
        for d in decisions:
            _take_turn(d.episode, d.agent, d.observation, d.action, d.record, record_steps)

    return _in_lockstep(jobs, width, advance)


@dataclass
class _Decision:
    episode: _Episode
    agent: str
    observation: Any
    action: Any = None
    record: DecisionRecord | None = None


def _pending_decisions(
    running: list[_Episode], record_steps: bool, advance_scripted: bool
) -> list[_Decision]:
    """Each running episode's next live decision (finishing agents that are done first).

    With ``advance_scripted``, scripted turns are played on the spot, so the decision an episode
    waits on is an LLM one (or the episode ends)."""
    decisions = []
    for episode in running:
        env = episode.env
        policies = episode.job.policies
        while env.agents:
            agent = env.agent_selection
            if env.terminations[agent] or env.truncations[agent]:
                _finish_agent(episode, agent, record_steps)
                continue
            observation = env.observe(agent)
            if advance_scripted and not wants_batches(policies[agent]):
                action = policies[agent].act(observation, agent)
                _take_turn(episode, agent, observation, action, None, record_steps)
                continue
            decisions.append(_Decision(episode, agent, observation))
            break
    return decisions


def _take_turn(
    episode: _Episode,
    agent: str,
    observation: Any,
    action: Any,
    decision: DecisionRecord | None,
    record_steps: bool,
) -> None:
    env = episode.env
    reward = float(env._cumulative_rewards[agent])
    episode.returns[agent] += reward
    _charge(episode, decision)
    if record_steps:
        episode.steps.append(
            _row(
                episode,
                agent,
                observation,
                action,
                reward,
                False,
                False,
                env.infos[agent],
                decision,
            )
        )
    episode.turns += 1
    env.step(action)


def _finish_agent(episode: _Episode, agent: str, record_steps: bool) -> None:
    """Record a done agent's last reward and metrics, then step it out (PettingZoo's None step)."""
    env = episode.env
    reward = float(env._cumulative_rewards[agent])
    episode.returns[agent] += reward
    info = env.infos[agent]
    if not episode.metrics and isinstance(info, Mapping) and "metrics" in info:
        episode.metrics = dict(info["metrics"])
    if record_steps:
        row = _row(
            episode, agent, env.observe(agent), None, reward,
            bool(env.terminations[agent]), bool(env.truncations[agent]), info, None,
        )  # fmt: skip
        episode.steps.append(row)
    env.step(None)


def _row(
    episode: _Episode,
    agent: str,
    observation: Any,
    action: Any,
    reward: float,
    terminated: bool,
    truncated: bool,
    info: Any,
    decision: DecisionRecord | None,
) -> StepRow:
    """The steps-table row of one turn (the LLM columns from its decision, if any)."""
    message = (action.get("message") or None) if type(action) is dict else None
    step = episode.rows
    episode.rows += 1
    observed = to_json(observation)
    acted = None if action is None else to_json(action)
    episode.trace.update(f"{agent}\x00{observed}\x00{acted}\x00{reward!r}\x00".encode())
    job = episode.job
    if decision is None:
        return StepRow(
            job.episode_id, step, agent, _role(agent), observed, None, acted, message, reward,
            terminated, truncated, to_json(info), job.policy_names.get(agent),
        )  # fmt: skip
    chose = bool(decision.choice_options)
    return StepRow(
        job.episode_id,
        step,
        agent,
        _role(agent),
        observed,
        decision.messages[-1]["content"],
        acted,
        message,
        reward,
        terminated,
        truncated,
        to_json(info),
        job.policy_names.get(agent),
        prompt=to_json(decision.messages),
        reply=to_json(decision.replies),
        parse_status=decision.status,
        retries=decision.reasks,
        fallback=decision.fallback,
        llm_prompt_tokens=decision.prompt_tokens,
        llm_completion_tokens=decision.completion_tokens,
        model=_model_key(job, decision),
        llm_requests=decision.requests,
        llm_failed_requests=decision.failed_requests,
        llm_failures=to_json(decision.failures) if decision.failures else None,
        llm_latency_s=decision.latency_s,
        llm_structured=decision.structured,
        choice_options=to_json(decision.choice_options) if chose else None,
        choice_method=decision.choice_method,
        choice_raw=decision.choice_raw,
        choice_scores=to_json(decision.choice_scores) if decision.choice_scores else None,
    )


# Parallel envs ---------------------------------------------------------------------------------


def _play_parallel(
    jobs: Iterator[EpisodeJob], width: int, record_steps: bool, batching: Batching
) -> Iterator[EpisodeResult]:
    def advance(running: list[_Episode]) -> None:
        waiting: list[_Episode] = []
        decisions: list[_Decision] = []
        for episode in running:
            step = _parallel_decisions(episode, record_steps, batching.advance_scripted)
            if step is not None:
                waiting.append(episode)
                decisions += step
        _decide(decisions, batching.share_identical)
        by_episode: dict[int, dict[str, Any]] = {id(e): {} for e in waiting}
        for d in decisions:
            _record_decision(d, record_steps)
            by_episode[id(d.episode)][d.agent] = d.action
        for episode in waiting:
            _step_parallel(episode, by_episode[id(episode)], record_steps)

    return _in_lockstep(jobs, width, advance)


def _parallel_decisions(
    episode: _Episode, record_steps: bool, advance_scripted: bool
) -> list[_Decision] | None:
    """The decisions of an episode's next step (None once it has ended).

    With ``advance_scripted``, steps where no LLM player decides are played on the spot."""
    env = episode.env
    policies = episode.job.policies
    while env.agents:
        decisions = [_Decision(episode, a, episode.observations[a]) for a in deciding_agents(env)]
        if not advance_scripted or any(wants_batches(policies[d.agent]) for d in decisions):
            return decisions
        _decide(decisions, share_identical=False)
        actions = {}
        for d in decisions:
            _record_decision(d, record_steps)
            actions[d.agent] = d.action
        _step_parallel(episode, actions, record_steps)
    return None


def _record_decision(d: _Decision, record_steps: bool) -> None:
    episode, agent = d.episode, d.agent
    reward = episode.pending[agent]
    episode.pending[agent] = 0.0
    _charge(episode, d.record)
    if record_steps:
        info = episode.infos.get(agent, {})
        episode.steps.append(
            _row(episode, agent, d.observation, d.action, reward, False, False, info, d.record)
        )
    episode.turns += 1


def _step_parallel(episode: _Episode, actions: dict[str, Any], record_steps: bool) -> None:
    """One parallel step (agents that did not decide take the env's ``idle_action``); agents
    that are done get their final row (action null)."""
    env = episode.env
    idle = idle_action(env)
    if idle is not None:
        actions = {a: actions.get(a, idle) for a in env.agents}
    observations, rewards, terminations, truncations, infos = env.step(actions)
    pending, returns = episode.pending, episode.returns
    for agent, reward in rewards.items():
        if reward:
            pending[agent] += reward
            returns[agent] += reward
    episode.observations, episode.infos = observations, infos
    for agent, info in infos.items():
        if not (terminations.get(agent) or truncations.get(agent)):
            continue
        if not episode.metrics and isinstance(info, Mapping) and "metrics" in info:
            episode.metrics = dict(info["metrics"])
        if record_steps:
            row = _row(
                episode, agent, observations.get(agent), None, pending[agent],
                bool(terminations[agent]), bool(truncations[agent]), info, None,
            )  # fmt: skip
            episode.steps.append(row)
        pending[agent] = 0.0


def _decide(decisions: list[_Decision], share_identical: bool) -> None:
    """Every decision's action: scripted ones directly, LLM ones batched per policy (identical
    requests sent once with ``share_identical``)."""
    batched: dict[int, list[_Decision]] = {}
    for d in decisions:
        policy = d.episode.job.policies[d.agent]
        if wants_batches(policy):
            batched.setdefault(id(policy), []).append(d)
        else:
            d.action = policy.act(d.observation, d.agent)
    if not batched:
        return
    groups = list(batched.values())
    policies = [g[0].episode.job.policies[g[0].agent] for g in groups]
    answers = act_together(
        [(p, [(d.observation, d.agent) for d in g]) for p, g in zip(policies, groups, strict=True)],
        share_identical=share_identical,
    )
    for policy, group, actions in zip(policies, groups, answers, strict=True):
        records = policy.pop_records()
        for d, action, record in zip(group, actions, records, strict=True):
            d.action, d.record = action, record


@functools.cache
def _role(agent: str) -> str:
    return role_of(agent)


def _model_key(job: EpisodeJob, decision: DecisionRecord) -> str:
    """The key an LLM decision is tallied under: the roster's, else the model's label."""
    return job.model_keys.get(decision.agent) or decision.model


def _charge(episode: _Episode, decision: DecisionRecord | None) -> None:
    if decision is not None:
        charge(episode.llm, _model_key(episode.job, decision), decision)


def _result(episode: _Episode) -> EpisodeResult:
    job = episode.job
    job.envs.put(episode.env)
    priced(episode.llm, job.prices)
    total = total_tally(episode.llm.values())
    llm_tokens = total.prompt_tokens + total.completion_tokens
    episode.metrics.update(cost_metrics(job.env_id, episode.metrics, total))
    record = EpisodeRecord(
        run_id=job.run_id,
        cell_id=job.cell_id,
        episode_id=job.episode_id,
        episode_index=job.episode_index,
        env_id=job.env_id,
        params=job.params,
        seed=job.seed,
        roster=dict(job.policy_names),
        metrics=episode.metrics,
        returns=episode.returns,
        steps=episode.turns,
        trace=episode.trace.hexdigest()[:16] if episode.rows else None,
        llm_calls=total.requests,
        llm_tokens=llm_tokens,
        errors=total.failed_requests,
        wall_s=time.perf_counter() - episode.started,
        llm=episode.llm,
    )
    return EpisodeResult(record, episode.steps)
