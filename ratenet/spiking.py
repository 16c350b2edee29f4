"""A trained rate network run back as a spiking network of LIF neurons (neurosim).

A hidden layer of the rate network computes ``h = A G(g z + c)`` with ``z = W h_prev + b``, where
``G`` is the LIF rate (:func:`neurosim.lif_rate`), ``g`` the gain, ``c`` the bias and ``A`` the
amplitude of :class:`~ratenet.LIFRate`. Its spiking twin is a population of the same LIF neurons
whose input current is ``g (W x + b) + c``, with ``x`` the previous layer's spike trains filtered by
the PSC kernel and scaled by that layer's amplitude: a filtered spike train has the neuron's rate
as its mean, so at steady state ``A x`` is the rate network's ``h``. Hence

- the first hidden layer receives the sample as a constant current ``g (W_1 x + b_1) + c``
  (or, with ``input="spikes"``, Poisson spike trains at rates proportional to the pixels),
- a connection from layer ``l - 1`` to layer ``l`` has weights ``g_l A_{l-1} W_l`` and each neuron
  a constant current ``g_l b_l + c_l``,
- the output layer (a Dense layer with no activation, the logits) is read out linearly from the
  last hidden layer's filtered spike trains: ``W_L A x + b_L``, averaged over the presentation
  after a settling time.

:class:`~ratenet.SoftLIFRate` networks run as the plain LIF neurons: the smoothing only gives
training a gradient at threshold (Hunsberger & Eliasmith 2015). Every sample is one *trial* of a
single :class:`neurosim.SpikingNetwork` run, so a test set is simulated in one vectorised call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim import PSC, Population, SpikingNetwork

from .activations import Activation, LIFRate
from .layers import Dense
from .network import Network
from .validation import check_choice, check_nonnegative, check_positive, check_positive_int

INPUT_MODES = ("current", "spikes")


@dataclass(frozen=True, repr=False)
class SpikingOutput:
    """What :meth:`SpikingClassifier.run` produced for a batch of samples.

    Attributes
    ----------
    outputs : ndarray, shape (n_samples, n_outputs)
        The output layer read from the filtered spike trains averaged over ``[t_settle, t_end)``:
        the spiking counterpart of the rate network's logits (or regression outputs).
    trace : ndarray, shape (n_samples, n_outputs, n_times)
        The output layer read from the filtered spike trains at each time of ``times``.
    times : ndarray, shape (n_times,)
        Sample times of ``trace`` (s).
    hidden_rates : list of ndarray, each (n_samples, n_neurons)
        Mean firing rate (Hz) of every hidden population over ``[t_settle, t_end)``.
    t_settle, t_end : float
        The averaging window (s).
    """

    outputs: np.ndarray
    trace: np.ndarray
    times: np.ndarray
    hidden_rates: list
    t_settle: float
    t_end: float

    def __repr__(self) -> str:
        return (f"SpikingOutput(n_samples={self.outputs.shape[0]}, n_outputs={self.outputs.shape[1]}, "
                f"window=[{self.t_settle:g}, {self.t_end:g}) s)")


class SpikingClassifier:
    """A rate network of Dense and LIF-rate layers, simulated as spiking LIF neurons.

    Build it with :func:`to_spiking`. Parameters are those of :func:`to_spiking`.
    """

    def __init__(self, net: Network, *, tau_s: float = 0.005, n: int = 0, dt: float = 1e-3,
                 method: str = "euler", input: str = "current", input_rate: float = 200.0,
                 batch_size: int = 512):
        self.tau_s = check_positive("tau_s", tau_s)
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be an integer >= 0 (the PSC kernel's order), got {n!r}")
        self.n = int(n)
        self.dt = check_positive("dt", dt)
        self.method = check_choice("method", method, ("euler", "exact"))
        if self.method == "euler" and self.dt >= 2 * self.tau_s:
            raise ValueError(f"dt={self.dt!r} s is too large for the Euler synapse with tau_s="
                             f"{self.tau_s!r} s (needs dt < 2 tau_s); use a smaller dt or method='exact'")
        self.input = check_choice("input", input, INPUT_MODES)
        self.input_rate = check_positive("input_rate", input_rate)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.dense, self.neurons = _spiking_structure(net)
        self.loss = net.loss
        self._decide = net.loss.decision

    @property
    def synapse(self) -> PSC:
        """The synapse of every connection and filtered probe, as one ``neurosim.PSC`` value."""
        return PSC(self.tau_s, self.n, self.method)

    @property
    def n_inputs(self) -> int:
        return self.dense[0].n_in

    def run(self, X, t_end: float = 0.2, *, t_settle: float | None = None, record_every: int = 1,
            seed=0, progress: bool | None = None) -> SpikingOutput:
        """Present every sample of ``X`` for ``t_end`` seconds and read the outputs.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_inputs)
            Samples, as given to the rate network.
        t_end : float
            Presentation time per sample (s).
        t_settle : float, optional
            Start of the averaging window (s); default ``min(0.05, t_end / 4)``: long enough for
            the synapses (a few tau_s) to reach their steady state.
        record_every : int
            Keep every ``record_every``-th step in ``trace``.
        seed : int or Generator
            Randomness of the Poisson inputs (``input="spikes"``).
        progress : bool, optional
            A tqdm bar over batches of samples; default: only on a terminal.
        """
        X = self._check_samples(X)
        t_end = check_positive("t_end", t_end)
        t_settle = min(0.05, t_end / 4) if t_settle is None else check_nonnegative("t_settle", t_settle)
        if t_settle >= t_end:
            raise ValueError(f"t_settle={t_settle!r} s must be shorter than t_end={t_end!r} s")
        record_every = check_positive_int("record_every", record_every)
        rng = np.random.default_rng(seed)

        outputs, traces, rates = [], [], []
        starts = range(0, X.shape[0], self.batch_size)
        for start in _progress(starts, progress):
            batch = X[start:start + self.batch_size]
            out, trace, times, hidden = self._run_batch(batch, t_end, t_settle, record_every, rng)
            outputs.append(out)
            traces.append(trace)
            rates.append(hidden)
        hidden_rates = [np.concatenate([r[k] for r in rates]) for k in range(len(self.neurons))]
        return SpikingOutput(np.concatenate(outputs), np.concatenate(traces), times, hidden_rates,
                             t_settle, t_end)

    def network(self, X, *, seed=0) -> tuple[SpikingNetwork, list[Population]]:
        """The neurosim network that :meth:`run` simulates for the samples ``X``, built but not run.

        Use it to look inside the spiking twin: add probes (spikes, voltages, filtered outputs) to
        any population, run it, and read the output layer with :meth:`readout`.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_inputs)
            Samples; each is one trial of the network (``n_trials = n_samples``).
        seed : int or Generator
            Randomness of the Poisson inputs (``input="spikes"``); the same seed as :meth:`run`'s
            gives the same spikes.

        Returns
        -------
        network : neurosim.SpikingNetwork
            With ``dt`` and ``n_trials = n_samples``, no probes.
        populations : list of neurosim Population
            The input spike source first when ``input="spikes"``, then every hidden layer's LIF
            population in order (the last one feeds the output layer).

        Examples
        --------
        >>> network, populations = snet.network(X_test[:1])
        >>> spikes = [network.probe(p, "spikes") for p in populations]
        >>> filtered = network.probe(populations[-1], "filtered", synapse=snet.synapse)
        >>> result = network.run(0.2)
        >>> logits = snet.readout(result[filtered])          # (n_outputs, n_times)
        """
        X = self._check_samples(X)
        return self._build(X, np.random.default_rng(seed))

    def readout(self, filtered) -> np.ndarray:
        """The output layer read from the last hidden population's filtered spike trains.

        Parameters
        ----------
        filtered : array_like, shape (..., n_hidden, n_times)
            Filtered spike trains (rates, Hz) of the last hidden layer, e.g. a ``"filtered"``
            probe of :meth:`network`'s last population with this classifier's ``tau_s`` and ``n``
            (such a probe has shape ``(n_hidden, n_times)`` for one sample and
            ``(n_samples, n_hidden, n_times)`` for several).

        Returns
        -------
        ndarray, shape (..., n_outputs, n_times)
            ``W_L A x + b_L`` at every time: the spiking counterpart of the rate network's logits.
        """
        filtered = np.asarray(filtered, dtype=np.float64)
        readout, last = self.dense[-1], self.neurons[-1]
        if filtered.ndim < 2 or filtered.shape[-2] != readout.n_in:
            raise ValueError(f"filtered must have shape (..., {readout.n_in}, n_times) (the last hidden "
                             f"layer's filtered spike trains), got {filtered.shape}")
        W = readout.W.astype(np.float64) * last.amplitude
        return np.einsum("oh,...hk->...ok", W, filtered) + readout.b.astype(np.float64)[:, None]

    def _check_samples(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n_samples, {self.n_inputs}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite; it contains NaN or inf")
        if self.input == "spikes" and np.any(X < 0):
            raise ValueError("input='spikes' needs X >= 0 (pixels become firing rates); "
                             "use input='current' or rescale X")
        return X

    def _build(self, X: np.ndarray, rng) -> tuple[SpikingNetwork, list[Population]]:
        net = SpikingNetwork(dt=self.dt, n_trials=X.shape[0], seed=rng)
        synapse = dict(synapse=self.synapse)
        first, lif = self.dense[0], self.neurons[0]
        populations = []
        if self.input == "current":
            drive = lif.gain * (X @ first.W.T.astype(np.float64) + first.b) + lif.bias
            previous = net.add_lif(first.n_out, tau_m=lif.tau_m, tau_ref=lif.tau_ref, current=drive,
                                   label="hidden 1 (LIF)")
        else:
            source = net.add_spike_source(rates=X * self.input_rate, label="input (Poisson)")
            previous = net.add_lif(first.n_out, tau_m=lif.tau_m, tau_ref=lif.tau_ref,
                                   bias=lif.gain * first.b + lif.bias, label="hidden 1 (LIF)")
            net.connect(source, previous, lif.gain * first.W / self.input_rate, **synapse)
            populations.append(source)
        populations.append(previous)
        for index, (dense, lif) in enumerate(zip(self.dense[1:], self.neurons[1:], strict=False)):
            amplitude = self.neurons[index].amplitude
            population = net.add_lif(dense.n_out, tau_m=lif.tau_m, tau_ref=lif.tau_ref,
                                     bias=lif.gain * dense.b + lif.bias, label=f"hidden {index + 2} (LIF)")
            net.connect(previous, population, lif.gain * amplitude * dense.W, **synapse)
            populations.append(population)
            previous = population
        return net, populations

    def _run_batch(self, X, t_end, t_settle, record_every, rng):
        n_trials = X.shape[0]
        net, populations = self._build(X, rng)
        hidden = populations[1:] if self.input == "spikes" else populations
        probes = [net.probe(p, "filtered", every=record_every, synapse=self.synapse) for p in hidden]
        result = net.run(t_end)

        times = result.times(probes[-1])
        window = times >= t_settle - 1e-12
        hidden_rates = []
        for probe in probes:
            trace = result[probe].reshape(n_trials, -1, times.size)
            hidden_rates.append(trace[:, :, window].mean(axis=2))
        trace = self.readout(result[probes[-1]].reshape(n_trials, -1, times.size))
        outputs = self.readout(hidden_rates[-1][:, :, None])[:, :, 0]      # of the window's mean rates
        return outputs, trace, times, hidden_rates

    def predict(self, X, t_end: float = 0.2, **options) -> np.ndarray:
        """Class decisions (or regression outputs) of the spiking network, shape (n_samples,)."""
        return self._decide(self.run(X, t_end, **options).outputs)

    def score(self, X, y, t_end: float = 0.2, **options) -> float:
        """Accuracy of the spiking network on ``(X, y)`` (integer labels or one-hot rows)."""
        return float(np.mean(self.predict(X, t_end, **options) == _labels(y)))

    def accuracy_over_time(self, X, y, t_end: float = 0.2, n_points: int = 20,
                           **options) -> tuple[np.ndarray, np.ndarray]:
        """Accuracy as a function of presentation time, from one run.

        For each presentation time ``t`` the outputs are averaged over ``[min(t_settle, t/2), t)``.

        Returns
        -------
        times : ndarray, shape (n_points,)
            Presentation times (s).
        accuracy : ndarray, shape (n_points,)
        """
        result = self.run(X, t_end, **options)
        labels = _labels(y)
        times = result.times
        ends = np.unique(np.linspace(0, times.size, n_points + 1)[1:].round().astype(int))
        presentation, accuracy = [], []
        cumulative = np.cumsum(result.trace, axis=2)
        for end in ends:
            t_present = times[end - 1] + (times[1] - times[0] if times.size > 1 else self.dt)
            start = int(np.searchsorted(times, min(result.t_settle, t_present / 2) - 1e-12))
            start = min(start, end - 1)
            total = cumulative[:, :, end - 1] - (cumulative[:, :, start - 1] if start > 0 else 0.0)
            decisions = self._decide(total / (end - start))
            presentation.append(t_present)
            accuracy.append(np.mean(decisions == labels))
        return np.array(presentation), np.array(accuracy)

    def __repr__(self) -> str:
        sizes = [self.dense[0].n_in] + [d.n_out for d in self.dense]
        return (f"SpikingClassifier(sizes={sizes}, tau_s={self.tau_s:g} s, n={self.n}, dt={self.dt:g} s, "
                f"input={self.input!r})")


def to_spiking(net: Network, tau_s: float = 0.005, n: int = 0, dt: float = 1e-3, *,
               method: str = "euler", input: str = "current", input_rate: float = 200.0,
               batch_size: int = 512) -> SpikingClassifier:
    """Turn a rate network trained with :class:`~ratenet.LIFRate` (or SoftLIFRate) hidden layers into
    a spiking network of LIF neurons with the same weights, biases, gains and amplitudes.

    Parameters
    ----------
    net : Network
        Layers ``Dense, LIFRate, Dense, LIFRate, ..., Dense``: every hidden activation an LIF rate,
        the output layer a Dense layer read out linearly.
    tau_s : float
        Synaptic time constant (s) of the PSC kernel that filters every spike train.
    n : int
        Order of the PSC kernel (0 exponential, 1 alpha).
    dt : float
        Simulation step (s).
    method : {"euler", "exact"}
        The synapses' update: the notes' Euler algorithm or the exact decay.
    input : {"current", "spikes"}
        Present a sample as constant currents into the first hidden layer, or as Poisson spike
        trains at ``X * input_rate`` Hz (needs ``X >= 0``).
    input_rate : float
        Rate (Hz) of an input of value 1 when ``input="spikes"``.
    batch_size : int
        Samples simulated together in one network run (memory is proportional to it).

    Raises
    ------
    ValueError
        If a hidden activation has no spiking equivalent (e.g. sigmoid), naming it and saying what
        would work.
    """
    return SpikingClassifier(net, tau_s=tau_s, n=n, dt=dt, method=method, input=input,
                             input_rate=input_rate, batch_size=batch_size)


def spiking_accuracy(net: Network, X, y, t_end: float = 0.2, tau_s: float = 0.005, n: int = 0,
                     dt: float = 1e-3, **options) -> float:
    """Accuracy of ``net`` run as a spiking network (see :func:`to_spiking`) on ``(X, y)``.

    ``options`` go to :func:`to_spiking` (method, input, input_rate, batch_size) or to
    :meth:`SpikingClassifier.run` (t_settle, seed, progress).
    """
    build = {key: options.pop(key) for key in ("method", "input", "input_rate", "batch_size")
             if key in options}
    return to_spiking(net, tau_s=tau_s, n=n, dt=dt, **build).score(X, y, t_end, **options)


def _spiking_structure(net: Network) -> tuple[list[Dense], list[LIFRate]]:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a ratenet Network, got {type(net).__name__}")
    dense, neurons = [], []
    expect_dense = True
    for position, layer in enumerate(net.layers):
        if expect_dense:
            if not isinstance(layer, Dense):
                raise ValueError(f"layer {position} ({layer!r}) has no spiking equivalent: to_spiking "
                                 "needs Dense layers alternating with LIFRate/SoftLIFRate activations")
            dense.append(layer)
        elif isinstance(layer, LIFRate):
            neurons.append(layer)
        elif isinstance(layer, Activation):
            raise ValueError(f"hidden activation {layer!r} at layer {position} has no spiking "
                             "equivalent; train the network with rn.LIFRate or rn.SoftLIFRate hidden "
                             "activations to run it as LIF neurons")
        else:
            raise ValueError(f"layer {position} ({layer!r}) has no spiking equivalent: to_spiking "
                             "needs Dense layers alternating with LIFRate/SoftLIFRate activations")
        expect_dense = not expect_dense
    if expect_dense or not neurons:
        raise ValueError("to_spiking needs at least one LIF hidden layer and a Dense output layer "
                         "(Dense, LIFRate, ..., Dense)")
    return dense, neurons


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 else y


def _progress(iterable, progress):
    import sys

    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc="spiking batches", unit="batch")
