"""Hydrogenic K-shell ionisation cross-sections (Egerton's model), integrated over an energy window.

The generalised oscillator strength (GOS) of a hydrogen-like 1s shell with screened charge
``Zs = Z - 0.5`` (Bethe 1930; Egerton 2011, section 3.6.1 and the program SIGMAK) is integrated
over the scattering vector between the limits set by the collection semi-angle (small-angle,
relativistic kinematics) and over the energy window above the onset. A convergence semi-angle is
taken into account through an effective collection angle (Egerton 2011, section 4.5.4).
"""

from __future__ import annotations

import numpy as np

from pycrox.analysis.eels._common import EELSError, relativistic

__all__ = ["effective_collection_angle", "hydrogenic_k"]

#: Rydberg energy [eV]
RYDBERG = 13.605693
#: 4 pi a0^2 in nm^2
FOUR_PI_A0_SQUARED = 4 * np.pi * 0.0529177210903**2


def _gos_k(energy: np.ndarray, q: np.ndarray, zs: float) -> np.ndarray:
    """Hydrogenic 1s GOS per eV (for both electrons) at energy loss `energy` and ``Q = (q a0)^2``."""
    qs = q / zs**2
    kh2 = energy / (RYDBERG * zs**2) - 1.0
    akh = np.maximum(np.sqrt(np.abs(kh2)), 0.1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        above = kh2 >= 0
        d = np.where(above, 1.0 - np.exp(-2 * np.pi / akh), 1.0)
        bp = np.arctan(2 * akh / (qs - kh2 + 1.0))
        bp = np.where(bp < 0, bp + np.pi, bp)
        c_above = np.exp(-2.0 / akh * bp)
        ratio = (qs + 1.0 - kh2 + 2 * akh) / (qs + 1.0 - kh2 - 2 * akh)
        c_below = np.exp(-1.0 / akh * np.log(np.abs(ratio)))
        c = np.where(above, c_above, c_below)
        a = ((qs - kh2 + 1.0) ** 2 + 4 * kh2) ** 3
        return 256.0 * energy * (qs + kh2 / 3.0 + 1.0 / 3.0) * c / (a * d * RYDBERG**2 * zs**4)


def hydrogenic_k(
    z: int,
    onset: float,
    window: float,
    beam_energy: float,
    collection_angle: float,
    convergence_angle: float = 0.0,
) -> float:
    """K-shell cross-section [nm^2] integrated from `onset` to ``onset + window`` (eV).

    Parameters
    ----------
    z : int
        Atomic number (3 and more).
    onset, window : float
        Edge onset and integration width in eV.
    beam_energy : float
        keV.
    collection_angle, convergence_angle : float
        Semi-angles in mrad.

    Returns
    -------
    float
        The partial cross-section sigma(beta, Delta) in nm^2 per atom.
    """
    if z < 3:
        raise EELSError(f"hydrogenic cross-sections start at lithium (Z=3), not Z={z}")
    zs = z - 0.5
    gamma, t_ev, _ = relativistic(beam_energy)
    energies = onset + np.linspace(0.0, window, 129)
    beta = np.array(
        [effective_collection_angle(beam_energy, e, convergence_angle, collection_angle) for e in energies]
    )
    k0a0_sq = gamma**2 * t_ev / RYDBERG
    theta_e = energies / (2 * gamma * t_ev)
    q_min = k0a0_sq * theta_e**2
    q_max = k0a0_sq * (theta_e**2 + (beta * 1e-3) ** 2)
    steps = np.linspace(0.0, 1.0, 129)
    log_q = np.log(q_min)[:, None] + steps[None, :] * np.log(q_max / q_min)[:, None]
    gos = _gos_k(energies[:, None], np.exp(log_q), zs)
    inner = np.trapezoid(gos, log_q, axis=1)
    dsigma = FOUR_PI_A0_SQUARED * RYDBERG**2 / (energies * t_ev) * inner
    return float(np.trapezoid(dsigma, energies))


def effective_collection_angle(beam_energy: float, energy: float, alpha: float, beta: float) -> float:
    """Collection semi-angle [mrad] equivalent to `beta` with a probe of convergence `alpha` (mrad).

    The Lorentzian angular distribution ``1 / (theta**2 + theta_E**2)`` of inelastic scattering,
    averaged over incident directions filling a disc of semi-angle `alpha` and collected by an
    aperture of semi-angle `beta` (Scheinfein and Isaacson, 1984; Egerton 2011, section 4.5.4),
    gives the same collected intensity as a parallel beam and the returned angle. For an incident
    direction at ``c`` from the axis the aperture collects ``pi ln[(sqrt((b2 + t2 - c2)**2 + 4 t2 c2)
    + b2 + t2 - c2) / (2 t2)]``; this is averaged over the disc by Gauss-Legendre quadrature.
    When ``alpha > beta`` the collected fraction is divided by ``beta**2 / alpha**2``, the fraction of
    the unscattered beam that passes the aperture. Returns `beta` when ``alpha == 0``.
    """
    if alpha <= 0:
        return beta
    gamma, t_ev, _ = relativistic(beam_energy)
    t2 = (energy / (2 * gamma * t_ev) * 1e3) ** 2  # theta_E^2 in mrad^2
    nodes, weights = np.polynomial.legendre.leggauss(64)
    c2 = (0.5 * alpha * (nodes + 1.0)) ** 2  # radius^2 of incident directions
    b2 = beta**2
    collected = np.log((np.sqrt((b2 + t2 - c2) ** 2 + 4 * t2 * c2) + b2 + t2 - c2) / (2 * t2))
    # average over the disc: (2 / alpha^2) int_0^alpha c * collected dc
    mean = np.sum(weights * 0.5 * alpha * np.sqrt(c2) * collected) * 2 / alpha**2
    if alpha > beta:  # only b2/a2 of the unscattered beam passes the aperture: scale as Egerton does
        mean *= alpha**2 / beta**2
    return float(np.sqrt(t2 * (np.exp(mean) - 1.0)))
