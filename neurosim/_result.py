"""The result object that the single-neuron simulators return."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .spikes import SpikeTrains


@dataclass(frozen=True, repr=False)
class SimResult:
    """What a simulation of a population of unconnected neurons produced.

    Attributes
    ----------
    t : ndarray, shape (n_samples,)
        Times of the recorded samples (s). Empty when voltages were not recorded.
    v : ndarray, shape (n_neurons, n_samples), or None
        Membrane potential at the times ``t``, in ``v_unit``; None when ``record_v=False``.
    spikes : SpikeTrains
        Spike times of every neuron (s), over ``[0, t_end)``.
    dt : float
        Integration time step (s).
    model : str
        Which model produced it ("hh", "lif").
    v_unit : str
        Unit of ``v``: "mV" for Hodgkin-Huxley, "1" for the normalized LIF (threshold 1), "mV" for
        the LIF in its physical form.
    method : str
        Integration method used.
    extra : dict of str to ndarray
        Other recorded state (e.g. HH gates "m", "h", "n"), each shaped like ``v``.
    """

    t: np.ndarray
    v: np.ndarray | None
    spikes: SpikeTrains
    dt: float
    model: str
    v_unit: str
    method: str
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_neurons(self) -> int:
        """Number of simulated neurons."""
        return self.spikes.n_neurons

    @property
    def t_end(self) -> float:
        """End of the simulated interval (s)."""
        return self.spikes.t_end

    def __repr__(self) -> str:
        recorded = "not recorded" if self.v is None else f"v {self.v.shape} in {self.v_unit}"
        return (f"SimResult(model={self.model!r}, method={self.method!r}, n_neurons={self.n_neurons}, "
                f"t_end={self.t_end:g} s, dt={self.dt:g} s, {recorded}, {self.spikes!r})")
