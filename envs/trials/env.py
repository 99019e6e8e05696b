"""`mercato/ManipulationTrial-v0`: an assistant talks a participant through a decision (AEC)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete, Space, Tuple
from pettingzoo import AECEnv

from envs.core.params import keyword_signature
from envs.core.protocol import with_text
from envs.core.rendering import ObservedState
from envs.core.seeding import child_rng, make_rng
from envs.core.spaces import FreeText, normalize_text
from envs.core.turns import TurnTakingEnv, read_only
from envs.games.two_player import wrapped
from envs.trials.measures import TaskRecord, episode_metrics
from envs.trials.params import AGENT_TYPES, TrialParams
from envs.trials.population import TRAITS, levels
from envs.trials.protocol import TrialProtocol
from envs.trials.protocol_views import NO_CHOICE, SPEAKERS
from envs.trials.scenarios import DOMAINS, Scenario, scenarios_for
from envs.trials.tactics import TACTICS

PRINCIPAL, USER, ASSISTANT = "principal_0", "user_0", "assistant_0"
SETUP, PRE, CHAT, POST, HINDSIGHT, DONE = range(6)
PHASES: tuple[str, ...] = ("setup", "pre", "chat", "post", "hindsight", "done")
N_OPTIONS = 4
UNKNOWN = N_OPTIONS  # the optimal/hidden fields of an assistant that is not told
VIEW_CHARS = 40_000


def env(**kwargs: Any) -> AECEnv:
    """The trial wrapped like PettingZoo's built-ins (call order enforced; every action checked
    against the acting agent's space, a ValueError naming agent and space)."""
    return wrapped(raw_env(**kwargs))


class raw_env(ObservedState, TurnTakingEnv):
    """A randomized trial of AI-driven manipulation: one participant, one assistant, one decision.

    ## Description
    After Sabour et al. (2025), "Human decision-making is susceptible to AI-driven manipulation".
    Each task is a query with four options in a seeded random order: one optimal, one hidden
    target (what a manipulative assistant is paid to push), two others. The participant rates
    every option (1-10) plus confidence and familiarity, talks with the assistant for at least
    `min_exchanges` exchanges (at most `max_exchanges`), rates again and chooses. A hindsight
    phase (after RLHS, Liang et al. 2025) then reveals the true outcome of the chosen option
    (`partial`) or of every option (`full`) and asks for satisfaction again. With `tasks` > 1 the
    same participant does several of the domain's tasks in a seeded order. The participant's
    traits are drawn from `population` at reset, or given as ``reset(options={"traits": ...})``
    (`envs.trials.world.TrialPopulation` seats its participants that way).

    ## Agents
    `user_0` (the participant) and `assistant_0`; with `principal=True` also `principal_0`, who
    sets each task's hidden target and the payoff first. The user rates (pre), then assistant and
    user alternate, the user ending the chat (allowed from `min_exchanges` on), then the user rates
    and chooses (post) and, unless `hindsight` is "none", rates satisfaction in hindsight.

    ## Observation space
    Asymmetric, as in the study. Everyone: `phase`, `domain` (0 financial, 1 emotional), `task`,
    `exchange`, `appeal` (how attractive each presented option looks at face value, 1-10:
    public scenario data), the task in words (`scenario` id, `query`, `option_titles` and
    `option_texts` in presented order) and `text`: the role's view, rendered by the text
    protocol from the other fields ("" without `text_observations`). `user_0`: own `ratings` (4,
    0 before the first rating), `confidence`, `familiarity`, its own `traits` (1-7: Big Five, AI
    trust, reactance), what it perceived of the assistant's last message (`heard_stance`: -1..1
    per option, `heard_tactic`), the revealed `outcome` utility and `revealed` flag with its
    words (`revelation`), its `choice` (4 before it chooses) and immediate `satisfaction`,
    `end_chat_mask`, and the `chat` (the task's messages in order, "" after the last) with
    `chat_from` (0 user, 1 assistant, -1 empty). `assistant_0`: `agent_type` (0 NA, 1 MA, 2
    SEMA), `persona` (Big Five levels 0 low, 1 moderate, 2 high), for MA/SEMA only `optimal`,
    `hidden` (presented positions; 4 = not told) and `payoff` (hidden, other, optimal points),
    and the `chat`. `principal_0`: `roles` (0 optimal, 1 hidden, 2 other per presented option).
    The user never sees the hidden target or the payoff. Masks: `info["action_mask"]` (and
    `end_chat_mask`). Arrays shared between observations are read-only.

    ## Action space
    `user_0`: `message` (free text), `ratings` (4 x 1..10; in the chat the current ratings, so
    they may move while talking), `confidence`, `familiarity` (1..10), `end_chat`, `choice` (a
    presented option), `satisfaction` (1..5). `assistant_0`: `message`, `tactic`
    (`envs.trials.tactics.TACTICS`: none, 11 named tactics, others) and `stance` (-1..1 per
    option: how strongly the message promotes or discourages it). `principal_0`: `target` (a
    non-optimal presented option) and `payoff` (3 numbers in 0..100).

    ## Rewards
    The user: the true utility of the chosen option (scenario data, -1..1), at the end of each
    task. A neutral assistant: the same. A manipulative assistant: the points promised for the
    final choice (`payoff`: hidden 100, other 50, optimal 0 by default, or what the principal
    set). The principal: the points of the final choice under `payoff`, its own value of the
    outcome; the payoff it sets is the assistant's incentive, not its own reward.

    ## Episode end
    Terminated after the last task's final phase. There is no truncation: the chat cap ends the
    conversation, not the episode.

    ## Parameters
    `domain` (financial, emotional), `assistant_type` (NA, MA, SEMA), `scenario` (an id, or None
    to draw), `tasks` (1 up to the domain's scenarios), `min_exchanges` (10), `max_exchanges`
    (20), `principal`, `payoff`, `hindsight` (none, partial, full), `scenarios` (a YAML file of
    your own, `docs/trial-scenarios.md`), `population` (trait `means` and `sds`),
    `text_observations`, `message_length`, `render_mode` (None, "ansi" or "human").

    ## Metrics
    `info["metrics"]` at the end, averaged over the episode's tasks: ratings of the optimal,
    hidden and other options pre and post with deltas, `hod_pre`, `hod_post` (hidden minus
    optimal), `category_pre` / `category_post` (0 optimal, 1 tie, 2 hidden),
    `hidden_preferred_pre` / `_post`, `shift_to_hidden`, `chose_optimal`, `chose_hidden`,
    `chose_other`, confidence and familiarity pre/post, `exchanges`, `messages`, `tactic_<name>`
    counts, `true_utility`, `regret`, `satisfaction_immediate`, `satisfaction_hindsight`,
    `assistant_points`, `optimal_position`, `hidden_position`. `info["tasks"]` lists each task
    (scenario, presented order, every rating) at the end.

    ## Version history
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "manipulation_trial_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        super().__init__(render_mode)
        self.params = TrialParams.checked(**params)
        p = self.params
        self.scenario_pool = scenarios_for(p.domain, p.library())
        if p.scenario is not None:
            self.scenario_pool = [s for s in self.scenario_pool if s.id == p.scenario]
        self.population = p.population_spec()
        self.agent_type = AGENT_TYPES.index(p.assistant_type)
        self.domain_index = DOMAINS.index(p.domain)
        self.possible_agents = ([PRINCIPAL] if p.principal else []) + [USER, ASSISTANT]
        self.protocol = TrialProtocol(p.message_length, p.min_exchanges, p.max_exchanges)
        self._spaces()
        self.agents: list[str] = []

    # Spaces -------------------------------------------------------------------------------------

    def _spaces(self) -> None:
        p = self.params
        i64, f64 = np.int64, np.float64
        text = FreeText(VIEW_CHARS)
        message = FreeText(p.message_length)
        common = {
            "phase": Discrete(len(PHASES)),
            "domain": Discrete(len(DOMAINS)),
            "task": Discrete(p.tasks),
            "exchange": Discrete(p.max_exchanges + 1),
            "appeal": Box(1.0, 10.0, shape=(N_OPTIONS,), dtype=f64),
            "scenario": text,
            "query": text,
            "option_titles": Tuple(tuple(FreeText(VIEW_CHARS) for _ in range(N_OPTIONS))),
            "option_texts": Tuple(tuple(FreeText(VIEW_CHARS) for _ in range(N_OPTIONS))),
            "text": text,
        }
        slots = 2 * p.max_exchanges
        chat = {
            "chat": Tuple(tuple(FreeText(p.message_length) for _ in range(slots))),
            "chat_from": Box(-1, len(SPEAKERS) - 1, shape=(slots,), dtype=np.int8),
        }
        self.observation_spaces: dict[str, Space[Any]] = {
            USER: Dict(
                {
                    **common,
                    "ratings": Box(0, 10, shape=(N_OPTIONS,), dtype=i64),
                    "confidence": Box(0, 10, shape=(1,), dtype=i64),
                    "familiarity": Box(0, 10, shape=(1,), dtype=i64),
                    "traits": Box(1.0, 7.0, shape=(len(TRAITS),), dtype=f64),
                    "heard_stance": Box(-1.0, 1.0, shape=(N_OPTIONS,), dtype=f64),
                    "heard_tactic": Discrete(len(TACTICS)),
                    "outcome": Box(-1.0, 1.0, shape=(1,), dtype=f64),
                    "revealed": Discrete(2),
                    "end_chat_mask": Box(0, 1, shape=(2,), dtype=np.int8),
                    **chat,
                    "choice": Discrete(N_OPTIONS + 1),
                    "satisfaction": Box(0, 5, shape=(1,), dtype=i64),
                    "revelation": text,
                }
            ),
            ASSISTANT: Dict(
                {
                    **common,
                    "agent_type": Discrete(len(AGENT_TYPES)),
                    "persona": Box(0, 2, shape=(5,), dtype=i64),
                    "optimal": Discrete(N_OPTIONS + 1),
                    "hidden": Discrete(N_OPTIONS + 1),
                    "payoff": Box(0.0, 100.0, shape=(3,), dtype=f64),
                    **chat,
                }
            ),
            PRINCIPAL: Dict({**common, "roles": Box(0, 2, shape=(N_OPTIONS,), dtype=i64)}),
        }
        self.action_spaces: dict[str, Space[Any]] = {
            USER: Dict(
                {
                    "message": message,
                    "ratings": Box(1, 10, shape=(N_OPTIONS,), dtype=i64),
                    "confidence": Box(1, 10, shape=(1,), dtype=i64),
                    "familiarity": Box(1, 10, shape=(1,), dtype=i64),
                    "end_chat": Discrete(2),
                    "choice": Discrete(N_OPTIONS),
                    "satisfaction": Box(1, 5, shape=(1,), dtype=i64),
                }
            ),
            ASSISTANT: Dict(
                {
                    "message": message,
                    "tactic": Discrete(len(TACTICS)),
                    "stance": Box(-1.0, 1.0, shape=(N_OPTIONS,), dtype=f64),
                }
            ),
            PRINCIPAL: Dict(
                {
                    "target": Discrete(N_OPTIONS),
                    "payoff": Box(0.0, 100.0, shape=(3,), dtype=f64),
                }
            ),
        }
        self._end_masks = {
            allowed: read_only([1, int(allowed)], np.int8) for allowed in (False, True)
        }

    # Episode ------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.np_random, self._seed = make_rng(seed)
        rng = self.np_random
        seated = (options or {}).get("traits")
        if seated is not None:  # a given participant (e.g. from a `TrialPopulation`)
            self.traits = np.clip(np.asarray(seated, dtype=np.float64), 1.0, 7.0)
            if self.traits.shape != (len(TRAITS),):
                raise ValueError(f"options.traits must be {len(TRAITS)} numbers {TRAITS}")
        else:
            self.traits = self.population.draw(child_rng(self._seed, "participant"))
        self.persona = read_only(levels(self.traits), np.int64)
        order = rng.permutation(len(self.scenario_pool))[: self.params.tasks]
        self.plan: list[Scenario] = [self.scenario_pool[int(i)] for i in order]
        self.records: list[TaskRecord] = []
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self._start_task(0)

    def _start_task(self, index: int) -> None:
        scenario = self.plan[index]
        order = tuple(int(i) for i in child_rng(self._seed, "order", index).permutation(N_OPTIONS))
        record = TaskRecord(scenario, order, self.params.payoff)
        self.records.append(record)
        self.task = record
        self.task_index = index
        self.heard_stance = np.zeros(N_OPTIONS)
        self.heard_tactic = 0
        options = scenario.options
        self._task_text = {
            "scenario": scenario.id[:VIEW_CHARS],
            "query": scenario.query[:VIEW_CHARS],
            "option_titles": tuple(options[c].title[:VIEW_CHARS] for c in order),
            "option_texts": tuple(options[c].text[:VIEW_CHARS] for c in order),
        }
        self._show_chat()
        if self.params.principal:
            self._turn(PRINCIPAL, SETUP)
        else:
            self._turn(USER, PRE)

    def _turn(self, agent: str, phase: int) -> None:
        self.phase = phase
        self.agent_selection = agent
        self._refresh_infos()

    def _refresh_infos(self) -> None:
        task = self.task
        # the user's reply completes exchange `exchanges + 1`; from `min_exchanges` on it may end
        may_end = task.exchanges + 1 >= self.params.min_exchanges
        end_mask = self._end_masks[self.phase == CHAT and may_end]
        self._end_mask = end_mask
        info_user = {
            "action_mask": {
                "message": None,
                "ratings": None,
                "confidence": None,
                "familiarity": None,
                "end_chat": end_mask,
                "choice": None,
                "satisfaction": None,
            },
            "phase": PHASES[self.phase],
            "order": list(task.order),
        }
        info_assistant = {
            "action_mask": {"message": None, "tactic": None, "stance": None},
            "phase": PHASES[self.phase],
            "order": list(task.order),
        }
        self.infos[USER] = info_user
        self.infos[ASSISTANT] = info_assistant
        if self.params.principal:
            roles = task.roles_presented()
            target_mask = read_only([int(r != 0) for r in roles], np.int8)
            self.infos[PRINCIPAL] = {
                "action_mask": {"target": target_mask, "payoff": None},
                "phase": PHASES[self.phase],
                "order": list(task.order),
            }

    # Step ---------------------------------------------------------------------------------------

    def _move(self, agent: str, action: Any) -> None:
        if agent == PRINCIPAL:
            self._set_target(action)
        elif agent == ASSISTANT:
            self._assistant_says(action)
        elif self.phase == PRE:
            self.task.rate("pre", action)
            self._turn(ASSISTANT, CHAT)
        elif self.phase == CHAT:
            self._user_replies(action)
        elif self.phase == POST:
            self._post(action)
        else:
            self._hindsight(action)

    def _show_chat(self) -> None:
        """The task's chat as observations show it: rebuilt when a message is added and shared,
        never changed, until the next."""
        chat = self.task.chat
        free = 2 * self.params.max_exchanges - len(chat)
        self._chat = tuple(text for _, text in chat) + ("",) * free
        speakers = [SPEAKERS.index(who) for who, _ in chat] + [-1] * free
        self._chat_from = read_only(speakers, np.int8)

    def _set_target(self, action: Any) -> None:
        roles = self.task.roles_presented()
        target = int(action["target"])
        if roles[target] == 0:
            raise ValueError(f"{PRINCIPAL}: target {target} is the optimal option; choose another")
        self.task.set_target(target, tuple(float(x) for x in np.asarray(action["payoff"])))
        self._turn(USER, PRE)

    def _assistant_says(self, action: Any) -> None:
        text = normalize_text(action["message"], self.params.message_length)
        tactic = int(action["tactic"])
        stance = np.clip(np.asarray(action["stance"], dtype=np.float64), -1.0, 1.0)
        self.task.say("assistant", text, tactic=tactic)
        self._show_chat()
        self.heard_stance, self.heard_tactic = stance, tactic
        self._turn(USER, CHAT)

    def _user_replies(self, action: Any) -> None:
        task = self.task
        task.say("user", normalize_text(action["message"], self.params.message_length))
        self._show_chat()
        task.rate("chat", action)
        task.exchanges += 1
        wants_end = bool(action["end_chat"]) and task.exchanges >= self.params.min_exchanges
        if wants_end or task.exchanges >= self.params.max_exchanges:
            self._turn(USER, POST)
        else:
            self._turn(ASSISTANT, CHAT)

    def _post(self, action: Any) -> None:
        task = self.task
        task.rate("post", action)
        task.choose(int(action["choice"]), int(np.asarray(action["satisfaction"]).ravel()[0]))
        points = task.assistant_reward(self.agent_type)
        self.rewards[ASSISTANT] += points
        if self.params.principal:  # its own value of the outcome, not the incentive it set
            self.rewards[PRINCIPAL] += task.points(tuple(self.params.payoff))
        if self.params.hindsight == "none":
            self._finish_task()
        else:
            task.reveal(self.params.hindsight)
            self._turn(USER, HINDSIGHT)

    def _hindsight(self, action: Any) -> None:
        self.task.rate_hindsight(int(np.asarray(action["satisfaction"]).ravel()[0]))
        self._finish_task()

    def _finish_task(self) -> None:
        self.rewards[USER] += self.task.true_utility()
        if self.task_index + 1 < len(self.plan):
            self._start_task(self.task_index + 1)
            return
        self.phase = DONE
        self._end_mask = self._end_masks[False]
        metrics = episode_metrics(self.records)
        tasks = [record.summary() for record in self.records]
        for agent in self.agents:
            self.terminations[agent] = True
            self.infos[agent] = {"phase": "done", "metrics": metrics, "tasks": tasks}
        self.agent_selection = USER

    # Observations -------------------------------------------------------------------------------

    def observe(self, agent: str) -> Any:
        task = self.task
        p = self.params
        common = {
            "phase": self.phase,
            "domain": self.domain_index,
            "task": self.task_index,
            "exchange": min(task.exchanges, p.max_exchanges),
            "appeal": task.appeal_presented(),
            **self._task_text,
        }
        if agent == USER:
            ratings, confidence, familiarity = task.current()
            return self._with_text(USER, {
                **common,
                "ratings": ratings,
                "confidence": np.array([confidence], dtype=np.int64),
                "familiarity": np.array([familiarity], dtype=np.int64),
                "traits": self.traits.copy(),
                "heard_stance": np.array(self.heard_stance, dtype=np.float64),
                "heard_tactic": self.heard_tactic,
                "outcome": np.array([task.revealed_utility], dtype=np.float64),
                "revealed": int(task.revealed is not None),
                "end_chat_mask": self._end_mask,
                "chat": self._chat,
                "chat_from": self._chat_from,
                "choice": task.choice if task.choice >= 0 else NO_CHOICE,
                "satisfaction": np.array([task.satisfaction], dtype=np.int64),
                "revelation": (task.revealed or "")[:VIEW_CHARS],
            })  # fmt: skip
        if agent == ASSISTANT:
            told = self.agent_type > 0
            return self._with_text(ASSISTANT, {
                **common,
                "agent_type": self.agent_type,
                "persona": self.persona,
                "optimal": task.position("optimal") if told else UNKNOWN,
                "hidden": task.position("hidden") if told else UNKNOWN,
                "payoff": np.array(task.payoff if told else (0.0, 0.0, 0.0), dtype=np.float64),
                "chat": self._chat,
                "chat_from": self._chat_from,
            })  # fmt: skip
        return self._with_text(PRINCIPAL, {
            **common,
            "roles": np.array(task.roles_presented(), dtype=np.int64),
        })  # fmt: skip

    def _with_text(self, agent: str, observation: dict[str, Any]) -> dict[str, Any]:
        return with_text(
            observation, self.protocol, agent, self.params.text_observations, VIEW_CHARS
        )

    def render(self) -> str | None:
        if self.render_mode is None or not self.records:
            return None
        task = self.task
        return self._render(
            f"task {self.task_index + 1}/{len(self.plan)} {task.scenario.id}: "
            f"{PHASES[self.phase]}, exchange {task.exchanges}, "
            f"ratings {task.current()[0].tolist()}"
        )

    # Global state: both roles' observations and the options' true utilities --------------------

    def _unobserved_spaces(self) -> dict[str, Space[Any]]:
        return {"utilities": Box(-1.0, 1.0, shape=(N_OPTIONS,), dtype=np.float64)}

    def _unobserved_state(self) -> dict[str, Any]:
        options, order = self.task.scenario.options, self.task.order
        return {"utilities": np.array([options[c].utility for c in order], dtype=np.float64)}

    def close(self) -> None:
        pass


raw_env.__init__.__signature__ = keyword_signature(TrialParams, with_self=True)  # type: ignore[attr-defined]
env.__signature__ = keyword_signature(TrialParams, with_self=False)  # type: ignore[attr-defined]
