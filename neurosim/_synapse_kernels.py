"""Numba kernels that filter spike trains through a cascade of first-order synapses.

Both kernels take the spikes in compressed form: neuron ``i``'s events are
``event_step[first_event[i]:first_event[i + 1]]`` (sorted), the grid index at which each spike is
first felt. Neurons do not interact, so the loop runs neuron by neuron and, inside, over time: the
cascade's state stays in a small array and each neuron's output row is written contiguously.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def filter_cascade_exact(first_event: np.ndarray, event_step: np.ndarray, event_input: np.ndarray,
                         propagator: np.ndarray, out: np.ndarray) -> None:
    """Exact propagation of an ``n + 1``-stage cascade between grid points, written into ``out``.

    The stages obey ``tau x_0' = -x_0 + spikes`` and ``tau x_j' = x_{j-1} - x_j``; over one step of
    ``a = dt / tau`` the free solution is ``x_j <- sum_{m <= j} propagator[m] x_{j-m}`` with
    ``propagator[m] = exp(-a) a**m / m!`` (the exponential of a shifted identity).

    first_event : int64 (n_neurons + 1,); event_step : int64 (n_events,)
    event_input : float64 (n_events, n + 1), what each spike adds to each stage at its step
    propagator : float64 (n + 1,); out : float64 (n_neurons, n_t), receives the last stage
    """
    n_neurons, n_t = out.shape
    n_stages = propagator.shape[0]
    state = np.zeros(n_stages)
    for neuron in range(n_neurons):
        state[:] = 0.0
        event = first_event[neuron]
        last = first_event[neuron + 1]
        for step in range(n_t):
            if step > 0:
                # Last stage first: stage j reads the not-yet-updated stages below it.
                for stage in range(n_stages - 1, -1, -1):
                    total = 0.0
                    for m in range(stage + 1):
                        total += propagator[m] * state[stage - m]
                    state[stage] = total
            while event < last and event_step[event] == step:
                for stage in range(n_stages):
                    state[stage] += event_input[event, stage]
                event += 1
            out[neuron, step] = state[n_stages - 1]


@numba.njit(cache=True)
def filter_cascade_euler(first_event: np.ndarray, event_step: np.ndarray, dt_over_tau: float,
                         spike_input: float, n_stages: int, out: np.ndarray) -> None:
    """Forward-Euler cascade: each stage ``x_j <- x_j + (dt / tau) (x_{j-1} - x_j)`` from the
    previous step's values (``x_{-1} = 0``), then each spike felt at this step adds
    ``spike_input`` (= 1 / tau) to the first stage. ``out`` receives the last stage.
    """
    n_neurons, n_t = out.shape
    state = np.zeros(n_stages)
    for neuron in range(n_neurons):
        state[:] = 0.0
        event = first_event[neuron]
        last = first_event[neuron + 1]
        for step in range(n_t):
            if step > 0:
                # Last stage first, so that each stage reads its predecessor's previous value.
                for stage in range(n_stages - 1, 0, -1):
                    state[stage] += dt_over_tau * (state[stage - 1] - state[stage])
                state[0] -= dt_over_tau * state[0]
            while event < last and event_step[event] == step:
                state[0] += spike_input
                event += 1
            out[neuron, step] = state[n_stages - 1]
