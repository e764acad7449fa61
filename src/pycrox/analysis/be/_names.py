"""BGlib's compound field names of band-excitation results, and pycrox's variable names for them.

BGlib stores SHO results as compound ``sho32`` (``Guess`` and ``Fit`` of an ``SHO_Fit`` results
group), loop results as ``loop_fit32``, the projection metrics as ``loop_metrics32`` and the
switching parameters as ``switching32`` (``Loop_Fit`` results group). Each table maps pycrox's
variable name to BGlib's field name, in BGlib's field order.
"""

from __future__ import annotations

__all__ = ["LOOP_FIT", "LOOP_METRICS", "SHO", "SWITCHING", "from_bglib"]

SHO = {
    "amplitude": "Amplitude [V]",
    "resonance_frequency": "Frequency [Hz]",
    "quality_factor": "Quality Factor",
    "phase": "Phase [rad]",
    "r2": "R2 Criterion",
}
LOOP_FIT = {
    **{name: name for name in ("a_0", "a_1", "a_2", "a_3", "a_4", "b_0", "b_1", "b_2", "b_3")},
    "r2": "R2 Criterion",
}
LOOP_METRICS = {
    "area": "Area",
    "centroid_x": "Centroid x",
    "centroid_y": "Centroid y",
    "rotation": "Rotation Angle [rad]",
    "offset": "Offset",
}
SWITCHING = {
    "v_plus": "V+",
    "v_minus": "V-",
    "imprint": "Imprint",
    "r_plus": "R+",
    "r_minus": "R-",
    "switchable_polarization": "Switchable Polarization",
    "work_of_switching": "Work of Switching",
    "nucleation_bias_1": "Nucleation Bias 1",
    "nucleation_bias_2": "Nucleation Bias 2",
}
_TO_PYCROX = {
    bglib: ours for table in (SHO, LOOP_FIT, LOOP_METRICS, SWITCHING) for ours, bglib in table.items()
}


def from_bglib(name: str) -> str:
    """Pycrox's variable name for a BGlib field name (the name itself when it is not one)."""
    return _TO_PYCROX.get(name, name)
