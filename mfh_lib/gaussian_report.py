"""Tables, figures and panels of the Gaussian-MVD chapter (chapter 02), kept out of its narrative.

Every function takes the result objects of :mod:`mfh_lib.gaussian_kd` (``KDResults``,
``ControlResults``, the tidy tables of ``gain_table`` / ``gain_phase_diagram``) and returns a
DataFrame, draws a figure, or returns a panel. Accuracy tensors are (settings P, seeds S).
"""
from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import config, plotting, stats
from .data.gaussian_mvd import spec_from_sizes
from .gaussian_kd import run_kd


def spec_table(specs) -> pd.DataFrame:
    """One row per MVD spec: dimensions, index-set sizes and the (alpha, beta, gamma) ratios."""
    return pd.DataFrame([{"d1": s.d1, "d2": s.d2, "d": s.d, "|J1|": len(s.J1), "|J2|": len(s.J2),
                          "|J1∩J2|": s.overlap, "alpha": s.alpha, "beta": s.beta, "gamma": s.gamma}
                         for s in specs]).round(2)


def accuracy_table(specs, columns: dict, decimals: int = 2) -> pd.DataFrame:
    """One row per setting: the MVD ratios and 'mean ± std' over seeds of each (P, S) column."""
    return pd.DataFrame([{"alpha": round(spec.alpha, 2), "beta": round(spec.beta, 2), "gamma": round(spec.gamma, 2),
                          **{name: stats.mean_std(values[p], decimals) for name, values in columns.items()}}
                         for p, spec in enumerate(specs)])


def plot_sweep(x, teacher, no_kd, kd, xlabel: str, title: str):
    """Accuracies (mean ± 1 std over seeds) and the per-seed KD gain against a swept ratio; (P, S) tensors."""
    fig, (ax_acc, ax_gain) = plt.subplots(1, 2, figsize=(11, 4))
    for values, label in ((teacher, "teacher (x^a)"), (no_kd, "student, no KD"), (kd, "student, KD")):
        plotting.mean_std_band(ax_acc, x, values.T.numpy(), label=label)
    ax_acc.set(xlabel=xlabel, ylabel="population accuracy (%)")
    ax_acc.legend()
    plotting.mean_std_band(ax_gain, x, (kd - no_kd).T.numpy(), label="KD gain", color="C3")
    ax_gain.axhline(0, color="black", lw=0.8)
    ax_gain.set(xlabel=xlabel, ylabel="KD student - no-KD student (points)")
    plotting.finish(fig, title)


def plot_controls(gamma, controls, conditions, rows: slice, title: str):
    """Gain over gamma of the KD student and of every control student (ControlResults rows)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, name in enumerate(conditions):
        plotting.mean_std_band(ax, gamma, controls.gain(name)[rows].T.numpy(), label=name, color=f"C{i}")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel=r"$\gamma$", ylabel="student - no-KD student (points)")
    ax.legend(fontsize=8)
    plotting.finish(fig, title)


def plot_learning_curves(curve_run, title: str):
    """Seed-mean test accuracy per epoch of teacher / no-KD / KD for each spec of a curve run.

    Returns the mean |change| of each model's test accuracy over the second half of training."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    epochs = curve_run.curves["epochs"].numpy()
    for p, style in zip(range(len(curve_run.specs)), ("-", ":", "--")):
        for name, color in (("teacher", "C0"), ("no_kd", "C1"), ("kd", "C2")):
            ax.plot(epochs, curve_run.curves[name][:, p].mean(-1).numpy(), style, color=color,
                    label=f"{name}, gamma={curve_run.specs[p].gamma:.2f}")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)")
    ax.legend(ncol=2, fontsize=8)
    plotting.finish(fig, title)
    return {name: round((curve_run.curves[name][-1] - curve_run.curves[name][len(epochs) // 2]).abs().mean().item(), 2)
            for name in ("teacher", "no_kd", "kd")}


def table2_frame(specs, regular, general, decimals: int = 2) -> pd.DataFrame:
    """Table 2 in the paper's columns ('mean ± std' over seeds) from the regular and MG KDResults."""
    return pd.DataFrame([{
        "gamma": round(spec.gamma, 2),
        "regular teacher": stats.mean_std(regular.teacher_acc[p], decimals),
        "MG teacher": stats.mean_std(general.teacher_acc[p], decimals),
        "No-KD": stats.mean_std(regular.no_kd_acc[p], decimals),
        "Regular-KD": stats.mean_std(regular.kd_acc[p], decimals),
        "MG-KD": stats.mean_std(general.kd_acc[p], decimals),
        "MG-KD − Regular-KD": stats.mean_std(general.kd_acc[p] - regular.kd_acc[p], decimals)}
        for p, spec in enumerate(specs)])


TABLE2_KEYS = (("regular teacher", "regular_teacher"), ("MG teacher", "mg_teacher"), ("No-KD", "no_kd"),
               ("Regular-KD", "regular_kd"), ("MG-KD", "mg_kd"), ("MG-KD − Regular-KD", "mg_kd_gt_regular_kd"))


def paper_table2_frame(paper: dict) -> pd.DataFrame:
    """MFH Tab. 2 as declared in paper_numbers (the means the paper prints)."""
    return pd.DataFrame([{"gamma": g, **{col: paper[f"tab2_g{tag}_{key}"]["paper_value"] for col, key in TABLE2_KEYS}}
                         for g, tag in ((0.25, "25"), (0.5, "50"), (0.75, "75"))])


def plot_simplex(heat_specs, heat, title: str) -> None:
    """Seed-mean KD gain and teacher accuracy on the (gamma, alpha) grid, as two heat maps."""
    frame = pd.DataFrame({"gamma": [round(s.gamma, 2) for s in heat_specs], "alpha": [round(s.alpha, 2) for s in heat_specs],
                          "KD gain": heat.gain.mean(1).numpy(), "teacher acc": heat.teacher_acc.mean(1).numpy()})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, column, cmap, center in ((axes[0], "KD gain", "RdBu", 0.0), (axes[1], "teacher acc", "viridis", None)):
        grid = frame.pivot(index="gamma", columns="alpha", values=column).sort_index(ascending=False)
        sns.heatmap(grid, ax=ax, cmap=cmap, center=center, annot=True, fmt=".1f", annot_kws={"size": 7},
                    cbar_kws={"label": column + (" (points)" if column == "KD gain" else " (%)")})
        ax.set(xlabel=r"$\alpha$ (teacher-only share)", ylabel=r"$\gamma$ (shared share)")
    axes[0].set_title("KD gain, seed mean")
    axes[1].set_title("teacher accuracy, seed mean")
    plotting.finish(fig, title)


def simplex_predictors(heat_specs, heat, unit: str, num_resamples: int = 2000):
    """Spearman of the KD gain with gamma and with teacher accuracy on the simplex grid.

    Returns (table, pooled): the table has one row per predictor (all cells, then gamma along each
    fixed-|J1| line with >= 3 cells, then pooled); ``pooled`` is the Estimate of the mean
    within-line Spearman (percentile bootstrap over seeds)."""
    gamma = np.array([s.gamma for s in heat_specs])
    gain = heat.gain.T.numpy()  # (seeds, cells)
    size_J1 = np.array([len(s.J1) for s in heat_specs])
    lines = [np.flatnonzero(size_J1 == size) for size in sorted(set(size_J1)) if (size_J1 == size).sum() >= 3]

    def within_line(per_seed_gain):
        mean_gain = per_seed_gain.mean(axis=0)
        return float(np.nanmean([stats.spearman(gamma[cells], mean_gain[cells]) for cells in lines]))

    def row(name, cells, rho, ci):
        return {"KD gain vs": name, "cells": cells, "Spearman": round(rho, 2), "CI low": round(ci[0], 2),
                "CI high": round(ci[1], 2)}

    rows = [row(name, len(heat_specs), *stats.spearman_over_seeds(x, gain, num_resamples=num_resamples))
            for name, x in (("gamma, all cells", gamma), ("teacher accuracy, all cells", heat.teacher_acc.mean(1).numpy()))]
    for cells in lines:
        rows.append(row(f"gamma at fixed |J1| = {size_J1[cells[0]]} (teacher {heat.teacher_acc[cells[0]].mean():.1f}%)",
                        len(cells), *stats.spearman_over_seeds(gamma[cells], gain[:, cells], num_resamples=num_resamples)))
    pooled = within_line(gain)
    ci = stats.bootstrap_ci(gain, within_line, num_resamples=num_resamples)
    rows.append(row(f"gamma at fixed teacher, pooled over {len(lines)} lines", sum(len(c) for c in lines), pooled, ci))
    estimate = stats.Estimate(pooled, *ci, gain.shape[0], unit, stats.BOOTSTRAP,
                              f"mean within-line Spearman over {len(lines)} fixed-|J1| lines, percentile bootstrap over seeds",
                              se=(ci[1] - ci[0]) / (2 * 1.96))
    return pd.DataFrame(rows), estimate


# --- the phase diagrams and the surrogate's prediction ------------------------------------------

def phase_grid(frame: pd.DataFrame, x: str, value: str) -> pd.DataFrame:
    """Seed means of ``value`` as a (gamma rows, high first) x (``x`` columns) grid of a gain table."""
    grid = frame.groupby(["gamma", x])[value].mean().unstack(x).sort_index(ascending=False)
    grid.index = [f"{g:.2f}" for g in grid.index]
    grid.columns = [f"{c:g}" for c in grid.columns]
    return grid


def plot_phase_diagrams(frame: pd.DataFrame, x: str, xlabel: str, title: str) -> None:
    """Measured and predicted seed-mean KD gain over (x, gamma), one shared colour scale."""
    measured, predicted = phase_grid(frame, x, "gain"), phase_grid(frame, x, "pred_gain")
    limit = float(max(np.abs(measured.values).max(), np.abs(predicted.values).max()))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, grid, name in ((axes[0], measured, "measured"), (axes[1], predicted, "predicted (surrogate)")):
        sns.heatmap(grid, ax=ax, cmap="RdBu", center=0.0, vmin=-limit, vmax=limit, annot=True, fmt=".1f",
                    annot_kws={"size": 8}, cbar_kws={"label": "KD gain (points)"})
        ax.set(xlabel=xlabel, ylabel=r"$\gamma$", title=f"KD gain, {name}")
    plotting.finish(fig, title)


def cell_means(frame: pd.DataFrame, keys=("setting", "n")) -> pd.DataFrame:
    """Seed means of the measured and predicted accuracies per cell of a gain table."""
    columns = [c for c in ("gamma", "n_over_d2", "d1_over_d2", "no_kd", "kd", "gain", "pred_no_kd", "pred_kd",
                           "pred_gain", "bayes") if c not in keys]
    return frame.groupby(list(keys))[columns].mean().reset_index()


def plot_prediction(fig2_frame: pd.DataFrame, cells: pd.DataFrame, title: str) -> None:
    """Left: the Fig. 2 gain curve, measured (mean ± std over seeds) and predicted. Right: measured
    vs predicted seed-mean gain in every cell of the phase diagrams, with the identity line."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    per_seed = fig2_frame.pivot(index="seed", columns="gamma", values="gain")
    gamma = per_seed.columns.to_numpy()
    plotting.mean_std_band(left, gamma, per_seed.to_numpy(), label="measured (logistic students)", color="C3")
    predicted = fig2_frame.groupby("gamma")["pred_gain"].mean()
    left.plot(predicted.index, predicted.to_numpy(), "k--", marker="s", label="predicted (finite-n surrogate)")
    left.axhline(0, color="0.3", lw=0.8)
    left.set(xlabel=r"$\gamma$", ylabel="KD gain (points)", title="Fig. 2 settings")
    left.legend(fontsize=8)
    scatter = right.scatter(cells["pred_gain"], cells["gain"], c=np.log2(cells["n_over_d2"]), cmap="viridis", s=25)
    fig.colorbar(scatter, ax=right, label=r"$\log_2(n/d_2)$")
    lo, hi = float(cells[["gain", "pred_gain"]].min().min()) - 0.3, float(cells[["gain", "pred_gain"]].max().max()) + 0.3
    right.plot([lo, hi], [lo, hi], color="0.4", lw=0.8)
    right.set(xlabel="predicted gain (points)", ylabel="measured gain (points)", title="every phase-diagram cell")
    plotting.finish(fig, title)


def prediction_estimate(frame: pd.DataFrame, unit: str, keys=("setting", "n"), num_resamples: int = 2000) -> stats.Estimate:
    """Pearson correlation over cells (rows sharing ``keys``) of the seed-mean predicted and measured
    gain; the percentile bootstrap resamples seeds (a seed's predictions use its own hyperplane and
    teacher)."""
    frame = frame.assign(cell=frame.groupby(list(keys)).ngroup())
    measured = frame.pivot(index="seed", columns="cell", values="gain").to_numpy()
    predicted = frame.pivot(index="seed", columns="cell", values="pred_gain").to_numpy()
    pairs = np.stack([measured, predicted], axis=-1)  # (seeds, cells, 2)

    def correlation(sample):
        mean = sample.mean(axis=0)
        return stats.pearson(mean[:, 1], mean[:, 0])

    point = correlation(pairs)
    ci = stats.bootstrap_ci(pairs, correlation, num_resamples=num_resamples)
    return stats.Estimate(point, *ci, pairs.shape[0], unit, stats.BOOTSTRAP,
                          f"Pearson over {pairs.shape[1]} cells of seed-mean predicted vs measured KD gain, "
                          "percentile bootstrap over seeds", se=(ci[1] - ci[0]) / (2 * 1.96))


# --- the two panels of "Try it yourself" --------------------------------------------------------

def precomputed_panel_view(panel_runs: dict, gamma, num_seeds: int):
    """A view function for :func:`mfh_lib.panels.static_panel` over {(rho, T): KDResults}."""
    accuracy_floor = min(min(float(r.no_kd_acc.min()), float(r.kd_acc.min())) for r in panel_runs.values()) - 2
    gain_max = max(float(r.gain.abs().max()) for r in panel_runs.values()) + 1

    def view(rho, temperature):
        result = panel_runs[(rho, temperature)]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.3))
        plotting.mean_std_band(left, gamma, result.teacher_acc.T, "teacher ($x^a$)")
        plotting.mean_std_band(left, gamma, result.no_kd_acc.T, "no-KD student ($x^b$)")
        plotting.mean_std_band(left, gamma, result.kd_acc.T, "KD student ($x^b$)")
        left.set(xlabel=r"$\gamma$", ylabel="accuracy (%)", ylim=(accuracy_floor, 100))
        left.legend(fontsize=8, loc="upper left")
        plotting.mean_std_band(right, gamma, result.gain.T, "KD gain", color="C3")
        right.axhline(0, color="0.3", lw=0.8)
        right.set(xlabel=r"$\gamma$", ylabel="KD gain (points)", ylim=(-gain_max, gain_max))
        fig.suptitle(rf"$\rho$ = {rho:g}, $T$ = {temperature:g} (mean ± 1 std over {num_seeds} seeds)", fontsize=11)
        fig.tight_layout()
        return fig

    return view


def live_panel(settings, device):
    """An ipywidgets panel that trains any spec live (5 seeds) when its Run button is pressed."""
    import ipywidgets as widgets
    from IPython.display import display

    controls = {
        "d1": widgets.IntSlider(value=25, min=1, max=100, description="d1"),
        "d2": widgets.IntSlider(value=50, min=1, max=100, description="d2"),
        "d": widgets.IntSlider(value=20, min=1, max=100, description="d"),
        "size_J1": widgets.IntSlider(value=10, min=0, max=100, description="|J1|"),
        "size_J2": widgets.IntSlider(value=10, min=0, max=100, description="|J2|"),
        "overlap": widgets.IntSlider(value=10, min=0, max=100, description="overlap"),
        "rho": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="rho"),
        "temperature": widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, description="T"),
        "num_train": widgets.IntSlider(value=200, min=20, max=2000, step=20, description="n train"),
    }
    button = widgets.Button(description="Run", button_style="primary")
    output = widgets.Output()

    def on_run(_):
        with output:
            output.clear_output()
            try:
                v = {k: c.value for k, c in controls.items()}
                spec = spec_from_sizes(v["d1"], v["d2"], v["d"], v["size_J1"], v["size_J2"], v["overlap"])
                live = run_kd([spec], range(5), replace(settings, rho=v["rho"], temperature=v["temperature"],
                                                        num_train=v["num_train"], weighting="paper"), device=device)
            except config.ConfigError as err:
                print(f"invalid setting: {err}")
                return
            display(live.summary())

    button.on_click(on_run)
    values = list(controls.values())
    return widgets.VBox([widgets.HBox([widgets.VBox(values[:5]), widgets.VBox(values[5:])]), button, output])
