"""Spike trains of a population: ragged spike times per neuron, with rates over a window.

A :class:`SpikeTrains` holds, for each of ``n_neurons`` neurons, a sorted array of spike times in
seconds, together with the interval ``[t_start, t_end)`` that was observed. Rates are counts over a
window divided by the window's length, so a neuron that did not fire has rate 0, not NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validation import as_finite_array, check_finite


class SpikeTrains:
    """Spike times of a population of neurons.

    Parameters
    ----------
    times : sequence of array_like, length n_neurons
        Spike times of each neuron in seconds. Each is sorted on construction.
    t_end : float
        End of the observed interval in seconds (exclusive).
    t_start : float, optional
        Start of the observed interval in seconds (inclusive). Default 0.

    Attributes
    ----------
    times : tuple of ndarray
        ``times[i]`` is the sorted float64 array of neuron ``i``'s spike times (s).
    n_neurons : int
    t_start, t_end : float
        The observed interval (s).

    Examples
    --------
    >>> trains = SpikeTrains([np.array([0.010, 0.025]), np.array([])], t_end=0.5)
    >>> trains.rates()
    array([4., 0.])
    """

    def __init__(self, times: Sequence[object], t_end: float, t_start: float = 0.0):
        t_start = check_finite("t_start", t_start)
        t_end = check_finite("t_end", t_end)
        if not t_end > t_start:
            raise ValueError(f"t_end must be greater than t_start={t_start!r} s, got {t_end!r} s")
        if isinstance(times, np.ndarray) and times.dtype != object and times.ndim != 2:
            raise TypeError("times must be a sequence with one array of spike times per neuron")
        trains = []
        for index, neuron_times in enumerate(times):
            array = np.sort(as_finite_array(f"times[{index}]", neuron_times, ndim=(0, 1)).ravel())
            if array.size and (array[0] < t_start or array[-1] > t_end):
                raise ValueError(f"times[{index}] has spikes outside [t_start, t_end] = "
                                 f"[{t_start}, {t_end}] s")
            array.flags.writeable = False
            trains.append(array)
        self.times: tuple[np.ndarray, ...] = tuple(trains)
        self.t_start = t_start
        self.t_end = t_end

    @classmethod
    def from_events(cls, neurons: np.ndarray, times: np.ndarray, n_neurons: int, t_end: float,
                    t_start: float = 0.0) -> SpikeTrains:
        """Build spike trains from flat event arrays (as simulation kernels produce them).

        Parameters
        ----------
        neurons : ndarray of int, shape (n_events,)
            Index of the neuron that fired each spike, in ``[0, n_neurons)``.
        times : ndarray of float, shape (n_events,)
            Time of each spike (s).
        n_neurons : int
            Size of the population (neurons that never fired get empty trains).
        t_end, t_start : float
            The observed interval (s).
        """
        neurons = np.asarray(neurons, dtype=np.int64)
        times = np.asarray(times, dtype=np.float64)
        if neurons.shape != times.shape or neurons.ndim != 1:
            raise ValueError("neurons and times must be 1-D arrays of the same length, got shapes "
                             f"{neurons.shape} and {times.shape}")
        if neurons.size and (neurons.min() < 0 or neurons.max() >= n_neurons):
            raise ValueError(f"neurons must lie in [0, n_neurons={n_neurons})")
        order = np.lexsort((times, neurons))
        boundaries = np.searchsorted(neurons[order], np.arange(1, n_neurons))
        return cls(np.split(times[order], boundaries), t_end=t_end, t_start=t_start)

    @property
    def n_neurons(self) -> int:
        """Number of neurons in the population."""
        return len(self.times)

    @property
    def duration(self) -> float:
        """Length of the observed interval ``t_end - t_start`` (s)."""
        return self.t_end - self.t_start

    def __len__(self) -> int:
        return self.n_neurons

    def _window(self, t_start: float | None, t_end: float | None) -> tuple[float, float]:
        start = self.t_start if t_start is None else check_finite("t_start", t_start)
        end = self.t_end if t_end is None else check_finite("t_end", t_end)
        if not (self.t_start <= start < end <= self.t_end):
            raise ValueError(f"window [t_start, t_end) = [{start}, {end}) s must be non-empty and lie "
                             f"within the observed interval [{self.t_start}, {self.t_end}) s")
        return start, end

    def counts(self, t_start: float | None = None, t_end: float | None = None) -> np.ndarray:
        """Number of spikes of each neuron in ``[t_start, t_end)``, shape (n_neurons,), int64.

        The window defaults to the whole observed interval (its end included there, so a spike
        exactly at ``t_end`` of the recording is counted).
        """
        start, end = self._window(t_start, t_end)
        closed = t_end is None
        side = "right" if closed else "left"
        return np.array([np.searchsorted(train, end, side=side) - np.searchsorted(train, start)
                         for train in self.times], dtype=np.int64)

    def rates(self, t_start: float | None = None, t_end: float | None = None) -> np.ndarray:
        """Mean firing rate of each neuron in ``[t_start, t_end)`` in Hz, shape (n_neurons,).

        Parameters
        ----------
        t_start, t_end : float, optional
            Window in seconds; defaults to the observed interval. Skip a transient with
            ``t_start=0.2``.
        """
        start, end = self._window(t_start, t_end)
        return self.counts(t_start, t_end) / (end - start)

    def __repr__(self) -> str:
        total = sum(train.size for train in self.times)
        return (f"SpikeTrains(n_neurons={self.n_neurons}, n_spikes={total}, "
                f"t_start={self.t_start:g} s, t_end={self.t_end:g} s)")
