"""One plot style for the whole book, and the growth plot most chapters draw."""

from __future__ import annotations

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "font.size": 10,
}


def use_style() -> None:
    """Apply the book's plot style (small PNGs, light grid) and the inline backend."""
    import matplotlib

    matplotlib.rcParams.update(STYLE)


def growth_plot(df, *, x="size", y="seconds", hue="variant", title="", xlabel=None,
                ylabel="seconds (median)", logx=True, logy=True, ax=None):
    """Plot ``y`` against ``x`` with one line per ``hue`` value; returns the Axes."""
    import matplotlib.pyplot as plt

    use_style()
    if ax is None:
        _, ax = plt.subplots()
    for label, group in df.groupby(hue, sort=False):
        group = group.sort_values(x)
        ax.plot(group[x], group[y], marker="o", label=str(label))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
