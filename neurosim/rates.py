"""Firing-rate curves (f-I curves): the analytic LIF rate and curves measured by simulation.

The LIF rate is the notes' G: a neuron with ``tau_m dv/dt = v_in - v``, threshold 1, reset 0 and
refractory period ``tau_ref`` that receives a constant normalized input ``v_in`` fires at

    G(v_in) = 1 / (tau_ref - tau_m ln(1 - 1/v_in))   for v_in > 1, and 0 otherwise.

We evaluate ``-ln(1 - 1/v) = log1p(1 / (v - 1))``, which stays accurate as ``v`` grows large, where
``1 - 1/v`` would round to 1.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_nonnegative, check_positive


def lif_rate(v_in: object, tau_m: float = 0.02, tau_ref: float = 0.002) -> np.ndarray | float:
    """Analytic firing rate of the normalized LIF neuron, in Hz.

    Parameters
    ----------
    v_in : float or array_like
        Constant normalized input (dimensionless; threshold 1). Any shape.
    tau_m : float
        Membrane time constant (s), > 0.
    tau_ref : float
        Refractory period (s), >= 0.

    Returns
    -------
    float or ndarray
        ``G(v_in)`` in Hz, same shape as ``v_in``; 0 where ``v_in <= 1``.
    """
    tau_m = check_positive("tau_m", tau_m)
    tau_ref = check_nonnegative("tau_ref", tau_ref)
    v = np.asarray(v_in, dtype=np.float64)
    rate = np.zeros_like(v)
    above = v > 1
    rate[above] = 1.0 / (tau_ref + tau_m * np.log1p(1.0 / (v[above] - 1.0)))
    return rate if rate.ndim else float(rate)


def lif_rate_derivative(v_in: object, tau_m: float = 0.02,
                        tau_ref: float = 0.002) -> np.ndarray | float:
    """Derivative dG/dv_in of :func:`lif_rate`, in Hz per unit of normalized input.

    For ``v_in > 1``, ``G' = tau_m G^2 / (v_in (v_in - 1))``; it is 0 below threshold and grows
    without bound as ``v_in`` approaches 1 from above.

    Parameters
    ----------
    v_in : float or array_like
        Normalized input (dimensionless). Any shape.
    tau_m, tau_ref : float
        Membrane time constant and refractory period (s).
    """
    tau_m = check_positive("tau_m", tau_m)
    tau_ref = check_nonnegative("tau_ref", tau_ref)
    v = np.asarray(v_in, dtype=np.float64)
    slope = np.zeros_like(v)
    above = v > 1
    va = v[above]
    rate = 1.0 / (tau_ref + tau_m * np.log1p(1.0 / (va - 1.0)))
    slope[above] = tau_m * rate**2 / (va * (va - 1.0))
    return slope if slope.ndim else float(slope)
