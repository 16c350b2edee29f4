"""Post-synaptic current (PSC) kernels and the filtering of spike trains through them.

The kernel of order ``n`` is

    h(t) = t**n exp(-t / tau_s) / (n! tau_s**(n + 1))   for t >= 0,   0 for t < 0,

which integrates to 1: each spike delivers a unit of charge. ``n = 0`` is the exponential synapse
(a jump to ``1 / tau_s``, then decay), ``n = 1`` the alpha function, peaking at ``t = tau_s``.

``h`` of order ``n`` is the impulse response of ``n + 1`` identical first-order low-pass stages in a
cascade, ``tau_s x_0' = -x_0 + sum_spikes delta(t - t_spike)`` and ``tau_s x_j' = x_{j-1} - x_j``,
read at the last stage. :func:`filter_spikes` runs that cascade on a time grid, either exactly or
with the notes' forward Euler steps. A synapse is one value, :class:`PSC` (time constant, kernel
order, integration method), wherever one is needed.

The value at a spike's own time. The kernel is right-continuous: ``h(0) = 1 / tau_s`` for
``n = 0`` (and 0 for ``n >= 1``), so the filtered trace at the grid point where a spike falls
already includes the spike's jump: 200 at ``tau_s`` = 5 ms. Nengo's ``Lowpass`` is a zero-order-hold
discretization that reports the jump averaged over the following step, ``(1 - exp(-dt / tau_s)) /
dt`` = 181.27 at ``dt`` = 1 ms; neither is wrong, they sample different things. Ours is the exact
convolution ``sum_spikes h(t_k - t_spike)`` at every grid point ``t_k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ._synapse_kernels import filter_cascade_euler, filter_cascade_exact
from .spikes import SpikeTrains, grid_position, step_count
from .validation import (
    as_finite_array,
    check_allocation,
    check_choice,
    check_finite,
    check_positive,
    check_time_constant,
)

FILTER_METHODS = ("exact", "euler")


@dataclass(frozen=True)
class PSC:
    """A post-synaptic current synapse: its kernel and how it is integrated on a time grid.

    The one value that describes a synapse wherever one is needed (connections, filtered probes,
    :func:`filter_spikes`, spiking conversions). Its kernel is

        h(t) = t**order exp(-t / tau_s) / (order! tau_s**(order + 1)),   t >= 0,

    of unit area, so a spike of weight ``w`` delivers the charge ``w``.

    Parameters
    ----------
    tau_s : float
        Synaptic time constant (s), > 0. Default 0.005.
    order : int
        Order of the kernel, >= 0: 0 exponential (a jump to ``1 / tau_s``, then decay), 1 alpha
        function (peak at ``tau_s``), ...
    method : {"exact", "euler"}
        ``"exact"``: the cascade of first-order stages is propagated exactly from step to step;
        ``"euler"``: the notes' forward Euler decay ``x <- x - dt x / tau_s`` (stable only for
        ``dt < 2 tau_s``; first-order error in ``dt``).

    Examples
    --------
    >>> PSC(0.005)                       # exponential synapse, 5 ms
    PSC(tau_s=0.005, order=0, method='exact')
    >>> PSC(0.002, order=1).kernel(0.002)   # alpha kernel at its peak (1/s)
    183.93972058572118
    """

    tau_s: float = 0.005
    order: int = 0
    method: str = "exact"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_s", check_time_constant("tau_s", self.tau_s, scalar=True, stacklevel=4))
        object.__setattr__(self, "order", _check_order(self.order, "order"))
        object.__setattr__(self, "method", check_choice("method", self.method, FILTER_METHODS))

    def kernel(self, t: object) -> np.ndarray | float:
        """``h(t)`` (1/s) at times ``t`` (s) since the spike; see :func:`psc_kernel`."""
        return psc_kernel(t, self)

    def check_step(self, dt: float) -> None:
        """Raise ``ValueError`` if the Euler method is unstable at time step ``dt`` (s)."""
        if self.method == "euler" and dt >= 2 * self.tau_s:
            raise ValueError(f"the Euler synapse (tau_s={self.tau_s!r} s) is unstable for dt={dt!r} s "
                             f">= 2 tau_s; use dt < 2 tau_s (dt < tau_s to avoid oscillation) or "
                             "PSC(..., method='exact')")

    def propagator(self, dt: float) -> np.ndarray:
        """One step's free evolution of the kernel's cascade of ``order + 1`` first-order stages.

        Stage ``j`` obeys ``tau_s x_j' = x_{j-1} - x_j`` (``x_{-1}`` = the spikes), and after a step of
        ``dt`` without spikes ``x_j <- sum_{m <= j} P[m] x_{j-m}``. Exact: ``P[m] = exp(-a) a**m / m!``
        with ``a = dt / tau_s`` (computed in logarithms, so that no order overflows); Euler (the
        notes): ``P = [1 - a, a, 0, ...]``.

        Returns
        -------
        ndarray of float64, shape (order + 1,)
        """
        ratio = dt / self.tau_s
        if self.method == "exact":
            return _exact_propagator(ratio, self.order)
        values = np.zeros(self.order + 1)
        values[0] = 1.0 - ratio
        if self.order > 0:
            values[1] = ratio
        return values

    def step_average(self, dt: float) -> np.ndarray:
        """The current a spiking network holds over a step, from the cascade's state at its start.

        A network integrates its neurons with the input held constant over each step of ``dt``;
        the current it holds is ``sum_m A[m] x_{order - m}`` with ``x_j`` the stages at the step's
        start (see :meth:`propagator`), so that every spike delivers exactly its charge ``w``:

        - exact: the kernel's current averaged over the step, ``A[m] = P(m + 1, a) / a`` with
          ``a = dt / tau_s`` and ``P`` the regularized lower incomplete gamma function (order 0:
          ``A = [(1 - exp(-a)) / a]``, 0.906 at dt = 1 ms, tau_s = 5 ms; holding the value at the
          step's start instead would deliver ``a / (1 - exp(-a))`` = 1.10 of the charge);
        - Euler (the notes): ``A = [1, 0, ...]``, the last stage's value, which the Euler cascade
          already makes deliver the whole charge (``dt sum_k (1 - a)**k / tau_s = 1``).

        Parameters
        ----------
        dt : float
            Time step (s), > 0.

        Returns
        -------
        ndarray of float64, shape (order + 1,)
            ``A`` (dimensionless).
        """
        dt = check_positive("dt", dt)
        values = np.zeros(self.order + 1)
        if self.method == "euler":
            values[0] = 1.0
        else:
            ratio = dt / self.tau_s
            values[:] = special.gammainc(np.arange(1, self.order + 2), ratio) / ratio
        return values

    def sampled_area(self, dt: float) -> float:
        """The area of the kernel sampled on a grid of step ``dt``: ``dt sum_k h(k dt)``.

        A filtered spike train (:func:`filter_spikes`, a ``"filtered"`` probe) samples the kernel on
        the grid, so its mean over a long window is ``rate * sampled_area``, not ``rate``: 1 for the
        Euler synapse, ``a / (1 - exp(-a))`` for the exact exponential one (``a = dt / tau_s``; 1.10
        at dt = 1 ms, tau_s = 5 ms), slightly under 1 for the exact alpha kernel. (A network's
        neurons receive each spike's charge exactly, see :meth:`step_average`.)

        Parameters
        ----------
        dt : float
            Time step (s), > 0.

        Returns
        -------
        float
            The sampled area for a spike on a grid point (dimensionless).
        """
        dt = check_positive("dt", dt)
        duration = self.tau_s * (self.order + 1) * 50          # the kernel's tail beyond: < e^-40
        single = SpikeTrains([np.zeros(1)], t_end=max(duration, 2 * dt))
        return float(filter_spikes(single, dt, synapse=self).sum() * dt)


@dataclass(frozen=True)
class Delta:
    """A delta synapse: a spike of weight ``w`` makes the postsynaptic membrane potential jump by
    ``w`` when it arrives (Brunel 2000: "the post-synaptic potential jumps by J").

    The weight is a voltage: normalized units (threshold 1) into a normalized LIF or an IF
    population, mV into an LIF population with physical parameters and into Hodgkin-Huxley
    neurons. It is the limit ``tau_s -> 0`` of a :class:`PSC` whose weight (a charge) is
    ``w tau_m`` in normalized units. A jump that reaches the threshold fires the neuron at the
    arrival time; a jump that arrives during the refractory period is lost (the voltage is clamped
    at the reset), as in Brunel's model. A delta synapse has no current: it does not show in a
    "current" probe, and it cannot filter a probe.

    Examples
    --------
    >>> Delta()
    Delta()
    """

    def check_step(self, dt: float) -> None:
        """Nothing to check: a jump is exact at any time step."""


def _check_order(n: object, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"{name} must be an integer >= 0 (the order of the PSC kernel), got "
                        f"{type(n).__name__}")
    if n < 0:
        raise ValueError(f"{name} must be an integer >= 0 (the order of the PSC kernel), got {n!r}")
    return int(n)


def _kernel_values(t: np.ndarray, tau_s: float, n: int) -> np.ndarray:
    """``h(t)`` for validated arguments; ``t`` is a float64 array of any shape."""
    x = t / tau_s
    values = np.zeros_like(x)
    positive = x > 0
    # In logarithms, so that neither x**n nor n! overflows for large x or n.
    values[positive] = np.exp(n * np.log(x[positive]) - x[positive] - math.lgamma(n + 1)) / tau_s
    if n == 0:
        values[x == 0] = 1.0 / tau_s
    return values


def _check_synapse(synapse: object) -> PSC:
    if not isinstance(synapse, PSC):
        raise TypeError(f"synapse must be a neurosim.PSC (e.g. PSC(tau_s=0.005, order=1)), got "
                        f"{type(synapse).__name__}")
    return synapse


def psc_kernel(t: object, synapse: PSC = PSC()) -> np.ndarray | float:
    """The post-synaptic current kernel ``h(t) = t**n exp(-t/tau_s) / (n! tau_s**(n+1))``, in 1/s.

    Parameters
    ----------
    t : float or array_like
        Time since the spike (s), any shape. ``h`` is 0 for ``t < 0``; at ``t = 0`` it is
        ``1 / tau_s`` for order 0 (right-continuous) and 0 for higher orders.
    synapse : PSC
        The synapse: its ``tau_s`` (s) and kernel ``order`` n (0 exponential, 1 alpha function, ...;
        the kernel of order n peaks at ``t = n tau_s``). Default ``PSC()`` (5 ms, exponential).

    Returns
    -------
    float or ndarray
        ``h(t)`` (1/s), same shape as ``t``; it integrates to 1 over ``t``. Computed in logarithms,
        so that neither ``t**n`` nor ``n!`` overflows for any order.

    Examples
    --------
    >>> psc_kernel(0.0, PSC(tau_s=0.005))
    200.0
    >>> psc_kernel(0.002, PSC(0.002, order=1))   # alpha kernel at its peak
    183.93972058572118
    """
    synapse = _check_synapse(synapse)
    times = as_finite_array("t", t).reshape(np.shape(t))
    values = _kernel_values(times, synapse.tau_s, synapse.order)
    return float(values) if values.ndim == 0 else values


def filter_spikes(trains: SpikeTrains | np.ndarray, dt: float, synapse: PSC = PSC(),
                  t_end: float | None = None) -> np.ndarray:
    """Filter spike trains through a PSC synapse's kernel, sampled on a time grid.

    Parameters
    ----------
    trains : SpikeTrains, or array_like of bool or int, shape (n_neurons, n_steps)
        The spikes. A raster is read as :meth:`SpikeTrains.from_raster` does, with spikes at the
        step times ``k * dt``.
    dt : float
        Grid step (s), > 0. The grid is ``t_k = t_start + k * dt`` for ``k = 0 .. n_t - 1`` with
        ``n_t = ceil((t_end - t_start) / dt)``.
    synapse : PSC
        The synapse: time constant ``tau_s``, kernel ``order`` n (see :func:`psc_kernel`) and
        ``method``. Default ``PSC()`` (5 ms, exponential, exact).

        ``method="exact"``: a cascade of ``n + 1`` first-order filters propagated exactly from
        grid point to grid point; a spike at time ``t`` enters at the first grid point ``t_k >= t``
        with each stage set to the kernel's own state ``h_j(t_k - t)``, so the result equals the
        convolution ``sum_spikes h(t_k - t_spike)`` to rounding for any spike time, on the grid or
        not, and any order (the propagator ``exp(-a) a**m / m!`` is computed in logarithms).
        ``method="euler"``: the notes' algorithm, ``x <- x - dt x / tau_s`` and each spike adds
        ``1 / tau_s`` at the first grid point ``t_k >= t_spike`` (a cascade of such stages for
        ``n > 0``); its error is first order in ``dt``. Requires ``dt < 2 tau_s`` (stability).
    t_end : float, optional
        End of the grid (s, exclusive); defaults to ``trains.t_end``.

    Returns
    -------
    ndarray of float64, shape (n_neurons, n_t)
        Filtered trains (1/s): each spike contributes a kernel of unit area. At the grid point of
        a spike that lies on the grid, the value includes ``h(0)`` (``1 / tau_s`` for order 0);
        see the module notes for how this differs from Nengo's zero-order hold.

    Raises
    ------
    ValueError
        For bad arguments, or when the result (``n_neurons x n_t`` floats) or the spikes' stage
        values (``(order + 1)`` floats per spike) would exceed
        :data:`neurosim.validation.MAX_ALLOCATION_BYTES`.

    Examples
    --------
    >>> trains = SpikeTrains([[0.010, 0.025]], t_end=0.1)
    >>> filter_spikes(trains, dt=1e-3, synapse=PSC(0.005, order=1)).shape
    (1, 100)
    """
    dt = check_positive("dt", dt)
    synapse = _check_synapse(synapse)
    tau_s, order = synapse.tau_s, synapse.order
    if not isinstance(trains, SpikeTrains):
        if isinstance(trains, list | tuple):
            raise TypeError("trains must be a SpikeTrains or a 2-D raster array; wrap spike time "
                            "lists in SpikeTrains(times, t_end)")
        trains = SpikeTrains.from_raster(trains, dt)
    if t_end is None:
        end = trains.t_end
    else:
        end = check_finite("t_end", t_end)
        if not end > trains.t_start:
            raise ValueError(f"t_end must be greater than the trains' t_start={trains.t_start} s, "
                             f"got {t_end!r} s")
    synapse.check_step(dt)
    n_t = step_count(end - trains.t_start, dt)
    check_allocation("dt", trains.n_neurons * float(n_t) * 8.0,
                     what=f"the filtered trains ({trains.n_neurons} x {n_t} floats)",
                     advice="use a larger dt, a shorter t_end, or filter fewer neurons at a time")
    n_spikes = trains.n_spikes
    if synapse.method == "exact":
        check_allocation("synapse", n_spikes * (order + 1.0) * 8.0,
                         what=f"the stage values of {n_spikes} spikes for a kernel of order {order}",
                         advice="use a lower kernel order, or filter fewer spikes at a time")

    # Each spike is first felt at the grid point at or after it, after an offset in [0, dt).
    # Concatenated, the per-neuron sorted trains are already grouped by neuron.
    sizes = np.array([train.size for train in trains.times], dtype=np.int64)
    spike_times = np.concatenate(trains.times) if trains.n_neurons else np.zeros(0)
    position, on_grid = grid_position(spike_times, trains.t_start, dt)
    step = np.ceil(position).astype(np.int64)
    keep = step < n_t
    neuron = np.repeat(np.arange(trains.n_neurons), sizes)[keep]
    event_step, on_grid, spike_times = step[keep], on_grid[keep], spike_times[keep]
    first_event = np.zeros(trains.n_neurons + 1, dtype=np.int64)
    np.cumsum(np.bincount(neuron, minlength=trains.n_neurons), out=first_event[1:])
    out = np.empty((trains.n_neurons, n_t))

    if synapse.method == "exact":
        event_offset = np.where(on_grid, 0.0, trains.t_start + event_step * dt - spike_times)
        np.maximum(event_offset, 0.0, out=event_offset)
        event_input = np.empty((event_step.size, order + 1))
        for stage in range(order + 1):
            event_input[:, stage] = _kernel_values(event_offset, tau_s, stage)
        filter_cascade_exact(first_event, event_step, event_input, synapse.propagator(dt), out)
    else:
        filter_cascade_euler(first_event, event_step, dt / tau_s, 1.0 / tau_s, order + 1, out)
    return out


def _exact_propagator(ratio: float, order: int) -> np.ndarray:
    """``exp(-a) a**m / m!`` for ``m = 0 .. order`` and ``a = dt / tau_s``, in logarithms: the
    direct form overflows (``m!`` as a float) from order 171, and ``a**m`` for large ``a``."""
    m = np.arange(order + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        return np.exp(m * math.log(ratio) - ratio - special.gammaln(m + 1.0))
