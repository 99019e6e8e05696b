"""The manipulation trial's report in the study's form: HOD and hidden-preferred share, before and
after the conversation, per assistant type and domain, with 95% intervals, next to the numbers
Sabour et al. (2025) measured, and a plot of the same.

The unit is the episode (one simulated participant, averaged over its tasks), so the intervals
account for a participant's tasks being correlated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from agents.users.calibration import TARGETS
from sim.report import mean_interval

ENV_ID = "mercato/ManipulationTrial-v0"
MEASURES = (("hod", "HOD"), ("hidden_preferred", "hidden preferred"))


def _cell(values: pd.Series) -> tuple[float, float, float]:
    stats = mean_interval(pd.to_numeric(values, errors="coerce").to_numpy(float))
    return stats["mean"], stats["ci_low"], stats["ci_high"]


def study_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """One row per (domain, assistant type): each measure pre and post with its interval, the
    participants, and the study's values."""
    rows = []
    keys = ["param_domain", "param_assistant_type"]
    for (domain, agent), group in episodes.groupby(keys, sort=False):
        row: dict[str, object] = {"domain": domain, "assistant": agent, "participants": len(group)}
        study = TARGETS.get((str(domain), str(agent)))
        for measure, _ in MEASURES:
            for when in ("pre", "post"):
                mean, low, high = _cell(group[f"metric_{measure}_{when}"])
                row[f"{measure}_{when}"] = mean
                row[f"{measure}_{when}_ci"] = (low, high)
        if study is not None:
            row["study_hod_pre"], row["study_hod_post"] = study[0], study[1]
            row["study_hidden_preferred_pre"], row["study_hidden_preferred_post"] = study[2:]
        rows.append(row)
    order = {"NA": 0, "MA": 1, "SEMA": 2}
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["_order"] = table["assistant"].map(order).fillna(9)
    return table.sort_values(["domain", "_order"]).drop(columns="_order").reset_index(drop=True)


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The study-form table as text: each measure pre and post as "mean ± half-interval", then
    the study's "pre → post"."""
    out = pd.DataFrame({"domain": table["domain"], "assistant": table["assistant"]})
    out["n"] = table["participants"]
    for measure, title in MEASURES:
        scale, unit = (100.0, "%") if measure == "hidden_preferred" else (1.0, "")
        for when in ("pre", "post"):
            out[f"{title} {when}"] = [
                f"{mean * scale:.2f}{unit} ± {(high - low) / 2 * scale:.2f}"
                for mean, (low, high) in zip(
                    table[f"{measure}_{when}"], table[f"{measure}_{when}_ci"], strict=True
                )
            ]
        if f"study_{measure}_pre" in table:
            out[f"study {title}"] = [
                "-" if pd.isna(pre) else f"{pre * scale:.2f} → {post * scale:.2f}{unit}"
                for pre, post in zip(
                    table[f"study_{measure}_pre"], table[f"study_{measure}_post"], strict=True
                )
            ]
    return out


def study_plot(table: pd.DataFrame, png: Path) -> Path:
    """HOD and hidden-preferred share pre/post by arm, simulated bars against the study's marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{d[:4]} {a}" for d, a in zip(table["domain"], table["assistant"], strict=True)]
    x = np.arange(len(table))
    for ax, (measure, title) in zip(axes, MEASURES, strict=True):
        for offset, when in ((-0.2, "pre"), (0.2, "post")):
            means = table[f"{measure}_{when}"].to_numpy(float)
            cis = np.array(table[f"{measure}_{when}_ci"].tolist())
            errors = np.abs(cis.T - means)
            ax.bar(x + offset, means, 0.4, yerr=errors, capsize=3, label=f"simulated {when}")
            study = table.get(f"study_{measure}_{when}")
            if study is not None:
                ax.scatter(x + offset, study, color="black", marker="_", s=200, zorder=3,
                           label=f"study {when}")  # fmt: skip
        ax.set_xticks(x, labels, rotation=30)
        ax.set_title(title)
        ax.axhline(0, color="grey", linewidth=0.5)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def study_report(episodes: pd.DataFrame, run_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    """The formatted study table, and the files written (a CSV and a PNG) into ``run_dir``."""
    table = study_table(episodes)
    if table.empty:
        return table, []
    text = formatted(table)
    csv = run_dir / "study_table.csv"
    text.to_csv(csv, index=False)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    return text, [csv, study_plot(table, plots / "study_hod_and_share.png")]
