"""Spike trains of a population: ragged spike times per neuron, with rates over a window.

A :class:`SpikeTrains` holds, for each of ``n_neurons`` neurons, a sorted array of spike times in
seconds, together with the interval ``[t_start, t_end)`` that was observed. Rates are counts over a
window divided by the window's length, so a neuron that did not fire has rate 0, not NaN.

Time grids. Binning, rasters and PSC filtering place times on a grid ``t_k = t_start + k * dt``.
A time within ``1e-9 * max(1, k)`` steps of grid point ``k`` counts as lying on it, so that spike
times computed as ``t_start + k * dt`` land in step ``k`` despite rounding (in floating point,
``0.003 / 0.001`` is ``2.9999999999999996``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._spike_kernels import slots_are_valid
from .validation import as_finite_array, check_allocation, check_finite, check_positive

# A time within this fraction of a step of a grid point counts as lying on it.
_GRID_TOLERANCE = 1e-9


def grid_position(times: np.ndarray, t_start: float, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Where times fall on the grid ``t_k = t_start + k * dt`` (see the module notes).

    Parameters
    ----------
    times : ndarray, any shape
        Times (s).
    t_start, dt : float
        Start and step of the grid (s); ``dt > 0``.

    Returns
    -------
    position : ndarray of float64, shape of ``times``
        ``(times - t_start) / dt`` in steps, snapped to the nearest integer where ``on_grid``.
    on_grid : ndarray of bool, shape of ``times``
        Whether a time lies on a grid point, within ``1e-9 * max(1, k)`` steps of point ``k``.
    """
    position = (times - t_start) / dt
    nearest = np.rint(position)
    on_grid = np.abs(position - nearest) <= _GRID_TOLERANCE * np.maximum(1.0, np.abs(nearest))
    return np.where(on_grid, nearest, position), on_grid


def felt_steps(times: np.ndarray, dt: float, t_start: float = 0.0) -> np.ndarray:
    """The grid point at or after each time, ``ceil((t - t_start) / dt)`` with times on the grid
    (see :func:`grid_position`) counted at their own point: where a spike is first felt by
    :func:`neurosim.filter_spikes` and by a network's synapses. int64, shape of ``times``."""
    return np.ceil(grid_position(np.asarray(times, dtype=np.float64), t_start, dt)[0]).astype(np.int64)


def step_count(duration: float, dt: float) -> int:
    """Number of grid steps of width ``dt`` (s) needed to cover ``duration`` (s), at least 1.

    ``ceil(duration / dt)``, where a quotient within ``1e-9`` of an integer counts as that integer.
    """
    return max(1, int(np.ceil(duration / dt * (1 - _GRID_TOLERANCE))))


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
    def from_slots(cls, buffer: np.ndarray, offsets: np.ndarray, counts: np.ndarray, t_end: float,
                   t_start: float = 0.0) -> SpikeTrains:
        """Spike trains stored in one buffer, neuron ``i``'s in ``buffer[offsets[i]:offsets[i] + counts[i]]``.

        The form simulation kernels write. The trains are read-only views of ``buffer`` (no copy);
        the checks are one compiled pass over the slots (a few ms for a million spikes).

        Parameters
        ----------
        buffer : ndarray of float64, shape (capacity,)
            Spike times (s); each neuron's slot sorted, finite, within ``[t_start, t_end]``.
            Made read-only.
        offsets, counts : ndarray of int, shape (n_neurons,)
            Start and length of each neuron's slot; slots lie within the buffer.
        t_end, t_start : float
            The observed interval (s).
        """
        t_start = check_finite("t_start", t_start)
        t_end = check_finite("t_end", t_end)
        if not t_end > t_start:
            raise ValueError(f"t_end must be greater than t_start={t_start!r} s, got {t_end!r} s")
        if np.iscomplexobj(buffer):
            raise TypeError("buffer must be real; got complex values")
        buffer = np.ascontiguousarray(buffer, dtype=np.float64)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        counts = np.ascontiguousarray(counts, dtype=np.int64)
        if buffer.ndim != 1 or offsets.ndim != 1 or offsets.shape != counts.shape:
            raise ValueError(f"buffer must be 1-D and offsets, counts 1-D of one length, got shapes "
                             f"{buffer.shape}, {offsets.shape}, {counts.shape}")
        if not slots_are_valid(buffer, offsets, counts, t_start, t_end):
            raise ValueError(f"every slot offsets[i] : offsets[i] + counts[i] must lie within the buffer and "
                             f"hold finite spike times, sorted, within [t_start, t_end] = [{t_start}, "
                             f"{t_end}] s")
        buffer.flags.writeable = False
        trains = cls.__new__(cls)
        trains.times = tuple(buffer[start:start + count] for start, count
                             in zip(offsets.tolist(), counts.tolist(), strict=True))
        trains.t_start = t_start
        trains.t_end = t_end
        return trains

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
        times = as_finite_array("times", times)
        if neurons.shape != times.shape or neurons.ndim != 1:
            raise ValueError("neurons and times must be 1-D arrays of the same length, got shapes "
                             f"{neurons.shape} and {times.shape}")
        if neurons.size and (neurons.min() < 0 or neurons.max() >= n_neurons):
            raise ValueError(f"neurons must lie in [0, n_neurons={n_neurons})")
        if isinstance(n_neurons, bool) or not isinstance(n_neurons, int | np.integer) or n_neurons < 0:
            raise ValueError(f"n_neurons must be an integer >= 0, got {n_neurons!r}")
        if n_neurons == 0:
            return cls([], t_end=t_end, t_start=t_start)
        # Simulators emit each neuron's events in time order: then a stable sort by neuron (a radix
        # sort, linear in the events for 16-bit keys) is already the order by (neuron, time);
        # otherwise sort by (neuron, time).
        order = np.argsort(neurons.astype(np.uint16) if n_neurons <= 2**16 else neurons, kind="stable")
        sorted_neurons, sorted_times = neurons[order], times[order]
        if not np.all((np.diff(sorted_neurons) != 0) | (np.diff(sorted_times) >= 0)):
            order = np.lexsort((times, neurons))
            sorted_neurons, sorted_times = neurons[order], times[order]
        boundaries = np.searchsorted(sorted_neurons, np.arange(1, n_neurons))
        trusted = cls._from_sorted(sorted_times, boundaries, t_end, t_start)
        if trusted is not None:
            return trusted
        # Something is invalid: the constructor's checks say what.
        return cls(np.split(sorted_times, boundaries), t_end=t_end, t_start=t_start)

    @classmethod
    def _from_sorted(cls, sorted_times, boundaries, t_end, t_start):
        """The trains of ``np.split(sorted_times, boundaries)`` without per-neuron checks, or None
        when the interval or a time is invalid (then the constructor reports it)."""
        try:
            t_start = check_finite("t_start", t_start)
            t_end = check_finite("t_end", t_end)
        except (TypeError, ValueError):
            return None
        if not t_end > t_start:
            return None
        if sorted_times.size and not (np.all(np.isfinite(sorted_times)) and sorted_times.min() >= t_start
                                      and sorted_times.max() <= t_end):
            return None
        sorted_times.flags.writeable = False
        edges = [0, *boundaries.tolist(), sorted_times.size]
        trains = cls.__new__(cls)
        trains.times = tuple(sorted_times[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True))
        trains.t_start = t_start
        trains.t_end = t_end
        return trains

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

    @classmethod
    def from_raster(cls, raster: object, dt: float, t_start: float = 0.0) -> SpikeTrains:
        """Build spike trains from a raster of spikes per time step.

        Parameters
        ----------
        raster : array_like of bool or int, shape (n_neurons, n_steps)
            ``raster[i, k]`` is the number of spikes of neuron ``i`` in step ``k`` (a binary raster
            holds 0 or 1). Each spike is placed at the step's start, ``t_start + k * dt``.
        dt : float
            Step width (s), > 0.
        t_start : float, optional
            Time of step 0 (s). Default 0.

        Returns
        -------
        SpikeTrains
            Observed over ``[t_start, t_start + n_steps * dt)``.
        """
        dt = check_positive("dt", dt)
        t_start = check_finite("t_start", t_start)
        array = np.asarray(raster)
        if array.dtype == object or not (array.dtype == bool or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"raster must be an array of bool or integers, got dtype {array.dtype}")
        if array.ndim != 2 or array.shape[1] == 0:
            raise ValueError(f"raster must have shape (n_neurons, n_steps) with n_steps >= 1, "
                             f"got {array.shape}")
        if array.size and array.dtype != bool and array.min() < 0:
            raise ValueError("raster must hold non-negative spike counts")
        # Each spike becomes an 8-byte time (a count of 10**9 in one cell is 8 GB): estimated from
        # the total before anything is built.
        n_spikes = float(np.sum(array, dtype=np.float64))
        check_allocation("raster", n_spikes * 8.0, what=f"the {n_spikes:.0f} spike times of the raster",
                         advice="pass a raster of fewer spikes (its values are spike counts per step)")
        step_times = t_start + np.arange(array.shape[1]) * dt
        trains = [np.repeat(step_times, row.astype(np.int64)) for row in array]
        return cls(trains, t_end=t_start + array.shape[1] * dt, t_start=t_start)

    @property
    def n_spikes(self) -> int:
        """Total number of spikes of the population over the observed interval."""
        return int(sum(train.size for train in self.times))

    def isis(self) -> tuple[np.ndarray, ...]:
        """Inter-spike intervals of each neuron (s).

        Returns
        -------
        tuple of ndarray
            ``isis()[i]`` has shape ``(len(times[i]) - 1,)`` (empty for fewer than two spikes);
            its sum is the time from neuron ``i``'s first spike to its last.
        """
        return tuple(np.diff(train) for train in self.times)

    def bin(self, bin_width: float, t_start: float | None = None,
            t_end: float | None = None) -> np.ndarray:
        """Spike counts per neuron in consecutive bins of width ``bin_width``.

        Bin ``b`` is ``[t_start + b * bin_width, t_start + (b + 1) * bin_width)``; the last bin is
        cut at ``t_end`` when the window is not a whole number of bins. Spikes are counted on the
        same window as :meth:`counts`, so ``bin(w).sum(axis=1) == counts()``.

        Parameters
        ----------
        bin_width : float
            Width of a bin (s), > 0.
        t_start, t_end : float, optional
            Window (s); defaults to the observed interval.

        Returns
        -------
        ndarray of int64, shape (n_neurons, n_bins)
            ``n_bins = ceil((t_end - t_start) / bin_width)``.
        """
        bin_width = check_positive("bin_width", bin_width)
        start, end = self._window(t_start, t_end)
        n_bins = step_count(end - start, bin_width)
        check_allocation("bin_width", self.n_neurons * float(n_bins) * 8.0,
                         what=f"{self.n_neurons} x {n_bins} spike counts",
                         advice="use a wider bin_width, a shorter window, or fewer neurons (select)")
        counts = np.zeros((self.n_neurons, n_bins), dtype=np.int64)
        side = "right" if t_end is None else "left"
        for index, train in enumerate(self.times):
            inside = train[np.searchsorted(train, start):np.searchsorted(train, end, side=side)]
            position, _ = grid_position(inside, start, bin_width)
            bins = np.minimum(np.floor(position).astype(np.int64), n_bins - 1)
            counts[index] = np.bincount(bins, minlength=n_bins)
        return counts

    def to_raster(self, dt: float) -> np.ndarray:
        """Binary raster of the spike trains on steps of width ``dt``.

        A spike at time ``t`` goes to step ``floor((t - t_start) / dt)`` (a spike exactly at
        ``t_end`` goes to the last step). The inverse of :meth:`from_raster` for spikes at step
        starts; other spike times are quantized down to their step's start.

        Parameters
        ----------
        dt : float
            Step width (s), > 0.

        Returns
        -------
        ndarray of bool, shape (n_neurons, n_steps)
            ``n_steps = ceil((t_end - t_start) / dt)``.

        Raises
        ------
        ValueError
            If a neuron fires more than once within one step: a binary raster cannot hold it (use
            a smaller ``dt``, or :meth:`bin` for counts).
        """
        dt = check_positive("dt", dt)
        n_steps = step_count(self.duration, dt)
        # The counts (int64) and the raster (bool) are both held at the end.
        check_allocation("dt", self.n_neurons * float(n_steps) * 9.0,
                         what=f"a {self.n_neurons} x {n_steps} raster",
                         advice="use a larger dt, or fewer neurons (select)")
        counts = self.bin(dt)
        if counts.size and counts.max() > 1:
            neuron, step = np.unravel_index(np.argmax(counts), counts.shape)
            raise ValueError(f"neuron {neuron} fires {counts[neuron, step]} times in step {step} of "
                             f"dt={dt!r} s; a binary raster holds at most one spike per step. Use a "
                             "smaller dt, or bin(dt) for counts")
        return counts.astype(bool)

    def select(self, neurons: object) -> SpikeTrains:
        """Spike trains of a subset of the neurons, over the same interval.

        Parameters
        ----------
        neurons : int, slice, or array_like of int or bool
            Which neurons, in the order given (a boolean mask of length n_neurons also works).
        """
        if isinstance(neurons, slice):
            chosen = range(self.n_neurons)[neurons]
        else:
            index = np.asarray(neurons)
            if index.dtype == bool:
                if index.shape != (self.n_neurons,):
                    raise ValueError(f"a boolean neurons mask must have shape ({self.n_neurons},), "
                                     f"got {index.shape}")
                index = np.flatnonzero(index)
            elif not np.issubdtype(index.dtype, np.integer):
                raise TypeError(f"neurons must be integers, a slice or a boolean mask, got dtype "
                                f"{index.dtype}")
            index = index.ravel()
            if index.size and (index.min() < -self.n_neurons or index.max() >= self.n_neurons):
                raise IndexError(f"neurons must lie in [0, {self.n_neurons}), got {neurons!r}")
            chosen = index.tolist()
        return SpikeTrains([self.times[i] for i in chosen], t_end=self.t_end, t_start=self.t_start)

    def __getitem__(self, neurons: object) -> np.ndarray | SpikeTrains:
        """``trains[i]`` is neuron ``i``'s spike times (ndarray); ``trains[1:3]``, ``trains[[0, 4]]``
        or ``trains[mask]`` is a :class:`SpikeTrains` of those neurons (see :meth:`select`)."""
        if isinstance(neurons, int | np.integer) and not isinstance(neurons, bool):
            return self.times[neurons]
        return self.select(neurons)

    def all_events(self) -> tuple[np.ndarray, np.ndarray]:
        """All spikes as flat event arrays, in time order (ties by neuron index).

        Returns
        -------
        neurons : ndarray of int64, shape (n_spikes,)
        times : ndarray of float64, shape (n_spikes,)
            The inverse of :meth:`from_events`.
        """
        neurons = np.repeat(np.arange(self.n_neurons, dtype=np.int64),
                            [train.size for train in self.times])
        times = np.concatenate(self.times) if self.times else np.zeros(0)
        order = np.lexsort((neurons, times))
        return neurons[order], times[order]

    def isi_cv(self) -> np.ndarray:
        """Coefficient of variation of each neuron's inter-spike intervals, std / mean.

        The standard deviation is the population one (ddof = 0), as in Elephant's ``cv``: 0 for a
        perfectly regular train, 1 for a Poisson process.

        Returns
        -------
        ndarray of float64, shape (n_neurons,)
            NaN where a neuron has fewer than two spikes (no interval: the CV is undefined).
        """
        return np.array([np.std(isi) / np.mean(isi) if isi.size else np.nan for isi in self.isis()])

    def fano_factor(self, t_start: float | None = None, t_end: float | None = None) -> float:
        """Fano factor of the spike counts across the trains, var / mean (ddof = 0).

        Each train is one trial (or one neuron): the counts of :meth:`counts` over the window are
        compared across them, as Elephant's ``fanofactor`` does. 1 for Poisson trains.

        Parameters
        ----------
        t_start, t_end : float, optional
            Window (s); defaults to the observed interval.

        Returns
        -------
        float
            NaN when no train fired in the window (the ratio is undefined).
        """
        counts = self.counts(t_start, t_end)
        mean = counts.mean() if counts.size else 0.0
        return float(counts.var() / mean) if mean > 0 else float("nan")

    def to_neo(self, units: str = "s") -> list:
        """One neo ``SpikeTrain`` per neuron, with units and ``t_start``/``t_stop``; see
        :func:`neurosim.neo.to_neo` (needs the ``neo`` extra)."""
        from .neo import to_neo

        return to_neo(self, units=units)

    @classmethod
    def from_neo(cls, spiketrains: object) -> SpikeTrains:
        """Spike trains from neo ``SpikeTrain`` objects (a list or a Segment), in seconds; see
        :func:`neurosim.neo.from_neo` (needs the ``neo`` extra)."""
        from .neo import from_neo

        return from_neo(spiketrains)

    def __repr__(self) -> str:
        return (f"SpikeTrains(n_neurons={self.n_neurons}, n_spikes={self.n_spikes}, "
                f"t_start={self.t_start:g} s, t_end={self.t_end:g} s)")
