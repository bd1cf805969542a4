"""Plot helpers with one look across the book."""
from __future__ import annotations

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns


def use_book_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (6.4, 4.0)})


def mean_std_band(ax, x, per_seed_y, label: str, marker: str = "o", **kwargs):
    """Plot the seed mean of ``per_seed_y`` (seeds, len(x)) with a ±1 std band."""
    y = np.asarray(per_seed_y, dtype=float)
    mean, std = y.mean(axis=0), y.std(axis=0, ddof=1) if y.shape[0] > 1 else np.zeros(y.shape[1])
    (line,) = ax.plot(x, mean, marker=marker, label=label, **kwargs)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    return line


def finish(fig, title: str | None = None):
    """Tight layout, optional suptitle, and show (inline backends render it into the notebook)."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
