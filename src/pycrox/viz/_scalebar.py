"""A scale bar with a round length (1, 2 or 5 times a power of ten) in the axes' data units."""

from __future__ import annotations

import math
from typing import Any

import pint
from matplotlib import patheffects
from matplotlib.axes import Axes
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # type: ignore[import-untyped]

from pycrox import units as pycrox_units
from pycrox.errors import UnitError

__all__ = ["ScaleBar", "add_scale_bar", "bar_text", "nice_length"]


def nice_length(span: float, fraction: float = 0.2) -> float:
    """The largest round length (1, 2 or 5 × 10ⁿ) not longer than ``fraction * span``.

    Parameters
    ----------
    span : float
        Width of the field of view, in data units (positive).
    fraction : float, optional
        Longest bar as a fraction of `span`.

    Returns
    -------
    float
        The bar length, in the units of `span`; 0.0 when `span` is not positive and finite.

    Examples
    --------
    >>> nice_length(128.0), nice_length(3.3), nice_length(0.049)
    (20.0, 0.5, 0.005)
    """
    target = abs(span) * fraction
    if not math.isfinite(target) or target <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(target))
    step = max(m for m in (1.0, 2.0, 5.0, 10.0) if m * power <= target * (1 + 1e-9))
    return float(f"{step * power:.12g}")


_LENGTH_UNITS = ("nm", "µm", "mm", "m", "pm")


def bar_text(length: float, units: str) -> str:
    """The bar's label: `length` in `units`, or in nm/µm/mm/m/pm when that reads between 0.1 and 1000.

    Examples
    --------
    >>> bar_text(0.0005, "µm"), bar_text(20.0, "nm"), bar_text(2.0, "1/nm")
    ('0.5 nm', '20 nm', '2 1/nm')
    """
    if 0.1 <= length < 1000 or not units:
        return f"{length:g} {units}".strip()
    try:
        quantity = length * pycrox_units.parse(units, quantity="Length")
        if not quantity.is_compatible_with("m"):
            return f"{length:g} {units}"
        for target in _LENGTH_UNITS:
            value = float(quantity.to(target).magnitude)
            if 0.1 <= value < 1000:
                return f"{float(f'{value:.6g}'):g} {target}"
    except (UnitError, pint.PintError):
        pass
    return f"{length:g} {units}"


class ScaleBar(AnchoredSizeBar):
    """A scale bar that remembers its `length` and `units` (what the picture tests read)."""

    def __init__(self, axes: Axes, length: float, units: str, **kwargs: Any) -> None:
        self.length, self.units = length, units
        text = bar_text(length, units)
        options = {
            "loc": "lower right",
            "pad": 0.4,
            "borderpad": 0.6,
            "sep": 3,
            "frameon": False,
            "color": "white",
            "size_vertical": 0.0,
            **kwargs,
        }
        super().__init__(axes.transData, length, text, **options)

    @property
    def bar(self) -> Any:
        """The drawn rectangle (its width is `length` in data units)."""
        return self.size_bar.get_children()[0]


def add_scale_bar(ax: Axes, span: float, units: str, height: float = 0.0, **kwargs: Any) -> ScaleBar | None:
    """Add a `ScaleBar` of round length to the lower right of an image drawn in data units.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes showing an image whose x axis is in `units`.
    span : float
        Width of the field of view along x, in `units`.
    units : str
        The unit the bar's label names.
    height : float, optional
        Height of the field of view, in data units; the bar is 1.5 % of it thick.
    **kwargs
        Passed to `mpl_toolkits.axes_grid1.anchored_artists.AnchoredSizeBar`.

    Returns
    -------
    ScaleBar or None
        The bar added, or None when `span` gives no positive round length.
    """
    length = nice_length(span)
    if length <= 0:
        return None
    bar = ScaleBar(ax, length, units, size_vertical=abs(height) * 0.015, **kwargs)
    outline = [patheffects.withStroke(linewidth=2, foreground="black")]
    bar.bar.set_edgecolor("black")  # the outlines keep the white bar and text visible on bright images
    bar.bar.set_linewidth(0.5)
    bar.txt_label._text.set_path_effects(outline)
    ax.add_artist(bar)
    return bar
