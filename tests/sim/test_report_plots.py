"""Report plots and keys: short unique cell keys, one outcome's plot for chosen cells, intervals
in every panel, and a study-form legend that cannot be mistaken for data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.report.keys import abbreviations, cell_keys


def test_keys_name_what_differs_in_short_unique_abbreviations():
    keys, legend = cell_keys(
        {"c0": {"discount_alice": 0.8, "discount_bob": 0.95}, "c1": {"discount_alice": 0.9,
         "discount_bob": 0.95}},
        {"c0": {"bob_0": "bargaining/equilibrium"}, "c1": {"bob_0": "llm:smol"}},
    )  # fmt: skip
    assert keys == {"c0": "dA=0.8 dB=0.95 bob=equilibrium", "c1": "dA=0.9 dB=0.95 bob=llm"}
    assert legend == {"dA": "discount_alice", "dB": "discount_bob"}
    names = ["max_exchanges", "min_exchanges", "message_length", "messages", "mood_level"]
    short = abbreviations(names)
    assert len(set(short.values())) == len(names) and short == abbreviations(reversed(names))
    assert all(len(short[n]) < len(n) for n in names)
    models, _ = cell_keys({}, {"a": {"bob_0": "llm:smol"}, "b": {"bob_0": "llm:big"}})
    assert models == {"a": "bob=llm:smol", "b": "bob=llm:big"}  # the model tells them apart


def report_rows() -> pd.DataFrame:
    rows = []
    for metric in ("deal", "price"):
        for i, cell in enumerate(("c000", "c001", "c002")):
            copies = cell == "c002"
            rows.append({
                "cell_id": cell, "label": f"x={i}", "key": f"x={i}", "metric": metric, "n": 4,
                "mean": float(i), "sd": 1.0, "ci_low": np.nan if copies else i - 0.5,
                "ci_high": np.nan if copies else i + 0.5, "distinct": 4.0, "copies": copies,
            })  # fmt: skip
    return pd.DataFrame(rows)


def interval_lines(ax) -> list:
    return [line for line in ax.get_lines() if len(line.get_xdata()) == 2]


def test_the_faceted_figure_has_a_panel_per_outcome_and_every_interval():
    from sim.report.plots import facet_figure

    figure = facet_figure(report_rows())
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["deal", "price"]
    for ax in panels:  # two cells with intervals; the copied cell has none
        assert len(interval_lines(ax)) == 2
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["c000  x=0", "c001  x=1", "c002  x=2"]


def test_one_outcome_is_drawn_for_the_cells_asked():
    from sim.report.plots import metric_png

    png = metric_png(report_rows(), "price", cells=["c000", "c002"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < len(metric_png(report_rows(), "price"))
    with pytest.raises(ValueError, match="no outcome 'nope'"):
        metric_png(report_rows(), "nope")
    with pytest.raises(ValueError, match="c009"):
        metric_png(report_rows(), "deal", cells=["c009"])


def study_rows():
    from envs.trials.study import STUDY_FORM
    from sim.report.study import study_table

    rng = np.random.default_rng(0)
    rows = []
    for domain in ("financial", "emotional"):
        for arm in ("NA", "MA", "SEMA"):
            for _ in range(5):
                row = {"param_domain": domain, "param_assistant_type": arm}
                for name in ("hod", "hidden_preferred"):
                    for phase in ("pre", "post"):
                        row[f"metric_{name}_{phase}"] = rng.random()
                rows.append(row)
    return study_table(pd.DataFrame(rows), STUDY_FORM), STUDY_FORM


def test_study_legend_entries_differ_and_cover_no_label():
    from sim.report.study import study_figure

    table, form = study_rows()
    figure = study_figure(table, form)
    figure.canvas.draw()
    legend = figure.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert sorted(texts) == [
        "Sabour et al. (2025) post (published)", "Sabour et al. (2025) pre (published)",
        "simulated post, 95% interval", "simulated pre, 95% interval",
    ]  # fmt: skip
    study = [h for h, t in zip(legend.legend_handles, texts, strict=True) if "published" in t]
    colours = {tuple(np.round(h.get_facecolor()[0], 3)) for h in study}
    assert len(colours) == 2  # pre and post published values look different
    assert all(tuple(np.round(h.get_facecolor()[0][:3], 3)) != (0, 0, 0) for h in study)
    box = legend.get_window_extent()
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        assert not box.overlaps(ax.get_window_extent(renderer))
        for label in [*ax.get_xticklabels(), ax.title]:
            assert not box.overlaps(label.get_window_extent(renderer))
        bars = [c for c in ax.containers if type(c).__name__ == "BarContainer"]
        assert len(bars) == 2 and all(bar.errorbar is not None for bar in bars)  # intervals
