"""Tables and figures of the AV-MNIST case study (chapter 01), kept out of its narrative.

Accuracy arrays are per seed (S,) or (gammas G, seeds S), in percent; every interval is a 95%
Student-t interval over seeds and data draws (:func:`mfh_lib.stats.mean_estimate`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from . import formatting, plotting, stats

UNIT = "seeds and data draws"


def plot_pairs(data, source: str) -> None:
    """One training pair per digit: the filtered image above its spectrogram."""
    fig, axes = plt.subplots(2, 10, figsize=(12, 2.8))
    for digit in range(10):
        row = int(torch.nonzero(data.train.y == digit)[0])
        axes[0, digit].imshow(data.train.a[row, 0], cmap="gray")
        axes[1, digit].imshow(data.train.b[row, 0], origin="lower", aspect="auto", cmap="magma")
        axes[0, digit].set_title(str(digit))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("audio")
    plotting.finish(fig, f"One training pair per digit ({source})")


def difference_rows(diffs: dict, title: str) -> pd.DataFrame:
    """One row per named paired difference (S,): its mean and 95% interval."""
    rows = []
    for name, diff in diffs.items():
        s = stats.mean_estimate(diff, unit=UNIT)
        rows.append({"difference (pp)": name, "mean": formatting.fmt(s.point, 2), "95% CI": formatting.interval(s.ci_low, s.ci_high)})
    return pd.DataFrame(rows).set_index("difference (pp)").rename_axis(title)


def plot_differences(diffs: dict, source: str) -> None:
    """Every seed's value of each paired difference, with the mean."""
    frame = pd.DataFrame([{"comparison": name, "seed": i, "difference (pp)": float(v)}
                          for name, diff in diffs.items() for i, v in enumerate(diff)])
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(diffs) + 1))
    sns.stripplot(data=frame, y="comparison", x="difference (pp)", hue="comparison", legend=False, size=6, ax=ax, jitter=0.1)
    means = frame.groupby("comparison", sort=False)["difference (pp)"].mean()
    ax.scatter(means.values, range(len(means)), marker="|", s=400, color="black", label="mean")
    ax.axvline(0, color="grey", lw=1)
    ax.set_ylabel("")
    ax.legend(loc="lower right")
    plotting.finish(fig, f"Paired per-seed differences in test accuracy ({source})")


def gamma_table(gammas, accuracies: dict, differences: dict, agreement, title: str) -> pd.DataFrame:
    """One row per gamma: the share of training pairs whose audio is of the label's digit
    (``agreement`` (G,), in [0, 1]), each model's accuracy (mean ± std of (G, S) arrays) and each
    paired difference (mean and 95% interval)."""
    table = {"audio of the label's digit, train (%)": [formatting.fmt(100 * a, 1) for a in agreement],
             **{name: [formatting.mean_std(row) for row in acc] for name, acc in accuracies.items()}}
    for name, diff in differences.items():
        estimates = [stats.mean_estimate(row, unit=UNIT) for row in diff]
        table[f"{name} (pp)"] = [f"{formatting.fmt(e.point, 2)} {formatting.interval(e.ci_low, e.ci_high)}" for e in estimates]
    return pd.DataFrame(table, index=pd.Index([f"{g:g}" for g in gammas], name=title))


def plot_gamma_gains(gammas, differences: dict, title: str) -> None:
    """Each paired difference (G, S) against gamma: the mean with its 95% interval, and every seed."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for offset, (name, diff) in zip(np.linspace(-0.01, 0.01, len(differences)), differences.items()):
        estimates = [stats.mean_estimate(row, unit=UNIT) for row in diff]
        x = np.asarray(gammas, dtype=float) + offset
        points = np.array([e.point for e in estimates])
        errors = np.array([[e.point - e.ci_low for e in estimates], [e.ci_high - e.point for e in estimates]])
        line = ax.errorbar(x, points, yerr=errors, marker="o", capsize=4, label=f"{name} (mean, 95% CI)")
        ax.plot(np.repeat(x[:, None], diff.shape[1], axis=1), diff, ls="none", marker=".", alpha=0.4, color=line[0].get_color())
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("gamma: share of pairs whose audio carries the image's digit")
    ax.set_ylabel("student accuracy difference (pp)")
    ax.legend(fontsize=8)
    plotting.finish(fig, title)
