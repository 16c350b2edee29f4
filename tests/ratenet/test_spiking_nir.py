"""A spiking twin exported to NIR (SpikingClassifier.to_nir) and imported back into neurosim
(neurosim.nir.from_nir) runs the twin's own spikes, and its Output node reads the twin's counts
readout. What NIR cannot express (noise, Hodgkin-Huxley neurons, a refractory period, an output
activation) is refused, naming the layer."""

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn

nir = pytest.importorskip("nir", reason="the nir package (the 'nir' extra) is not installed")
from neurosim.nir import from_nir  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X_train, X_test, y_train, y_test = rn.datasets.digits(seed=0)
    return X_train[:400], X_test[:4], y_train[:400]


def _trained(digits, activation):
    X_train, _, y_train = digits
    net = rn.MLP([64, 24, 16, 10], activation=activation, seed=0)
    net.fit(X_train, y_train, epochs=3, batch_size=32, optimizer=rn.Adam(lr=3e-3))
    return net


def _assert_same_spikes(expected, got):
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.counts(), b.counts())
        for times_a, times_b in zip(a.times, b.times, strict=True):
            np.testing.assert_allclose(times_a, times_b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("synapse", [ns.PSC(0.005), ns.PSC(0.003, order=1)])
def test_an_exported_lif_twin_imports_back_spike_for_spike_and_reads_its_logits(digits, tmp_path, synapse):
    net = _trained(digits, rn.LIFRate(tau_ref=0.0))
    X = digits[1]
    snet = rn.to_spiking(net, synapse, initial_state="rest")
    graph = snet.to_nir()
    hidden = ["hidden_1_LIF", "hidden_2_LIF"]
    kind = nir.CubaLIF if synapse.order == 0 else nir.LIF
    assert isinstance(graph.nodes[hidden[1]], kind) and isinstance(graph.nodes["output_readout"], nir.Affine)
    nir.write(tmp_path / "twin.nir", graph)
    imported = from_nir(tmp_path / "twin.nir", inputs={"input": X}, n_trials=X.shape[0])
    network, populations = snet.network(X)
    t_end = 0.15
    probes = [network.probe(p, "spikes") for p in populations]
    twin = network.run(t_end)
    probes_back = [imported.network.probe(imported.populations[name], "spikes") for name in hidden]
    back = imported.network.run(t_end)
    for trial in range(X.shape[0]):
        _assert_same_spikes([twin[p][trial] for p in probes], [back[p][trial] for p in probes_back])
    assert sum(twin[probes[-1]][trial].n_spikes for trial in range(X.shape[0])) > 100
    # The Output node is Affine(W_L A, b_L) of the last layer's spikes: its mean is the counts readout.
    output = imported.outputs["output"]
    assert output.population is imported.populations[hidden[-1]] and output.synapse is None
    rates = np.array([back[probes_back[-1]][trial].rates() for trial in range(X.shape[0])])
    expected = snet.run(X, t_end, t_settle=0.0).outputs
    np.testing.assert_allclose(rates @ output.weights.T + output.bias, expected, rtol=1e-9, atol=1e-9)


def test_a_relu_twin_driven_by_spikes_exports_its_if_neurons_and_their_biases(digits):
    X_train, X, _ = digits
    net = _trained(digits, "relu")
    snet = rn.to_spiking(net, ns.PSC(0.005), input="spikes", initial_state="rest", normalize_on=X_train)
    graph = snet.to_nir()
    assert isinstance(graph.nodes["hidden_1_IF"], nir.IF) and "hidden_2_IF_bias" in graph.nodes
    network, populations = snet.network(X[:2])
    probes = [network.probe(p, "spikes") for p in populations]
    twin = network.run(0.1)
    inputs = twin[probes[0]]                              # the Poisson pixels, given to the import
    imported = from_nir(graph, inputs={"input": inputs}, n_trials=2)
    probes_back = [imported.network.probe(imported.populations[name], "spikes")
                   for name in ("hidden_1_IF", "hidden_2_IF")]
    back = imported.network.run(0.1)
    for trial in range(2):
        _assert_same_spikes([twin[p][trial] for p in probes[1:]], [back[p][trial] for p in probes_back])
    assert twin[probes[-1]][0].n_spikes > 20


def test_what_nir_cannot_express_in_a_twin_is_refused_naming_it(digits):
    X_train, _, y_train = digits
    with pytest.raises(ValueError, match="'hidden 1 \\(LIF\\)'.*refractory period"):
        rn.to_spiking(_trained(digits, rn.LIFRate())).to_nir()
    noisy = rn.MLP([64, 8, 10], activation=rn.NoisyLIFRate(sigma=0.2, tau_ref=0.0), seed=0)
    noisy.fit(X_train[:50], y_train[:50], epochs=1)
    with pytest.raises(ValueError, match="'hidden 1 \\(LIF\\)'.*noise"):
        rn.to_spiking(noisy).to_nir()
    curve = ns.RateCurve(np.linspace(0, 20, 21), np.linspace(0, 100, 21),
                         model={"model": "hh", "dt": 1e-5, "method": "euler", "threshold": 0.0})
    hh = rn.Network([rn.Dense(64, 4), rn.RateCurveActivation(curve), rn.Dense(4, 10)],
                    loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match="'hidden 1 \\(HH\\)'.*Hodgkin-Huxley"):
        rn.to_spiking(hh, allow_untrained=True).to_nir()
    sigmoid_out = rn.Network([rn.Dense(64, 4), rn.LIFRate(tau_ref=0.0), rn.Dense(4, 1), rn.Sigmoid()])
    with pytest.raises(ValueError, match="output activation"):
        rn.to_spiking(sigmoid_out, allow_untrained=True).to_nir()
