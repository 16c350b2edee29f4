"""Hodgkin-Huxley twins: a network trained on a measured HH rate curve runs as HH neurons, and any
curve neurosim measures (HH or LIF) brings its neuron along. References: the measured curve itself
(the HH neurons of the first layer receive constant currents, the very condition it was measured
in) and the analytic LIF rate."""

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn


@pytest.fixture(scope="module")
def hh_curve():
    return ns.rate_curve("hh", currents=np.linspace(0, 20, 21), t_end=0.6, dt=1e-5, t_skip=0.1)


def test_a_measured_curve_records_its_neuron_and_keeps_it_through_to_dict(hh_curve):
    assert hh_curve.model == {"model": "hh", "dt": 1e-5, "method": "euler", "threshold": 0.0,
                              "params": {"capacitance": 1.0, "g_na": 120.0, "g_k": 36.0, "g_l": 0.3,
                                         "e_na": 50.0, "e_k": -77.0, "e_l": -54.387, "v_rest": -65.0}}
    assert ns.RateCurve.from_dict(hh_curve.to_dict()).model == hh_curve.model
    lif = ns.rate_curve("lif", np.linspace(0, 4, 9), t_end=0.5, dt=1e-3, t_skip=0.1, tau_ref=0.003)
    assert lif.model == {"model": "lif", "dt": 1e-3, "tau_m": 0.02, "tau_ref": 0.003}
    assert ns.rate_curve("lif", np.linspace(0, 4, 9), analytic=True).model["model"] == "lif"
    noisy = ns.rate_curve("lif", np.linspace(0, 4, 9), t_end=0.5, dt=1e-3, t_skip=0.1, noise=0.2, seed=1)
    assert noisy.model["noise"] == 0.2
    # Noise given per input: one level is the neuron's noise; several levels are no one neuron.
    inputs = np.linspace(0.5, 4, 8)
    per_input = ns.rate_curve("lif", inputs, t_end=0.5, dt=1e-3, t_skip=0.1, noise=np.full(8, 0.2), seed=1)
    assert per_input.model["noise"] == 0.2
    assert ns.rate_curve("lif", inputs, t_end=0.5, dt=1e-3, t_skip=0.1, noise=np.linspace(0.1, 0.3, 8),
                         seed=1).model is None
    net = rn.Network([rn.Dense(2, 3), rn.RateCurveActivation(noisy), rn.Dense(3, 2)],
                     loss="softmax_cross_entropy")
    assert rn.to_spiking(net, allow_untrained=True).layers[0].twin.noise == 0.2


def test_hh_twin_first_layer_fires_at_the_curves_rate(hh_curve):
    # Constant currents I = gain z + onset into HH neurons started at rest: the condition the curve
    # was measured in. Counting spikes over a 0.4 s window is exact to 1 / 0.4 s = 2.5 Hz; the
    # curve interpolates 1 µA/cm²-spaced samples measured by inter-spike intervals (about 1 % ).
    # We allow 2.5 Hz + 1 % of the rate, for every neuron, silent ones included.
    activation = rn.RateCurveActivation(hh_curve, gain=10.0)
    rng = np.random.default_rng(0)
    weights = rng.uniform(-0.5, 1.0, (12, 4))
    net = rn.Network([rn.Dense(4, 12, weights=weights, bias=np.zeros(12)), activation, rn.Dense(12, 3)],
                     loss="softmax_cross_entropy")
    X = rng.uniform(0, 1, (5, 4))
    snet = rn.to_spiking(net)
    assert snet.dt == 1e-5 and [layer.twin.kind for layer in snet.layers] == ["HH"]
    network, populations = snet.network(X[:1])
    assert [p.kind for p in populations] == ["hh"]
    result = snet.run(X, t_end=0.5, t_settle=0.1)
    current = 10.0 * (X @ weights.T) + hh_curve.onset
    expected = hh_curve(current)
    assert np.sum(expected > 0) >= 30 and np.sum(expected == 0) >= 5
    np.testing.assert_allclose(result.hidden_rates[0], expected, rtol=0.01, atol=2.5)
    rates, _ = snet.rate_forward(X)
    np.testing.assert_allclose(rates[0], expected, rtol=1e-12)


def test_lif_and_hh_layers_mix_in_one_twin(hh_curve):
    # Layer 1 LIF (constant currents), layer 2 HH driven by the LIF spikes through 20 ms synapses:
    # the HH rates follow what the rate network predicts for the neurons well above the onset
    # (> 60 Hz, where the curve is smooth): within 5 % (the input fluctuates around its mean) plus
    # the 1 / 0.8 s of counting, and a slope within 3 %. Near the onset the fluctuations make HH
    # neurons fire or fall silent against the mean-input prediction, as for any spiking neuron.
    rng = np.random.default_rng(1)
    layers = [rn.Dense(6, 20, weights=rng.uniform(0, 1.2, (20, 6)), bias=np.zeros(20)), rn.LIFRate(),
              rn.Dense(20, 10, weights=rng.uniform(-0.1, 0.2, (10, 20)), bias=np.zeros(10)),
              rn.RateCurveActivation(hh_curve, gain=5.0), rn.Dense(10, 2)]
    net = rn.Network(layers, loss="softmax_cross_entropy")
    X = rng.uniform(0, 1, (4, 6))
    snet = rn.to_spiking(net, ns.PSC(0.02))
    assert [layer.twin.kind for layer in snet.layers] == ["LIF", "HH"]
    diagnosis = rn.diagnose(snet, X, t_end=1.0, t_settle=0.2)
    second = diagnosis.layers[1]
    firing = second.predicted > 60
    assert firing.sum() >= 30
    predicted, measured = second.predicted[firing], second.measured[firing]
    assert np.all(np.abs(measured - predicted) <= 0.05 * predicted + 1 / 0.8)
    assert predicted @ measured / (predicted @ predicted) == pytest.approx(1.0, abs=0.03)


def test_a_measured_lif_curve_runs_as_the_lif_neurons_it_was_measured_with():
    # A curve measured from LIF neurons with tau_ref = 3 ms: its twin is those neurons, whose rate
    # under constant input is the analytic LIF rate (exact timing): within the counting window's
    # 1 / 1.5 s and the curve's interpolation (1 %).
    curve = ns.rate_curve("lif", np.linspace(0, 5, 21), t_end=1.0, dt=1e-3, t_skip=0.1, tau_ref=0.003)
    activation = rn.RateCurveActivation(curve, gain=2.0, bias=1.0)
    net = rn.Network([rn.Dense(3, 8, weights=np.random.default_rng(2).uniform(-0.5, 1.5, (8, 3)),
                                bias=np.zeros(8)), activation, rn.Dense(8, 2)], loss="softmax_cross_entropy")
    snet = rn.to_spiking(net)
    twin = snet.layers[0].twin
    assert (twin.kind, twin.tau_m, twin.tau_ref, snet.dt) == ("LIF", 0.02, 0.003, 1e-3)
    X = np.random.default_rng(3).uniform(0, 1, (4, 3))
    v_in = 2.0 * (X @ net.layers[0].W.T) + 1.0
    measured = snet.run(X, t_end=1.6, t_settle=0.1).hidden_rates[0]
    np.testing.assert_allclose(measured, ns.lif_rate(v_in, tau_ref=0.003), rtol=0.01, atol=1 / 1.5)


def test_hh_layers_need_a_small_step_and_curves_need_their_neuron(hh_curve):
    net = rn.Network([rn.Dense(2, 3), rn.RateCurveActivation(hh_curve), rn.Dense(3, 2)],
                     loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match=r"hidden 1 runs as Hodgkin-Huxley neurons.*dt <= 2e-05.*dt=1e-05"):
        rn.to_spiking(net, dt=1e-3, allow_untrained=True)
    anonymous = ns.RateCurve(hh_curve.inputs, hh_curve.rates, onset=hh_curve.onset,
                             onset_rate=hh_curve.onset_rate)
    net = rn.Network([rn.Dense(2, 3), rn.RateCurveActivation(anonymous), rn.Dense(3, 2)],
                     loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match=r"hidden layer 1 .*curve\.model is unset.*rate_curve"):
        rn.to_spiking(net, allow_untrained=True)


def test_inputs_outside_the_measured_curve_warn_and_a_divergence_says_why(hh_curve):
    # The curve was measured over 0-20 µA/cm²; a neuron driven at -60 µA/cm² is outside what the
    # rate network knows, and forward Euler HH diverges there at dt = 0.01 ms (it does from about
    # -25 µA/cm²): a warning before the run, and an error that names the cause after.
    net = rn.Network([rn.Dense(1, 2, weights=np.array([[-66.0], [1.0]]), bias=np.zeros(2)),
                      rn.RateCurveActivation(hh_curve, gain=1.0), rn.Dense(2, 2)],
                     loss="softmax_cross_entropy")
    snet = rn.to_spiking(net, allow_untrained=True)
    outside = r"hidden 1 receives inputs from -59.77 to 7.227, outside \[0, 20\]"
    with pytest.warns(RuntimeWarning, match=outside), \
            pytest.raises(FloatingPointError, match="outside the range its rate curve was measured over"):
        snet.run(np.ones((1, 1)), t_end=0.01)
