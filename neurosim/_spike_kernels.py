"""Numba kernel that checks spike trains stored in slots of one buffer (see
:meth:`neurosim.SpikeTrains.from_slots`): one compiled pass instead of a dozen numpy sweeps, which
cost more than a simulation's kernel for a million spikes."""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True)
def slots_are_valid(buffer, offsets, counts, t_start, t_end):
    """Whether every slot ``buffer[offsets[i]:offsets[i] + counts[i]]`` lies within the buffer and
    holds finite times, sorted, within ``[t_start, t_end]``.

    buffer : float64 (capacity,); offsets, counts : int64 (n_neurons,); t_start, t_end : float
    """
    size = buffer.shape[0]
    for i in range(offsets.shape[0]):
        start = offsets[i]
        count = counts[i]
        if start < 0 or count < 0 or start + count > size:
            return False
        previous = t_start
        for k in range(start, start + count):
            time = buffer[k]
            if not (math.isfinite(time) and previous <= time <= t_end):
                return False
            previous = time
    return True
