"""Matplotlib helpers for neurosim's results: voltage traces, spike rasters, filtered spike trains
and firing-rate (f-I) curves.

Every function draws into the ``ax`` it is given, or into a new figure when ``ax`` is None, and
returns the Axes; none calls ``plt.show()``. Times are drawn in milliseconds (the library's times
are seconds). matplotlib is imported only when needed, so ``import neurosim`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

import numpy as np

from .spikes import SpikeTrains
from .synapse import PSC, psc_kernel
from .validation import as_finite_array, check_axes, check_positive

if _TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from matplotlib.axes import Axes

    from ._result import SimResult

__all__ = ["filtered", "filtered_traces", "network_raster", "raster", "rate_curve", "voltage"]

_MS_PER_S = 1e3
# Beyond this many traces a legend says nothing a reader can use.
_MAX_LEGEND_ENTRIES = 10


def _tidy(ax: Axes) -> None:
    """A light grid behind the data, and no top or right frame."""
    ax.grid(True, color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _neuron_indices(neurons: object, n_neurons: int) -> np.ndarray:
    if neurons is None:
        return np.arange(n_neurons)
    if isinstance(neurons, slice):
        return np.arange(n_neurons)[neurons]
    index = np.atleast_1d(np.asarray(neurons))
    if not np.issubdtype(index.dtype, np.integer) or index.ndim != 1:
        raise TypeError(f"neurons must be an int, a slice or a 1-D sequence of ints, got {neurons!r}")
    if index.size and (index.min() < 0 or index.max() >= n_neurons):
        raise ValueError(f"neurons must lie in [0, {n_neurons}), got {neurons!r}")
    return index


def _neuron_labels(labels, index: np.ndarray) -> list:
    """The legend labels of the drawn neurons: ``labels`` checked, or "neuron i" by default."""
    if labels is None:
        return [f"neuron {i}" for i in index]
    if len(labels) != index.size:
        raise ValueError(f"labels must have one entry per drawn neuron ({index.size}), got {len(labels)}")
    return labels


def _voltage_label(v_unit: str) -> str:
    if v_unit in ("", "1"):
        return "membrane potential v (threshold 1)"
    return f"membrane potential ({v_unit})"


def voltage(result: SimResult, ax: Axes | None = None, neurons: object = None,
            threshold: float | None = None, labels: Sequence[str] | None = None,
            **line_kwargs: object) -> Axes:
    """Membrane potential traces of a simulation.

    Parameters
    ----------
    result : SimResult
        A simulation run with voltages recorded (``result.v`` not None).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    neurons : int, slice or sequence of int, optional
        Which neurons to draw; all by default.
    threshold : float, optional
        Spike threshold in ``result.v_unit``, drawn as a dashed line.
    labels : sequence of str, optional
        One legend label per drawn neuron; "neuron i" by default. The legend is shown for up to
        10 traces.
    **line_kwargs
        Passed to ``ax.plot`` (``linewidth``, ``alpha``, ...).

    Returns
    -------
    Axes
        One line per neuron, x in ms, y in ``result.v_unit``.
    """
    if result.v is None:
        raise ValueError("result has no voltage traces (it was run with record_v=False); "
                         "simulate with record_v=True to plot them")
    index = _neuron_indices(neurons, result.v.shape[0])
    labels = _neuron_labels(labels, index)
    ax = check_axes(ax, (7.0, 3.8))
    line_kwargs.setdefault("linewidth", 1.0)
    t_ms = np.asarray(result.t) * _MS_PER_S
    for i, label in zip(index, labels, strict=True):
        ax.plot(t_ms, result.v[i], label=label, **line_kwargs)
    if threshold is not None:
        ax.axhline(threshold, color="0.4", linestyle="--", linewidth=0.8, label="threshold")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(_voltage_label(result.v_unit))
    if t_ms.size:
        ax.set_xlim(t_ms[0], t_ms[-1])
    if 0 < index.size <= _MAX_LEGEND_ENTRIES:
        # A light box: voltage spikes reach the top of the axes, where the legend sits.
        ax.legend(fontsize="small", loc="upper right", framealpha=0.85, edgecolor="none")
    _tidy(ax)
    return ax


def raster(spikes: SpikeTrains | SimResult, ax: Axes | None = None, neurons: object = None,
           color: str = "k", marker_size: float | None = None) -> Axes:
    """Spike raster: one row per neuron, a tick at each spike.

    Drawn as a single line artist with ``|`` markers (no connecting line), which stays fast and
    legible from one neuron to many thousands.

    Parameters
    ----------
    spikes : SpikeTrains or SimResult
        The spike trains (a SimResult's ``spikes`` are used).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    neurons : int, slice or sequence of int, optional
        Which neurons to draw, from bottom to top; all by default.
    color : str
        Colour of the ticks.
    marker_size : float, optional
        Tick height in points; by default 0.8 of a row's height, between 1 and 16 points.

    Returns
    -------
    Axes
        x: spike times in ms; y: row of each neuron (0 at the bottom).
    """
    trains = spikes.spikes if hasattr(spikes, "spikes") else spikes
    if not isinstance(trains, SpikeTrains):
        raise TypeError(f"spikes must be a SpikeTrains or a SimResult, got {type(spikes).__name__}")
    index = _neuron_indices(neurons, trains.n_neurons)
    ax = check_axes(ax, (7.0, 3.8))
    times = [trains.times[i] for i in index]
    x_ms = np.concatenate(times) * _MS_PER_S if times else np.zeros(0)
    rows = np.repeat(np.arange(index.size), [train.size for train in times])
    if marker_size is None:
        height_points = ax.bbox.height * 72.0 / ax.figure.dpi
        marker_size = float(np.clip(0.8 * height_points / max(index.size, 1), 1.0, 16.0))
    else:
        marker_size = check_positive("marker_size", marker_size)
    ax.plot(x_ms, rows, linestyle="none", marker="|", markersize=marker_size,
            markeredgewidth=max(0.5, min(1.2, marker_size / 4)), color=color)
    ax.set_xlim(trains.t_start * _MS_PER_S, trains.t_end * _MS_PER_S)
    ax.set_ylim(-0.5, max(index.size, 1) - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    if index.size <= 20:
        ax.set_yticks(np.arange(index.size), [str(i) for i in index])
    else:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        # Rows are positions in `neurons`; label them with the neurons' own indices.
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda row, _: str(index[int(row)]) if row == int(row) and 0 <= row < index.size else ""))
    _tidy(ax)
    ax.grid(False, axis="y")
    return ax


def filtered(trains: SpikeTrains, filtered_trains: object, dt: float, ax: Axes | None = None,
             neurons: object = None, synapse: PSC | None = None,
             labels: Sequence[str] | None = None, show_spikes: bool = True,
             spike_color: str | None = None, **line_kwargs: object) -> Axes:
    """Filtered spike trains (as :func:`neurosim.filter_spikes` returns them), with their spikes.

    Parameters
    ----------
    trains : SpikeTrains
        The spikes that were filtered; drawn as ticks along the bottom when ``show_spikes``.
    filtered_trains : ndarray, shape (n_neurons, n_t)
        The filtered trains (1/s) on the grid ``trains.t_start + k * dt``.
    dt : float
        Grid step (s), > 0.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    neurons : int, slice or sequence of int, optional
        Which neurons to draw; all by default.
    synapse : PSC, optional
        The synapse the trains were filtered through: draws its kernel ``h(t)`` in an inset at the
        upper right (available as ``ax.child_axes[0]``).
    labels : sequence of str, optional
        One legend label per drawn neuron; "neuron i" by default (legend for up to 10 traces).
    show_spikes : bool
        Draw each spike as a tick below the traces, one row per neuron.
    spike_color : str, optional
        Colour of the spike ticks; each trace's own colour by default.
    **line_kwargs
        Passed to ``ax.plot`` for the traces.

    Returns
    -------
    Axes
        One line per drawn neuron (x in ms on the grid, y the filtered values), then the spike
        ticks.
    """
    dt = check_positive("dt", dt)
    if synapse is not None and not isinstance(synapse, PSC):
        raise TypeError(f"synapse must be a neurosim.PSC, got {type(synapse).__name__}")
    values = as_finite_array("filtered_trains", filtered_trains, ndim=2)
    if values.shape[0] != trains.n_neurons:
        raise ValueError(f"filtered_trains must have one row per neuron of trains ({trains.n_neurons}), "
                         f"got shape {values.shape}")
    index = _neuron_indices(neurons, trains.n_neurons)
    labels = _neuron_labels(labels, index)
    ax = check_axes(ax, (7.0, 3.8))
    line_kwargs.setdefault("linewidth", 1.2)
    t_ms = (trains.t_start + np.arange(values.shape[1]) * dt) * _MS_PER_S
    lines = [ax.plot(t_ms, values[i], label=label, **line_kwargs)[0]
             for i, label in zip(index, labels, strict=True)]
    top = max(float(values[index].max()) if index.size else 0.0, 1e-12)
    if show_spikes:
        # Ticks just below zero, one band per neuron, so they never hide the traces.
        band = 0.06 * top
        for row, (i, line) in enumerate(zip(index, lines, strict=True)):
            ax.plot(trains.times[i] * _MS_PER_S, np.full(trains.times[i].size, -band * (row + 1)),
                    linestyle="none", marker="|", markersize=7,
                    color=line.get_color() if spike_color is None else spike_color)
        ax.set_ylim(-band * (index.size + 1), 1.08 * top)
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("filtered spike train (1/s)")
    if 1 < index.size <= _MAX_LEGEND_ENTRIES:
        ax.legend(frameon=False, fontsize="small", loc="upper left")
    _tidy(ax)
    if synapse is not None:
        _kernel_inset(ax, synapse)
    return ax


def _kernel_inset(ax: Axes, synapse: PSC) -> Axes:
    tau_s, order = synapse.tau_s, synapse.order
    t = np.linspace(0.0, (order + 6) * tau_s, 400)
    inset = ax.inset_axes([0.70, 0.55, 0.28, 0.40])
    inset.plot(t * _MS_PER_S, psc_kernel(t, synapse), color="0.2", linewidth=1.2)
    inset.set_title(f"h(t), τs = {tau_s * _MS_PER_S:g} ms, order {order}", fontsize="x-small")
    inset.set_xlabel("t (ms)", fontsize="x-small", labelpad=1)
    inset.tick_params(labelsize="x-small", length=2, pad=1)
    inset.set_xlim(t[0] * _MS_PER_S, t[-1] * _MS_PER_S)
    inset.set_ylim(bottom=0)
    inset.patch.set_alpha(0.9)
    _tidy(inset)
    return inset


def _input_label(unit: str) -> str:
    if unit in ("", "1", "normalized"):
        return "input (normalized, threshold 1)"
    return f"input current ({unit})"


def rate_curve(curve: object, ax: Axes | None = None,
               analytic: Callable[[np.ndarray], np.ndarray] | object | None = None,
               n_points: int = 400, label: str | None = None, analytic_label: str | None = None,
               color: str | None = None) -> Axes:
    """A firing-rate (f-I) curve: the simulated points and their interpolant, with an optional
    analytic curve overlaid.

    Parameters
    ----------
    curve : RateCurve
        Any object with ``inputs`` (ndarray), ``rates`` (Hz at those inputs), ``input_unit`` (str),
        ``label`` (str), callable as ``curve(x)`` -> Hz (see :mod:`neurosim.rates`).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    analytic : callable or RateCurve, optional
        A reference ``f(x)`` in Hz (e.g. ``lambda v: lif_rate(v, tau_m, tau_ref)``), drawn as a
        dashed line over the same inputs.
    n_points : int
        Points of the smooth lines.
    label, analytic_label : str, optional
        Legend labels; default to ``curve.label`` (or "simulated") and ``analytic.label`` (or
        "analytic").
    color : str, optional
        Colour of the simulated curve.

    Returns
    -------
    Axes
        Lines in this order: the interpolant ``curve(x)``, the simulated markers, then the analytic
        line if given. x in ``curve.input_unit``, y in Hz.
    """
    inputs = as_finite_array("curve.inputs", curve.inputs, ndim=1)
    rates = as_finite_array("curve.rates", curve.rates, ndim=1)
    if inputs.shape != rates.shape or inputs.size == 0:
        raise ValueError(f"curve.inputs and curve.rates must be non-empty and of the same shape, got "
                         f"{inputs.shape} and {rates.shape}")
    if analytic is not None and not callable(analytic):
        raise TypeError("analytic must be callable (a function or a rate curve), got "
                        f"{type(analytic).__name__}")
    ax = check_axes(ax, (5.5, 4.0))
    if label is None:
        label = getattr(curve, "label", "") or "simulated"
    x = np.linspace(inputs.min(), inputs.max(), int(n_points))
    line, = ax.plot(x, np.asarray(curve(x), dtype=float), color=color, linewidth=1.3, label=label)
    points, = ax.plot(inputs, rates, linestyle="none", marker="o", markersize=4.5, color=line.get_color(),
                      markerfacecolor="white", markeredgewidth=1.1, zorder=3, clip_on=False)
    handles, texts = [(line, points)], [label]
    if analytic is not None:
        if analytic_label is None:
            analytic_label = getattr(analytic, "label", "") or "analytic"
        reference, = ax.plot(x, np.asarray(analytic(x), dtype=float), color="0.15", linestyle="--",
                             linewidth=1.1, label=analytic_label)
        handles.append(reference)
        texts.append(analytic_label)
    ax.set_xlabel(_input_label(getattr(curve, "input_unit", "")))
    ax.set_ylabel("firing rate (Hz)")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(bottom=0)
    # The simulated entry shows its markers over its line.
    ax.legend(handles, texts, frameon=False, fontsize="small", loc="upper left")
    _tidy(ax)
    return ax


# --------------------------------------------------------------------------- spiking networks

def _population_trains(item: object, result: object, trial: int) -> tuple[SpikeTrains, str]:
    """The spike trains an entry of ``network_raster``'s ``probes`` stands for, and its label."""
    if isinstance(item, SpikeTrains):
        return item, ""
    kind = getattr(item, "kind", None)
    target = getattr(item, "target", None)
    if kind is None or target is None:
        raise TypeError("probes must hold spike probes (SpikingNetwork.probe(population, 'spikes')) or "
                        f"SpikeTrains, got {type(item).__name__}")
    if kind != "spikes":
        raise ValueError(f"network_raster draws spikes; the probe of {target.label!r} records {kind!r}")
    if result is None:
        raise ValueError("result is needed to look up probes (pass the NetworkResult of the run)")
    trains = result[item]
    if isinstance(trains, list):
        if not 0 <= trial < len(trains):
            raise ValueError(f"trial must lie in [0, {len(trains)}), got {trial!r}")
        trains = trains[trial]
    return trains, str(target.label)


def network_raster(result: object, probes: Sequence[object], ax: Axes | None = None,
                   labels: Sequence[str] | None = None, colors: Sequence[str] | None = None,
                   trial: int = 0, marker_size: float | None = None, separators: bool = True) -> Axes:
    """Spike raster of several populations of a network, stacked in bands with their labels.

    The first population is drawn in the top band, the next one below it, and so on (the order of
    the network's layers read from top to bottom). Each band is one line artist of ``|`` markers
    in the population's colour, one row per neuron.

    Parameters
    ----------
    result : NetworkResult or None
        The run whose spike probes are drawn (see :meth:`neurosim.SpikingNetwork.run`). May be None
        when ``probes`` holds only SpikeTrains.
    probes : sequence of Probe or SpikeTrains
        Spike probes (``network.probe(population, "spikes")``) of the populations to draw, or the
        spike trains themselves. All must share the time span of the first.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    labels : sequence of str, optional
        One label per population; default the populations' labels ("population i" for trains).
    colors : sequence of str, optional
        One colour per population; matplotlib's colour cycle by default.
    trial : int
        Which trial to draw when the network ran several (``n_trials > 1``).
    marker_size : float, optional
        Tick height in points; by default 0.8 of a row's height, between 0.5 and 8 points.
    separators : bool
        Draw a thin line between bands.

    Returns
    -------
    Axes
        One line per population, in the order given: x the spike times (ms), y the rows
        (population ``k`` of ``K`` with ``n_k`` neurons fills rows ``[offset_k, offset_k + n_k)``,
        offsets counted from the bottom band). The y tick labels name the populations at the
        centres of their bands.
    """
    items = list(probes)
    if not items:
        raise ValueError("probes must name at least one population")
    pairs = [_population_trains(item, result, trial) for item in items]
    if labels is None:
        labels = [label or f"population {k}" for k, (_, label) in enumerate(pairs)]
    elif len(labels) != len(pairs):
        raise ValueError(f"labels must have one entry per population ({len(pairs)}), got {len(labels)}")
    if colors is None:
        import matplotlib.pyplot as plt

        cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["k"])
        colors = [cycle[k % len(cycle)] for k in range(len(pairs))]
    elif len(colors) != len(pairs):
        raise ValueError(f"colors must have one entry per population ({len(pairs)}), got {len(colors)}")
    first = pairs[0][0]
    ax = check_axes(ax, (7.5, 4.5))
    sizes = [trains.n_neurons for trains, _ in pairs]
    total = sum(sizes)
    if marker_size is None:
        height_points = ax.bbox.height * 72.0 / ax.figure.dpi
        marker_size = float(np.clip(0.8 * height_points / max(total, 1), 0.5, 8.0))
    else:
        marker_size = check_positive("marker_size", marker_size)
    # Offsets from the bottom: the last population sits lowest.
    offsets = np.concatenate([[0], np.cumsum(sizes[::-1])])[:-1][::-1]
    centres = []
    for (trains, _), offset, color in zip(pairs, offsets, colors, strict=True):
        x_ms = np.concatenate(trains.times) * _MS_PER_S if trains.n_neurons else np.zeros(0)
        rows = offset + np.repeat(np.arange(trains.n_neurons), [t.size for t in trains.times])
        ax.plot(x_ms, rows, linestyle="none", marker="|", markersize=marker_size,
                markeredgewidth=max(0.5, min(1.2, marker_size / 4)), color=color)
        centres.append(offset + (trains.n_neurons - 1) / 2)
        if separators and offset > 0:
            ax.axhline(offset - 0.5, color="0.6", linewidth=0.6)
    ax.set_xlim(first.t_start * _MS_PER_S, first.t_end * _MS_PER_S)
    ax.set_ylim(-0.5, max(total, 1) - 0.5)
    ax.set_yticks(centres, [f"{label}\n({n} neurons)" for label, n in zip(labels, sizes, strict=True)])
    ax.tick_params(axis="y", length=0)
    for tick, color in zip(ax.get_yticklabels(), colors, strict=True):
        tick.set_color(color)
    ax.set_xlabel("time (ms)")
    _tidy(ax)
    ax.grid(False, axis="y")
    return ax


def filtered_traces(times: object, traces: object, ax: Axes | None = None,
                    rate_prediction: object = None, labels: Sequence[str] | None = None,
                    colors: Sequence[str] | None = None, highlight: int | None = None,
                    ylabel: str = "filtered output", **line_kwargs: object) -> Axes:
    """Filtered output traces of a spiking network, with the rate network's prediction overlaid.

    Parameters
    ----------
    times : array_like, shape (n_t,)
        Sample times (s), e.g. ``NetworkResult.times(probe)`` or ``SpikingOutput.times``.
    traces : array_like, shape (n_traces, n_t)
        The traces (filtered spike trains, or outputs read from them), one row per output.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    rate_prediction : array_like, shape (n_traces,) or (n_traces, n_t), optional
        What the rate network predicts for each trace (a constant per trace, or a value per
        sample time); drawn as dashed lines in the trace's colour.
    labels : sequence of str, optional
        One legend label per trace; "output i" by default (legend for up to 10 traces).
    colors : sequence of str, optional
        One colour per trace; matplotlib's colour cycle by default.
    highlight : int, optional
        Index of a trace to draw thicker and in front (e.g. the true class); the others are
        drawn lighter.
    ylabel : str
        Label of the y axis (with its unit).
    **line_kwargs
        Passed to ``ax.plot`` for the traces.

    Returns
    -------
    Axes
        Lines in this order: one per trace (x in ms, y the trace), then, if given, one dashed line
        per trace for the rate prediction. The legend shows the traces, and one "rate network"
        entry for the dashed lines.
    """
    t = as_finite_array("times", times, ndim=1)
    values = as_finite_array("traces", traces, ndim=2)
    if values.shape[1] != t.size:
        raise ValueError(f"traces must have shape (n_traces, {t.size}) to match times, got {values.shape}")
    n_traces = values.shape[0]
    prediction = None
    if rate_prediction is not None:
        prediction = as_finite_array("rate_prediction", rate_prediction, ndim=(1, 2))
        if prediction.shape not in ((n_traces,), values.shape):
            raise ValueError(f"rate_prediction must have shape ({n_traces},) or {values.shape}, "
                             f"got {prediction.shape}")
        if prediction.ndim == 1:
            prediction = np.repeat(prediction[:, None], t.size, axis=1)
    if labels is None:
        labels = [f"output {i}" for i in range(n_traces)]
    elif len(labels) != n_traces:
        raise ValueError(f"labels must have one entry per trace ({n_traces}), got {len(labels)}")
    if colors is not None and len(colors) != n_traces:
        raise ValueError(f"colors must have one entry per trace ({n_traces}), got {len(colors)}")
    if highlight is not None and not (isinstance(highlight, int | np.integer) and 0 <= highlight < n_traces):
        raise ValueError(f"highlight must be a trace index in [0, {n_traces}), got {highlight!r}")
    ax = check_axes(ax, (7.0, 3.8))
    t_ms = t * _MS_PER_S
    lines = []
    for i in range(n_traces):
        style = dict(line_kwargs)
        style.setdefault("linewidth", 1.2)
        if colors is not None:
            style.setdefault("color", colors[i])
        if highlight is not None:
            style["linewidth"] = 2.2 if i == highlight else 0.9 * float(style["linewidth"])
            style.setdefault("alpha", 1.0 if i == highlight else 0.55)
            style.setdefault("zorder", 3 if i == highlight else 2)
        lines.append(ax.plot(t_ms, values[i], label=labels[i], **style)[0])
    if prediction is not None:
        for i, line in enumerate(lines):
            ax.plot(t_ms, prediction[i], linestyle="--", linewidth=1.1, color=line.get_color(),
                    alpha=line.get_alpha(), zorder=line.get_zorder(),
                    label="rate network" if i == 0 else "_nolegend_")
    if t_ms.size:
        ax.set_xlim(t_ms[0], t_ms[-1])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    if n_traces <= _MAX_LEGEND_ENTRIES:
        handles, texts = ax.get_legend_handles_labels()
        if prediction is not None:
            from matplotlib.lines import Line2D

            # The dashed entry in neutral grey: it stands for every trace's prediction.
            handles[-1] = Line2D([], [], color="0.3", linestyle="--", linewidth=1.1)
        ax.legend(handles, texts, frameon=False, fontsize="small", loc="upper left",
                  ncols=2 if n_traces > 5 else 1)
    _tidy(ax)
    return ax
