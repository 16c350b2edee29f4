"""The leaky integrate-and-fire (LIF) neuron, simulated with spike times resolved inside the step.

Normalized model (the notes')::

    tau_m dv/dt = v_in - v,    spike when v reaches 1, then v = 0 for tau_ref

``v`` and ``v_in`` are dimensionless (threshold 1, reset 0); times are in seconds. A constant
``v_in > 1`` gives the rate :func:`neurosim.lif_rate`. :class:`LIFParameters` holds ``tau_m`` and
``tau_ref``, one value for all neurons or one per neuron.

Physical model (the papers' units)::

    tau_m dV/dt = -(V - V_rest) + R I,    spike when V reaches V_th, then V = V_reset for tau_ref

with voltages in mV, the membrane resistance R in MΩ and the current I in nA (so R I is in mV),
or equivalently the capacitance C = tau_m / R in nF. It is the normalized model under

    v     = (V - V_reset) / (V_th - V_reset)
    v_in  = (V_rest - V_reset + R I) / (V_th - V_reset)

which :class:`PhysicalLIFParameters` carries out: pass it as ``params`` to :func:`simulate_lif`
and give currents in nA; voltages come back in mV. It also maps synaptic weights given as a
voltage jump (mV, Brunel's J) or a charge (pC) to the normalized weights of a spiking network.

Noise (Brunel 2000): ``tau_m dv/dt = -v + v_in + sigma sqrt(tau_m) xi(t)`` with ``xi`` Gaussian
white noise and ``sigma`` in units of the threshold (in mV for the physical model); the free
membrane's stationary standard deviation is ``sigma / sqrt(2)``. :func:`simulate_lif` takes it as
``noise=sigma, seed=...``; its rate is :func:`neurosim.lif_rate_noisy`.

Numerics: see :mod:`neurosim._lif_kernels`. Without noise the update is exact for an input constant
over each step, the threshold crossing is solved from the exponential, and the refractory period
starts at the spike time and carries across step boundaries, so that the simulated rate equals
:func:`neurosim.lif_rate` to rounding at dt = 1 ms as at dt = 0.1 ms. With noise the membrane's
step is the exact Ornstein-Uhlenbeck update and threshold crossings inside the step are drawn
from the Brownian-bridge crossing probability.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

import numba
import numpy as np

from . import _lif_kernels, validation
from ._result import SimResult
from .spikes import SpikeTrains
from .validation import (
    as_current,
    as_finite_array,
    check_allocation,
    check_positive_int,
    check_time_constant,
    time_steps,
)

#: The LIF defaults, in ONE place: membrane time constant and refractory period (s). Every other
#: default (lif_rate, rate curves, networks, ratenet's LIF activations) refers to these.
DEFAULT_TAU_M = 0.02
DEFAULT_TAU_REF = 0.002
#: Default membrane resistance (MΩ) of :class:`PhysicalLIFParameters` when neither R nor C is given
#: (with tau_m = 20 ms, C = 0.2 nF).
DEFAULT_RESISTANCE = 100.0


def _per_neuron_value(name: str, value: object) -> float | np.ndarray:
    """A finite number, or a read-only float64 array of shape (n,), for a parameter in mV, MΩ or nF."""
    if np.ndim(value) == 0:
        return validation.check_finite(name, value)
    array = as_finite_array(name, value, ndim=1).copy()
    if array.size == 0:
        raise ValueError(f"{name} must hold at least one value, got an empty array")
    array.flags.writeable = False
    return array


def _population_size(owner: object) -> int | None:
    """The length shared by the per-neuron fields of a parameter object, or None if all are scalars."""
    sizes = {field.name: np.size(getattr(owner, field.name)) for field in fields(owner)
             if np.ndim(getattr(owner, field.name)) == 1}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"per-neuron parameters must all have one length, got {sizes}")
    return next(iter(sizes.values()), None)


def _broadcast(value: float | np.ndarray, n_neurons: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.float64), (n_neurons,)))


def _along_neurons(parameter: float | np.ndarray, ndim: int) -> float | np.ndarray:
    """A per-neuron parameter shaped to line up with the FIRST axis of an argument of ``ndim`` dims."""
    if np.ndim(parameter) == 0 or ndim <= 1:
        return parameter
    return np.reshape(parameter, (-1,) + (1,) * (ndim - 1))


def _fields_equal(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return NotImplemented
    return all(np.array_equal(getattr(a, field.name), getattr(b, field.name)) for field in fields(a))


@dataclass(frozen=True, eq=False)
class LIFParameters:
    """Parameters of the normalized LIF neuron (threshold 1, reset 0), one value or one per neuron.

    Parameters
    ----------
    tau_m : float or array_like, shape (n,)
        Membrane time constant (s), > 0. Default :data:`DEFAULT_TAU_M` = 0.02.
    tau_ref : float or array_like, shape (n,)
        Refractory period (s), >= 0. Default :data:`DEFAULT_TAU_REF` = 0.002.

    Per-neuron arrays must share one length, that of the population they describe; a scalar
    applies to every neuron. A time constant of 1 s or more warns (:class:`neurosim.UnitsWarning`).

    Examples
    --------
    >>> LIFParameters(tau_m=[0.01, 0.02, 0.03]).n_neurons
    3
    """

    tau_m: float | np.ndarray = DEFAULT_TAU_M
    tau_ref: float | np.ndarray = DEFAULT_TAU_REF

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_m", check_time_constant("tau_m", self.tau_m, stacklevel=4))
        object.__setattr__(self, "tau_ref", check_time_constant("tau_ref", self.tau_ref, allow_zero=True,
                                                                stacklevel=4))
        _population_size(self)

    __eq__ = _fields_equal

    @property
    def n_neurons(self) -> int | None:
        """Length of the per-neuron arrays, or None when every parameter is a scalar."""
        return _population_size(self)

    def normalized(self) -> LIFParameters:
        """The normalized parameters: this object itself (as for :meth:`PhysicalLIFParameters.normalized`)."""
        return self

    def per_neuron(self, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
        """``(tau_m, tau_ref)`` as float64 arrays of shape (n_neurons,) (s).

        Raises ``ValueError`` if the per-neuron arrays do not hold ``n_neurons`` values.
        """
        size = self.n_neurons
        if size is not None and size != n_neurons:
            raise ValueError(f"the LIF parameters hold {size} per-neuron values, but there are "
                             f"{n_neurons} neurons")
        return _broadcast(self.tau_m, n_neurons), _broadcast(self.tau_ref, n_neurons)


@dataclass(frozen=True, eq=False, kw_only=True)
class PhysicalLIFParameters:
    """Parameters of the LIF neuron in physical units, ``tau_m dV/dt = -(V - V_rest) + R I``.

    Every parameter is one value or one per neuron (arrays of one length, the population's).

    Parameters
    ----------
    tau_m : float or array_like, optional
        Membrane time constant (s), > 0. Default 0.02, or ``1e-3 R C`` when both R and C are given.
    V_rest : float or array_like
        Resting (leak reversal) potential (mV). Default -65.
    V_th : float or array_like
        Spike threshold (mV), > V_reset. Default -50.
    V_reset : float or array_like
        Reset potential (mV). Default -65.
    tau_ref : float or array_like
        Refractory period (s), >= 0. Default 0.002.
    R : float or array_like, optional
        Membrane resistance (MΩ), > 0: R I is in mV for I in nA.
    C : float or array_like, optional
        Membrane capacitance (nF), > 0: ``tau_m = R C`` (MΩ nF = ms). Give at most two of tau_m, R,
        C; with neither R nor C, R = 100 MΩ.

    Attributes
    ----------
    tau_m, R, C : float or ndarray
        All three, resolved. Times in s, R in MΩ, C in nF.

    Notes
    -----
    The map onto the normalized model is ``v = (V - V_reset) / (V_th - V_reset)`` and
    ``v_in = (V_rest - V_reset + R I) / (V_th - V_reset)``, with the same tau_m and tau_ref; see
    :meth:`normalized`, :meth:`normalized_input`, :meth:`normalized_voltage` and :meth:`voltage`.
    A per-neuron parameter lines up with the FIRST axis of the currents or voltages it converts
    (shape (n,) or (n, n_steps)).

    Examples
    --------
    Brunel (2000): threshold 20 mV above rest, reset 10 mV, tau_m 20 ms, refractory 2 ms; a
    synapse of J = 0.1 mV:

    >>> brunel = PhysicalLIFParameters(V_rest=0.0, V_th=20.0, V_reset=10.0, tau_m=0.02, tau_ref=0.002)
    >>> brunel.weight_from_jump(0.1)     # the normalized weight (s) of a network connection
    0.0002
    """

    tau_m: float | np.ndarray | None = None
    V_rest: float | np.ndarray = -65.0
    V_th: float | np.ndarray = -50.0
    V_reset: float | np.ndarray = -65.0
    tau_ref: float | np.ndarray = DEFAULT_TAU_REF
    R: float | np.ndarray | None = None
    C: float | np.ndarray | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("tau_m", "R", "C") if getattr(self, name) is not None]
        if len(given) == 3:
            raise ValueError("give at most two of tau_m, R and C (tau_m = R C); got all three")
        resolved = {}
        for name in given:
            resolved[name] = (check_time_constant(name, getattr(self, name), stacklevel=5) if name == "tau_m"
                              else _per_neuron_value(name, getattr(self, name)))
            if name != "tau_m" and not np.all(np.asarray(resolved[name]) > 0):
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if "tau_m" not in resolved:
            resolved["tau_m"] = (1e-3 * resolved["R"] * resolved["C"] if len(given) == 2 else DEFAULT_TAU_M)
        if "R" not in resolved:
            resolved["R"] = 1e3 * resolved["tau_m"] / resolved["C"] if "C" in resolved else DEFAULT_RESISTANCE
        if "C" not in resolved:
            resolved["C"] = 1e3 * resolved["tau_m"] / resolved["R"]
        for name, value in resolved.items():
            object.__setattr__(self, name, value)
        for name in ("V_rest", "V_th", "V_reset"):
            object.__setattr__(self, name, _per_neuron_value(name, getattr(self, name)))
        object.__setattr__(self, "tau_ref", check_time_constant("tau_ref", self.tau_ref, allow_zero=True,
                                                                stacklevel=5))
        if not np.all(np.asarray(self.V_th) > np.asarray(self.V_reset)):
            raise ValueError(f"V_th must be above V_reset={self.V_reset!r} mV, got {self.V_th!r} mV")
        _population_size(self)

    __eq__ = _fields_equal

    @property
    def n_neurons(self) -> int | None:
        """Length of the per-neuron arrays, or None when every parameter is a scalar."""
        return _population_size(self)

    def _span(self, ndim: int = 1) -> float | np.ndarray:
        """``V_th - V_reset`` (mV), lined up with the first axis of an argument of ``ndim`` dims."""
        return _along_neurons(np.subtract(self.V_th, self.V_reset), ndim)

    def normalized(self) -> LIFParameters:
        """The normalized neuron's parameters (tau_m, tau_ref in s)."""
        return LIFParameters(tau_m=self.tau_m, tau_ref=self.tau_ref)

    def normalized_input(self, current: object) -> np.ndarray | float:
        """Normalized input ``v_in = (V_rest - V_reset + R I) / (V_th - V_reset)`` for a current in nA.

        ``current`` : float or array_like, shape (n,) or (n, n_steps) for per-neuron parameters.
        """
        current = as_finite_array("current", current)
        ndim = current.ndim
        drive = (_along_neurons(np.subtract(self.V_rest, self.V_reset), ndim)
                 + _along_neurons(self.R, ndim) * current)
        v_in = drive / self._span(ndim)
        return v_in if np.ndim(v_in) else float(v_in)

    def normalized_voltage(self, voltage: object) -> np.ndarray | float:
        """Normalized potential ``v = (V - V_reset) / (V_th - V_reset)`` for V in mV."""
        voltage = as_finite_array("voltage", voltage)
        v = (voltage - _along_neurons(self.V_reset, voltage.ndim)) / self._span(voltage.ndim)
        return v if np.ndim(v) else float(v)

    def voltage(self, v: object) -> np.ndarray | float:
        """Membrane potential in mV for a normalized ``v``: ``V_reset + v (V_th - V_reset)``."""
        v = as_finite_array("v", v)
        volts = _along_neurons(self.V_reset, v.ndim) + v * self._span(v.ndim)
        return volts if np.ndim(volts) else float(volts)

    def normalized_noise(self, sigma: object) -> np.ndarray | float:
        """Noise amplitude in units of the threshold for ``sigma`` in mV: ``sigma / (V_th - V_reset)``.

        ``sigma`` is Brunel's: ``tau_m dV/dt = -(V - V_rest) + R I + sigma sqrt(tau_m) xi(t)``.
        """
        sigma = as_finite_array("noise", sigma)
        normalized = sigma / self._span(sigma.ndim)
        return normalized if np.ndim(normalized) else float(normalized)

    def weight_from_jump(self, jump: object) -> np.ndarray | float:
        """Normalized synaptic weight (s) of a synapse whose charge moves V by ``jump`` mV.

        A connection of weight ``w`` adds ``w h(t)`` to ``v_in`` (``h`` a PSC kernel of unit area),
        so its total effect on ``v`` is ``w / tau_m``; for an instantaneous synapse (Brunel's J)
        that is the jump itself. Hence ``w = tau_m J / (V_th - V_reset)``. For a current-based
        synapse whose input ``R I`` peaks at ``we`` mV with an exponential decay ``tau_s`` (Brian2's
        CUBA), ``J = we tau_s / tau_m``.

        ``jump`` : float or array_like, shape (n,) or (n, n_pre) with the postsynaptic neurons on the
        first axis when the parameters are per neuron.
        """
        jump = as_finite_array("jump", jump)
        weight = _along_neurons(self.tau_m, jump.ndim) * jump / self._span(jump.ndim)
        return weight if np.ndim(weight) else float(weight)

    def weight_from_charge(self, charge: object) -> np.ndarray | float:
        """Normalized synaptic weight (s) of a synapse that delivers ``charge`` pC (nA ms) per spike.

        The charge moves V by ``charge / C`` mV (pC / nF), hence
        ``w = tau_m (charge / C) / (V_th - V_reset)``; see :meth:`weight_from_jump`. For a PSC of
        peak current ``I`` nA, the charge is ``I / psc.kernel(peak time)`` in nA s, times 1e3.
        """
        charge = as_finite_array("charge", charge)
        jump = charge / _along_neurons(self.C, charge.ndim)
        return self.weight_from_jump(jump)


def simulate_lif(current: object, t_end: float, dt: float = 1e-3, *, tau_m: object = None,
                 tau_ref: object = None, params: LIFParameters | PhysicalLIFParameters | None = None,
                 noise: object = None, seed: object = None, v_init: object = None, record_v: bool = True,
                 record_every: int = 1, progress: bool = False) -> SimResult:
    """Simulate unconnected LIF neurons with exact sub-step spike timing, optionally with noise.

    The input is held constant over each step, and for such an input the result is the exact
    solution of the model (up to rounding): the spike time inside a step is solved from the
    exponential, the refractory period starts at the spike and is carried across steps, and
    several spikes per step are produced when ``tau_ref < dt``.

    With ``noise=sigma`` each neuron also receives Gaussian white noise, Brunel's
    ``tau_m dv/dt = v_in - v + sigma sqrt(tau_m) xi(t)``: the membrane's step is the exact
    Ornstein-Uhlenbeck update, and threshold crossings inside a step are drawn from the
    Brownian-bridge crossing probability, so that the rate matches :func:`neurosim.lif_rate_noisy`
    without the bias of checking the threshold at step ends only (see :mod:`neurosim._lif_kernels`).

    Parameters
    ----------
    current : float or array_like
        Input per neuron: a scalar (one neuron, or every neuron of per-neuron ``params``), shape
        (n_neurons,) (constant inputs), or shape (n_neurons, n_steps) (one value per step).
        Normalized ``v_in`` (threshold 1) by default; in nA when ``params`` is a
        :class:`PhysicalLIFParameters`.
    t_end : float
        Simulated duration (s); the run has ``n_steps = round(t_end / dt)`` steps.
    dt : float
        Time step (s), > 0. Default 1e-3.
    tau_m, tau_ref : float or array_like of shape (n_neurons,), optional
        Membrane time constant (s, default 0.02) and refractory period (s, default 0.002) of the
        normalized neuron, one value or one per neuron. Not allowed together with ``params``.
    params : LIFParameters or PhysicalLIFParameters, optional
        The neurons' parameters (scalars or per neuron); a :class:`PhysicalLIFParameters` switches
        currents to nA and voltages (``v_init``, the returned ``v``, ``noise``) to mV.
    noise : float or array_like of shape (n_neurons,), optional
        White-noise amplitude ``sigma`` (>= 0), in units of the threshold (mV with physical
        ``params``); the free membrane's standard deviation is ``sigma / sqrt(2)``. Default: none.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Where the noise comes from; the same seed gives the same run, whatever the number of
        threads or ``progress``. None draws fresh entropy. Only with ``noise``.
    v_init : float or array_like, optional
        Initial membrane potential, scalar or shape (n_neurons,), below threshold. Default: the
        reset (0 normalized, ``V_reset`` mV physical).
    record_v : bool
        Record the membrane potential; False keeps spikes only (for large runs).
    record_every : int
        Keep every ``record_every``-th sample of the trace, >= 1.
    progress : bool
        Show a tqdm progress bar over simulated time.

    Returns
    -------
    SimResult
        ``model="lif"``, ``method="exact"`` (``"exact-ou"`` with noise); ``t`` (s), shape
        (n_samples,), the sample times ``0, record_every dt, ...`` before each recorded step;
        ``v`` shape (n_neurons, n_samples), normalized (``v_unit="1"``, 0 while refractory) or in
        mV; ``spikes`` over ``[0, n_steps dt]``.

    Examples
    --------
    >>> res = simulate_lif(np.linspace(0, 5, 100), t_end=2.0, dt=1e-3)
    >>> rates = res.spikes.rates(t_start=0.5)    # Hz, lif_rate(np.linspace(0, 5, 100)) to 1/1.5 s
    """
    t_end, dt, n_steps = time_steps(t_end, dt)
    params = _resolve_parameters(params, tau_m, tau_ref)
    physical = isinstance(params, PhysicalLIFParameters)
    currents = as_current(current, n_steps)
    if physical:
        currents = np.ascontiguousarray(params.normalized_input(currents))
    if currents.shape[0] == 1 and params.n_neurons is not None and np.ndim(current) == 0:
        currents = np.ascontiguousarray(np.broadcast_to(currents, (params.n_neurons, currents.shape[1])))
    n_neurons = currents.shape[0]
    tau_m, tau_ref = params.normalized().per_neuron(n_neurons)
    if dt < 1e-9 * tau_m.max():
        raise ValueError(f"dt={dt!r} s is too small for tau_m={tau_m.max()!r} s (need dt >= 1e-9 tau_m)")
    record_every = check_positive_int("record_every", record_every)
    for name, flag in (("record_v", record_v), ("progress", progress)):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    v = _initial_voltage(v_init, params, n_neurons)
    noise = _noise(noise, seed, params, n_neurons)

    n_samples = -(-n_steps // record_every)
    if record_v:
        trace_bytes = n_neurons * n_samples * 8.0
        check_allocation("record_v", trace_bytes, what=f"a {n_neurons} x {n_samples} voltage trace",
                         advice=f"pass record_v=False or a record_every >= "
                                f"{math.ceil(record_every * trace_bytes / validation.MAX_ALLOCATION_BYTES)}")
    v_record = np.empty((n_neurons, n_samples)) if record_v else np.empty((0, 0))

    if noise is None:
        capacity = _spike_capacity(currents, n_steps * dt, tau_m, tau_ref)
    else:
        capacity = _noisy_spike_capacity(currents, noise[0], n_steps * dt, tau_m, tau_ref)
    if capacity.sum() * 8.0 > validation.MAX_ALLOCATION_BYTES:
        capacity[:] = 0  # a first run only counts; the second allocates what it needs
    run = (currents, v, n_steps, dt, tau_m, tau_ref, record_every, v_record, noise)
    counts, offsets, buffer = _run(*run, bool(record_v), capacity, bool(progress))
    if np.any(counts > capacity):
        check_allocation("t_end", counts.sum() * 8.0, what=f"{counts.sum()} spike times",
                         advice="shorten t_end, or lower the input")
        counts, offsets, buffer = _run(*run, False, counts.copy(), False)
    t_span = n_steps * dt
    # Each neuron's slot holds its spikes in time order, within [0, t_span] (a spike at the very end
    # may exceed t_span by rounding: clamped). A loose bound (a brief strong pulse in a 2-D
    # current) would leave much unused room in the buffer: then compact it.
    if buffer.size > 2 * counts.sum() + 4 * n_neurons:
        ends = np.cumsum(counts)
        buffer = buffer[np.repeat(offsets - (ends - counts), counts) + np.arange(ends[-1])]
        offsets = ends - counts
    np.minimum(buffer, t_span, out=buffer)
    spikes = SpikeTrains.from_slots(buffer, offsets, counts, t_end=t_span)
    if record_v and physical:
        v_record[:] = params.voltage(v_record)
    t = np.arange(n_samples) * (record_every * dt) if record_v else np.empty(0)
    return SimResult(t=t, v=v_record if record_v else None, spikes=spikes, dt=dt, model="lif",
                     v_unit="mV" if physical else "1", method="exact" if noise is None else "exact-ou")


def _resolve_parameters(params: object, tau_m: object,
                        tau_ref: object) -> LIFParameters | PhysicalLIFParameters:
    if params is None:
        return LIFParameters(tau_m=DEFAULT_TAU_M if tau_m is None else tau_m,
                             tau_ref=DEFAULT_TAU_REF if tau_ref is None else tau_ref)
    if not isinstance(params, LIFParameters | PhysicalLIFParameters):
        raise TypeError("params must be a LIFParameters or PhysicalLIFParameters, got "
                        f"{type(params).__name__}")
    if tau_m is not None or tau_ref is not None:
        raise ValueError("give tau_m and tau_ref either as arguments or through params, not both")
    return params


def neuron_noise_keys(seed: object, neurons: object) -> np.ndarray:
    """The noise keys of :func:`neurosim._lif_kernels.lif_noisy_step` for the given neurons.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        The user's seed (None: fresh entropy). A Generator gives up 64 bits of its stream.
    neurons : array_like of int, shape (n,)
        Neuron indices; distinct indices get independent noise.

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    if isinstance(seed, np.random.Generator):
        bits = seed.integers(0, 2**64, dtype=np.uint64)
    elif seed is None or isinstance(seed, np.random.SeedSequence) or (
            isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0):
        sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        bits = sequence.generate_state(1, np.uint64)[0]
    else:
        raise TypeError(f"seed must be an integer >= 0, a numpy SeedSequence or Generator, or None; got "
                        f"{seed!r}")
    neurons = np.ascontiguousarray(neurons, dtype=np.int64)
    return _lif_kernels.noise_keys(np.uint64(bits), neurons)


def _noise(noise: object, seed: object, params: LIFParameters | PhysicalLIFParameters,
           n_neurons: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(sigma, keys)`` of each neuron (normalized sigma), or None without noise."""
    if noise is None:
        if seed is not None:
            raise ValueError("seed is only used with noise; pass noise=sigma as well")
        return None
    sigma = as_finite_array("noise", noise, ndim=(0, 1))
    if np.any(sigma < 0):
        raise ValueError(f"noise must be >= 0 (sigma, units of the threshold), got {noise!r}")
    if sigma.ndim == 1 and sigma.size != n_neurons:
        raise ValueError(f"noise must be a scalar or hold one value per neuron ({n_neurons}), got "
                         f"shape {sigma.shape}")
    if isinstance(params, PhysicalLIFParameters):
        sigma = np.asarray(params.normalized_noise(_broadcast(sigma, n_neurons)))
    if not np.any(sigma > 0):
        return None                      # noise=0: the deterministic kernels, exactly
    return _broadcast(sigma, n_neurons), neuron_noise_keys(seed, np.arange(n_neurons))


def _initial_voltage(v_init: object, params: LIFParameters | PhysicalLIFParameters,
                     n_neurons: int) -> np.ndarray:
    """The normalized initial potential of each neuron, shape (n_neurons,); 0 (the reset) by default."""
    v = np.zeros(n_neurons)
    if v_init is None:
        return v
    start = as_finite_array("v_init", v_init, ndim=(0, 1))
    if start.ndim == 1 and start.size != n_neurons:
        raise ValueError(f"v_init must be a scalar or hold one value per neuron ({n_neurons}), "
                         f"got shape {start.shape}")
    if isinstance(params, PhysicalLIFParameters):
        start = np.asarray(params.normalized_voltage(start))
        if np.any(start >= 1.0):
            raise ValueError(f"v_init must be below V_th={params.V_th!r} mV")
    elif np.any(start >= 1.0):
        raise ValueError("v_init must be below the threshold 1 (normalized)")
    v[:] = start
    return v


def _spike_capacity(currents: np.ndarray, duration: float, tau_m: np.ndarray,
                    tau_ref: np.ndarray) -> np.ndarray:
    """An upper bound on each neuron's spike count over ``duration`` (s).

    By the comparison principle a neuron whose input never exceeds ``u_max`` fires no more often
    than one driven by ``u_max`` constantly, whose spikes are ``period = tau_ref + tau_m
    ln(u_max / (u_max - 1))`` apart; two spikes of margin cover the first one (from v_init) and
    rounding. Overflow is still detected by the kernels, so the bound only has to be good.
    """
    peak = currents.max(axis=1)
    capacity = np.zeros(peak.size, dtype=np.int64)
    firing = peak > 1.0
    with np.errstate(divide="ignore", over="ignore"):
        period = tau_ref[firing] + tau_m[firing] * np.log1p(1.0 / (peak[firing] - 1.0))
        spikes = np.where(period > 0, duration / np.where(period > 0, period, 1.0), np.inf)
    if np.any(spikes * 8.0 > validation.MAX_ALLOCATION_BYTES):
        worst = int(np.argmax(spikes))
        raise ValueError(f"current too large: a neuron would fire about {spikes[worst]:.3g} spikes "
                         f"in {duration:g} s (input {peak[firing][worst]:.3g} with "
                         f"tau_ref={tau_ref[firing][worst]:g} s); lower the input or shorten t_end")
    capacity[firing] = np.floor(spikes).astype(np.int64) + 2
    capacity[~firing] = 1
    return capacity


def _noisy_spike_capacity(currents: np.ndarray, sigma: np.ndarray, duration: float, tau_m: np.ndarray,
                          tau_ref: np.ndarray) -> np.ndarray:
    """A generous guess of each noisy neuron's spike count: its Siegert rate at its largest input,
    plus five standard deviations of a Poisson count. A neuron that fires more is counted by the
    kernel, and the run is repeated with exact room (the noise is the same)."""
    from .rates import lif_rate_noisy

    peak = currents.max(axis=1)
    rates = np.empty(peak.size)
    # lif_rate_noisy is vectorized over inputs for one (tau_m, tau_ref): one call per distinct pair.
    pairs, group = np.unique(np.stack([tau_m, tau_ref], axis=1), axis=0, return_inverse=True)
    for index, (pair_tau_m, pair_tau_ref) in enumerate(pairs):
        members = group.ravel() == index
        rates[members] = lif_rate_noisy(peak[members], sigma[members], pair_tau_m, pair_tau_ref)
    expected = rates * duration
    return np.ceil(1.2 * expected + 5.0 * np.sqrt(expected) + 4.0).astype(np.int64)


def _run(currents: np.ndarray, v_init: np.ndarray, n_steps: int, dt: float, tau_m: np.ndarray,
         tau_ref: np.ndarray, record_every: int, v_record: np.ndarray,
         noise: tuple[np.ndarray, np.ndarray] | None, record: bool, capacity: np.ndarray,
         progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the kernel from ``v_init`` (not modified); return spike counts, slot offsets, buffer."""
    n_neurons = currents.shape[0]
    v = v_init.copy()
    refractory_left = np.zeros(n_neurons)
    offsets = np.zeros(n_neurons, dtype=np.int64)
    np.cumsum(capacity[:-1], out=offsets[1:])
    buffer = np.zeros(int(capacity.sum()))
    counts = np.zeros(n_neurons, dtype=np.int64)
    lost = np.zeros(n_neurons, dtype=np.int64)
    if noise is not None:
        kernel, leading, trailing = _lif_kernels.run_noisy, (v, refractory_left, currents, *noise), (lost,)
    elif currents.shape[1] == 1:
        kernel, trailing = _lif_kernels.run_constant_input, ()
        leading = (v, refractory_left, np.ascontiguousarray(currents[:, 0]))
        # A time constant shared by every neuron goes in as a float: the kernel's vectorized loop
        # then multiplies by a register instead of loading an array of equal values.
        tau_m, tau_ref = (float(tau[0]) if np.all(tau == tau[0]) else tau for tau in (tau_m, tau_ref))
    else:
        kernel, leading, trailing = _lif_kernels.run_time_varying, (v, refractory_left, currents), ()
    stops = [n_steps] if not progress else sorted(set(np.linspace(0, n_steps, 51).astype(int)[1:]))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc=f"simulate_lif ({n_steps * dt:g} s)", unit="step")
    # Threads share the neurons (the kernels release the GIL); numba.set_num_threads sets how many.
    chunked = kernel is _lif_kernels.run_constant_input
    units = -(-n_neurons // _lif_kernels.CHUNK_SIZE) if chunked else n_neurons
    n_workers = max(1, min(numba.get_num_threads(), units))
    pool = ThreadPoolExecutor(n_workers) if n_workers > 1 else None
    step_start = 0
    for step_stop in stops:
        arguments = (*leading, step_start, int(step_stop), dt, tau_m, tau_ref, record, record_every,
                     v_record, offsets, capacity, buffer, counts, *trailing)
        if pool is None:
            kernel(*arguments, 0, 1)
        else:
            for future in [pool.submit(kernel, *arguments, worker, n_workers)
                           for worker in range(n_workers)]:
                future.result()
        if bar is not None:
            bar.update(int(step_stop) - step_start)
        step_start = int(step_stop)
    if bar is not None:
        bar.close()
    if pool is not None:
        pool.shutdown()
    if lost.any():
        raise ValueError(f"a neuron fired more than {_lif_kernels.MAX_SPIKES_PER_STEP} spikes in one step "
                         f"of dt={dt!r} s; with noise that needs tau_ref >= dt / "
                         f"{_lif_kernels.MAX_SPIKES_PER_STEP - 1} or a smaller dt")
    return counts, offsets, buffer
