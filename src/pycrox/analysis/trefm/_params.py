"""Turn the user's trEFM arguments (numbers or strings with units) into a `Chain` in SI units."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pint
import xarray as xr

from pycrox import units
from pycrox.analysis._dims import coordinate_spacing, coordinate_units, quantity_in, resolve_dims
from pycrox.analysis.trefm._signal import Chain
from pycrox.errors import ArgumentError, DimensionError, UnitError

__all__ = ["Setup", "setup"]


class Setup:
    """The time dim, its sampling, and the chain's parameters, checked against the record."""

    def __init__(
        self, dim: Hashable, time_scale: float, start: float, chain: Chain, roi_samples: int
    ) -> None:
        self.dim = dim
        self.time_scale = time_scale  # seconds per coordinate unit
        self.start = start  # the first time, in coordinate units
        self.chain = chain
        self.roi_samples = roi_samples

    def parameters(self) -> dict[str, Any]:
        """JSON-like SI parameters for provenance."""
        c = self.chain
        return {
            "sampling_rate_Hz": c.sampling_rate,
            "trigger_index": c.trigger_index,
            "drive_frequency_Hz": c.drive_frequency,
            "filter_bandwidth_Hz": c.filter_bandwidth,
            "n_taps": c.n_taps,
            "window": c.window,
            "dc_width_Hz": c.dc_width,
            "check_drive": c.check_drive,
            "roi_samples": self.roi_samples,
        }


def setup(
    da: xr.DataArray,
    dim: Hashable | None,
    func: str,
    *,
    trigger: Any,
    total_time: Any,
    roi: Any,
    drive_frequency: Any,
    filter_bandwidth: Any,
    n_taps: int,
    window: Any,
    dc_width: Any,
    check_drive: bool,
) -> Setup:
    """Check the time axis and the arguments; raise clear errors for what does not fit."""
    (time_dim,) = _time_dim(da, dim, func)
    unit, quantity = coordinate_units(da, time_dim)
    if not unit:
        raise UnitError(
            f"{func}: the time coordinate {time_dim!r} has no units; set them, e.g. "
            f"da[{time_dim!r}].attrs['units'] = 's'"
        )
    try:
        scale = float(units.ureg.Quantity(1.0, units.parse(unit, quantity)).to("s").m)
    except (pint.errors.DimensionalityError, UnitError) as exc:
        raise UnitError(f"{func}: the coordinate {time_dim!r} is in {unit!r}, not a time: {exc}") from None
    n = da.sizes[time_dim]
    step = coordinate_spacing(da, time_dim, func) * scale
    if step <= 0:
        raise DimensionError(f"{func}: the time coordinate {time_dim!r} must increase")
    sampling_rate = 1.0 / step
    start = float(da.coords[time_dim].values[0]) if time_dim in da.coords else 0.0
    if total_time is not None:
        total = _seconds(total_time, unit, quantity, scale, func, "total_time")
        if not np.isclose(total * sampling_rate, n, rtol=1e-6, atol=0.5):
            raise DimensionError(
                f"{func}: total_time={total_time!r} is {total * sampling_rate:.1f} samples but {time_dim!r} has "
                f"{n} at {sampling_rate:g} Hz; leave total_time out (it is read from the coordinate)"
            )
    total = n / sampling_rate
    trigger_s = _seconds(trigger, unit, quantity, scale, func, "trigger", offset=start * scale)
    if not 0 < trigger_s < total:
        raise DimensionError(
            f"{func}: trigger={trigger!r} lies outside the record ({start:g} to {start + (n - 1) * step / scale:g} "
            f"{unit}); give the time of the trigger on the {time_dim!r} axis"
        )
    trigger_index = int(trigger_s * sampling_rate)  # as FFTA: int(), so rounding can land one sample early
    if trigger_index < 2:
        raise DimensionError(f"{func}: trigger={trigger!r} leaves fewer than 2 samples before it")
    if roi is None:
        roi_s = 0.3 * (total - trigger_s)
    else:
        roi_s = _seconds(roi, unit, quantity, scale, func, "roi")
        if roi_s <= 0 or roi_s > total - trigger_s + 0.5 / sampling_rate:
            raise DimensionError(
                f"{func}: roi={roi!r} does not fit between the trigger and the end of the record "
                f"({(total - trigger_s) / scale:g} {unit} long)"
            )
    drive = None if drive_frequency is None else _hertz(drive_frequency, func, "drive_frequency")
    bandwidth = _hertz(filter_bandwidth, func, "filter_bandwidth")
    dc = _hertz(dc_width, func, "dc_width")
    if isinstance(n_taps, bool) or int(n_taps) != n_taps or n_taps < 3 or n_taps % 2 == 0:
        raise ArgumentError(f"{func}: n_taps must be an odd integer >= 3, got {n_taps!r}")
    if drive is not None and not 0 < drive - bandwidth / 2 < drive + bandwidth / 2 < sampling_rate / 2:
        raise ArgumentError(
            f"{func}: the band {drive:g} ± {bandwidth / 2:g} Hz must lie between 0 and the Nyquist frequency "
            f"{sampling_rate / 2:g} Hz"
        )
    chain = Chain(
        sampling_rate=sampling_rate,
        trigger_index=trigger_index,
        drive_frequency=drive,
        filter_bandwidth=bandwidth,
        n_taps=int(n_taps),
        window=window,
        dc_width=dc,
        check_drive=bool(check_drive),
    )
    return Setup(time_dim, scale, start, chain, int(roi_s * sampling_rate + 1e-6))


def _time_dim(da: xr.DataArray, dim: Hashable | None, func: str) -> tuple[Hashable]:
    dims = resolve_dims(da, dim, default_type="TEMPORAL", func=func)
    if len(dims) != 1:
        raise DimensionError(f"{func}: needs one time dim, got {list(dims)}; pass dim='time'")
    return dims  # type: ignore[return-value]


def _seconds(
    value: Any, unit: str, quantity: str, scale: float, func: str, name: str, offset: float = 0.0
) -> float:
    """A time in seconds: a number in the coordinate's units, or a string / quantity with units."""
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return float(value) * scale - offset
    return quantity_in(value, "s", "Time", func, name) - offset


def _hertz(value: Any, func: str, name: str) -> float:
    """A frequency in Hz: a number is taken as Hz, a string such as ``"5 kHz"`` is converted."""
    result = quantity_in(value, "Hz", "Frequency", func, name)
    if not np.isfinite(result) or result <= 0:
        raise ArgumentError(f"{func}: {name}={value!r} must be a positive frequency")
    return result
