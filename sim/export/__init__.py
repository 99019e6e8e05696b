"""Datasets from run directories: TRL's SFT / DPO / KTO formats and Minari for offline RL.

``export_run(run_dir, "sft" | "dpo" | "kto" | "minari", out, **options)`` writes a dataset folder
atomically and returns an `ExportResult`; `sft_rows`, `dpo_pairs`, `kto_rows` and
`minari_episodes` return the rows (or buffers) for notebooks; `counterfactual_pairs` replays
recorded decision states with other actions for DPO. Formats, columns and ranking rules:
docs/exports.md. Every refusal is an `ExportError` with a one-line message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.export.card import HF_CONFIGS, dataset_card
from sim.export.counterfactual import counterfactual_pairs
from sim.export.decisions import Decision, RunData, load_run
from sim.export.errors import ExportError
from sim.export.formats import dpo_pairs, kto_rows, rank_description, sft_rows
from sim.export.hf_parquet import write_hf_dataset
from sim.export.offline_rl import MinariEpisodes, minari_episodes, write_minari
from sim.export.rehydrate import from_json, rehydrate
from sim.export.staging import check_target, staged_directory

__all__ = [
    "FORMATS",
    "OPTIONS",
    "Decision",
    "ExportError",
    "ExportResult",
    "MinariEpisodes",
    "RunData",
    "counterfactual_pairs",
    "dpo_pairs",
    "export_run",
    "from_json",
    "kto_rows",
    "load_run",
    "minari_episodes",
    "rehydrate",
    "sft_rows",
    "write_minari",
]

_TEXT_OPTIONS = ("agents", "roles", "cells", "include_scripted", "role_prompt")
OPTIONS: dict[str, tuple[str, ...]] = {
    "sft": (*_TEXT_OPTIONS, "min_return", "top_fraction", "license"),
    "dpo": (
        *_TEXT_OPTIONS,
        "rank_by",
        "pairs",
        "min_margin",
        "counterfactual",
        "max_states",
        "license",
    ),
    "kto": (*_TEXT_OPTIONS, "min_return", "top_fraction", "rank_by", "threshold", "license"),
    "minari": ("agent", "cells", "dataset_id", "license"),
}
"""Format -> the options `export_run` accepts for it (``license``: the card's, default
``apache-2.0``)."""
FORMATS = tuple(OPTIONS)


@dataclass(frozen=True)
class ExportResult:
    """A written export: its folder, format and size (rows; episodes for Minari)."""

    format: str
    out: Path
    rows: int
    dataset_id: str | None = None
    steps: int | None = None

    def summary(self) -> str:
        if self.format == "minari":
            return (
                f"wrote {self.rows} episode(s) ({self.steps} steps) of minari dataset "
                f"{self.dataset_id} to {self.out}"
            )
        return f"wrote {self.rows} {self.format} row(s) to {self.out}"


def export_run(
    run_dir: str | os.PathLike[str],
    format: str,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    **options: Any,
) -> ExportResult:
    """Export ``run_dir`` as ``format`` into the folder ``out`` (see `OPTIONS` per format).

    Nothing is written until the rows are built, and the folder appears complete or not at all;
    an existing non-empty ``out`` is refused unless ``overwrite``.
    """
    if format not in OPTIONS:
        raise ExportError(f"format {format!r} is unknown; allowed: {list(FORMATS)}")
    unknown = sorted(set(options) - set(OPTIONS[format]))
    if unknown:
        raise ExportError(
            f"option(s) {unknown} do not apply to {format}; its options: {list(OPTIONS[format])}"
        )
    out = Path(out)
    check_target(out, overwrite, Path(run_dir))
    run = load_run(run_dir)
    license = options.pop("license", None)
    if format == "minari":
        return _export_minari(run, out, overwrite, options, license)
    build: Callable[..., list[dict[str, Any]]] = _BUILDERS[format]
    rows = build(run, **options)
    card = dataset_card(
        run,
        title=f"{run.name}: {format.upper()} dataset from mercato run {run.run_id}",
        summary=_SUMMARIES[format],
        rows=len(rows),
        columns=_COLUMNS[format],
        selection=_selection(run, format, options),
        options=options,
        front_matter={"configs": HF_CONFIGS, "tags": ["mercato", format, run.env_id]},
        usage=(
            "from datasets import load_dataset\n\n"
            "# run from this folder (or give the path of its data/; or its Hub id once pushed)\n"
            'dataset = load_dataset("parquet", data_dir="data", split="train")'
        ),
        license=license,
    )
    write_hf_dataset(rows, out, card, overwrite=overwrite, source=run.path)
    return ExportResult(format, out, len(rows))


def _export_minari(
    run: RunData, out: Path, overwrite: bool, options: dict[str, Any], license: str | None
) -> ExportResult:
    try:
        import minari  # noqa: F401
    except ImportError:
        raise ExportError(
            "minari is not installed; install mercato[rl] (minari, pillow) for minari exports"
        ) from None
    episodes = minari_episodes(run, **options)
    card = dataset_card(
        run,
        title=f"{run.name}: Minari dataset {episodes.dataset_id}",
        summary=episodes.description,
        rows=len(episodes.buffers),
        columns={},
        selection=[
            f"agent `{episodes.agent}`; episodes in order: {', '.join(episodes.episode_ids)}",
            "observations have one more entry than actions (the agent's final observation)",
            episodes.env_note,
        ],
        options=options,
        front_matter={"tags": ["mercato", "minari", run.env_id]},
        usage=_minari_usage(episodes),
        license=license,
    )
    with staged_directory(out, overwrite, run.path) as stage:
        write_minari(episodes, stage)
        (stage / "README.md").write_text(card, encoding="utf-8")
    return ExportResult("minari", out, len(episodes.buffers), episodes.dataset_id, episodes.steps)


def _minari_usage(episodes: MinariEpisodes) -> str:
    """Loading the dataset from its own folder, and its env where it has one."""
    lines = [
        "import os",
        "",
        "import minari",
        "",
        'os.environ["MINARI_DATASETS_PATH"] = "."  # this folder (run from it, or give its path)',
        f'dataset = minari.load_dataset("{episodes.dataset_id}")',
    ]
    if episodes.env_spec is not None:
        lines.append(
            f"env = dataset.recover_environment()  # {episodes.env_spec.id}, as in the run"
        )
    return "\n".join(lines)


_BUILDERS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "sft": sft_rows,
    "dpo": dpo_pairs,
    "kto": kto_rows,
}

_SUMMARIES = {
    "sft": "TRL conversational prompt-completion rows (`SFTTrainer`): `prompt` is the chat the "
    "player was sent (system + user), `completion` the assistant reply whose parse was the "
    "action taken.",
    "dpo": "TRL conversational explicit preference pairs (`DPOTrainer`): replies to the same "
    "prompt, the one with the better realised outcome `chosen`, the worse `rejected` (replies "
    "recorded at a recurring state, or with counterfactual replays, alternatives played out from "
    "a recorded state).",
    "kto": "TRL conversational unpaired preference rows (`KTOTrainer`): `label` says whether "
    "the decision's outcome reached the threshold.",
}

_ABOUT = {
    "episode_id": "the episode (joins the run's episodes table)",
    "step": "the row in the episode's steps",
    "agent": "who decided, e.g. `alice_0`",
    "role": "the agent's role",
    "policy": "the player, as in the run's roster (`llm:MODEL`, `bargaining/equilibrium`)",
    "source": "`llm` (the model's recorded reply) or `scripted` (rendered via the protocol)",
    "parse_status": "`parsed` or `reasked` for LLM replies; null for scripted players",
}
_PROMPT = {"prompt": "chat messages (system: role prompt + rules, user: the observation)"}
_COLUMNS: dict[str, dict[str, str]] = {
    "sft": {
        **_PROMPT,
        "completion": "one assistant message: the reply",
        **_ABOUT,
        "episode_return": "the agent's return in that episode",
    },
    "dpo": {
        **_PROMPT,
        "chosen": "one assistant message: the reply with the better outcome",
        "rejected": "one assistant message: the reply with the worse outcome",
        "role": "the deciding role",
        "chosen_outcome": "mean outcome of the decisions that gave the chosen reply "
        "(counterfactual: the return of its replayed episode)",
        "rejected_outcome": "mean outcome of the decisions that gave the rejected reply",
        "margin": "chosen_outcome - rejected_outcome (> 0)",
        "chosen_count": "decisions averaged into chosen_outcome (1 for counterfactual pairs)",
        "rejected_count": "decisions averaged into rejected_outcome",
        "rank_by": "the outcome compared",
        "source": "`same-state` (ranked by an outcome of the episode), `hindsight` "
        "(ranked by the outcome revealed after it, RLHS) or `counterfactual` (each reply played "
        "out from the recorded state in a replayed episode)",
    },
    "kto": {
        **_PROMPT,
        "completion": "one assistant message: the reply",
        "label": "outcome >= threshold",
        **_ABOUT,
        "outcome": "the decision's outcome (see rank_by)",
        "threshold": "the cut: the median outcome of the role, unless given",
        "rank_by": "the outcome compared",
    },
}


_COUNTERFACTUAL = (
    "counterfactual pairs: up to {states} decision states (LLM decisions, constrained-choice "
    "and default ones included) drawn with random.Random(0), distinct prompts first; at "
    "each, the recorded reply and every other valid action of the env's text protocol (written "
    "as the reply that parses to it) were each played to the end of a replay of the episode (same "
    "cell, players, seeds and model), and ranked by the deciding agent's realised return; the "
    "recorded reply's replay reproduced the recorded return at every kept state"
)


def _selection(run: RunData, format: str, options: dict[str, Any]) -> list[str]:
    items = [
        "LLM decisions whose action was the parse of the model's reply (re-asks: the original "
        "prompt and the reply that parsed); constrained-choice and default decisions are left out"
        + (" except as counterfactual states" if options.get("counterfactual") else "")
    ]
    if options.get("include_scripted"):
        items.append(
            "scripted players' decisions, prompted as an LLM player would have been and answered "
            "with the protocol's describe(action)"
        )
    if format == "dpo":
        items.append(
            "pairs: decisions grouped by role and exact prompt; a reply's outcome is the mean "
            f"over the decisions that gave it; {options.get('pairs') or 'best-worst'} pairs with "
            f"outcomes differing by more than {options.get('min_margin') or 0}"
        )
    if format == "dpo" and options.get("counterfactual"):
        items.append(_COUNTERFACTUAL.format(states=options.get("max_states") or 32))
    if format == "dpo":
        items.append(
            "each (prompt, chosen, rejected) once, at its first occurrence: a pair found again "
            "(a state that alike episodes reach again) is left out"
        )
    if format in ("dpo", "kto"):
        items.append(f"ranked by {rank_description(run, options.get('rank_by'))}")
    if options.get("min_return") is not None:
        items.append(f"only episodes where the deciding agent's return >= {options['min_return']}")
    if options.get("top_fraction") is not None:
        items.append(
            f"only the best {options['top_fraction']:.0%} of (episode, agent) by return, per role"
        )
    return items
