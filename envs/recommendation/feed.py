"""`mercato/RecFeed-v0`: a recommendation feed with user commands and latent satisfaction (AEC)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.spaces import Box, Dict, Discrete, Space, Tuple
from pettingzoo import AECEnv

from envs.core.params import keyword_signature
from envs.core.protocol import with_text
from envs.core.rendering import ObservedState
from envs.core.seeding import child_rng, derive_seed, make_rng
from envs.core.spaces import FreeText, normalize_text
from envs.core.turns import TurnTakingEnv, read_only
from envs.games.two_player import wrapped
from envs.recommendation.catalog import Catalog
from envs.recommendation.catalog_generator import catalog_for
from envs.recommendation.commands import (
    ActiveConstraints,
    Constraint,
    RuleCommandParser,
    attribute_matrix,
    honours,
    resolve,
)
from envs.recommendation.feed_observing import VIEW_CHARS, FeedObserving
from envs.recommendation.feed_params import FeedParams
from envs.recommendation.feed_protocol import FeedProtocol
from envs.recommendation.feed_user import LatentUser, n_values, value_offsets

RECOMMENDER, USER = "recommender_0", "user_0"
NOT_ASKED, UNDERSTOOD, NOT_UNDERSTOOD = 0, 1, 2


def env(**kwargs: Any) -> AECEnv:
    """The feed wrapped like PettingZoo's built-ins (call order enforced; every action checked
    against the acting agent's space, a ValueError naming agent and space)."""
    return wrapped(raw_env(**kwargs))


class raw_env(ObservedState, FeedObserving, TurnTakingEnv):
    """A feed: a recommender shows slates, a user clicks, skips, asks in words or leaves.

    ## Description
    After RecBot (Tang et al. 2025: interactive recommendation with active user commands) and
    RecSim's ``long_term_satisfaction`` ("chocolate and kale"). Each step the recommender shows
    a slate of `slate_size` items from a catalog (`domain`, `n_items`; generated from
    `catalog_seed`, or from the reset seed when it is None); the user clicks one, skips, issues a
    command in words ("no more romance", "under $20", "cheaper", "more like this", "only
    paperback", "something different") or leaves. Commands are parsed (rule-based by default;
    `command_parser` plugs in another, e.g. an LLM parser) into standing constraints the
    recommender sees. The user's mind lives in the env: seeded interests per category and per
    attribute value, a budget, and a latent satisfaction ``sigmoid(sensitivity * npe)`` in [0, 1]
    (`envs.recommendation.feed_user`): the net positive exposure ``npe`` decays by
    `memory_discount` each step and gains ``2 * quality - 1`` (plus `fit_weight` times the
    item's fit to the user's interests) per consumed item, so catchy-but-poor items (high
    `engagement`, low `quality`) raise clicks and lower satisfaction; slates that break standing
    commands cost `violation_penalty` times their share of offending items. Engagement and
    welfare can diverge.

    ## Agents
    `recommender_0` and `user_0` alternate, the recommender first: slate, response, slate, ...

    ## Observation space
    Both roles: `step`; the last `history` slates and responses, newest first
    (`history_slates`, `history_responses`, -1 padding, with each row's `history_commands` and
    the title of the clicked item, `history_titles`); the parsed standing constraints
    (`excluded_categories`, `excluded_values` (flat over every attribute's values),
    `only_categories`, `only_values`, `price_ceiling` (0: none)); the one-slate clauses
    `similar_to` (-1: none, with its `similar_title`) and `different`; and `text`, the role's
    view rendered by the text protocol from the other fields ("" without `text_observations`).
    `recommender_0`: the catalog as columns (`item_category`, `item_attributes` (items x
    attributes codes), `item_price`, `item_quality`, `item_engagement`, `item_popularity`);
    `item_allowed` (1 where an item fits the standing requests); the text view's shortlist
    (`candidates`: allowed items, those like a "more like" item first, by popularity; -1
    padding) with their `candidate_titles`; `last_command` (0 none, 1 understood, 2 not
    understood). The recommender never sees the user's interests or satisfaction. `user_0` (its
    own mind): `interests` (per category, -1..1), `value_interests`, `satisfaction`, `budget`,
    the `slate` and its items' features (`slate_title`, `slate_category`, `slate_attributes`,
    `slate_price`, `slate_quality`, `slate_engagement`; "", -1 / 0 in empty slots), the
    recommender's `message`, `last_click` and `response_mask`. Masks are also in
    `info["action_mask"]`. Arrays shared between observations are read-only.

    ## Action space
    `recommender_0`: `slate` (`slate_size` item ids, -1 for an empty slot; a repeated id counts
    once) and `message` (free text). `user_0`: `response` (0 skip, k in 1..`slate_size` click
    slot k, `slate_size` + 1 issue `command`, `slate_size` + 2 leave) and `command` (free text).
    Clicking an empty slot is a ValueError.

    ## Rewards
    On each user response. `user_0`: the change in latent satisfaction. `recommender_0`: 1 per
    click (`reward="clicks"`, engagement) or the change in satisfaction (`"satisfaction"`).

    ## Episode end
    Terminated when the user churns: it leaves, its satisfaction falls below `churn_threshold`,
    or a seeded hazard of `churn_hazard * max(0, 1 - 2 * satisfaction)` per step fires (a
    user above neutral satisfaction only leaves at the threshold or by choice). Truncated after
    `max_steps` responses.

    ## Parameters
    `domain` (books, games, restaurants), `n_items` (500), `catalog_seed` (None: from the reset
    seed), `catalog` (a `Catalog` to use instead; it sets domain and n_items), `slate_size` (5),
    `max_steps` (30), `history` (10), `reward` (clicks, satisfaction), `initial_satisfaction`
    (0.6), `memory_discount` (0.95), `sensitivity` (0.15), `fit_weight` (0.3),
    `violation_penalty` (0.5), `churn_threshold` (0.15), `churn_hazard` (0.1),
    `command_parser` (None: rules; an object with ``parse(text, catalog)``),
    `text_observations`, `text_candidates` (20), `message_length`, `command_length`,
    `render_mode` (None, "ansi" or "human").

    ## Metrics
    `info["metrics"]` at the end: `clicks`, `click_rate` (per step), `initial_satisfaction`,
    `final_satisfaction`, `mean_satisfaction` (after each step), `mean_quality_clicked`,
    `command_count`, `commands_understood`, `commands_judged` (followed by a slate),
    `commands_honoured`, `command_satisfaction_rate` (honoured / judged; 1.0 when none was
    judged: read it with `commands_judged`), `violation_rate` (share of slates showing an item
    against a standing request), `churned` (0/1), `left` (0/1: the user chose to leave),
    `steps`.

    ## Version history
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "rec_feed_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        super().__init__(render_mode)
        self.params = FeedParams.checked(**params)
        p = self.params
        self.parser = p.command_parser if p.command_parser is not None else RuleCommandParser()
        probe = self._catalog(p.catalog_seed if p.catalog_seed is not None else 0)
        self.shape = (probe.category_names, dict(probe.attribute_values))
        self.catalog = probe
        self.possible_agents = [RECOMMENDER, USER]
        self.protocol = FeedProtocol(
            p.slate_size,
            p.message_length,
            p.command_length,
            probe.category_names,
            probe.attribute_values,
            shortlist=p.text_candidates,
            domain=p.domain,
            max_steps=p.max_steps,
        )
        self._spaces(probe)
        self.agents: list[str] = []

    def _catalog(self, seed: int) -> Catalog:
        p = self.params
        if p.catalog is not None:
            return p.catalog
        catalog = catalog_for(p.domain, p.n_items, seed)  # cached there
        layout = (catalog.category_names, dict(catalog.attribute_values))
        if hasattr(self, "shape") and layout != self.shape:
            raise ValueError(f"catalog: seed {seed} gives another category or attribute layout")
        return catalog

    # Spaces -------------------------------------------------------------------------------------

    def _spaces(self, catalog: Catalog) -> None:
        p = self.params
        i64, f64, i8 = np.int64, np.float64, np.int8
        n, size, h = p.n_items, p.slate_size, p.history
        c = len(catalog.category_names)
        v = n_values(catalog)
        counts = np.array([len(x) for x in catalog.attribute_values.values()], dtype=i64)
        a = len(counts)
        inf = np.inf
        text = FreeText(VIEW_CHARS)

        def titles(count: int) -> Tuple:
            return Tuple(tuple(FreeText(VIEW_CHARS) for _ in range(count)))

        constraints = {
            "excluded_categories": Box(0, 1, shape=(c,), dtype=i8),
            "excluded_values": Box(0, 1, shape=(v,), dtype=i8),
            "price_ceiling": Box(0.0, inf, shape=(1,), dtype=f64),
            "only_categories": Box(0, 1, shape=(c,), dtype=i8),
            "only_values": Box(0, 1, shape=(v,), dtype=i8),
            "similar_to": Box(-1, n - 1, shape=(1,), dtype=i64),
            "similar_title": text,
            "different": Discrete(2),
        }
        history = {
            "history_slates": Box(-1, n - 1, shape=(h, size), dtype=i64),
            "history_responses": Box(-1, size + 2, shape=(h,), dtype=i64),
            "history_commands": Tuple(tuple(FreeText(p.command_length) for _ in range(h))),
            "history_titles": titles(h),
        }
        self.observation_spaces: dict[str, Space[Any]] = {
            RECOMMENDER: Dict(
                {
                    "step": Discrete(p.max_steps + 1),
                    "item_category": Box(0, max(c - 1, 0), shape=(n,), dtype=i64),
                    "item_attributes": Box(
                        np.zeros((n, a), dtype=i64),
                        np.broadcast_to(np.maximum(counts - 1, 0), (n, a)).copy(),
                        dtype=i64,
                    ),
                    "item_price": Box(0.0, inf, shape=(n,), dtype=f64),
                    "item_quality": Box(0.0, 1.0, shape=(n,), dtype=f64),
                    "item_engagement": Box(0.0, 1.0, shape=(n,), dtype=f64),
                    "item_popularity": Box(0.0, inf, shape=(n,), dtype=f64),
                    "item_allowed": Box(0, 1, shape=(n,), dtype=i8),
                    "candidates": Box(-1, n - 1, shape=(p.text_candidates,), dtype=i64),
                    "candidate_titles": titles(p.text_candidates),
                    **history,
                    **constraints,
                    "last_command": Discrete(3),
                    "text": text,
                }
            ),
            USER: Dict(
                {
                    "step": Discrete(p.max_steps + 1),
                    "interests": Box(-1.0, 1.0, shape=(c,), dtype=f64),
                    "value_interests": Box(-1.0, 1.0, shape=(v,), dtype=f64),
                    "satisfaction": Box(0.0, 1.0, shape=(1,), dtype=f64),
                    "budget": Box(0.0, inf, shape=(1,), dtype=f64),
                    "slate": Box(-1, n - 1, shape=(size,), dtype=i64),
                    "slate_title": titles(size),
                    "slate_category": Box(-1, max(c - 1, 0), shape=(size,), dtype=i64),
                    "slate_attributes": Box(
                        np.full((size, a), -1, dtype=i64),
                        np.broadcast_to(np.maximum(counts - 1, 0), (size, a)).copy(),
                        dtype=i64,
                    ),
                    "slate_price": Box(0.0, inf, shape=(size,), dtype=f64),
                    "slate_quality": Box(0.0, 1.0, shape=(size,), dtype=f64),
                    "slate_engagement": Box(0.0, 1.0, shape=(size,), dtype=f64),
                    "last_click": Box(-1, n - 1, shape=(1,), dtype=i64),
                    "message": FreeText(p.message_length),
                    **history,
                    **constraints,
                    "response_mask": Box(0, 1, shape=(size + 3,), dtype=i8),
                    "text": text,
                }
            ),
        }
        self.action_spaces: dict[str, Space[Any]] = {
            RECOMMENDER: Dict(
                {
                    "slate": Box(-1, n - 1, shape=(size,), dtype=i64),
                    "message": FreeText(p.message_length),
                }
            ),
            USER: Dict({"response": Discrete(size + 3), "command": FreeText(p.command_length)}),
        }

    # Episode ------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        p = self.params
        self.np_random, self._seed = make_rng(seed)
        catalog_seed = p.catalog_seed
        if catalog_seed is None:
            catalog_seed = derive_seed(self._seed, "catalog")
        self.catalog = catalog = self._catalog(catalog_seed)
        self._items = self._item_columns(catalog)
        self._attributes = attribute_matrix(catalog)
        self._popular = np.argsort(-self._items["item_popularity"], kind="stable")
        self._offsets = value_offsets(catalog)
        self.user = LatentUser.draw(
            catalog, child_rng(self._seed, "user"), p.initial_satisfaction, p.sensitivity
        )
        self._churn_rng = child_rng(self._seed, "churn")
        self._tastes = {  # fixed for the episode: shared, read-only, by every user observation
            "interests": read_only(self.user.interests, np.float64),
            "value_interests": read_only(self.user.value_interests, np.float64),
        }
        self.constraints = ActiveConstraints()
        self._allowed = self._allowed_mask()
        self._seen: dict[str, Any] | None = None
        size = p.slate_size
        self.slate = np.full(size, -1, dtype=np.int64)
        self.message = ""
        self.last_click = -1
        self.last_command = NOT_ASKED
        self.pending: Constraint | None = None
        self.history: list[tuple[np.ndarray, int, str]] = []
        self.steps = 0
        self.clicks = 0
        self.clicked_quality: list[float] = []
        self.satisfactions: list[float] = []
        self.commands: list[Constraint] = []
        self.judged = 0
        self.honoured = 0
        self.violating_slates = 0
        self.slates = 0
        self.churned = False
        self.left = False
        self.violation_share = 0.0
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos: dict[str, dict[str, Any]] = {
            RECOMMENDER: {"action_mask": {"slate": None, "message": None}},
            USER: {"action_mask": {"response": self._response_mask(), "command": None}},
        }
        self.agent_selection = RECOMMENDER

    def _item_columns(self, catalog: Catalog) -> dict[str, np.ndarray]:
        return {
            "item_category": read_only(catalog.categories, np.int64),
            "item_attributes": read_only(attribute_matrix(catalog), np.int64),
            "item_price": read_only(catalog.price, np.float64),
            "item_quality": read_only(np.clip(catalog.quality, 0.0, 1.0), np.float64),
            "item_engagement": read_only(np.clip(catalog.engagement, 0.0, 1.0), np.float64),
            "item_popularity": read_only(np.maximum(catalog.popularity, 0.0), np.float64),
        }

    def _allowed_mask(self) -> np.ndarray:
        items = np.arange(len(self.catalog))
        return read_only(self.constraints.allowed(self.catalog, items), np.int8)

    def _response_mask(self) -> np.ndarray:
        filled = (self.slate >= 0).astype(np.int8)
        return read_only([1, *filled.tolist(), 1, 1], np.int8)

    # Step ---------------------------------------------------------------------------------------

    def _move(self, agent: str, action: Any) -> None:
        self._seen = None  # the shared observation fields change with every move
        if agent == RECOMMENDER:
            self._show(action)
        else:
            self._respond(action)

    def _show(self, action: Any) -> None:
        raw = np.asarray(action["slate"], dtype=np.int64).ravel()
        slate = np.full(self.params.slate_size, -1, dtype=np.int64)
        seen: set[int] = set()
        for slot, item in enumerate(raw[: len(slate)].tolist()):
            if item >= 0 and item not in seen:
                seen.add(item)
                slate[slot] = item
        if self.pending is not None:
            self.judged += 1
            self.honoured += honours(self.pending, self.catalog, slate, self.slate)
            self.pending = None
        shown = slate[slate >= 0]
        offending = int((self._allowed[shown] == 0).sum()) if shown.size else 0
        self.violation_share = offending / len(slate)
        self.slates += 1
        self.violating_slates += offending > 0
        self.constraints = self.constraints.after_slate()
        self.slate = slate
        self.message = normalize_text(action["message"], self.params.message_length)
        self.agent_selection = USER
        self.infos[USER] = {"action_mask": {"response": self._response_mask(), "command": None}}

    def _respond(self, action: Any) -> None:
        p = self.params
        response = int(action["response"])
        size = p.slate_size
        consumed: int | None = None
        command = ""
        self.last_command = NOT_ASKED
        if 1 <= response <= size:
            consumed = int(self.slate[response - 1])
            if consumed < 0:
                raise ValueError(f"{USER}: response {response} clicks an empty slot")
            self.clicks += 1
            self.clicked_quality.append(float(self.catalog.quality[consumed]))
            self.last_click = consumed
        elif response == size + 1:
            command = normalize_text(action["command"], p.command_length)
            self._command(command)
        delta = self.user.experience(
            self.catalog,
            consumed,
            self.violation_share,
            p.memory_discount,
            p.fit_weight,
            p.violation_penalty,
        )
        satisfaction = self.user.satisfaction
        self.satisfactions.append(satisfaction)
        self.rewards[USER] = delta
        engaged = float(consumed is not None)
        self.rewards[RECOMMENDER] = engaged if p.reward == "clicks" else delta
        self.history.insert(0, (self.slate, response, command))
        del self.history[p.history :]
        self.steps += 1
        hazard = p.churn_hazard * max(0.0, 1.0 - 2.0 * satisfaction)
        draw = self._churn_rng.random()
        self.left = response == size + 2
        self.churned = self.left or satisfaction < p.churn_threshold or draw < hazard
        if self.churned or self.steps >= p.max_steps:
            self._finish()
            return
        self.agent_selection = RECOMMENDER
        self.infos[RECOMMENDER] = {"action_mask": {"slate": None, "message": None}}

    def _command(self, text: str) -> None:
        parsed = self.parser.parse(text, self.catalog)
        constraint = resolve(parsed, self.catalog, self.slate, self.last_click)
        self.commands.append(constraint)
        if constraint.understood:
            self.constraints = self.constraints.merged(constraint)
            self._allowed = self._allowed_mask()
            self.pending = constraint
            self.last_command = UNDERSTOOD
        else:
            self.last_command = NOT_UNDERSTOOD

    def _finish(self) -> None:
        done = self.terminations if self.churned else self.truncations
        metrics = self.metrics()
        for agent in self.agents:
            done[agent] = True
            self.infos[agent] = {"metrics": metrics}
        self.agent_selection = RECOMMENDER

    def metrics(self) -> dict[str, float | int]:
        """The episode's outcome measures so far (`info["metrics"]` at the end)."""
        steps = max(self.steps, 1)
        understood = sum(c.understood for c in self.commands)
        return {
            "clicks": self.clicks,
            "click_rate": self.clicks / steps,
            "initial_satisfaction": float(self.params.initial_satisfaction),
            "final_satisfaction": float(self.user.satisfaction),
            "mean_satisfaction": float(np.mean(self.satisfactions)) if self.satisfactions else 0.0,
            "mean_quality_clicked": float(np.mean(self.clicked_quality))
            if self.clicked_quality
            else 0.0,
            "command_count": len(self.commands),
            "commands_understood": int(understood),
            "commands_judged": self.judged,
            "commands_honoured": int(self.honoured),
            "command_satisfaction_rate": self.honoured / self.judged if self.judged else 1.0,
            "violation_rate": self.violating_slates / self.slates if self.slates else 0.0,
            "churned": int(self.churned),
            "left": int(self.left),
            "steps": self.steps,
        }

    # Observations -------------------------------------------------------------------------------

    def observe(self, agent: str) -> Any:
        """A new dict each call; arrays shared with other observations are read-only and are
        replaced, never written, when the state changes."""
        observe = self._observe_recommender if agent == RECOMMENDER else self._observe_user
        enabled = self.params.text_observations
        return with_text(observe(), self.protocol, agent, enabled, VIEW_CHARS)

    def render(self) -> str | None:
        if self.render_mode is None or not hasattr(self, "slate"):
            return None  # no mode, or not reset yet
        shown = " ".join(str(int(i)) for i in self.slate if i >= 0) or "(empty)"
        return self._render(
            f"step {self.steps}/{self.params.max_steps}: slate {shown}, clicks {self.clicks}, "
            f"satisfaction {self.user.satisfaction:.3f}"
        )

    def close(self) -> None:
        pass


raw_env.__init__.__signature__ = keyword_signature(FeedParams, with_self=True)  # type: ignore[attr-defined]
env.__signature__ = keyword_signature(FeedParams, with_self=False)  # type: ignore[attr-defined]
