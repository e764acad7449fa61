"""Pictures and viewers: a door like the accessor; nothing below imports it.

Importing `pycrox.viz` imports matplotlib (the ``pycrox[plot]`` extra); ``import pycrox`` does not.
"""

from pycrox.viz._labels import axis_label, label, with_labels
from pycrox.viz._scalebar import ScaleBar, add_scale_bar, nice_length
from pycrox.viz.plot import choose, plot
from pycrox.viz.preview import contact_sheet, preview

__all__ = [
    "ScaleBar",
    "add_scale_bar",
    "axis_label",
    "choose",
    "contact_sheet",
    "label",
    "nice_length",
    "plot",
    "preview",
    "with_labels",
]
