"""Elemental quantification of core-loss EELS: background-subtracted edge integrals / cross-sections."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import quantity_in
from pycrox.analysis.eels._common import EELSError, energy_axis, experimental
from pycrox.analysis.eels.background import background
from pycrox.analysis.eels.cross_sections import hydrogenic_k, hydrogenic_l
from pycrox.analysis.eels.edges import atomic_number, edge_onset

__all__ = ["composition"]


def composition(
    da: xr.DataArray,
    elements: Sequence[str],
    *,
    shells: Mapping[str, str] | None = None,
    window: Any = 50.0,
    background_width: Any = 30.0,
    cross_sections: Mapping[str, float] | None = None,
    beam_energy: Any = None,
    collection_angle: Any = None,
    convergence_angle: Any = None,
    dim: Hashable | None = None,
) -> xr.Dataset:
    """Atomic fractions from core-loss edges: integrate each edge after a power-law background fit.

    Parameters
    ----------
    da : xarray.DataArray
        Core-loss spectra (one or a spectrum image) holding every edge with its pre-edge region;
        numpy- or dask-backed.
    elements : sequence of str
        Element symbols, e.g. ``["B", "N"]``.
    shells : mapping, optional
        ``{element: shell}`` with shell ``"K"`` or ``"L23"`` (the L2,3 edge from the L3 onset, with
        the L1 contribution where the window reaches past the L1 onset); default ``"K"`` for every
        element. Other shells (``"M45"``, ``"L3"``, ...) need their cross-section in
        `cross_sections`: pycrox has no hydrogenic model for them.
    window : float or str, optional
        Integration width above each onset (a number is in eV), default 50 eV.
    background_width : float or str, optional
        Width of the power-law fit window that ends 1 eV below each onset, default 30 eV.
    cross_sections : mapping, optional
        ``{element: sigma}`` in nm^2 (numbers) or strings with units, integrated over `window`,
        replacing the hydrogenic value.
    beam_energy, collection_angle, convergence_angle : float, str or pint.Quantity, optional
        Default from ``attrs["metadata"]`` (numbers in keV and mrad); the convergence angle
        defaults to 0 (parallel beam).
    dim : hashable, optional
        The energy dim; default the single SPECTRAL dim.

    Returns
    -------
    xarray.Dataset
        Over a dim ``element``: ``atomic_fraction`` per pixel, ``intensity`` (edge integral, data
        units times channels), ``cross_section`` [nm^2], ``onset`` [eV], and the background fits'
        ``r2`` and ``converged``. Lazy if `da` is.

    Raises
    ------
    EELSError
        An unknown element or edge, no cross-section model for a shell, a window outside the data,
        a missing beam energy or collection angle.

    Notes
    -----
    Egerton (2011), section 4.5: ``N_a / N_b = (I_a / sigma_a) / (I_b / sigma_b)`` with
    hydrogenic K- and L-shell cross-sections ``sigma(beta, Delta)`` (see
    `pycrox.analysis.eels.cross_sections.hydrogenic_k` and ``hydrogenic_l``); the low-loss intensity
    cancels in the ratios.
    """
    func = "eels.composition"
    axis, energy = energy_axis(da, dim, func)
    elements = [elements] if isinstance(elements, str) else list(elements)
    if not elements:
        raise EELSError(f"{func}: give at least one element, e.g. elements=['B', 'N']")
    shells = dict(shells or {})
    width = quantity_in(window, "eV", "energy", func, "window")
    pre = quantity_in(background_width, "eV", "energy", func, "background_width")
    needs_model = any(el not in (cross_sections or {}) for el in elements)
    e0 = experimental(da, "beam_energy", beam_energy, func) if needs_model else None
    beta = experimental(da, "collection_angle", collection_angle, func) if needs_model else None
    alpha = experimental(da, "convergence_angle", convergence_angle, func, default=0.0)
    step = energy[1] - energy[0]
    intensities, sigmas, onsets, r2s, convs = [], [], [], [], []
    for el in elements:
        shell = shells.get(el, "K")
        onset = edge_onset(el, shell)
        fit = background(da, (onset - pre - 1.0, onset - 1.0), "powerlaw", dim=axis)
        inside = (energy >= onset) & (energy < onset + width)
        if energy[-1] < onset + width - step:
            raise EELSError(
                f"{func}: the {el} {shell} window {onset:g} to {onset + width:g} eV runs past the data's end "
                f"({energy[-1]:g} eV); use a smaller window="
            )
        channels = np.flatnonzero(inside)
        intensities.append(fit.subtracted.isel({axis: slice(channels[0], channels[-1] + 1)}).sum(axis))
        sigmas.append(_cross_section(el, shell, onset, width, cross_sections, e0, beta, alpha, func))
        onsets.append(onset)
        r2s.append(fit.r2)
        convs.append(fit.converged)
    index = xr.DataArray(elements, dims=("element",), name="element")
    intensity = xr.concat(intensities, dim=index)
    sigma = xr.DataArray(np.array(sigmas), dims=("element",), coords={"element": elements})
    amount = intensity / sigma
    fraction = amount / amount.sum("element")
    result = xr.Dataset(
        {
            "atomic_fraction": fraction.assign_attrs(units="", long_name="atomic fraction"),
            "intensity": intensity.assign_attrs(
                units=str(da.attrs.get("units", "") or ""), long_name="edge integral"
            ),
            "cross_section": sigma.assign_attrs(units="nm^2", long_name="partial ionisation cross-section"),
            "onset": xr.DataArray(
                onsets, dims=("element",), attrs={"units": "eV", "long_name": "edge onset"}
            ),
            "r2": xr.concat(r2s, dim=index).assign_attrs(units="", long_name="background fit R^2"),
            "converged": xr.concat(convs, dim=index).assign_attrs(long_name="background fit converged"),
        }
    )
    return provenance.record(
        result,
        func,
        source=da,
        elements=elements,
        shells=shells,
        window=width,
        background_width=pre,
        cross_sections=dict(cross_sections or {}),
        beam_energy=e0,
        collection_angle=beta,
        convergence_angle=alpha,
    )


def _cross_section(
    el: str,
    shell: str,
    onset: float,
    width: float,
    given: Mapping[str, Any] | None,
    e0: float | None,
    beta: float | None,
    alpha: float,
    func: str,
) -> float:
    if given and el in given:
        return quantity_in(given[el], "nm^2", "area", func, f"cross_sections[{el!r}]")
    if shell not in ("K", "L23"):
        raise EELSError(
            f"{func}: pycrox computes hydrogenic cross-sections for K and L23 edges only (no licence-clean "
            f"M-shell model is available); give the {el} {shell} value with "
            f"cross_sections={{'{el}': sigma_in_nm2}}, e.g. from a Hartree-Slater or GOSH table"
        )
    if e0 is None or beta is None:
        raise EELSError(f"{func}: the {el} cross-section needs beam_energy= and collection_angle=")
    z = atomic_number(el)
    if shell == "K":
        return hydrogenic_k(z, onset, width, e0, beta, alpha)
    if z < 11:
        raise EELSError(
            f"{func}: {el} (Z={z}) has no inner L shell for the hydrogenic L model (sodium and heavier); give "
            f"the value with cross_sections={{'{el}': sigma_in_nm2}}"
        )
    return hydrogenic_l(z, onset, width, e0, beta, alpha, l1_onset=edge_onset(el, "L1"))
