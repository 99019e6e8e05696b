"""TRL dataset rows from a run: SFT prompt-completion, DPO preference pairs, KTO labelled rows.

All three are TRL's conversational forms: ``prompt`` is the chat the model was sent (system +
user), completions are one assistant message. Rows come from LLM decisions whose action was the
parse of the model's reply (for a re-ask: the original prompt and the reply that parsed), plus
scripted players' decisions rendered as text with ``include_scripted``. Outcomes rank them: the
agent's episode return, or for the manipulation trial the task's outcome revealed in hindsight.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import orjson

from sim.export.counterfactual import counterfactual_pairs
from sim.export.decisions import RunData, load_run
from sim.export.errors import ExportError
from sim.export.scripted import RolePrompt, TextDecision, text_decisions
from sim.export.texts import PAIRINGS, Run, assistant_message, selected_texts, unique_pairs

"""Ranking keys only known after the episode: their pairs have ``source`` "hindsight"."""


def sft_rows(
    run: Run,
    *,
    agents: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    cells: Sequence[str] | None = None,
    include_scripted: bool = False,
    min_return: float | None = None,
    top_fraction: float | None = None,
    role_prompt: RolePrompt = None,
) -> list[dict[str, Any]]:
    """Prompt-completion rows (`SFTTrainer`), optionally only from the better episodes.

    ``min_return`` keeps decisions from episodes where the deciding agent's return is at least
    that; ``top_fraction`` keeps, per role, the best fraction of (episode, agent) by return.
    """
    data = load_run(run)
    texts = selected_texts(data, "sft", agents, roles, cells, include_scripted, role_prompt)
    kept = _by_return(texts, min_return, top_fraction)
    return [
        {
            "prompt": t.prompt,
            "completion": assistant_message(t.completion),
            **_about(t),
            "episode_return": t.decision.episode_return,
        }
        for t in kept
    ]


def kto_rows(
    run: Run,
    *,
    agents: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    cells: Sequence[str] | None = None,
    include_scripted: bool = False,
    min_return: float | None = None,
    top_fraction: float | None = None,
    rank_by: str | None = None,
    threshold: float | None = None,
    role_prompt: RolePrompt = None,
) -> list[dict[str, Any]]:
    """Unpaired rows (`KTOTrainer`): ``label`` is True when the decision's outcome is at least
    ``threshold``, by default the median outcome of its role among the exported decisions (ties
    at the median on the smaller side, see `median_cut`)."""
    data = load_run(run)
    key = data.check_rank_by(rank_by)
    texts = selected_texts(data, "kto", agents, roles, cells, include_scripted, role_prompt)
    scored = [
        (t, data.outcome(t.decision, key)) for t in _by_return(texts, min_return, top_fraction)
    ]
    scored = [(t, outcome) for t, outcome in scored if outcome is not None]
    if not scored:
        raise ExportError(f"run {data.run_id} records no {key!r} outcome for its decisions")
    cuts: dict[str, float] = {}
    for role in {t.decision.role for t, _ in scored}:
        outcomes = [o for t, o in scored if t.decision.role == role]
        cuts[role] = threshold if threshold is not None else median_cut(outcomes)
    return [
        {
            "prompt": t.prompt,
            "completion": assistant_message(t.completion),
            "label": bool(outcome >= cuts[t.decision.role]),
            **_about(t),
            "outcome": outcome,
            "threshold": cuts[t.decision.role],
            "rank_by": key,
        }
        for t, outcome in scored
    ]


def dpo_pairs(
    run: Run,
    *,
    agents: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    cells: Sequence[str] | None = None,
    include_scripted: bool = False,
    rank_by: str | None = None,
    pairs: str = "best-worst",
    min_margin: float = 0.0,
    role_prompt: RolePrompt = None,
    counterfactual: bool = False,
    max_states: int | None = None,
) -> list[dict[str, Any]]:
    """Explicit preference pairs (`DPOTrainer`) from decisions at the same observation.

    Decisions are grouped by role and exact prompt; a reply's outcome is the mean outcome of the
    decisions that gave it. In a group with at least two distinct replies, the best reply is
    paired with the worst (``pairs="best-worst"``) or every better reply with every worse one
    (``"all"``), when the outcomes differ by more than ``min_margin``. ``rank_by`` defaults to the
    agent's return, and to the hindsight outcome for the manipulation trial.

    ``counterfactual`` adds pairs from replayed episodes (`counterfactual_pairs`, at most
    ``max_states`` states, 32 by default): most states never recur, but any can be replayed.
    Each (prompt, chosen, rejected) appears once, at its first occurrence (`unique_pairs`).
    """
    if pairs not in PAIRINGS:
        raise ExportError(f"pairs {pairs!r} is unknown; allowed: {list(PAIRINGS)}")
    if max_states is not None and not counterfactual:
        raise ExportError(
            "max_states applies to counterfactual pairs: pass counterfactual=True "
            "(--counterfactual)"
        )
    data = load_run(run)
    key = data.check_rank_by(rank_by)
    if counterfactual and key != "return":
        raise ExportError(
            f"counterfactual pairs are ranked by the deciding agent's return, not {key!r}: "
            "pass rank_by='return' (--rank-by return)"
        )
    if counterfactual:  # states without reply text (choices, defaults) can still branch
        selected = data.select(agents, roles, cells)
        texts = text_decisions(data, selected, include_scripted, role_prompt)
    else:
        texts = selected_texts(data, "dpo", agents, roles, cells, include_scripted, role_prompt)
    groups: dict[tuple[str, bytes], tuple[list[dict[str, str]], dict[str, list[float]]]] = {}
    for t in texts:
        outcome = data.outcome(t.decision, key)
        if outcome is None or math.isnan(outcome):
            continue
        prompt_key = (t.decision.role, orjson.dumps(t.prompt))
        prompt, replies = groups.setdefault(prompt_key, (t.prompt, {}))
        replies.setdefault(t.completion, []).append(outcome)
    rows = []
    source = "hindsight" if data.revealed_after(key) else "same-state"
    for (role, _), (prompt, replies) in groups.items():
        means = {reply: statistics.fmean(values) for reply, values in replies.items()}
        ranked = sorted(means, key=lambda reply: -means[reply])
        candidates = (
            [(ranked[0], ranked[-1])]
            if pairs == "best-worst"
            else [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
        )
        for chosen, rejected in candidates:
            margin = means[chosen] - means[rejected]
            if chosen == rejected or margin <= min_margin:
                continue
            rows.append(
                {
                    "prompt": prompt,
                    "chosen": assistant_message(chosen),
                    "rejected": assistant_message(rejected),
                    "role": role,
                    "chosen_outcome": means[chosen],
                    "rejected_outcome": means[rejected],
                    "margin": margin,
                    "chosen_count": len(replies[chosen]),
                    "rejected_count": len(replies[rejected]),
                    "rank_by": key,
                    "source": source,
                }
            )
    if counterfactual:
        rows += counterfactual_pairs(
            data, agents=agents, roles=roles, cells=cells,
            max_states=32 if max_states is None else max_states,
            include_scripted=include_scripted, role_prompt=role_prompt, pairs=pairs,
            min_margin=min_margin,
        )  # fmt: skip
        rows = unique_pairs(rows)  # a replayed state may give a same-state pair again
    if not rows:
        repeated = sum(1 for _, replies in groups.values() if sum(map(len, replies.values())) > 1)
        replayed = (
            "; no replayed state had candidates with differing returns either"
            if counterfactual
            else "; pass counterfactual=True (--counterfactual) to replay sampled states with "
            "every valid action instead"
        )
        raise ExportError(
            f"run {data.run_id} has no DPO pairs: a pair needs one prompt answered with different "
            f"replies whose {key!r} outcomes differ (e.g. several episodes reaching the same state "
            f"with temperature > 0 or varied players); of {len(texts)} decision(s), {repeated} "
            "prompt(s) recur and none has differing replies and outcomes" + replayed
        )
    return rows


def median_cut(outcomes: list[float]) -> float:
    """The threshold ``label = outcome >= cut`` for outcomes split at their median.

    Outcomes equal to the median go to the smaller side: with outcomes 0, 0, 0, 5 the cut is 5
    (one desirable, three not), not 0 (which would call everything desirable).
    """
    median = statistics.median(outcomes)
    at_or_above = sum(o >= median for o in outcomes)
    above = [o for o in outcomes if o > median]
    if not above or abs(at_or_above - len(outcomes) / 2) <= abs(len(above) - len(outcomes) / 2):
        return median
    return min(above)


def rank_description(run: RunData, rank_by: str | None) -> str:
    """How decisions were ranked, in words, for dataset cards."""
    key = rank_by or run.default_rank_by
    if key == "return":
        return "the deciding agent's episode return (sum of its rewards)"
    if key in run.outcome_keys:
        measure = run.outcome_keys[key]
        when = (
            "revealed after the episode (RLHS hindsight)"
            if run.revealed_after(key)
            else "reported before the outcome was revealed (immediate feedback)"
        )
        return f"the task's `{measure}` {when}, from the final `info['tasks'][k]['measures']`"
    return f"the episode's `{key}` (episodes table)"


# --- shared ---


def _by_return(
    texts: list[TextDecision], min_return: float | None, top_fraction: float | None
) -> list[TextDecision]:
    """Decisions from episodes good enough for their agent (see `sft_rows`)."""
    kept = texts
    if min_return is not None:
        kept = [t for t in kept if t.decision.episode_return >= min_return]
    if top_fraction is not None:
        if not 0.0 < top_fraction <= 1.0:
            raise ExportError(f"top_fraction must be in (0, 1], got {top_fraction}")
        cut: dict[str, float] = {}
        for role in {t.decision.role for t in kept}:
            played = {
                (t.decision.episode_id, t.decision.agent): t.decision.episode_return
                for t in kept
                if t.decision.role == role
            }
            best = sorted(played.values(), reverse=True)
            cut[role] = best[max(1, math.ceil(top_fraction * len(best))) - 1]
        kept = [t for t in kept if t.decision.episode_return >= cut[t.decision.role]]
    if not kept:
        best_return = max(t.decision.episode_return for t in texts)
        raise ExportError(
            f"no decision left after min_return={min_return}: the best episode return among "
            f"the {len(texts)} decision(s) is {best_return:g}"
        )
    return kept


def _about(t: TextDecision) -> dict[str, Any]:
    d = t.decision
    return {
        "episode_id": d.episode_id,
        "step": d.step,
        "agent": d.agent,
        "role": d.role,
        "policy": d.policy,
        "source": t.source,
        "parse_status": d.parse_status,
    }
