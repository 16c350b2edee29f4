"""Numba kernels that filter spike trains through a cascade of first-order synapses.

Both kernels take the spikes in compressed form: neuron ``i``'s events are
``event_step[first_event[i]:first_event[i + 1]]`` (sorted), the grid index at which each spike is
first felt. Neurons do not interact, so the loop runs neuron by neuron and, inside, from one event
to the next: between events the cascade evolves freely, in a tight loop whose state lives in
scalars (for up to three stages, kernels of order n <= 2) and whose output row is written
contiguously.

One step of the free evolution is a linear map of the stages, ``x_j <- sum_m A[m] x_{j-m}``:
``A[m] = exp(-a) a**m / m!`` for the exact propagator (the exponential of a shifted identity, with
``a = dt / tau``), and ``A = (1 - a, a)`` for forward Euler, ``x_j <- x_j + a (x_{j-1} - x_j)``.
Both kernels share that form, so they share this code.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _filter_cascade(first_event: np.ndarray, event_step: np.ndarray, event_input: np.ndarray,
                    step_map: np.ndarray, n_stages: int, out: np.ndarray) -> None:
    """Run the cascade for every neuron and write its last stage into ``out``.

    first_event : int64 (n_neurons + 1,); event_step : int64 (n_events,)
    event_input : float64 (n_events, n_stages), added to the stages at the event's step
    step_map : float64 (n_stages,), the coefficients ``A[m]`` of one free step (zero-padded)
    out : float64 (n_neurons, n_t)
    """
    n_neurons, n_t = out.shape
    state = np.zeros(n_stages)
    a0 = step_map[0]
    a1 = step_map[1] if n_stages > 1 else 0.0
    a2 = step_map[2] if n_stages > 2 else 0.0
    for neuron in range(n_neurons):
        state[:] = 0.0
        event = first_event[neuron]
        last = first_event[neuron + 1]
        step = 0
        while step < n_t:
            while event < last and event_step[event] == step:
                for stage in range(n_stages):
                    state[stage] += event_input[event, stage]
                event += 1
            stop = event_step[event] if event < last else n_t
            # Free evolution over [step, stop): report, then advance one step. The state left
            # behind is the state at `stop`, before that step's spikes are added.
            if n_stages == 1:
                x0 = state[0]
                for k in range(step, stop):
                    out[neuron, k] = x0
                    x0 *= a0
                state[0] = x0
            elif n_stages == 2:
                x0, x1 = state[0], state[1]
                for k in range(step, stop):
                    out[neuron, k] = x1
                    x1 = a0 * x1 + a1 * x0
                    x0 *= a0
                state[0], state[1] = x0, x1
            elif n_stages == 3:
                x0, x1, x2 = state[0], state[1], state[2]
                for k in range(step, stop):
                    out[neuron, k] = x2
                    x2 = a0 * x2 + a1 * x1 + a2 * x0
                    x1 = a0 * x1 + a1 * x0
                    x0 *= a0
                state[0], state[1], state[2] = x0, x1, x2
            else:
                for k in range(step, stop):
                    out[neuron, k] = state[n_stages - 1]
                    # Last stage first: stage j reads the not-yet-updated stages below it.
                    for stage in range(n_stages - 1, -1, -1):
                        total = 0.0
                        for m in range(stage + 1):
                            total += step_map[m] * state[stage - m]
                        state[stage] = total
            step = stop


@numba.njit(cache=True)
def filter_cascade_exact(first_event: np.ndarray, event_step: np.ndarray, event_input: np.ndarray,
                         propagator: np.ndarray, out: np.ndarray) -> None:
    """Exact propagation of an ``n + 1``-stage cascade between grid points, written into ``out``.

    propagator : float64 (n + 1,), ``exp(-a) a**m / m!``
    event_input : float64 (n_events, n + 1), the kernel's stage values ``h_j(offset)`` per spike
    """
    _filter_cascade(first_event, event_step, event_input, propagator, propagator.shape[0], out)


@numba.njit(cache=True)
def filter_cascade_euler(first_event: np.ndarray, event_step: np.ndarray, dt_over_tau: float,
                         spike_input: float, n_stages: int, out: np.ndarray) -> None:
    """Forward-Euler cascade: each stage ``x_j <- x_j + (dt / tau) (x_{j-1} - x_j)`` from the
    previous step's values (``x_{-1} = 0``), then each spike felt at this step adds
    ``spike_input`` (= 1 / tau) to the first stage. ``out`` receives the last stage.
    """
    step_map = np.zeros(n_stages)
    step_map[0] = 1.0 - dt_over_tau
    if n_stages > 1:
        step_map[1] = dt_over_tau
    event_input = np.zeros((event_step.shape[0], n_stages))
    event_input[:, 0] = spike_input
    _filter_cascade(first_event, event_step, event_input, step_map, n_stages, out)
