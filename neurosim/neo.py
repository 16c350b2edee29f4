"""Bridge to neo, the data model of Elephant and of most electrophysiology file formats.

:func:`to_neo` turns :class:`~neurosim.SpikeTrains` into a list of ``neo.SpikeTrain`` (one per
neuron, with units and the observed interval as ``t_start``/``t_stop``), which Elephant's
statistics, neo's file writers and viziphant take as they are; :func:`from_neo` takes such trains
(a list, a neo ``Segment`` or one train) back, in seconds. The two methods
``SpikeTrains.to_neo()`` and ``SpikeTrains.from_neo(...)`` call these.

neo and quantities are imported only when a conversion runs; install them with the ``neo`` extra:
``pip install "neurosim-ratenet[neo]"`` (which brings Elephant too).
"""

from __future__ import annotations

import numpy as np

from .spikes import SpikeTrains

__all__ = ["from_neo", "to_neo"]

# Interval ends of several neo trains that differ by less than this (relative) are the same end:
# rescaling milliseconds to seconds may change the last bit.
_SAME_END = 1e-12


def _import_neo():
    try:
        import neo
        import quantities
    except ImportError as error:
        raise ImportError("converting to or from neo needs the neo and quantities packages: "
                          "pip install 'neurosim-ratenet[neo]'") from error
    return neo, quantities


def to_neo(trains: SpikeTrains, units: str = "s") -> list:
    """Spike trains as neo ``SpikeTrain`` objects, one per neuron.

    Parameters
    ----------
    trains : SpikeTrains
    units : str, default "s"
        Time unit of the neo trains (any unit quantities knows: ``"s"``, ``"ms"``...). The values
        are converted; ``t_start`` and ``t_stop`` are the observed interval in the same unit.

    Returns
    -------
    list of neo.SpikeTrain, length n_neurons
        Train ``i`` holds neuron ``i``'s spike times, is named ``"neuron i"`` and annotated with
        ``neuron=i``.
    """
    if not isinstance(trains, SpikeTrains):
        raise TypeError(f"trains must be a SpikeTrains, got {type(trains).__name__}")
    neo, pq = _import_neo()
    try:
        unit = pq.Quantity(1.0, units)
        scale = float(unit.rescale("s").magnitude)
    except (LookupError, ValueError, TypeError) as error:
        raise ValueError(f"units must be a time unit such as 's' or 'ms', got {units!r}") from error
    return [neo.SpikeTrain(times / scale, units=units, t_start=trains.t_start / scale,
                           t_stop=trains.t_end / scale, name=f"neuron {index}", neuron=index)
            for index, times in enumerate(trains.times)]


def _as_train_list(spiketrains: object) -> list:
    neo, _ = _import_neo()
    if isinstance(spiketrains, neo.Segment):
        return list(spiketrains.spiketrains)
    if isinstance(spiketrains, neo.SpikeTrain):
        return [spiketrains]
    try:
        items = list(spiketrains)
    except TypeError:
        raise TypeError("spiketrains must be a neo.SpikeTrain, a neo.Segment or a list of "
                        f"neo.SpikeTrain, got {type(spiketrains).__name__}") from None
    for index, item in enumerate(items):
        if not isinstance(item, neo.SpikeTrain):
            raise TypeError(f"spiketrains[{index}] must be a neo.SpikeTrain, got {type(item).__name__}")
    return items


def from_neo(spiketrains: object) -> SpikeTrains:
    """Spike trains from neo ``SpikeTrain`` objects, times in seconds.

    Parameters
    ----------
    spiketrains : neo.SpikeTrain, neo.Segment, or sequence of neo.SpikeTrain
        One train per neuron, in order (a Segment's ``spiketrains``). They may be in any time unit
        and must share ``t_start`` and ``t_stop``, which become the observed interval.

    Returns
    -------
    SpikeTrains

    Raises
    ------
    ValueError
        If the trains have different ``t_start`` or ``t_stop`` (a population is observed over one
        interval: slice them first with ``train.time_slice(t_start, t_stop)``), or if the list is
        empty (the interval is then unknown).
    """
    items = _as_train_list(spiketrains)
    if not items:
        raise ValueError("spiketrains must hold at least one neo.SpikeTrain (the interval comes from "
                         "their t_start and t_stop)")
    starts = np.array([float(item.t_start.rescale("s").magnitude) for item in items])
    stops = np.array([float(item.t_stop.rescale("s").magnitude) for item in items])
    for name, ends in (("t_start", starts), ("t_stop", stops)):
        differs = np.flatnonzero(~np.isclose(ends, ends[0], rtol=_SAME_END, atol=0.0))
        if differs.size:
            index = int(differs[0])
            raise ValueError(f"spiketrains[{index}] has {name} = {ends[index]!r} s but spiketrains[0] "
                             f"has {ends[0]!r} s; a population shares one interval (slice the trains "
                             "to a common one with time_slice)")
    t_start, t_end = float(starts.min()), float(stops.max())
    times = [np.clip(np.asarray(item.times.rescale("s").magnitude, dtype=np.float64), t_start, t_end)
             for item in items]
    return SpikeTrains(times, t_end=t_end, t_start=t_start)
