"""People playing env episodes: each episode in a thread of its own, recorded as a run's shard.

A play run is an ordinary run directory made from an `Experiment` (one shard per episode:
``shard_size: 1``), so `sim.store.load` and `mercato report` read it like a simulated one.
`SessionManager` holds the run's lease; `start(cell_id, episode_index)` plays that planned
episode with the person seated by a `HumanSeat` and every other agent planned from the cell's
roster (`sim.engine.roster.plan_roster`, as batch runs do), through `sim.engine.rollout.play`.
Opponents' model calls from every live session go through one `MergingModel` per model, so
concurrent sessions share batches. A finished episode is written as its shard, the person's
rows marked ``human`` (policy and ``parse_status``); an abandoned one writes no rows, only its
journal says so. Every accepted reply and model result is journaled first (`sim.studio.journal`),
so `resume` after a restart brings each unfinished episode back to where the person left it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.core.names import agent_named, role_of
from envs.core.protocol import protocol_of
from envs.core.registry import make_env
from sim.engine.batch import end_invocation
from sim.engine.experiment import EpisodeSpec, Experiment
from sim.engine.fallbacks import manifest_totals, tallies_of
from sim.engine.records import StepColumns, to_json
from sim.engine.rollout import EnvPool, EpisodeJob, EpisodeResult, innermost_aec, play
from sim.engine.roster import ModelPool, plan_roster
from sim.llm import make_model
from sim.store.runs import RunDir, load_episodes, open_run
from sim.studio.committer import ShardCommitter
from sim.studio.human_seat import HUMAN, HumanDecision, HumanSeat, Pending, SeatAbandoned
from sim.studio.journal import (
    ABANDONED,
    FINISHED,
    REPLY,
    START,
    Journal,
    JournaledModel,
    Replay,
    journal_of,
    journals,
)
from sim.studio.merging_model import MergingModel

log = logging.getLogger(__name__)

WAITING, THINKING, FINISHED_STATUS, ABANDONED_STATUS, FAILED, INTERRUPTED = (
    "waiting",
    "thinking",
    "finished",
    "abandoned",
    "failed",
    "interrupted",
)
ENDED_BADLY = (ABANDONED_STATUS, FAILED, INTERRUPTED)
"""Session statuses after which `SessionManager.start` starts the episode again."""  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What the person's role may see once the episode is over: its own last observation through
    the protocol and its own return (no other agent's observation, no episode metrics)."""

    agent: str
    text: str
    reward: float


class PlaySession:
    """One episode with a person in it, played in a daemon thread (see `SessionManager`)."""

    def __init__(
        self,
        manager: SessionManager,
        spec: EpisodeSpec,
        shard_id: str,
        agent: str,
        journal: Journal,
        replay: Replay,
    ) -> None:
        self.manager = manager
        self.spec = spec
        self.shard_id = shard_id
        self.agent = agent
        self.journal = journal
        self.protocol = protocol_of(manager.probe_env(spec.cell_id))
        self.seat = HumanSeat(self.protocol, self._journal_reply, manager.timeout_s)
        self.seat.replay(replay.human)
        self.models = ModelPool(build=self._model_for(replay))
        self.error: str | None = None
        self._outcome: Outcome | None = None
        self._ended: str | None = None
        self._closing = False
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"play-{spec.episode_id}", daemon=True
        )

    @property
    def episode_id(self) -> str:
        return self.spec.episode_id

    @property
    def status(self) -> str:
        """``waiting`` (for the person), ``thinking`` (the others), ``finished``,
        ``abandoned``, ``failed`` (``error`` says why) or ``interrupted`` (the server closed;
        a later `SessionManager.resume` takes it up)."""
        if self._ended is not None:
            return self._ended
        return WAITING if self.seat.pending() is not None else THINKING

    def pending(self) -> Pending | None:
        """The decision waiting for the person (its form and the text their role sees)."""
        return self.seat.pending()

    def wait(self, timeout_s: float | None = None) -> Pending | None:
        """Block until the person is asked again, the episode ends or ``timeout_s`` passes; the
        pending decision, or None."""
        return self.seat.wait_pending(timeout_s)

    async def wait_async(self, timeout_s: float) -> Pending | None:
        """`wait` for an asyncio task (no thread blocks meanwhile)."""
        return await self.seat.wait_pending_async(timeout_s)

    def submit(self, values: Mapping[str, Any], number: int | None = None) -> str | None:
        """The person's answer to the pending decision: None when taken, else what to show."""
        return self.seat.submit(values, number)

    def submit_text(self, reply: str, number: int | None = None) -> str | None:
        """The person's answer typed in the protocol's command format (see `HumanSeat`)."""
        return self.seat.submit_text(reply, number)

    def abandon(self) -> None:
        """Give up the episode (the person left or timed out): recorded in the journal only."""
        self.seat.abandon()

    def outcome(self) -> Outcome | None:
        """The end as the person's role may see it (None until finished)."""
        return self._outcome

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the episode's thread to end; whether it did."""
        return self._done.wait(timeout_s)

    # --- the episode's thread ---

    def _start(self, fresh: bool) -> None:
        if fresh:
            self.journal.append(
                START,
                episode_id=self.episode_id,
                cell_id=self.spec.cell_id,
                episode_index=self.spec.episode_index,
                seed=self.spec.seed,
                agent=self.agent,
            )
        self._thread.start()

    def _run(self) -> None:
        try:
            (result,) = play([self.manager.job(self)], lockstep=1)
            steps = _marked(result.steps, self.agent, self.seat.decisions)
            self.manager.commit(self, result, steps)
            self._outcome = self._final(result)
            self.journal.append(FINISHED)
            self._ended = FINISHED_STATUS
        except SeatAbandoned:
            if self._closing:  # the server stops: the journal stays open for a resume
                self._ended = INTERRUPTED
            else:
                self.journal.append(ABANDONED)
                self._ended = ABANDONED_STATUS
        except Exception as error:  # kept for the page; the journal allows a resume
            log.exception("play session %s failed", self.episode_id)
            self.error = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            self._ended = FAILED
        finally:
            self._done.set()
            self.seat.end()  # wakes whoever waits for the next decision

    def _journal_reply(self, decision: HumanDecision) -> None:
        refused = [list(pair) for pair in decision.refused]
        self.journal.append(REPLY, agent=decision.agent, reply=decision.reply,
                            refused=refused)  # fmt: skip

    def _model_for(self, replay: Replay) -> Any:
        replayed = replay.llm  # one dict for every model of the episode (keys name the model)

        def build(ref: Any) -> JournaledModel:
            return JournaledModel(self.manager.shared_model(ref), self.journal, replayed, ref)

        return build

    def _final(self, result: EpisodeResult) -> Outcome:
        """The end as the person's role sees it: how the episode ended in the protocol's words
        (`TextProtocol.render_end`, which picks from the metrics only what the role knows), their
        return, and their own final observation through the protocol (the env's observe of their
        agent when the rollout finished it, after every other agent's last move)."""
        from sim.export.rehydrate import from_json

        rows = [r for r in result.steps.rows if r.agent == self.agent and r.action is None]
        reward = float(result.record.returns.get(self.agent, 0.0))
        truncated = bool(rows and rows[-1].truncated)
        head = f"The game is over: it {'reached its limit' if truncated else 'ended'}."
        seen: list[str] = []
        if rows:
            env = self.manager.probe_env(self.spec.cell_id)
            try:
                observation = from_json(rows[-1].observation, env.observation_space(self.agent))
                metrics = result.record.metrics
                end = self.protocol.render_end(observation, self.agent, metrics, truncated)
                view = self.protocol.render(observation, self.agent)
            except Exception:  # an env whose final observation does not render: reward only
                log.warning("final observation of %s did not render", self.episode_id)
            else:
                head = f"The game is over. {end}" if end else head
                seen = ["", "What you saw at the end:", view]
        lines = [head, f"Your return: {reward:,.2f}.", *seen]
        return Outcome(self.agent, "\n".join(lines), reward)


def _marked(steps: StepColumns, agent: str, decisions: list[HumanDecision]) -> StepColumns:
    """``steps`` with the person's decision rows saying so: ``parse_status`` ``human``, the text
    they saw, their replies (refused ones first) and how many were refused."""
    marked = StepColumns()
    made = iter(decisions)
    for row in steps.rows:
        if row.agent == agent and row.action is not None:
            decision = next(made)
            replies = [reply for reply, _ in decision.refused] + [decision.reply]
            row = row._replace(
                observation_text=decision.text,
                reply=to_json(replies),
                parse_status=HUMAN,
                retries=len(decision.refused),
            )
        marked.append(row)
    return marked


class SharedEnvPool(EnvPool):
    """An `EnvPool` that the episodes of many sessions (threads) share."""

    def __init__(self, factory: Any) -> None:
        super().__init__(factory)
        self._idle_lock = threading.Lock()

    def probe(self) -> Any:
        with self._idle_lock:
            if not self._idle:
                self._idle.append(innermost_aec(self.factory()))
            return self._idle[-1]

    def get(self) -> Any:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return innermost_aec(self.factory())  # built outside the lock

    def put(self, env: Any) -> None:
        with self._idle_lock:
            self._idle.append(env)


COMMIT_WAIT_S = 60.0
"""How long `SessionManager.close` waits for shards still being written by the committer."""


class SessionManager:
    """Plays an experiment's planned episodes with people in them, into one run directory.

    ``models`` adds to or replaces the experiment's ``models`` (specs as `make_model` takes, or
    built model objects); each model is shared by every session through a `MergingModel` with
    ``window_s``. ``timeout_s`` bounds each wait for the person (None: no limit). The manager
    holds the run's lease until `close` (``takeover`` takes a stale one after a crash).
    """

    def __init__(
        self,
        run_path: str | Path,
        experiment: Experiment,
        models: Mapping[str, Any] | None = None,
        *,
        window_s: float = 0.01,
        timeout_s: float | None = None,
        takeover: bool = False,
        committer: ShardCommitter | None = None,
    ) -> None:
        if experiment.shard_size != 1:
            raise ValueError(
                f"a play run records each episode as its own shard: shard_size must be 1, "
                f"got {experiment.shard_size}"
            )
        self.experiment = experiment
        self.window_s = window_s
        self.timeout_s = timeout_s
        self.specs = {**experiment.models, **(models or {})}
        self.run_dir: RunDir = open_run(run_path, experiment, takeover=takeover)
        self.path = Path(self.run_dir.path)
        self.committer = committer
        """Writes shards in a worker process (a study server's, shared by its studies); None:
        the episode's own thread writes its shard."""
        self._committing = 0
        self._committed = threading.Condition()
        self.cells = {cell.cell_id: cell for cell in experiment.cells()}
        self.plan: dict[tuple[str, int], tuple[EpisodeSpec, str]] = {
            (spec.cell_id, spec.episode_index): (spec, shard.shard_id)
            for shard in experiment.shards()
            for spec in shard.episodes
        }
        self.sessions: dict[str, PlaySession] = {}
        self.recorded: set[str] = self.run_dir.done_shards()
        """Shards on disk (checked once at start, then kept here: no audit per commit)."""
        self._shared: dict[str, MergingModel] = {}
        self._probes: dict[str, Any] = {}
        self._pools: dict[str, SharedEnvPool] = {}
        self._lock = threading.RLock()
        self._started = time.perf_counter()

    # --- sessions ---

    def start(self, cell_id: str, episode_index: int, human_role: str | None = None) -> PlaySession:
        """Play planned episode ``episode_index`` of ``cell_id`` with the person as
        ``human_role`` (a role or agent name; default: the agent the roster gives ``human``).

        The live session of that episode is returned as it is (a person coming back); an
        episode with a journal is resumed from it; a recorded one is refused (ValueError)."""
        if (cell_id, episode_index) not in self.plan:
            raise ValueError(f"no planned episode {episode_index} in cell {cell_id!r}")
        spec, shard_id = self.plan[(cell_id, episode_index)]
        with self._lock:
            live = self.sessions.get(spec.episode_id)
            if live is not None and live.status not in ENDED_BADLY:
                return live
            if shard_id in self.recorded:
                raise ValueError(f"episode {spec.episode_id} is already recorded")
            journal = journal_of(self.path, spec.episode_id)
            replay = Replay.of(journal)
            if replay.ended == ABANDONED or (replay.start is None and journal.path.exists()):
                journal.set_aside()
                replay = Replay()
            agent = replay.start["agent"] if replay.start else self.human_agent(cell_id, human_role)
            session = PlaySession(self, spec, shard_id, agent, journal, replay)
            self.sessions[spec.episode_id] = session
            session._start(fresh=replay.start is None)
            return session

    def resume(self) -> list[PlaySession]:
        """Restart every journaled episode that was neither recorded nor abandoned: its replies
        and model results are replayed, then it waits for the person again."""
        resumed = []
        for journal in journals(self.path):
            replay = Replay.of(journal)
            if replay.start is None or replay.ended is not None:
                continue
            key = (replay.start["cell_id"], int(replay.start["episode_index"]))
            if key not in self.plan or self.plan[key][1] in self.recorded:
                continue
            if replay.start["episode_id"] in self.sessions:
                continue
            resumed.append(self.start(*key))
        return resumed

    def session(self, episode_id: str) -> PlaySession | None:
        return self.sessions.get(episode_id)

    def human_agent(self, cell_id: str, human_role: str | None) -> str:
        """The agent the person plays: ``human_role`` as an agent name, else the first agent
        of that role; without one, the only agent whose roster entry is ``human``."""
        agents = list(self.probe_env(cell_id).possible_agents)
        if human_role is None:
            roster = self.cells[cell_id].roster
            humans = [a for a in agents if roster[a].policy == HUMAN]
            if len(humans) != 1:
                raise ValueError(
                    f"cell {cell_id!r}: name the person's role (the roster seats "
                    f"{len(humans)} human players; agents: {agents})"
                )
            return humans[0]
        agent = agent_named(agents, human_role)
        if agent is not None:
            return agent
        roles = sorted({role_of(a) for a in agents})
        raise ValueError(f"no role or agent {human_role!r}; roles: {roles}")

    # --- what sessions use ---

    def probe_env(self, cell_id: str) -> Any:
        """An env of ``cell_id`` to read spaces and the protocol from (never stepped)."""
        with self._lock:
            if cell_id not in self._probes:
                self._probes[cell_id] = make_env(self.experiment.env, self.cells[cell_id].params)
            return self._probes[cell_id]

    def shared_model(self, ref: Any) -> MergingModel:
        """The one merging model of a roster's ``model`` reference, built on first use."""
        key = ref if isinstance(ref, str) else to_json(ref)
        with self._lock:
            if key not in self._shared:
                spec = self.specs.get(ref, ref) if isinstance(ref, str) else ref
                model = spec if hasattr(spec, "generate") else make_model(spec)
                self._shared[key] = MergingModel(model, self.window_s)
            return self._shared[key]

    def job(self, session: PlaySession) -> EpisodeJob:
        """The session's episode as the rollout plays it: the person's agent seated by its
        `HumanSeat`, every other agent planned from the cell's roster."""
        exp, spec, agent = self.experiment, session.spec, session.agent
        cell = self.cells[spec.cell_id]
        pool = self._env_pool(spec.cell_id)
        probe = pool.get()
        agents = list(probe.possible_agents)
        others = [a for a in agents if a != agent]
        plans = plan_roster(cell.roster, exp.env, others, session.models, exp.temperature)
        policies: dict[str, Any] = {a: plan.make(probe, spec.seed, a) for a, plan in plans.items()}
        policies[agent] = session.seat
        names = {a: plan.label for a, plan in plans.items()} | {agent: HUMAN}
        pool.put(probe)
        model_keys = {a: e.model for a, e in cell.roster.items() if e.model is not None}
        model_keys.pop(agent, None)
        return EpisodeJob(
            episode_id=spec.episode_id,
            seed=spec.seed,
            envs=pool,
            policies={a: policies[a] for a in agents},
            policy_names={a: names[a] for a in agents},
            run_id=self.run_dir.run_id,
            cell_id=spec.cell_id,
            episode_index=spec.episode_index,
            env_id=exp.env,
            params=dict(cell.params),
            model_keys=model_keys,
            prices=exp.prices(),
        )

    def _env_pool(self, cell_id: str) -> SharedEnvPool:
        """The cell's envs, reused by every session's episodes (building one costs more than
        a whole turn of the game; each episode resets it with its own seed, as batch runs do)."""
        with self._lock:
            if cell_id not in self._pools:
                exp, params = self.experiment, self.cells[cell_id].params
                self._pools[cell_id] = SharedEnvPool(lambda: make_env(exp.env, params))
            return self._pools[cell_id]

    def commit(self, session: PlaySession, result: EpisodeResult, steps: StepColumns) -> None:
        """Write a finished episode as its shard, once. The write runs outside the manager's
        lock (shards are separate files), so one episode's Parquet does not hold up others'
        starts; the session is this shard's only writer (`start` hands out one per episode)."""
        with self._lock:
            if session.shard_id in self.recorded:
                raise ValueError(f"episode {session.episode_id} is already recorded")
        if self.committer is None:
            self.run_dir.write_shard(session.shard_id, [result.record], steps)
        else:
            with self._committed:
                self._committing += 1
            try:
                owner = str(self.run_dir.owner)
                self.committer.commit(str(self.path), owner, session.shard_id,
                                      [result.record], steps)  # fmt: skip
            finally:
                with self._committed:
                    self._committing -= 1
                    self._committed.notify_all()
        with self._lock:
            self.recorded.add(session.shard_id)

    def close(self, wait_s: float = 0.0) -> None:
        """Stop live sessions (their journals stay open, for `resume`), record how this
        server's time ended (``complete`` when every planned episode is recorded, else
        ``interrupted``) and let go of the run's lease."""
        for session in list(self.sessions.values()):
            session._closing = True
            session.seat.abandon()
        for session in list(self.sessions.values()):
            session.join(wait_s)
        try:
            with self._committed:  # the shards in flight land before the count
                self._committed.wait_for(lambda: self._committing == 0, COMMIT_WAIT_S)
            done = len(self.run_dir.done_shards())
            status = "complete" if done == len(self.plan) else "interrupted"
            episodes = load_episodes(self.run_dir.location)
            tallies = tallies_of(episodes.get("llm_by_model", []))
            end_invocation(
                self.run_dir, status, self._started, failure=None, llm=manifest_totals(tallies)
            )
        finally:
            self.run_dir.close()
            for model in self._shared.values():
                model.close()
