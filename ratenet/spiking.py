"""A trained rate network run back as a spiking network (neurosim): its *spiking twin*.

Every hidden layer becomes a population of the neuron its activation is the rate of (see
:mod:`ratenet.conversion`: LIF for LIF-rate and soft-LIF layers, Hodgkin-Huxley for a measured HH
curve, ...). A layer computes ``h = A r(g z + c)`` with ``z = W h_prev + b``; its neurons receive
the input ``g z + c`` where ``h_prev`` is the previous layer's spike trains filtered by the PSC
kernel and scaled by that layer's amplitude ``A``: a filtered spike train has the neuron's rate as
its mean, so at steady state ``A x`` is the rate network's ``h``. Hence

- the first hidden layer receives the sample as a constant input ``g (W_1 x + b_1) + c``
  (or, with ``input="spikes"``, Poisson spike trains at rates proportional to the pixels),
- a connection from layer ``l - 1`` to layer ``l`` has weights ``g_l A_{l-1} W_l`` and each neuron
  a constant input ``g_l b_l + c_l``,
- the output layer (a Dense layer, the logits) is read out linearly from the last hidden layer:
  ``W_L A x + b_L``, with ``x`` its filtered spike trains (``readout="filtered"``) or its spike
  counts per unit time (``readout="counts"``), averaged over the presentation after a settling
  time.

Short presentations. A network that starts at rest answers late: every neuron needs a whole
interspike interval before its first spike, all of them in step. A neuron that had been shown the
sample for long would be somewhere in its periodic cycle: ``initial_state="centered"`` (the
default) starts each first-layer neuron halfway through the cycle its constant input drives, so
that its spike count over any window ``[0, t)`` is ``r t`` rounded to the nearest integer;
``initial_state="phase"`` draws the phase uniformly instead (the stationary state: the count is
unbiased but twice as variable). Deeper layers' neurons start spread uniformly between reset and
threshold. With ``readout="counts"`` (the default) no synaptic filter delays the answer.

The network delivers each spike's charge exactly (it holds each synaptic current's average over a
step, :meth:`neurosim.PSC.step_average`), so every layer's mean input is the rate network's with
the rate network's weights. A filtered readout samples the kernel on the grid instead, whose area
is not exactly 1 (:meth:`neurosim.PSC.sampled_area`: 1.10 for an exact 5 ms exponential synapse at
dt = 1 ms): it is divided by that area.

Every sample is one *trial* of a single :class:`neurosim.SpikingNetwork` run, so a test set is
simulated in one vectorised call (in batches whose memory is estimated first).
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np

from neurosim import PSC, Population, SpikingNetwork
from neurosim.validation import time_steps

from .conversion import Readout, SpikingLayer, spiking_layers
from .network import Network
from .validation import check_choice, check_nonnegative, check_positive, check_positive_int

INPUT_MODES = ("current", "spikes")
INITIAL_STATES = ("centered", "phase", "uniform", "rest")
READOUTS = ("counts", "filtered")
#: Memory (bytes) one batch of trials may take for spike buffers and traces; larger runs are cut
#: into more batches.
BATCH_MEMORY_BYTES = 256 * 2**20
#: Spikes per second assumed per neuron when sizing spike buffers of neurons without a refractory
#: period (the simulator enlarges a buffer that turns out too small).
_UNBOUNDED_RATE_GUESS = 1000.0


@dataclass(frozen=True, repr=False)
class SpikingOutput:
    """What :meth:`SpikingClassifier.run` produced for a batch of samples.

    Attributes
    ----------
    outputs : ndarray, shape (n_samples, n_outputs)
        The output layer read from the last hidden layer over ``[t_settle, t_end)``: the spiking
        counterpart of the rate network's logits (or regression outputs).
    trace : ndarray, shape (n_samples, n_outputs, n_times)
        The linear readout at each time of ``times``: of the filtered spike trains
        (``readout="filtered"``) or of the spike counts per unit time in each interval
        ``[times[k], times[k] + record_every * dt)`` (``readout="counts"``). Its mean over the
        window is ``outputs`` (before an output activation, if the network ends with one).
    times : ndarray, shape (n_times,)
        Sample times of ``trace`` (s).
    hidden_rates : list of ndarray, each (n_samples, n_neurons)
        Firing rate (Hz) of every hidden population over ``[t_settle, t_end)``, from spike counts.
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
    """A trained rate network simulated as spiking neurons. Build it with :func:`to_spiking`, whose
    parameters it takes.

    Attributes
    ----------
    layers : list of SpikingLayer
        The hidden layers: weights, biases and the neurons (:class:`~ratenet.conversion.NeuronTwin`)
        that stand for each activation.
    output : Readout
        The output layer, read linearly from the last hidden layer.
    synapse : neurosim.PSC
        The synapse of every connection (and of the filtered readout).
    dt : float
        Simulation step (s).
    sampled_area : float
        The area of ``synapse``'s kernel sampled at ``dt`` (:meth:`neurosim.PSC.sampled_area`), the
        mean of a filtered spike train per spike: the filtered readout is divided by it.
    """

    def __init__(self, net: Network, *, synapse: PSC | None = None, dt: float | None = None,
                 input: str = "current", input_rate: float = 200.0, initial_state: str = "centered",
                 readout: str = "counts", normalize_on=None, percentile: float = 99.9,
                 max_rate: float = 500.0, batch_size: int = 512, allow_untrained: bool = False):
        self.layers, self.output = spiking_layers(net, normalize_on=normalize_on, percentile=percentile,
                                                  max_rate=max_rate)
        _check_trained(net, self.layers, self.output, allow_untrained)
        self.synapse = PSC() if synapse is None else synapse
        if not isinstance(self.synapse, PSC):
            raise TypeError(f"synapse must be a neurosim.PSC, got {type(self.synapse).__name__}")
        self.dt = (min(layer.twin.default_dt for layer in self.layers) if dt is None
                   else check_positive("dt", dt))
        for layer in self.layers:
            layer.twin.check_dt(self.dt, layer.name)
        self.synapse.check_step(self.dt)
        self.sampled_area = self.synapse.sampled_area(self.dt)
        self.input = check_choice("input", input, INPUT_MODES)
        self.input_rate = check_positive("input_rate", input_rate)
        self.initial_state = check_choice("initial_state", initial_state, INITIAL_STATES)
        self.readout_kind = check_choice("readout", readout, READOUTS)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.loss = net.loss
        self._decide = net.loss.decision

    @property
    def n_inputs(self) -> int:
        return self.layers[0].weights.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.output.weights.shape[0]

    # ------------------------------------------------------------------------------ rate side
    def rate_forward(self, X) -> tuple[list[np.ndarray], np.ndarray]:
        """The rate network's answer, layer by layer, in the spiking twin's terms.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_inputs)

        Returns
        -------
        rates : list of ndarray, each (n_samples, n_neurons)
            The firing rate (Hz) each hidden layer's activation assigns to its neurons: what the
            spiking neurons should fire at.
        outputs : ndarray, shape (n_samples, n_outputs)
            The rate network's outputs (float64).
        """
        h = self._check_samples(X)
        rates = []
        for layer in self.layers:
            rate = layer.twin.rate(h @ layer.weights.T + layer.bias)
            rates.append(rate)
            h = layer.twin.amplitude * rate
        return rates, self._output(h @ self.output.weights.T + self.output.bias)

    # ------------------------------------------------------------------------------ spiking side
    def run(self, X, t_end: float = 0.2, *, t_settle: float | None = None, record_every: int = 1,
            seed=0, progress: bool | None = None) -> SpikingOutput:
        """Present every sample of ``X`` for ``t_end`` seconds and read the outputs.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_inputs)
            Samples, as given to the rate network.
        t_end : float
            Presentation time per sample (s), at least one step ``dt``.
        t_settle : float, optional
            Start of the averaging window (s). Default: the time the synapses between the first
            hidden layer and the readout take to fill, one ``tau_s (order + 1)`` per synapse
            (none for a one-hidden-layer network read by counts), at most ``t_end / 4``.
        record_every : int
            Keep every ``record_every``-th step in ``trace``.
        seed : int or Generator
            Randomness of the initial states and of the Poisson inputs (``input="spikes"``).
        progress : bool, optional
            A tqdm bar over batches of samples; default: only on a terminal.
        """
        X = self._check_samples(X)
        t_end, _, n_steps = time_steps(t_end, self.dt)
        t_end = n_steps * self.dt
        t_settle = self.default_settle(t_end) if t_settle is None else check_nonnegative("t_settle", t_settle)
        if t_settle >= t_end:
            raise ValueError(f"t_settle={t_settle!r} s must be shorter than t_end={t_end!r} s")
        record_every = check_positive_int("record_every", record_every)
        rng = np.random.default_rng(seed)
        outputs, traces, rates = [], [], []
        outside = self._inputs_outside_known_range(X)
        if outside:
            warnings.warn(outside + "; their spiking neurons may not fire as the rate network assumes "
                          "(Hodgkin-Huxley neurons diverge below about -25 µA/cm² at dt = 0.01 ms)",
                          RuntimeWarning, stacklevel=2)
        per_batch = self._trials_per_batch(t_end, n_steps, record_every)
        for start in _progress(range(0, X.shape[0], per_batch), progress):
            out, trace, times, hidden = self._run_batch(X[start:start + per_batch], t_end, t_settle,
                                                        record_every, rng)
            outputs.append(out)
            traces.append(trace)
            rates.append(hidden)
        hidden_rates = [np.concatenate([r[k] for r in rates]) for k in range(len(self.layers))]
        return SpikingOutput(np.concatenate(outputs), np.concatenate(traces), times, hidden_rates,
                             t_settle, t_end)

    def default_settle(self, t_end: float) -> float:
        """The default start of the averaging window for a presentation of ``t_end`` seconds (s)."""
        stages = len(self.layers) - (1 if self.readout_kind == "counts" else 0)
        return min(stages * self.synapse.tau_s * (self.synapse.order + 1), t_end / 4)

    def network(self, X, *, seed=0) -> tuple[SpikingNetwork, list[Population]]:
        """The neurosim network that :meth:`run` simulates for the samples ``X``, built but not run.

        Use it to look inside the spiking twin: add probes (spikes, voltages, filtered outputs) to
        any population, run it, and read the output layer with :meth:`readout`.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_inputs)
            Samples; each is one trial of the network (``n_trials = n_samples``).
        seed : int or Generator
            Randomness of the initial states and Poisson inputs; the same seed as :meth:`run`'s
            gives the same network.

        Returns
        -------
        network : neurosim.SpikingNetwork
            With ``dt`` and ``n_trials = n_samples``, no probes.
        populations : list of neurosim Population
            The input spike source first when ``input="spikes"``, then every hidden layer's
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
        network, source, hidden = self._build(X, np.random.default_rng(seed))
        return network, ([source] if source is not None else []) + hidden

    def readout(self, filtered) -> np.ndarray:
        """The output layer read from the last hidden population's filtered spike trains.

        Parameters
        ----------
        filtered : array_like, shape (..., n_hidden, n_times)
            Filtered spike trains (rates, Hz) of the last hidden layer, e.g. a ``"filtered"``
            probe of :meth:`network`'s last population with this classifier's ``synapse``
            (such a probe has shape ``(n_hidden, n_times)`` for one sample and
            ``(n_samples, n_hidden, n_times)`` for several).

        Returns
        -------
        ndarray, shape (..., n_outputs, n_times)
            ``W_L A x + b_L`` at every time (then the output activation, if the network ends with
            one): the spiking counterpart of the rate network's outputs.
        """
        filtered = np.asarray(filtered, dtype=np.float64)
        n_hidden = self.output.weights.shape[1]
        if filtered.ndim < 2 or filtered.shape[-2] != n_hidden:
            raise ValueError(f"filtered must have shape (..., {n_hidden}, n_times) (the last hidden "
                             f"layer's filtered spike trains), got {filtered.shape}")
        linear = self._linear_readout(filtered / self.sampled_area)
        return np.moveaxis(self._output(np.moveaxis(linear, -2, -1)), -1, -2)

    def _linear_readout(self, rates: np.ndarray) -> np.ndarray:
        weights = self.output.weights * self.layers[-1].twin.amplitude
        return np.einsum("oh,...hk->...ok", weights, rates) + self.output.bias[:, None]

    def _output(self, linear: np.ndarray) -> np.ndarray:
        """The output activation (if any) applied to readouts (..., n_outputs)."""
        activation = self.output.activation
        return linear if activation is None else np.asarray(activation(linear), dtype=np.float64)

    def _check_samples(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n_samples, {self.n_inputs}), got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError("X holds no samples")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite; it contains NaN or inf")
        if self.input == "spikes" and np.any(X < 0):
            raise ValueError("input='spikes' needs X >= 0 (pixels become firing rates); "
                             "use input='current' or rescale X")
        return X

    def _build(self, X: np.ndarray, rng) -> tuple[SpikingNetwork, Population | None, list[Population]]:
        """The twin for samples ``X``: (network, input source or None, hidden populations)."""
        network = SpikingNetwork(dt=self.dt, n_trials=X.shape[0], seed=rng)
        first = self.layers[0]
        # The first layer's input for each sample (its mean input when the pixels arrive as spikes).
        first_input = first.twin.input_of(X @ first.weights.T + first.bias)
        def initial(layer, constant_input):
            return self._initial(layer, X.shape[0], constant_input, rng)

        source, hidden = self._populate(network, first_input if self.input == "current" else None, initial,
                                        first_input, rates=X * self.input_rate)
        return network, source, hidden

    def _populate(self, network: SpikingNetwork, first_current, initial, first_input, rates,
                  source_label: str = "input (Poisson)"):
        """Add the input source (``input="spikes"``), the hidden populations and their connections
        to ``network``; ``initial(layer, constant_input)`` gives each layer's initial voltages."""
        first = self.layers[0]
        source = None
        if self.input == "current":
            previous = first.twin.add_population(network, first.n, bias=0.0, current=first_current,
                                                 v_init=initial(first, first_input), label=_label(first))
        else:
            source = network.add_spike_source(rates=rates, label=source_label)
            previous = first.twin.add_population(network, first.n, bias=first.twin.input_of(first.bias),
                                                 v_init=initial(first, first_input), label=_label(first))
            network.connect(source, previous,
                            first.twin.gain * first.weights / self.input_rate,
                            synapse=self.synapse)
        hidden = [previous]
        for before, layer in zip(self.layers[:-1], self.layers[1:], strict=True):
            population = layer.twin.add_population(network, layer.n, bias=layer.twin.input_of(layer.bias),
                                                   v_init=initial(layer, None), label=_label(layer))
            weights = layer.twin.gain * before.twin.amplitude * layer.weights
            network.connect(previous, population, weights, synapse=self.synapse)
            hidden.append(population)
            previous = population
        return source, hidden

    def to_nir(self, *, refractory: str = "refuse", time_unit: float = 1.0):
        """This spiking twin as a NIR graph (the Neuromorphic Intermediate Representation), through
        :func:`neurosim.nir.to_nir`, whose module docs give the mapping and its units.

        The graph reads a sample from its ``Input`` node ``"input"``: as a constant vector
        (``input="current"``: ``Affine(g W_1, g b_1 + c)`` straight into the first layer's neurons)
        or as spike trains at ``input_rate`` Hz per unit (``input="spikes"``). Every hidden layer is
        a node of LIF neurons (``CubaLIF`` for the exponential synapse, ``LIF`` with ``LI`` synapse
        stages for a higher order) or of IF neurons (ReLU layers), joined by ``Linear`` nodes of
        the weights the twin simulates. The ``Output`` node ``"output"`` is ``Affine(W_L A, b_L)`` of
        the last layer's spike trains: its mean over a presentation is the logits (the twin's
        counts readout). Neurons start at rest: a graph has no initial state.

        Parameters
        ----------
        refractory : {"refuse", "metadata"}
            NIR's neurons have no refractory period: refuse a twin with ``tau_ref > 0`` (train
            with ``LIFRate(tau_ref=0)``), or keep it in the nodes' metadata, which only neurosim
            reads back.
        time_unit : float
            Seconds per time unit of the graph (1e-3 writes milliseconds).

        Returns
        -------
        nir.NIRGraph
            Import it back with ``neurosim.nir.from_nir(graph, inputs={"input": x})`` (``x`` a sample,
            or spike trains).

        Raises
        ------
        ValueError
            Naming the layer NIR cannot express: Hodgkin-Huxley or noisy LIF neurons, a refractory
            period, an output activation (NIR has no sigmoid or softmax node).
        """
        from neurosim.nir import to_nir

        if self.output.activation is not None:
            raise ValueError(f"the network ends with the output activation {self.output.activation!r}, "
                             "which NIR cannot express (it has no such node): export a network whose "
                             "output layer is Dense (logits)")
        network = SpikingNetwork(dt=self.dt)
        first = self.layers[0]
        source, hidden = self._populate(network, None, lambda layer, constant: None, None,
                                        rates=np.zeros(self.n_inputs), source_label="input")
        last = self.layers[-1]
        outputs = {"output": (hidden[-1], self.output.weights * last.twin.amplitude, self.output.bias)}
        if source is not None:
            return to_nir(network, outputs=outputs, refractory=refractory, time_unit=time_unit)
        analog = {"input": (hidden[0], first.twin.gain * first.weights, first.twin.input_of(first.bias))}
        return to_nir(network, outputs=outputs, analog_inputs=analog, refractory=refractory,
                      time_unit=time_unit)

    def _initial(self, layer: SpikingLayer, n_trials: int, constant_input, rng) -> np.ndarray | None:
        """Initial voltages (n_trials, n) of a layer (``constant_input``: its input when known,
        (n_trials, n)), or None for rest."""
        if self.initial_state == "rest":
            return None
        if self.initial_state in ("centered", "phase") and constant_input is not None:
            phase = (np.full(constant_input.shape, 0.5) if self.initial_state == "centered"
                     else rng.uniform(0.0, 1.0, constant_input.shape))
            return layer.twin.phase_voltages(constant_input, phase, rng)
        return layer.twin.uniform_voltages((n_trials, layer.n), rng)

    def _inputs_outside_known_range(self, X: np.ndarray) -> str:
        """Which layers' mean inputs (from the rate network) leave their neurons' known range, as
        text (empty when none do)."""
        if all(layer.twin.input_range is None for layer in self.layers):
            return ""
        problems, h = [], X
        for layer in self.layers:
            z = h @ layer.weights.T + layer.bias
            if layer.twin.input_range is not None:
                low, high = layer.twin.input_range
                inputs = layer.twin.input_of(z)
                if inputs.min() < low or inputs.max() > high:
                    problems.append(f"{layer.name} receives inputs from {inputs.min():.4g} to "
                                    f"{inputs.max():.4g}, outside [{low:g}, {high:g}]")
            h = np.asarray(layer.twin.activation(z), dtype=np.float64)
        return "; ".join(problems)

    def _trials_per_batch(self, t_end: float, n_steps: int, record_every: int) -> int:
        """Samples per network run: ``batch_size``, fewer when one trial's spike buffers and trace
        would make a run exceed ``BATCH_MEMORY_BYTES``."""
        slots = 0
        for layer in self.layers:
            rate = layer.twin.max_rate if np.isfinite(layer.twin.max_rate) else _UNBOUNDED_RATE_GUESS
            slots += layer.n * min(int(t_end * rate) + 2, n_steps)
        samples = (n_steps + record_every - 1) // record_every
        per_trial = 16 * slots + 8 * samples * (self.layers[-1].n + 2 * self.n_outputs)
        return max(1, min(self.batch_size, BATCH_MEMORY_BYTES // per_trial))

    def _run_batch(self, X, t_end, t_settle, record_every, rng):
        network, _, hidden = self._build(X, rng)
        spike_probes = [network.probe(p, "spikes") for p in hidden]
        filtered = (network.probe(hidden[-1], "filtered", record_every=record_every, synapse=self.synapse)
                    if self.readout_kind == "filtered" else None)
        try:
            result = network.run(t_end)
        except FloatingPointError as error:
            outside = self._inputs_outside_known_range(X)
            if not outside:
                raise
            raise FloatingPointError(f"{error}. The rate network drives the neurons outside the range its "
                                     f"rate curve was measured over ({outside}): retrain with a smaller "
                                     "gain, or measure the curve over the inputs the network uses") from error
        trials = [result[probe] for probe in spike_probes]
        if X.shape[0] == 1:
            trials = [[trains] for trains in trials]
        hidden_rates = [_window_rates(per_trial, t_settle, t_end) for per_trial in trials]
        if filtered is not None:
            times = result.times(filtered)
            filtered_rates = result[filtered].reshape(X.shape[0], hidden[-1].n, times.size)
            trace = self._linear_readout(filtered_rates / self.sampled_area)
        else:
            width = record_every * self.dt
            n_bins = (int(round(t_end / self.dt)) + record_every - 1) // record_every
            times = np.arange(n_bins) * width
            weights = self.output.weights * (self.layers[-1].twin.amplitude / width)
            trace = _counts_readout(trials[-1], weights, self.output.bias, width, n_bins)
        window = times >= t_settle - 1e-12
        outputs = self._output(trace[:, :, window].mean(axis=2))
        return outputs, trace, times, hidden_rates

    def predict(self, X, t_end: float = 0.2, **options) -> np.ndarray:
        """Class decisions (or regression outputs) of the spiking network, shape (n_samples,)."""
        return self._decide(self.run(X, t_end, **options).outputs)

    def score(self, X, y, t_end: float = 0.2, **options) -> float:
        """Accuracy of the spiking network on ``(X, y)`` (integer labels or one-hot rows)."""
        self._check_labels(y, np.shape(X)[0] if np.ndim(X) == 2 else None)
        return self.accuracy(self.run(X, t_end, **options).outputs, y)

    def accuracy(self, outputs, y) -> float:
        """Fraction of the rows of ``outputs`` (n_samples, n_outputs), e.g. :attr:`SpikingOutput.outputs`
        or the rate network's outputs, whose decision is the label in ``y``."""
        outputs = np.asarray(outputs, dtype=np.float64)
        labels = self._check_labels(y, outputs.shape[0])
        return float(np.mean(self._decide(outputs) == labels))

    def accuracy_over_time(self, X, y, t_end: float = 0.2, n_points: int = 20,
                           **options) -> tuple[np.ndarray, np.ndarray]:
        """Accuracy as a function of presentation time, from one run (see :meth:`accuracy_curve`).

        Parameters
        ----------
        X, y
            Samples and labels (integer labels or one-hot rows).
        t_end : float
            The longest presentation time (s).
        n_points : int
            Number of presentation times, >= 1, spread evenly up to ``t_end``.
        **options
            As for :meth:`run`.

        Returns
        -------
        times : ndarray, shape (n,)
            Presentation times (s), ``n <= n_points`` (fewer when the run has fewer samples).
        accuracy : ndarray, shape (n,)
        """
        n_points = check_positive_int("n_points", n_points)
        labels = self._check_labels(y, np.shape(X)[0] if np.ndim(X) == 2 else None)
        return self.accuracy_curve(self.run(X, t_end, **options), labels, n_points)

    def accuracy_curve(self, result: SpikingOutput, y, n_points: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Accuracy against presentation time from a :meth:`run`'s output.

        For each presentation time ``t`` the outputs are averaged over ``[min(t_settle, t / 2), t)``
        (``t_settle`` of the run), so the last point is the run's own accuracy.

        Parameters
        ----------
        result : SpikingOutput
            What :meth:`run` returned.
        y : array_like, shape (n_samples,) or (n_samples, n_classes)
            Labels of the run's samples.
        n_points : int
            Number of presentation times, >= 1, spread evenly over the run's samples.

        Returns
        -------
        times, accuracy : ndarray, shape (n,), ``n <= n_points``
        """
        if not isinstance(result, SpikingOutput):
            raise TypeError(f"result must be what run() returned, got {type(result).__name__}")
        n_points = check_positive_int("n_points", n_points)
        labels = self._check_labels(y, result.outputs.shape[0])
        times = result.times
        step = times[1] - times[0] if times.size > 1 else result.t_end
        ends = np.unique(np.linspace(0, times.size, n_points + 1)[1:].round().astype(int))
        ends = ends[ends > 0]
        cumulative = np.cumsum(result.trace, axis=2)
        presentation, accuracy = [], []
        for end in ends:
            t_present = times[end - 1] + step
            start = int(np.searchsorted(times, min(result.t_settle, t_present / 2) - 1e-12))
            start = min(start, end - 1)
            total = cumulative[:, :, end - 1] - (cumulative[:, :, start - 1] if start > 0 else 0.0)
            decisions = self._decide(self._output(total / (end - start)))
            presentation.append(t_present)
            accuracy.append(np.mean(decisions == labels))
        return np.array(presentation), np.array(accuracy)

    @staticmethod
    def _check_labels(y, n_samples: int | None) -> np.ndarray:
        labels = _labels(y)
        if n_samples is not None and labels.shape[0] != n_samples:
            raise ValueError(f"y has {labels.shape[0]} labels for {n_samples} samples")
        return labels

    def __repr__(self) -> str:
        sizes = [self.n_inputs] + [layer.n for layer in self.layers] + [self.n_outputs]
        kinds = [layer.twin.kind for layer in self.layers]
        return (f"SpikingClassifier(sizes={sizes}, neurons={kinds}, synapse={self.synapse!r}, "
                f"dt={self.dt:g} s, input={self.input!r}, readout={self.readout_kind!r}, "
                f"initial_state={self.initial_state!r})")


def to_spiking(net: Network, synapse: PSC | None = None, dt: float | None = None, *,
               input: str = "current", input_rate: float = 200.0, initial_state: str = "centered",
               readout: str = "counts", normalize_on=None, percentile: float = 99.9, max_rate: float = 500.0,
               batch_size: int = 512, allow_untrained: bool = False) -> SpikingClassifier:
    """Run a trained rate network as spiking neurons with the same weights, biases, gains and
    amplitudes (its *spiking twin*).

    Parameters
    ----------
    net : Network
        Layers ``Dense, activation, Dense, activation, ..., Dense`` (BatchNorm and Dropout allowed,
        as at inference): any number of hidden layers, each activation one with a spiking twin
        (LIFRate and SoftLIFRate: LIF neurons; NoisyLIFRate: LIF neurons receiving its noise; a
        RateCurveActivation of a curve neurosim measured: HH or LIF neurons; ReLU: integrate-and-fire
        neurons with reset by subtraction, given ``normalize_on``), mixed freely; the output layer
        is read out linearly.
    synapse : neurosim.PSC, optional
        The synapse of every connection and of the filtered readout; default ``PSC()``
        (exponential, tau_s = 5 ms, exact decay).
    dt : float, optional
        Simulation step (s). Default: 1 ms, or the step its curve was measured at for a network
        with Hodgkin-Huxley layers (which need ``dt <= 0.02 ms``).
    input : {"current", "spikes"}
        Present a sample as constant inputs into the first hidden layer, or as Poisson spike
        trains at ``X * input_rate`` Hz (needs ``X >= 0``).
    input_rate : float
        Rate (Hz) of an input of value 1 when ``input="spikes"``.
    initial_state : {"centered", "phase", "uniform", "rest"}
        How each sample's neurons start. The first hidden layer, whose input is constant: halfway
        through the cycle that input drives ("centered": its count over any window is ``r t``
        rounded), at a uniformly random phase of it ("phase": the stationary state, counts
        unbiased), spread uniformly between reset and threshold ("uniform") or at rest ("rest").
        Deeper layers: spread uniformly, except "rest". LIF and IF neurons; LIF neurons receiving
        noise have no cycle and are spread uniformly; Hodgkin-Huxley neurons start at rest.
    readout : {"counts", "filtered"}
        Read the output layer from the last hidden layer's spike counts per unit time, or from its
        spike trains filtered by ``synapse``.
    normalize_on : array_like, shape (n_samples, n_inputs), optional
        Data-based weight normalisation for ReLU layers (Diehl et al. 2015; Rueckauer et al.
        2017): each ReLU layer's activations on these samples (the training data) set its scale,
        which its IF neurons fire at ``max_rate``. Required when the network has ReLU layers.
    percentile : float
        The scale is this percentile of the layer's positive activations, in (0, 100]; 100 is the
        maximum (nothing in the data exceeds it), 99.9 ignores rare outliers and gives the other
        activations more spikes.
    max_rate : float
        Rate (Hz) of a ReLU layer's scale: the rate budget of its IF neurons. Default 500 Hz, the
        ceiling ``1 / tau_ref`` of the default LIF neuron.
    batch_size : int
        Largest number of samples simulated together in one network run (fewer when the memory
        estimate of a run exceeds ``BATCH_MEMORY_BYTES``).
    allow_untrained : bool
        Convert a network that was never trained (its weights as initialised, all biases 0);
        refused by default, as it is almost always a mistake.
    Raises
    ------
    ValueError
        If a hidden activation has no spiking twin (naming the layer and what would work), if a
        weight is NaN or infinite, if the network was never trained, or if ``dt`` does not suit
        its neurons or synapse.
    """
    return SpikingClassifier(net, synapse=synapse, dt=dt, input=input, input_rate=input_rate,
                             initial_state=initial_state, readout=readout, normalize_on=normalize_on,
                             percentile=percentile, max_rate=max_rate, batch_size=batch_size,
                             allow_untrained=allow_untrained)


def spiking_accuracy(net: Network, X, y, t_end: float = 0.2, **options) -> float:
    """Accuracy of ``net`` run as a spiking network (see :func:`to_spiking`) on ``(X, y)``.

    ``options`` go to :func:`to_spiking` (synapse, dt, input, input_rate, initial_state, readout,
    batch_size, ...) or to :meth:`SpikingClassifier.run` (t_settle, seed, progress).
    """
    run_keys = ("t_settle", "seed", "progress", "record_every")
    run = {key: options.pop(key) for key in run_keys if key in options}
    return to_spiking(net, **options).score(X, y, t_end, **run)


def _check_trained(net: Network, layers: list[SpikingLayer], output: Readout, allow_untrained: bool) -> None:
    for name, array in [(layer.name, part) for layer in layers for part in (layer.weights, layer.bias)] + [
            ("the output layer", output.weights), ("the output layer", output.bias)]:
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} of the network has NaN or infinite weights; a failed training "
                             "leaves them so: train again (e.g. with a smaller learning rate)")
    if allow_untrained or getattr(net, "history", None) is not None:
        return
    dense = getattr(net, "dense_layers", [])
    fresh = all(not getattr(layer, "weights_given", False) and not np.any(layer.b) for layer in dense)
    if dense and fresh:
        raise ValueError("the network looks untrained (never fitted, every bias still 0): its spiking "
                         "twin would classify at chance. Train it with net.fit(...) first, or pass "
                         "allow_untrained=True to convert it anyway")


def _label(layer: SpikingLayer) -> str:
    return f"{layer.name} ({layer.twin.kind})"


def _window_rates(per_trial, t_start: float, t_end: float) -> np.ndarray:
    """Rates (Hz) in ``[t_start, t_end)`` of each trial's spike trains, shape (n_trials, n_neurons)."""
    n_neurons = per_trial[0].n_neurons
    rates = np.zeros((len(per_trial), n_neurons))
    for trial, trains in enumerate(per_trial):
        neurons, times = _events(trains)
        inside = (times >= t_start) & (times < t_end)
        rates[trial] = np.bincount(neurons[inside], minlength=n_neurons)
    return rates / (t_end - t_start)


def _counts_readout(per_trial, weights: np.ndarray, bias: np.ndarray, width: float,
                    n_bins: int) -> np.ndarray:
    """``weights @ counts + bias`` for each trial's spike counts in the bins ``[k width, (k + 1) width)``:
    shape (n_trials, n_outputs, n_bins). ``weights`` (n_outputs, n_neurons) includes the 1 / width."""
    n_neurons = weights.shape[1]
    trace = np.empty((len(per_trial), weights.shape[0], n_bins))
    for trial, trains in enumerate(per_trial):
        neurons, times = _events(trains)
        bins = np.minimum((times / width).astype(np.int64), n_bins - 1)
        counts = np.bincount(neurons * n_bins + bins, minlength=n_neurons * n_bins).reshape(n_neurons, n_bins)
        np.matmul(weights, counts, out=trace[trial])
    trace += bias[:, None]
    return trace


def _events(trains) -> tuple[np.ndarray, np.ndarray]:
    sizes = [train.size for train in trains.times]
    neurons = np.repeat(np.arange(len(sizes)), sizes)
    times = np.concatenate(trains.times) if sizes else np.zeros(0)
    return neurons, times


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 else y


def _progress(iterable, progress):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc="spiking batches", unit="batch")
