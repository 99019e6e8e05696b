"""`mercato/RecDialogue-v0`: a recommender talks with a simulated user who wants one item (AEC)."""

from __future__ import annotations

import re
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
from envs.recommendation.dialogue_acts import (
    ACCEPT,
    ANSWER,
    ASK,
    DISCLOSE,
    MESSAGE_CHARS,
    QUERY_CHARS,
    QUIT,
    REC_ACTS,
    RECOMMEND,
    REJECT,
    SCALES,
    SEARCH,
    USER_ACTS,
)
from envs.recommendation.dialogue_observing import SHOWN_TURNS, VIEW_CHARS, DialogueObserving
from envs.recommendation.dialogue_params import DialogueParams
from envs.recommendation.dialogue_protocol import DialogueProtocol
from envs.recommendation.need import Need, draw_need, feature_names
from envs.recommendation.protocol_views import chat_lines
from envs.recommendation.search import CatalogSearch

RECOMMENDER, USER = "recommender_0", "user_0"
TEXT_CHARS = QUERY_CHARS


def env(**kwargs: Any) -> AECEnv:
    """The dialogue wrapped like PettingZoo's built-ins (order enforced, actions checked)."""
    return wrapped(raw_env(**kwargs))


class raw_env(ObservedState, DialogueObserving, TurnTakingEnv):
    """Conversational recommendation: find the one item a simulated user has in mind.

    ## Description
    After the CRS evaluation practice surveyed by Gao et al. (2021), iEvaLM and ECPO's simulator:
    the user holds a hidden target item from a generated catalog and knows its category and
    attribute values (its need); the recommender may search the catalog (a tool call that does
    not use up the user's turn), ask about a feature, recommend items, or just talk. The user
    answers with a structured dialogue act and an utterance, and rates the recommender's last
    turn on three 0-5 expectation-confirmation scales (recommendation, strategy, expression) with
    a short reason. The user's utterances never contain the target's title: the env redacts it
    and counts the leak.

    ## Agents
    `recommender_0` moves first each turn (searches, then one ask / recommend / respond);
    `user_0` replies. A turn is a recommender move and the user's reply.

    ## Observation space
    Both roles: the latest turns of the conversation (`chat`, oldest first, "" after the last,
    with `chat_from`: 0 recommender, 1 user, -1 empty) and `text`, the role's view rendered by the
    text protocol from the other fields ("" without `text_observations`). `recommender_0`:
    `turn`, `searches_left`, the last search `results` (ids) with their `result_titles`,
    `result_features` (feature codes) and `result_prices`, `known` (the value code the user has
    stated for each feature, -1 unknown; features are `category` then the catalog's
    attributes), `matches` (how many items fit everything stated), `rejected` (items the user
    turned down), the user's `last_act`, `last_feature`, `last_value`. `user_0`: `turn`, its
    `target` id and `target_title`, `need` (its value code per feature) with `agenda` (the order
    it discloses them in), `patience`, `pickiness`, `style`, the recommender's `last_act`,
    `asked` feature, the `recommended` ids and their feature codes. Masks in
    `info["action_mask"]`.

    ## Action space
    `recommender_0`: `act` (search, ask, recommend, respond), `query` and `use_known` (search:
    BM25 over the catalog, optionally only among items fitting what the user stated; an empty
    query lists those by popularity), `feature`
    (ask), `items` (recommend; -1 padding), `message`. `user_0`: `act` (disclose, inquire,
    answer, accept, reject, quit), `feature` and `value` (what it discloses, answers or gives as
    the reason to reject), `item` (the accepted item), `utterance`, `ratings` (3 x 0..5) and
    `reason`.

    ## Rewards
    1 to both agents when the user accepts its target, else 0.

    ## Episode end
    Terminated when the user accepts or quits; truncated after `max_turns` turns.

    ## Parameters
    `domain` (books, games, restaurants), `n_items` (100..100,000), `catalog_seed` (None: a
    catalog per reset seed), `max_turns`, `recommend_size`, `search_size`, `searches_per_turn`,
    `patience_low` / `patience_high` (the user's patience is drawn in this range),
    `text_observations`, `catalog` (a `Catalog` object instead of a generated one: your own
    items, or a constructed catalog in tests), `render_mode` (None, "ansi" or "human").

    ## Metrics
    `success`, `turns`, `turns_to_success` (None without success), `sr_at_<t>` for t = 1 ..
    `max_turns` (success by turn t), `recall_retrieved` (Recall@`search_size`: the target
    appeared in a search), `recall_recommended` (Recall@`recommend_size`: it was
    recommended), `rating_<scale>` means, `asks`, `searches`, `recommendations`, `quit`,
    `accepted_wrong` (accepted a non-target item), `leaks`.

    ## Version history
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "rec_dialogue_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }

    def __init__(self, render_mode: str | None = None, **params: Any) -> None:
        super().__init__(render_mode)
        self.params = DialogueParams.checked(**params)
        p = self.params
        probe = (
            p.catalog
            if p.catalog is not None
            else catalog_for(p.domain, p.n_items, p.catalog_seed or 0)
        )
        self.features = feature_names(probe)
        self.values = {
            name: (probe.category_names if name == "category" else probe.attribute_values[name])
            for name in self.features
        }
        self.max_values = max(len(v) for v in self.values.values())
        self.possible_agents = [RECOMMENDER, USER]
        self.protocol = DialogueProtocol(
            self.features, self.values, p.recommend_size, n_items=p.n_items,
            domain=probe.domain, max_turns=p.max_turns, catalog_size=len(probe),
        )  # fmt: skip
        self._spaces()
        self.agents: list[str] = []

    # Spaces -------------------------------------------------------------------------------------

    def _spaces(self) -> None:
        p = self.params
        n = len(p.catalog) if p.catalog is not None else p.n_items
        f, v, k = len(self.features), self.max_values, p.recommend_size
        i64 = np.int64
        lines = 2 * SHOWN_TURNS
        chat = {
            "chat": Tuple(tuple(FreeText(VIEW_CHARS) for _ in range(lines))),
            "chat_from": Box(-1, 1, shape=(lines,), dtype=np.int8),
        }
        self.observation_spaces: dict[str, Space[Any]] = {
            RECOMMENDER: Dict(
                {
                    "turn": Discrete(p.max_turns + 1),
                    "searches_left": Discrete(p.searches_per_turn + 1),
                    "results": Box(-1, n - 1, shape=(p.search_size,), dtype=i64),
                    "result_titles": Tuple(
                        tuple(FreeText(VIEW_CHARS) for _ in range(p.search_size))
                    ),
                    "result_features": Box(-1, v - 1, shape=(p.search_size, f), dtype=i64),
                    "result_prices": Box(0.0, np.inf, shape=(p.search_size,), dtype=np.float64),
                    "known": Box(-1, v - 1, shape=(f,), dtype=i64),
                    "matches": Box(0, n, shape=(1,), dtype=i64),
                    "rejected": Box(-1, n - 1, shape=(p.max_turns * k,), dtype=i64),
                    "last_act": Discrete(len(USER_ACTS) + 1),
                    "last_feature": Discrete(f + 1),
                    "last_value": Discrete(v + 1),
                    **chat,
                    "text": FreeText(VIEW_CHARS),
                }
            ),
            USER: Dict(
                {
                    "turn": Discrete(p.max_turns + 1),
                    "target": Box(0, n - 1, shape=(1,), dtype=i64),
                    "target_title": FreeText(VIEW_CHARS),
                    "need": Box(0, v - 1, shape=(f,), dtype=i64),
                    "agenda": Box(0, f - 1, shape=(f,), dtype=i64),
                    "patience": Box(1, 100, shape=(1,), dtype=i64),
                    "pickiness": Box(0.0, 1.0, shape=(1,), dtype=np.float64),
                    "style": Discrete(3),
                    "last_act": Discrete(len(REC_ACTS) + 1),
                    "asked": Discrete(f + 1),
                    "recommended": Box(-1, n - 1, shape=(k,), dtype=i64),
                    "recommended_features": Box(-1, v - 1, shape=(k, f), dtype=i64),
                    **chat,
                    "text": FreeText(VIEW_CHARS),
                }
            ),
        }
        self.action_spaces: dict[str, Space[Any]] = {
            RECOMMENDER: Dict(
                {
                    "act": Discrete(len(REC_ACTS)),
                    "query": FreeText(TEXT_CHARS),
                    "use_known": Discrete(2),
                    "feature": Discrete(f),
                    "items": Box(-1, n - 1, shape=(k,), dtype=i64),
                    "message": FreeText(MESSAGE_CHARS),
                }
            ),
            USER: Dict(
                {
                    "act": Discrete(len(USER_ACTS)),
                    "feature": Discrete(f),
                    "value": Discrete(v),
                    "item": Box(-1, n - 1, shape=(1,), dtype=i64),
                    "utterance": FreeText(MESSAGE_CHARS),
                    "ratings": Box(0, 5, shape=(len(SCALES),), dtype=i64),
                    "reason": FreeText(TEXT_CHARS),
                }
            ),
        }
        self._rec_masks = {
            can_search: read_only([int(can_search), 1, 1, 1], np.int8) for can_search in (0, 1)
        }

    # Episode ------------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.np_random, self._seed = make_rng(seed)
        p = self.params
        if p.catalog is not None:
            self.catalog: Catalog = p.catalog
        else:
            seed_ = (
                p.catalog_seed if p.catalog_seed is not None else derive_seed(self._seed, "catalog")
            )
            self.catalog = catalog_for(p.domain, p.n_items, seed_)
        self.search = _search_for(self.catalog)
        patience = (p.patience_low, p.patience_high)
        self.need: Need = draw_need(self.catalog, child_rng(self._seed, "need"), patience=patience)
        self.title = self.catalog.titles[self.need.target]
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.turn = 0
        self.searches_left = p.searches_per_turn
        self.results = np.full(p.search_size, -1, dtype=np.int64)
        self.known = np.full(len(self.features), -1, dtype=np.int64)
        self.rejected: list[int] = []
        self.recommended = np.full(p.recommend_size, -1, dtype=np.int64)
        self.chat: list[tuple[str, str]] = []
        self._show_chat()
        self._show_results()
        self.last_rec_act = len(REC_ACTS)
        self.asked = len(self.features)
        self.last_user = (len(USER_ACTS), len(self.features), self.max_values)
        self.ratings: list[np.ndarray] = []
        self.success_turn: int | None = None
        self.counts = {"asks": 0, "searches": 0, "recommendations": 0, "leaks": 0}
        self.retrieved = self.recommended_ever = False
        self.accepted_wrong = self.quit = False
        self.agent_selection = RECOMMENDER
        self.infos = {RECOMMENDER: self._rec_info(), USER: self._user_info()}

    def _rec_info(self) -> dict[str, Any]:
        mask = self._rec_masks[int(self.searches_left > 0)]
        masks = dict.fromkeys(self.action_spaces[RECOMMENDER].spaces)
        return {"action_mask": {**masks, "act": mask}}

    def _user_info(self) -> dict[str, Any]:
        return {"action_mask": dict.fromkeys(self.action_spaces[USER].spaces)}

    # Step ---------------------------------------------------------------------------------------

    def _move(self, agent: str, action: Any) -> None:
        if agent == RECOMMENDER:
            self._recommender_moves(action)
        else:
            self._user_replies(action)

    def _recommender_moves(self, action: Any) -> None:
        act = int(action["act"])
        message = normalize_text(action["message"], MESSAGE_CHARS)
        if act == SEARCH:
            if self.searches_left <= 0:
                raise ValueError(
                    f"{RECOMMENDER}: no searches left this turn (act search is masked)"
                )
            query = normalize_text(action["query"], TEXT_CHARS)
            ids = self._search(query, bool(action["use_known"]))
            self.results = np.full(self.params.search_size, -1, dtype=np.int64)
            self.results[: len(ids)] = ids
            self._show_results()
            self.searches_left -= 1
            self.counts["searches"] += 1
            self.retrieved |= bool(self.need.target in set(ids.tolist()))
            self.infos[RECOMMENDER] = self._rec_info()
            return  # a tool call: the recommender moves again
        self.last_rec_act = act
        self.asked = len(self.features)
        self.recommended = np.full(self.params.recommend_size, -1, dtype=np.int64)
        if act == ASK:
            self.asked = int(action["feature"])
            self.counts["asks"] += 1
            text = message or f"What {self.features[self.asked].replace('_', ' ')} would you like?"
        elif act == RECOMMEND:
            items = [int(i) for i in np.asarray(action["items"]) if i >= 0]
            items = list(dict.fromkeys(items))[: self.params.recommend_size]
            self.recommended[: len(items)] = items
            self.counts["recommendations"] += 1
            self.recommended_ever |= self.need.target in items
            shown = "; ".join(self.catalog.describe(i) for i in items) or "nothing"
            text = (message + " " if message else "") + f"I recommend: {shown}"
        else:
            text = message or "..."
        self.chat.append(("recommender", text))
        self._show_chat()
        self.agent_selection = USER
        self.infos[USER] = self._user_info()

    def _user_replies(self, action: Any) -> None:
        act = int(action["act"])
        feature, value = int(action["feature"]), int(action["value"])
        utterance = normalize_text(action["utterance"], MESSAGE_CHARS)
        if self.title and re.search(re.escape(self.title), utterance, re.IGNORECASE):
            utterance = re.sub(re.escape(self.title), "[...]", utterance, flags=re.IGNORECASE)
            self.counts["leaks"] += 1
        self.chat.append(("user", utterance))
        self._show_chat()
        self.ratings.append(np.asarray(action["ratings"], dtype=np.int64).copy())
        if act in (DISCLOSE, ANSWER, REJECT) and value < len(self.values[self.features[feature]]):
            self.known[feature] = value
        if act == REJECT:
            self.rejected += [int(i) for i in self.recommended if i >= 0]
        self.last_user = (act, feature, value)
        self.turn += 1
        self.searches_left = self.params.searches_per_turn
        ended = False
        if act == ACCEPT:
            item = int(np.asarray(action["item"]).ravel()[0])
            if item == self.need.target:
                self.success_turn = self.turn
                self.rewards[RECOMMENDER] += 1.0
                self.rewards[USER] += 1.0
            else:
                self.accepted_wrong = True
            ended = True
        elif act == QUIT:
            self.quit = ended = True
        if ended or self.turn >= self.params.max_turns:
            done = self.terminations if ended else self.truncations
            metrics = self._metrics()
            for agent in self.agents:
                done[agent] = True
                self.infos[agent] = {"metrics": metrics}
            self.agent_selection = RECOMMENDER
            return
        self.agent_selection = RECOMMENDER
        self.infos[RECOMMENDER] = self._rec_info()

    def _constraints(self) -> dict[str, str]:
        return {
            name: self.values[name][int(code)]
            for name, code in zip(self.features, self.known, strict=True)
            if code >= 0
        }

    def _matching(self) -> np.ndarray:
        """The items consistent with everything the user has stated so far."""
        constraints = self._constraints()
        if not constraints:
            return np.arange(len(self.catalog))
        return self.search.filter(constraints)

    def _search(self, query: str, use_known: bool) -> np.ndarray:
        """The search tool: keyword ranking (BM25), optionally only among the items matching the
        user's stated features; an empty query lists the matching items by popularity."""
        k = self.params.search_size
        candidates = self._matching() if use_known else None
        if query.strip():
            ids, _ = self.search.keyword(query, k, candidates=candidates)
            return ids
        pool = candidates if candidates is not None else np.arange(len(self.catalog))
        popularity = np.asarray(self.catalog.popularity)[pool]
        order = np.lexsort((pool, -popularity))[:k]
        return pool[order]

    # Observations -------------------------------------------------------------------------------

    def observe(self, agent: str) -> Any:
        if agent == RECOMMENDER:
            return self._with_text(RECOMMENDER, self._observe_recommender())
        return self._with_text(USER, self._observe_user())

    def _with_text(self, agent: str, observation: dict[str, Any]) -> dict[str, Any]:
        return with_text(
            observation, self.protocol, agent, self.params.text_observations, VIEW_CHARS
        )

    # Outcomes -----------------------------------------------------------------------------------

    def _metrics(self) -> dict[str, Any]:
        p = self.params
        ratings = np.array(self.ratings) if self.ratings else np.zeros((0, len(SCALES)))
        success = self.success_turn is not None
        metrics: dict[str, Any] = {
            "success": float(success),
            "turns": float(self.turn),
            "turns_to_success": float(self.success_turn) if success else None,
            "recall_retrieved": float(self.retrieved),
            "recall_recommended": float(self.recommended_ever),
            "quit": float(self.quit),
            "accepted_wrong": float(self.accepted_wrong),
            **{k: float(v) for k, v in self.counts.items()},
        }
        for t in range(1, p.max_turns + 1):
            metrics[f"sr_at_{t}"] = float(success and self.success_turn <= t)
        for i, scale in enumerate(SCALES):
            metrics[f"rating_{scale}"] = float(ratings[:, i].mean()) if len(ratings) else None
        return metrics

    def render(self) -> str | None:
        if self.render_mode is None or not hasattr(self, "_chat_seen"):
            return None  # no mode, or not reset yet
        return self._render("\n".join(chat_lines(self._chat_seen)))

    def close(self) -> None:
        pass


_SEARCHES: dict[int, CatalogSearch] = {}


def _search_for(catalog: Catalog) -> CatalogSearch:
    """One search index per catalog object (catalogs are cached and shared)."""
    search = _SEARCHES.get(id(catalog))
    if search is None or search.catalog is not catalog:
        if len(_SEARCHES) > 8:
            _SEARCHES.clear()
        search = _SEARCHES[id(catalog)] = CatalogSearch(catalog)
    return search


raw_env.__init__.__signature__ = keyword_signature(DialogueParams, with_self=True)  # type: ignore[attr-defined]
env.__signature__ = keyword_signature(DialogueParams, with_self=False)  # type: ignore[attr-defined]
