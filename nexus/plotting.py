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


def _plain(value, _pos=None) -> str:
    """A tick label as a plain number (2,000 or 0.005), never as 2×10³."""
    if value == 0:
        return "0"
    if abs(value) >= 1:
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:.6f}".rstrip("0").rstrip(".")


GUIDES = {"O(1)": 0, "O(log n)": None, "O(n)": 1, "O(n log n)": None, "O(n²)": 2}


def _guide(name: str, xs, x0: float, y0: float):
    import numpy as np

    xs = np.asarray(sorted(xs), dtype=float)
    if name == "O(log n)":
        return xs, y0 * np.log2(xs + 1) / np.log2(x0 + 1)
    if name == "O(n log n)":
        return xs, y0 * (xs * np.log2(xs + 1)) / (x0 * np.log2(x0 + 1))
    return xs, y0 * (xs / x0) ** GUIDES[name]


def growth_plot(df, *, x="size", y="seconds", hue="variant", title="", xlabel=None,
                ylabel="seconds (median)", logx=True, logy=True, ax=None, guides=(), anchor=None):
    """Plot ``y`` against ``x`` with one line per ``hue`` value; returns the Axes.

    Ticks are plain numbers. ``guides`` names reference slopes to draw as dotted lines through
    the first point of the ``anchor`` series (default: the first series), for example
    ``guides=("O(1)", "O(n)")``: a measured line parallel to a guide grows at that rate.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    use_style()
    if ax is None:
        _, ax = plt.subplots()
    series = list(df.groupby(hue, sort=False))
    for label, group in series:
        group = group.sort_values(x)
        ax.plot(group[x], group[y], marker="o", label=str(label))
    if guides:
        unknown = set(guides) - set(GUIDES)
        if unknown:
            raise ValueError(f"unknown guide(s) {sorted(unknown)}; choose from {list(GUIDES)}")
        base = dict(series)[anchor] if anchor is not None else series[0][1]
        base = base.sort_values(x)
        x0, y0 = float(base[x].iloc[0]), float(base[y].iloc[0])
        for name, style in zip(guides, (":", "--", "-.", (0, (1, 3)), (0, (5, 5))), strict=False):
            gx, gy = _guide(name, df[x].unique(), x0, y0)
            ax.plot(gx, gy, linestyle=style, color="grey", linewidth=1, label=f"{name} guide")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    for axis, is_log in ((ax.xaxis, logx), (ax.yaxis, logy)):
        axis.set_major_formatter(FuncFormatter(_plain))
        if is_log:
            axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
