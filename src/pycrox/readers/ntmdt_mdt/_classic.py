"""Classic MDT frames: scanned images (0), spectroscopy curves (1) and point curves (201).

After the 22-byte frame header comes a block of ``var_size`` bytes of scan variables: three axis
scales (x, y, z: offset ``float32``, step ``float32``, unit code ``int16``), then the ADC channel
(``uint8``), the device mode (``uint8``), the scan size, the step length (Å), ADC settings, the
scan direction bits (``uint8``: 1 horizontal, 2 left, 4 bottom, 128 double pass), the velocity
(Å/s), the set point (nA), the bias voltage (V) and the DAC offsets (73 bytes are read). Then the
frame mode: mode, ``xres``, ``yres`` and the number of dots (four ``uint16``); with dots, a dots
header (header size, coordinate size, version: ``int32``; the x/y unit code: ``int16``) and per
dot its ``x, y`` (``float32``) and the forward and backward curve lengths (``int32``); then
``xres * yres`` ``int16`` values; then the title (``uint32`` length + cp1251 text) and the XML
parameters (``uint32`` length + UTF-16LE text), each only when more than 4 bytes remain. A value
is ``z offset + z step * raw`` in the z unit. Point-curve frames (201) keep their curves, forward
then backward per dot, at the start of the ``int16`` block. This is the layout Gwyddion's
``nt-mdt.c`` reads and the kaitai ``nt_mdt.ksy`` describes.
"""

from __future__ import annotations

import struct
from typing import Any

from pycrox.readers.ntmdt_mdt._cursor import Cursor

__all__ = ["ADC_MODES", "KINDS", "UNITS", "VARS_SIZE", "parse", "unit"]

KINDS = (0, 1, 201)
_AXIS = "<ffh"
_VARS = "<BBHHHfHBBBBBBfffBBiiB"
#: bytes of scan variables read (three axis scales, then the scan settings)
VARS_SIZE = 3 * struct.calcsize(_AXIS) + struct.calcsize(_VARS)
_DOTS_HEADER = "<iiih"
_DOT = "<ffii"

#: MDT unit codes (the ``MDTUnit`` table of the format) -> unit text
UNITS = {
    -10: "1/cm",
    -5: "m",
    -4: "cm",
    -3: "mm",
    -2: "µm",
    -1: "nm",
    0: "Å",
    1: "nA",
    2: "V",
    3: "",
    4: "kHz",
    5: "deg",
    6: "%",
    7: "°C",
    8: "V",
    9: "s",
    10: "ms",
    11: "µs",
    12: "ns",
    13: "",
    14: "px",
    20: "A",
    21: "mA",
    22: "µA",
    23: "nA",
    24: "pA",
    25: "V",
    26: "mV",
    27: "µV",
    28: "nV",
    29: "pV",
    30: "N",
    31: "mN",
    32: "µN",
    33: "nN",
    34: "pN",
}

#: ADC channel codes (``s_mode``) -> the channel name
ADC_MODES = {
    255: "Off",
    0: "Height",
    1: "DFL",
    2: "Lateral F",
    3: "Bias V",
    4: "Current",
    5: "FB-Out",
    6: "MAG",
    7: "MAG*Sin",
    8: "MAG*Cos",
    9: "RMS",
    10: "CalcMag",
    11: "Phase1",
    12: "Phase2",
    13: "CalcPhase",
    14: "Ex1",
    15: "Ex2",
    16: "HvX",
    17: "HvY",
    18: "Snap Back",
}


def unit(code: int) -> str:
    """The unit text of an MDT unit code (``""`` for none or an unknown code)."""
    return UNITS.get(int(code), "")


def parse(r: Cursor, var_size: int, ftype: int) -> dict[str, Any]:
    """The scan variables, frame mode, dots, data offset, title and XML of a classic frame.

    Raises
    ------
    FormatError
        When the variables are shorter than the fields read, or the dots or data run past the
        frame (the message names the file and offset).
    """
    if var_size < VARS_SIZE:
        raise r.fail(
            f"frame of type {ftype} has {var_size} bytes of scan variables; at least {VARS_SIZE} needed"
        )
    axes = {}
    for axis in "xyz":
        offset, step, code = r.take(_AXIS)
        axes[axis] = {"offset": offset, "step": step, "unit_code": code, "unit": unit(code)}
    (
        channel,
        mode,
        xres,
        yres,
        ndacq,
        step_length,
        adt,
        adc_gain,
        adc_index,
        version,
        pass_num,
        scan_dir,
        power_of_2,
        velocity,
        setpoint,
        bias,
        draw,
        _reserved,
        xoff,
        yoff,
        nl_corr,
    ) = r.take(_VARS)
    scan = {
        "channel": channel,
        "adc_mode": ADC_MODES.get(channel, str(channel)),
        "mode": mode,
        "xres": xres,
        "yres": yres,
        "ndacq": ndacq,
        "step_length_angstrom": step_length,
        "adt": adt,
        "adc_gain_log10": adc_gain,
        "adc_index": adc_index,
        "version": version,
        "pass_num": pass_num,
        "scan_dir": scan_dir,
        "power_of_2": bool(power_of_2),
        "velocity_angstrom_per_s": velocity,
        "setpoint_nA": setpoint,
        "bias_V": bias,
        "draw": bool(draw),
        "x_offset_dac": xoff,
        "y_offset_dac": yoff,
        "nonlinearity_corrected": bool(nl_corr),
    }
    r.pos = var_size
    fm_mode, fm_xres, fm_yres, ndots = r.take("<HHHH")
    dots: dict[str, Any] = {}
    if ndots:
        header_size, coord_size, dots_version, xy_code = r.take(_DOTS_HEADER)
        points = [r.take(_DOT) for _ in range(ndots)]
        dots = {
            "header_size": header_size,
            "coord_size": coord_size,
            "version": dots_version,
            "unit": unit(xy_code),
            "x": [p[0] for p in points],
            "y": [p[1] for p in points],
            "forward": [p[2] for p in points],
            "backward": [p[3] for p in points],
        }
        if min(dots["forward"] + dots["backward"]) < 0:
            raise r.fail("a dot claims a negative curve length")
    data_offset = r.pos
    count = fm_xres * fm_yres
    if ftype == 201 and sum(dots.get("forward", [])) + sum(dots.get("backward", [])) > count:
        raise r.fail(
            f"the dots' curves hold {sum(dots['forward']) + sum(dots['backward'])} values but the "
            f"frame mode declares {fm_xres}x{fm_yres}",
            at=data_offset,
        )
    if 2 * count > r.remaining():
        raise r.fail(
            f"the {fm_yres}x{fm_xres} int16 data at {r.base + data_offset} run past the frame "
            f"ending at {r.end} (truncated?)",
            at=data_offset,
        )
    r.pos += 2 * count
    title = xml = ""
    if r.remaining() > 4:
        (length,) = r.take("<I")
        if length and r.remaining() >= length:
            title = r.raw(length).decode("cp1251", errors="replace")
    if r.remaining() > 4:
        (length,) = r.take("<I")
        if length and r.remaining() >= length:
            xml = r.raw(length).decode("utf-16-le", errors="replace")
    return {
        "axes": axes,
        "scan": scan,
        "frame_mode": {"mode": fm_mode, "xres": fm_xres, "yres": fm_yres, "ndots": ndots},
        "dots": dots,
        "data_offset": r.base + data_offset,
        "title": title.rstrip("\x00"),
        "xml": xml.lstrip("\ufeff").rstrip("\x00"),
    }
