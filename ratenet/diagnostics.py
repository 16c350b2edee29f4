"""Why a spiking twin does (or does not) match its rate network: conversion diagnostics.

A conversion fails in a few typical ways: a layer's neurons fire far less than the rate network
says (silent units: inputs too weak, a deep layer starved by the one before), pile up at their
ceiling ``1 / tau_ref`` (saturated units: inputs too strong, the rate curve flattened there), or
need longer than the presentation to settle. :func:`diagnose` measures all of it in one run and
returns numbers; the ``plot_*`` functions draw them on a matplotlib ``Axes``:

>>> diagnosis = rn.diagnose(snet, X_test, y_test, t_end=0.2)      # doctest: +SKIP
>>> print(diagnosis.summary())                                      # doctest: +SKIP
>>> rn.plot_rate_scatter(diagnosis, layer=1, ax=ax)                 # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spiking import SpikingClassifier
from .validation import check_axes, check_positive, check_positive_int

__all__ = ["ConversionDiagnosis", "LayerDiagnosis", "diagnose", "plot_accuracy_over_time",
           "plot_rate_histogram", "plot_rate_scatter"]


@dataclass(frozen=True, repr=False)
class LayerDiagnosis:
    """How one hidden layer's spiking neurons follow the rate network.

    Attributes
    ----------
    name, neuron : str
        The layer ("hidden 2") and its neuron model ("LIF", "HH", ...).
    predicted, measured : ndarray, shape (n_samples, n_neurons)
        The rate (Hz) the rate network assigns to each neuron, and the rate its spiking twin fired
        at over the averaging window.
    max_rate : float
        The neurons' ceiling (Hz), ``1 / tau_ref`` for LIF.
    correlation : float
        Pearson correlation of measured with predicted rates over every (sample, neuron) (NaN when
        either is constant).
    slope : float
        Least-squares slope of measured against predicted rates through the origin (1 when the
        spikes reproduce the rates; below 1 when they fall short).
    rms_error : float
        Root-mean-square of ``measured - predicted`` (Hz).
    silent_units : int
        Neurons that fired no spike for any sample (dead in the spiking twin), of which
        ``silent_but_predicted`` the rate network expected to fire for some sample.
    saturated_units : int
        Neurons that reached ``saturation * max_rate`` for at least one sample.
    saturated_fraction : float
        Fraction of (sample, neuron) pairs at or above ``saturation * max_rate``.
    histogram : ndarray, shape (n_bins,)
        Counts of measured rates in the bins ``bin_edges`` (Hz), which reach ``max_rate``.
    bin_edges : ndarray, shape (n_bins + 1,)
    """

    name: str
    neuron: str
    predicted: np.ndarray
    measured: np.ndarray
    max_rate: float
    correlation: float
    slope: float
    rms_error: float
    silent_units: int
    silent_but_predicted: int
    saturated_units: int
    saturated_fraction: float
    histogram: np.ndarray
    bin_edges: np.ndarray

    @property
    def n_neurons(self) -> int:
        return self.predicted.shape[1]

    def __repr__(self) -> str:
        return (f"LayerDiagnosis({self.name!r}, {self.neuron}, n={self.n_neurons}, r={self.correlation:.3f}, "
                f"slope={self.slope:.3f}, silent={self.silent_units}, saturated={self.saturated_units})")


@dataclass(frozen=True, repr=False)
class ConversionDiagnosis:
    """What :func:`diagnose` measured.

    Attributes
    ----------
    layers : list of LayerDiagnosis
        One per hidden layer, in order.
    times : ndarray, shape (n_points,)
        Presentation times (s).
    accuracy : ndarray, shape (n_points,)
        Spiking accuracy at each presentation time (empty arrays when no labels were given).
    rate_accuracy : float or None
        The rate network's accuracy on the same samples (None without labels).
    spiking_accuracy : float or None
        The spiking twin's accuracy over the whole presentation.
    t_settle, t_end : float
        The averaging window of the rates (s).
    saturation : float
        The fraction of ``max_rate`` counted as saturated.
    """

    layers: list
    times: np.ndarray
    accuracy: np.ndarray
    rate_accuracy: float | None
    spiking_accuracy: float | None
    t_settle: float
    t_end: float
    saturation: float

    def summary(self) -> str:
        """A plain-text table: one row per layer, then the accuracies."""
        header = (f"{'layer':<10} {'neuron':<7} {'units':>6} {'r':>6} {'slope':>6} {'rms Hz':>7} "
                  f"{'silent':>7} {'saturated':>9}")
        rows = [header, "-" * len(header)]
        for layer in self.layers:
            rows.append(f"{layer.name:<10} {layer.neuron:<7} {layer.n_neurons:>6} {layer.correlation:>6.3f} "
                        f"{layer.slope:>6.3f} {layer.rms_error:>7.2f} {layer.silent_units:>7} "
                        f"{layer.saturated_units:>9}")
        if self.rate_accuracy is not None:
            rows.append(f"accuracy: rate {self.rate_accuracy:.4f}, spiking {self.spiking_accuracy:.4f} "
                        f"at {self.t_end * 1e3:g} ms (window from {self.t_settle * 1e3:g} ms)")
        return "\n".join(rows)

    def __repr__(self) -> str:
        accuracy = ("" if self.rate_accuracy is None else
                    f", rate {self.rate_accuracy:.3f} vs spiking {self.spiking_accuracy:.3f}")
        return f"ConversionDiagnosis(layers={self.layers!r}{accuracy})"


def diagnose(snet: SpikingClassifier, X, y=None, t_end: float = 0.2, *, n_points: int = 20,
             bins: int = 30, saturation: float = 0.9, **options) -> ConversionDiagnosis:
    """Run the spiking twin on ``X`` once and compare every layer with the rate network.

    Parameters
    ----------
    snet : SpikingClassifier
        What :func:`~ratenet.to_spiking` returned.
    X : array_like, shape (n_samples, n_inputs)
        Samples (a few hundred suffice).
    y : array_like, optional
        Their labels, for the accuracies (rate, spiking, and against presentation time).
    t_end : float
        Presentation time (s).
    n_points : int
        Presentation times of the accuracy curve.
    bins : int
        Bins of the rate histograms, spanning ``[0, max_rate]`` (or the largest measured rate, if
        higher or if the ceiling is infinite).
    saturation : float
        A rate at or above ``saturation * max_rate`` counts as saturated; in (0, 1].
    **options
        Passed to :meth:`SpikingClassifier.run` (t_settle, seed, progress, record_every).

    Returns
    -------
    ConversionDiagnosis
    """
    if not isinstance(snet, SpikingClassifier):
        raise TypeError(f"snet must be a SpikingClassifier (from rn.to_spiking), got {type(snet).__name__}")
    n_points = check_positive_int("n_points", n_points)
    bins = check_positive_int("bins", bins)
    saturation = check_positive("saturation", saturation)
    if saturation > 1:
        raise ValueError(f"saturation must be in (0, 1] (a fraction of the ceiling), got {saturation!r}")
    predicted, rate_outputs = snet.rate_forward(X)
    result = snet.run(X, t_end, **options)
    layers = [_diagnose_layer(layer, expected, measured, bins, saturation)
              for layer, expected, measured in zip(snet.layers, predicted, result.hidden_rates, strict=True)]
    times = accuracy = np.zeros(0)
    rate_accuracy = spiking_accuracy = None
    if y is not None:
        times, accuracy = snet.accuracy_curve(result, y, n_points)
        rate_accuracy = snet.accuracy(rate_outputs, y)
        spiking_accuracy = snet.accuracy(result.outputs, y)
    return ConversionDiagnosis(layers, times, accuracy, rate_accuracy, spiking_accuracy, result.t_settle,
                               result.t_end, saturation)


def _diagnose_layer(layer, predicted: np.ndarray, measured: np.ndarray, bins: int,
                    saturation: float) -> LayerDiagnosis:
    max_rate = layer.twin.max_rate
    flat_predicted, flat_measured = predicted.ravel(), measured.ravel()
    if np.std(flat_predicted) > 0 and np.std(flat_measured) > 0:
        correlation = float(np.corrcoef(flat_predicted, flat_measured)[0, 1])
    else:
        correlation = float("nan")
    norm = float(flat_predicted @ flat_predicted)
    slope = float(flat_predicted @ flat_measured) / norm if norm > 0 else float("nan")
    rms_error = float(np.sqrt(np.mean((flat_measured - flat_predicted) ** 2)))
    silent = ~np.any(measured > 0, axis=0)
    ceiling = saturation * max_rate
    saturated = measured >= ceiling
    top = max_rate if np.isfinite(max_rate) else 0.0
    top = max(top, float(measured.max(initial=0.0)), 1e-9)
    histogram, edges = np.histogram(flat_measured, bins=bins, range=(0.0, top))
    silent_but_predicted = int((silent & np.any(predicted > 0, axis=0)).sum())
    return LayerDiagnosis(layer.name, layer.twin.kind, predicted, measured, float(max_rate), correlation,
                          slope, rms_error, int(silent.sum()), silent_but_predicted,
                          int(np.any(saturated, axis=0).sum()), float(saturated.mean()), histogram, edges)


# --------------------------------------------------------------------------- plots

def plot_rate_scatter(diagnosis: ConversionDiagnosis, layer: int = 0, ax=None, *, max_points: int = 5000,
                      seed: int = 0, color: str = "C0"):
    """Measured spiking rate against the rate network's rate for one layer's (sample, neuron) pairs.

    Points on the diagonal are neurons that fire as the rate network says; the dotted line marks
    the ceiling ``max_rate`` (saturation). At most ``max_points`` pairs are drawn (a seeded random
    subset), so large layers stay legible.

    Parameters
    ----------
    diagnosis : ConversionDiagnosis
    layer : int
        Index of the hidden layer (0 is the first).
    ax : matplotlib Axes, optional
        Where to draw; a new figure's axes when None.

    Returns
    -------
    matplotlib Axes
    """
    record = _layer(diagnosis, layer)
    ax = check_axes(ax, (5.5, 4.0))
    predicted, measured = record.predicted.ravel(), record.measured.ravel()
    max_points = check_positive_int("max_points", max_points)
    if predicted.size > max_points:
        keep = np.random.default_rng(seed).choice(predicted.size, max_points, replace=False)
        predicted, measured = predicted[keep], measured[keep]
    ax.scatter(predicted, measured, s=5, alpha=0.35, color=color, edgecolors="none", rasterized=True)
    top = max(float(predicted.max(initial=0)), float(measured.max(initial=0)), 1.0) * 1.05
    ax.plot([0, top], [0, top], color="0.3", linewidth=0.9, linestyle="--", label="spiking = rate")
    if np.isfinite(record.max_rate) and record.max_rate <= 1.5 * top:
        ax.axhline(record.max_rate, color="C3", linewidth=0.9, linestyle=":", label=_ceiling_label(record))
    ax.set_xlim(0, top)
    ax.set_ylim(0, max(top, record.max_rate * 1.05 if np.isfinite(record.max_rate) and
                       record.max_rate <= 1.5 * top else top))
    ax.set_xlabel("rate network's rate (Hz)")
    ax.set_ylabel("spiking rate (Hz)")
    ax.set_title(f"{record.name} ({record.neuron}): r = {record.correlation:.3f}, slope {record.slope:.2f}",
                 loc="left", fontsize="medium")
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    return ax


def plot_rate_histogram(diagnosis: ConversionDiagnosis, layer: int = 0, ax=None, *, color: str = "C0"):
    """Histogram of one layer's spiking rates (bars) and the rate network's rates (outline), with
    the ceiling ``max_rate`` marked; silent and saturated units in the title.

    Returns
    -------
    matplotlib Axes
    """
    record = _layer(diagnosis, layer)
    ax = check_axes(ax, (5.5, 4.0))
    edges = record.bin_edges
    ax.stairs(record.histogram, edges, fill=True, color=color, alpha=0.55, label="spiking")
    predicted, _ = np.histogram(record.predicted.ravel(), bins=edges)
    ax.stairs(predicted, edges, color="0.2", linewidth=1.0, label="rate network")
    if np.isfinite(record.max_rate):
        ax.axvline(record.max_rate, color="C3", linewidth=0.9, linestyle=":", label=_ceiling_label(record))
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("firing rate (Hz)")
    ax.set_ylabel("(sample, neuron) pairs")
    ax.set_title(f"{record.name}: {record.silent_units} of {record.n_neurons} silent, "
                 f"{record.saturated_units} saturated", loc="left", fontsize="medium")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_accuracy_over_time(diagnosis: ConversionDiagnosis, ax=None, *, color: str = "C0",
                            label: str | None = None):
    """Spiking accuracy against presentation time, with the rate network's accuracy dashed.

    Returns
    -------
    matplotlib Axes
    """
    if not isinstance(diagnosis, ConversionDiagnosis):
        raise TypeError(f"diagnosis must be a ConversionDiagnosis, got {type(diagnosis).__name__}")
    if diagnosis.rate_accuracy is None:
        raise ValueError("this diagnosis has no accuracies: call diagnose(snet, X, y) with labels")
    ax = check_axes(ax, (5.5, 4.0))
    ax.plot(diagnosis.times * 1e3, diagnosis.accuracy, marker="o", markersize=3, color=color,
            label=label or "spiking")
    ax.axhline(diagnosis.rate_accuracy, color=color, linestyle="--", linewidth=1.0, alpha=0.8,
               label="rate network")
    ax.set_xlabel("presentation time (ms)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, diagnosis.t_end * 1e3)
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    return ax


def _ceiling_label(record: LayerDiagnosis) -> str:
    meanings = {"LIF": "1/τref", "HH": "top of the measured curve", "IF": "rate budget"}
    meaning = meanings.get(record.neuron, "ceiling")
    return f"max rate {record.max_rate:.4g} Hz ({meaning})"


def _layer(diagnosis, layer) -> LayerDiagnosis:
    if not isinstance(diagnosis, ConversionDiagnosis):
        raise TypeError(f"diagnosis must be a ConversionDiagnosis, got {type(diagnosis).__name__}")
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not (
            -len(diagnosis.layers) <= layer < len(diagnosis.layers)):
        raise ValueError(f"layer must be an index of the {len(diagnosis.layers)} hidden layers, "
                         f"got {layer!r}")
    return diagnosis.layers[layer]
