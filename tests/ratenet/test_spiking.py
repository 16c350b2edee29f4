"""A trained LIF-rate network run as spiking LIF neurons: against the rate network's own forward
pass, the analytic LIF rate, and (on digits) the rate network's accuracy; the initial states and
readouts for short presentations; the errors of misuse."""

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn


def _two_hidden_layer_net():
    """Random weights (never trained): what matters here is that the spikes follow the rates."""
    return rn.Network([rn.Dense(8, 30), rn.LIFRate(), rn.Dense(30, 20), rn.LIFRate(), rn.Dense(20, 4)],
                      loss="softmax_cross_entropy", seed=1)


def _untrained(net, **options):
    return rn.to_spiking(net, allow_untrained=True, **options)


def _rate_forward(net, X):
    """The rate network's hidden activations and outputs, computed here from W, b and lif_rate."""
    hidden, h = [], X
    for dense, lif in zip(net.layers[0::2], [*net.layers[1::2], None], strict=True):
        z = h @ dense.W.T + dense.b
        if lif is None:
            return hidden, z
        h = lif.amplitude * ns.lif_rate(lif.gain * z + lif.bias, tau_m=lif.tau_m, tau_ref=lif.tau_ref)
        hidden.append(h)


@pytest.fixture(scope="module")
def digits_lif_net():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 50, 10], activation=rn.LIFRate(), output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=20, batch_size=32, optimizer=rn.Adam(lr=2e-3), progress=False)
    return net, X_test[:120], y_test[:120]


def test_first_hidden_layer_fires_at_the_analytic_rate_of_its_input_current():
    # Constant input currents: the exact-timing LIF gives lif_rate; what is left is counting spikes
    # over a 2.5 s window, at most one spike in 2.5 s * 30 Hz = 1.3 % for the slowest neurons we
    # compare (>= 30 Hz); we allow 1.5 % of the rate or 0.5 Hz.
    net = _two_hidden_layer_net()
    X = np.random.default_rng(0).uniform(0, 1, (10, 8))
    hidden, _ = _rate_forward(net, X)
    lif = net.layers[1]
    result = _untrained(net).run(X, t_end=3.0, t_settle=0.5)
    expected_hz = hidden[0] / lif.amplitude
    np.testing.assert_allclose(result.hidden_rates[0], expected_hz, rtol=0.015, atol=0.5)


def test_second_hidden_layer_matches_the_rate_forward_pass_away_from_threshold():
    # The second layer is driven by filtered spike trains, not by their mean: its input fluctuates
    # with standard deviation at most sigma = g sqrt(sum_j (A W_ij)^2 r_j / (2 tau_s)) (Campbell's
    # theorem for Poisson trains; the LIF trains here are regular, so fluctuate less). A neuron
    # whose mean input lies within a few sigma of threshold fires on the fluctuations (the
    # known noise-driven-firing difference between spiking and rate neurons), so we compare the
    # neurons more than 3 sigma away, with a long synapse (tau_s = 0.1 s) to keep sigma small.
    # Tolerance: 0.01 in h (h is O(1); the window holds >= 2 s * 30 Hz = 60 spikes).
    net = _two_hidden_layer_net()
    X = np.random.default_rng(0).uniform(0, 1, (20, 8))
    hidden, outputs = _rate_forward(net, X)
    tau_s = 0.1
    result = _untrained(net, synapse=ns.PSC(tau_s)).run(X, t_end=3.0, t_settle=0.8)
    first, second, W2 = net.layers[1], net.layers[3], net.layers[2].W
    rates_in = hidden[0] / first.amplitude
    sigma = second.gain * np.sqrt((rates_in @ ((first.amplitude * W2) ** 2).T) / (2 * tau_s))
    v_in = second.gain * (hidden[0] @ W2.T + net.layers[2].b) + second.bias
    far = np.abs(v_in - 1) > 3 * sigma
    assert far.sum() >= 100                      # the comparison covers a good part of the layer
    spiking_h = result.hidden_rates[1] * second.amplitude
    np.testing.assert_allclose(spiking_h[far], hidden[1][far], rtol=0, atol=0.01)


def test_rate_forward_is_the_rate_network():
    net = _two_hidden_layer_net()
    X = np.random.default_rng(5).uniform(0, 1, (7, 8))
    rates, outputs = _untrained(net).rate_forward(X)
    hidden, logits = _rate_forward(net, X)
    np.testing.assert_allclose(outputs, logits, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outputs, net.forward(X), rtol=1e-12, atol=1e-12)
    for rate, h, lif in zip(rates, hidden, net.layers[1::2], strict=False):
        np.testing.assert_allclose(rate * lif.amplitude, h, rtol=1e-12, atol=1e-14)


def test_soft_lif_network_on_digits_keeps_its_accuracy_as_spikes():
    # The statement: 64-100-10 soft-LIF, 0.2 s per sample, tau_s = 5 ms, dt = 1 ms, at most
    # 2 accuracy points lost against the rate version.
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    net = rn.MLP([64, 100, 10], activation=rn.SoftLIFRate(sigma=0.02), output="softmax", seed=0)
    net.fit(X_train, y_train, epochs=40, batch_size=32, optimizer=rn.Adam(lr=1e-3), progress=False)
    rate_accuracy = net.score(X_test, y_test)
    spiking = rn.spiking_accuracy(net, X_test, y_test, t_end=0.2)
    assert rate_accuracy > 0.95
    assert spiking >= rate_accuracy - 0.02


def test_accuracy_over_time_rises_to_the_spiking_accuracy(digits_lif_net):
    net, X, y = digits_lif_net
    for readout in ("counts", "filtered"):
        snet = rn.to_spiking(net, readout=readout)
        times, accuracy = snet.accuracy_over_time(X, y, t_end=0.2, n_points=10)
        assert times.shape == accuracy.shape == (10,)
        np.testing.assert_allclose(times, np.arange(1, 11) * 0.02)
        assert accuracy[-1] == pytest.approx(snet.score(X, y, t_end=0.2))
        assert np.all((accuracy >= 0) & (accuracy <= 1))
        assert accuracy[-1] >= net.score(X, y) - 0.03
    with pytest.raises(ValueError, match="n_points must be >= 1"):
        snet.accuracy_over_time(X, y, n_points=0)
    with pytest.raises(ValueError, match="119 labels for 120 samples"):
        snet.accuracy_over_time(X, y[:-1])


def test_outputs_are_the_readout_of_the_window_mean_of_the_trace(digits_lif_net):
    net, X, _ = digits_lif_net
    for readout in ("counts", "filtered"):
        result = rn.to_spiking(net, readout=readout).run(X[:20], t_end=0.1, t_settle=0.02)
        window = result.times >= 0.02 - 1e-12
        np.testing.assert_allclose(result.outputs, result.trace[:, :, window].mean(axis=2), rtol=1e-12)
    # The counts readout of a one-hidden-layer network is the output layer applied to the rates.
    snet = rn.to_spiking(net)
    result = snet.run(X[:20], t_end=0.1, t_settle=0.0)
    dense, lif = net.layers[-1], net.layers[1]
    expected = (result.hidden_rates[0] * lif.amplitude) @ dense.W.T + dense.b
    np.testing.assert_allclose(result.outputs, expected, rtol=1e-10, atol=1e-10)


def test_phase_initial_state_makes_short_counts_unbiased():
    # A constant input v_in makes an LIF neuron fire with period T; started at a uniformly random
    # phase of its cycle, its expected spike count in any window [0, t) is exactly t / T (the
    # stationary state), even for t shorter than T. Started at rest, it fires its first spike at
    # T - tau_ref, so a window shorter than that counts nothing. 400 trials: the mean count's
    # standard error is below 0.5 / sqrt(400) = 0.025; we allow 0.1 (4 standard errors).
    v_in = np.array([1.5, 2.0, 3.0, 6.0])
    net = rn.Network([rn.Dense(1, 4, weights=(v_in - 1)[:, None], bias=np.zeros(4)), rn.LIFRate(),
                      rn.Dense(4, 2, weights=np.ones((2, 4)))], loss="softmax_cross_entropy")
    X = np.ones((400, 1))
    window = 0.007
    expected = ns.lif_rate(v_in) * window
    counts = rn.to_spiking(net, initial_state="phase").run(X, t_end=window, t_settle=0.0,
                                                            seed=3).hidden_rates[0] * window
    np.testing.assert_allclose(counts.mean(axis=0), expected, atol=0.1)
    at_rest = rn.to_spiking(net, initial_state="rest").run(X, t_end=window, t_settle=0.0).hidden_rates[0]
    first_spike = 0.02 * np.log(v_in / (v_in - 1))
    np.testing.assert_array_equal(at_rest[:, first_spike > window], 0.0)
    # "centered": every neuron halfway through its cycle, so it fires at T/2, 3T/2, ...: its count in
    # [0, t) is r t rounded to the nearest integer, exactly (the exact-timing LIF).
    centered = rn.to_spiking(net, initial_state="centered").run(X[:2], t_end=window, t_settle=0.0)
    np.testing.assert_allclose(centered.hidden_rates[0] * window, np.tile(np.floor(expected + 0.5), (2, 1)),
                               rtol=0, atol=1e-9)
    # Deeper layers start spread uniformly between reset and threshold: the phase of a network
    # differs between samples and seeds, not between identical runs.
    deep = _untrained(_two_hidden_layer_net(), initial_state="uniform")
    Xd = np.random.default_rng(1).uniform(0, 1, (3, 8))
    first = deep.run(Xd, t_end=0.02, seed=4).trace
    np.testing.assert_array_equal(deep.run(Xd, t_end=0.02, seed=4).trace, first)
    assert not np.array_equal(deep.run(Xd, t_end=0.02, seed=5).trace, first)


def test_spike_input_mode_approximates_the_current_mode_away_from_threshold():
    # Poisson inputs at X * 400 Hz through tau_s = 20 ms: a first-layer neuron's input is the
    # current mode's plus shot noise of standard deviation sigma = g sqrt(sum_j (W_ij / 400)^2
    # 400 x_j / (2 tau_s)) (Campbell). Neurons within 3 sigma of threshold fire on the noise;
    # the others follow the current-driven rates within 10 % + 2 Hz (the rate of a neuron under
    # fluctuating input differs from that under its mean at second order in sigma; counting
    # over 1.8 s adds 1 / 1.8 s).
    net = _two_hidden_layer_net()
    X = np.random.default_rng(2).uniform(0, 1, (10, 8))
    by_current = _untrained(net, synapse=ns.PSC(0.02)).run(X, t_end=2.0, t_settle=0.2).hidden_rates[0]
    by_spikes = _untrained(net, synapse=ns.PSC(0.02), input="spikes", input_rate=400.0).run(
        X, t_end=2.0, t_settle=0.2, seed=3).hidden_rates[0]
    W, b, lif = net.layers[0].W, net.layers[0].b, net.layers[1]
    sigma = lif.gain * np.sqrt((X * 400.0) @ ((W / 400.0) ** 2).T / (2 * 0.02))
    v_in = lif.gain * (X @ W.T + b) + lif.bias
    far = np.abs(v_in - 1) > 3 * sigma
    assert far.sum() >= 100
    assert np.all(np.abs(by_spikes - by_current)[far] < 0.1 * by_current[far] + 2.0)


def test_network_is_the_twin_that_run_simulates():
    # Built with run()'s seed and probed like run() probes it, the network returned by network()
    # gives run()'s output traces exactly; its populations are the input source and both hidden layers.
    net = _two_hidden_layer_net()
    X = np.random.default_rng(4).uniform(0, 1, (3, 8))
    snet = _untrained(net, synapse=ns.PSC(0.01), input="spikes", input_rate=300.0, readout="filtered")
    expected = snet.run(X, t_end=0.3, seed=7)
    network, populations = snet.network(X, seed=7)
    assert [p.n for p in populations] == [8, 30, 20]
    assert [p.label for p in populations] == ["input (Poisson)", "hidden 1 (LIF)", "hidden 2 (LIF)"]
    assert network.n_trials == 3
    spikes = [network.probe(p, "spikes") for p in populations]
    filtered = network.probe(populations[-1], "filtered", synapse=snet.synapse)
    result = network.run(0.3)
    assert result[filtered].shape == (3, 20, 300)                    # trials, neurons, steps
    traces = snet.readout(result[filtered])
    np.testing.assert_allclose(traces, expected.trace, rtol=1e-12, atol=1e-12)
    assert [len(trains.times) for trains in result[spikes[0]]] == [8, 8, 8]   # per trial, per input unit
    np.testing.assert_allclose(snet.readout(result[filtered][0]), traces[0], rtol=1e-12)   # one sample
    with pytest.raises(ValueError, match=r"\(\.\.\., 20, n_times\)"):
        snet.readout(np.zeros((30, 5)))


def test_batches_give_the_same_rates_as_one_run():
    net = _two_hidden_layer_net()
    X = np.random.default_rng(6).uniform(0, 1, (5, 8))
    whole = _untrained(net, initial_state="rest").run(X, t_end=0.2)
    batched = _untrained(net, initial_state="rest", batch_size=2).run(X, t_end=0.2)
    for a, b in zip(whole.hidden_rates, batched.hidden_rates, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(batched.outputs, whole.outputs, rtol=1e-12)


def test_the_synapse_is_one_value():
    net = _two_hidden_layer_net()
    synapse = ns.PSC(0.01, 1, "euler")
    snet = rn.to_spiking(net, synapse, allow_untrained=True, input="spikes")
    # (An all-zero sample drives the untrained net's first layer exactly at threshold, v_in = 1: the
    # centred start puts those neurons just below it.)
    network, _ = snet.network(np.zeros((1, 8)))
    # Every connection of the twin (input -> hidden 1 -> hidden 2) is through that synapse.
    assert [c.synapse for c in network.connections] == [synapse] * 2
    assert snet.sampled_area == pytest.approx(synapse.sampled_area(snet.dt), rel=1e-12)
    with pytest.raises(TypeError, match="tau_s"):  # the loose keywords are gone: one way to say it
        rn.to_spiking(net, tau_s=0.01, allow_untrained=True)


def test_errors_say_what_would_work():
    sigmoid_net = rn.MLP([4, 5, 2], activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"hidden layer 1 \(layer 1, Sigmoid.*no spiking twin.*LIFRate"):
        rn.to_spiking(sigmoid_net, allow_untrained=True)
    net = rn.MLP([4, 5, 2], activation=rn.LIFRate(), seed=0)
    with pytest.raises(ValueError, match="looks untrained.*allow_untrained=True"):
        rn.to_spiking(net)
    net.layers[0].b[:] = 0.1                                 # as if trained
    with pytest.raises(ValueError, match="dt must be > 0"):
        rn.to_spiking(net, dt=-1e-3)
    with pytest.raises(ValueError, match="Euler synapse"):
        rn.to_spiking(net, ns.PSC(0.001, method="euler"), dt=0.005)
    with pytest.raises(TypeError, match="neurosim.PSC"):
        rn.to_spiking(net, 0.005)
    with pytest.raises(ValueError, match="unknown readout"):
        rn.to_spiking(net, readout="voltage")
    snet = rn.to_spiking(net)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\)"):
        snet.run(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="X must be finite"):
        snet.run(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="t_end must be at least one step dt=0.001"):
        snet.run(np.zeros((2, 4)), t_end=0.0005)
    with pytest.raises(ValueError, match="t_settle"):
        snet.run(np.zeros((2, 4)), t_end=0.01, t_settle=0.01)
    with pytest.raises(ValueError, match="X >= 0"):
        rn.to_spiking(net, input="spikes").run(-np.ones((2, 4)))
    net.layers[2].W[0, 0] = np.nan
    with pytest.raises(ValueError, match="the output layer of the network has NaN"):
        rn.to_spiking(net)
