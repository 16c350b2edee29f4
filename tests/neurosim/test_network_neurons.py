"""Neurons of a SpikingNetwork: per-neuron parameters against separate populations, physical units
against the normalized model, non-leaky IF neurons against their analytic spike times."""

import numpy as np
import pytest
import scipy.sparse

from neurosim import PSC, Delta, PhysicalLIFParameters, SpikeTrains, SpikingNetwork

DRIVE = SpikeTrains([np.array([0.004, 0.011, 0.0125, 0.03, 0.031, 0.0315, 0.05]),
                     np.array([0.002, 0.02, 0.021, 0.04, 0.06])], t_end=0.1)


def test_per_neuron_parameters_equal_separate_populations():
    tau_m, tau_ref = np.array([0.01, 0.02, 0.03]), np.array([0.001, 0.002, 0.004])
    bias, v_init = np.array([1.2, 0.9, 1.5]), np.array([0.0, 0.5, 0.2])
    weights = np.array([[0.02, 0.01], [0.05, 0.02], [0.01, 0.03]])

    together = SpikingNetwork(dt=1e-4)
    source = together.add_spike_source(trains=DRIVE)
    population = together.add_lif(3, tau_m=tau_m, tau_ref=tau_ref, bias=bias, v_init=v_init)
    together.connect(source, population, weights)
    spikes = together.probe(population, "spikes")
    joint = together.run(0.1)[spikes]

    apart = SpikingNetwork(dt=1e-4)
    source = apart.add_spike_source(trains=DRIVE)
    probes = []
    for k in range(3):
        single = apart.add_lif(1, tau_m=tau_m[k], tau_ref=tau_ref[k], bias=bias[k], v_init=v_init[k])
        apart.connect(source, single, weights[k:k + 1])
        probes.append(apart.probe(single, "spikes"))
    result = apart.run(0.1)
    assert joint.n_spikes > 15
    for k in range(3):
        np.testing.assert_array_equal(joint.times[k], result[probes[k]].times[0])


def test_physical_and_normalized_parameters_give_the_same_spike_times():
    # C dV/dt = -g_L (V - V_L) + I with V_th, V_reset per neuron, PSC weights in nA s and delta
    # weights in mV, against the normalized model with v_in = (V_L - V_reset + I / g_L) /
    # (V_th - V_reset), weights divided by g_L (V_th - V_reset), jumps by V_th - V_reset.
    params = PhysicalLIFParameters(C=0.2, g_L=0.01, V_L=-65.0, V_th=-50.0, V_reset=-60.0, tau_ref=0.002)
    span = params.V_th - params.V_reset
    current = np.array([0.12, 0.2, 0.35])                  # nA
    charges = np.array([[2e-5, 1e-5], [4e-5, 3e-5], [1e-5, 1e-5]])   # nA s
    jumps = np.array([[1.0, 0.0], [0.5, 2.0], [3.0, 1.0]])           # mV

    physical = SpikingNetwork(dt=1e-4)
    source = physical.add_spike_source(trains=DRIVE)
    neurons = physical.add_lif(3, params, current=current, v_init=-55.0)
    physical.connect(source, neurons, charges, synapse=PSC(0.005))
    physical.connect(source, neurons, scipy.sparse.csr_array(jumps), synapse=Delta(), delay=1e-3)
    p_spikes, p_voltage = physical.probe(neurons, "spikes"), physical.probe(neurons, "voltage")
    p_current = physical.probe(neurons, "current")
    p = physical.run(0.1)

    normalized = SpikingNetwork(dt=1e-4)
    source = normalized.add_spike_source(trains=DRIVE)
    v_in = (params.V_L - params.V_reset + current / params.g_L) / span
    neurons = normalized.add_lif(3, tau_m=params.tau_m, tau_ref=params.tau_ref, current=v_in, v_init=0.5)
    normalized.connect(source, neurons, charges / (params.g_L * span), synapse=PSC(0.005))
    normalized.connect(source, neurons, jumps / span, synapse=Delta(), delay=1e-3)
    n_spikes, n_voltage = normalized.probe(neurons, "spikes"), normalized.probe(neurons, "voltage")
    n = normalized.run(0.1)

    assert p[p_spikes].n_spikes > 10
    for a, b in zip(p[p_spikes].times, n[n_spikes].times, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p[p_voltage], params.V_reset + span * n[n_voltage], rtol=0, atol=1e-9)
    assert p[p_voltage][0, 0] == pytest.approx(-55.0) and p[p_voltage].max() < params.V_th
    # The current probe is in nA: the constant current, plus the PSCs' current (charge / tau_s).
    assert p[p_current][0, 0] == pytest.approx(current[0])


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("tau_ref", [0.0, 0.002])
def test_if_neurons_fire_at_their_analytic_times(reset, tau_ref):
    # dv/dt = v_in from 0, threshold 1: the k-th spike at k / v_in + (k - 1) tau_ref (the reset
    # leaves exactly 0 either way), so the rate is v_in / (1 + v_in tau_ref): v_in Hz at tau_ref = 0.
    # Exact in-step crossings: times within 1e-12 s at dt = 1 ms, several spikes a step at 1500 Hz.
    v_in = np.array([-3.0, 0.0, 5.0, 37.5, 200.0, 1500.0])
    net = SpikingNetwork(dt=1e-3)
    neurons = net.add_if(v_in.size, reset=reset, tau_ref=tau_ref, current=v_in)
    spikes = net.probe(neurons, "spikes")
    trains = net.run(2.0)[spikes]
    for rate, times in zip(v_in, trains.times, strict=True):
        if rate <= 0:
            assert times.size == 0
            continue
        period = 1.0 / rate + tau_ref
        k = np.arange(1, int(np.ceil((2.0 + tau_ref) / period)) + 1)
        expected = k / rate + (k - 1) * tau_ref
        expected = expected[expected < 2.0 - 1e-9]          # (a spike at t_end itself is rounding's)
        np.testing.assert_allclose(times[times < 2.0 - 1e-9], expected, rtol=0, atol=1e-9)
        assert times.size / 2.0 == pytest.approx(rate / (1 + rate * tau_ref), abs=1.0)


def test_if_reset_by_subtraction_keeps_the_excess_of_a_jump():
    # An input of 100/s brings v to 1 at 10 ms, when a delta input of 1.5 arrives: v = 2.5 fires
    # twice at once with subtraction (v 2.5 -> 0.5), then reaches 1 again 5 ms later and every
    # 10 ms after; with the reset to zero it fires once, then every 10 ms.
    trains = SpikeTrains([np.array([0.0095])], t_end=0.05)
    times = {}
    for reset in ("subtract", "zero"):
        net = SpikingNetwork(dt=1e-3)
        source = net.add_spike_source(trains=trains)
        neuron = net.add_if(1, reset=reset, bias=100.0, v_init=0.0)
        net.connect(source, neuron, np.array([[1.5]]), synapse=Delta())
        spikes = net.probe(neuron, "spikes")
        times[reset] = net.run(0.05)[spikes].times[0]
    np.testing.assert_allclose(times["subtract"], [0.01, 0.01, 0.015, 0.025, 0.035, 0.045], atol=1e-12)
    np.testing.assert_allclose(times["zero"], [0.01, 0.02, 0.03, 0.04], atol=1e-12)


def test_neuron_arguments_are_checked():
    net = SpikingNetwork(dt=1e-3)
    with pytest.raises(ValueError, match=r"v_init must be below the threshold 1"):
        net.add_lif(2, v_init=5.0)                                    # issue 9 item 7
    with pytest.raises(ValueError, match=r"v_init must be below V_th"):
        net.add_lif(2, PhysicalLIFParameters(), v_init=-40.0)
    with pytest.raises(ValueError, match=r"tau_m must be a scalar or have shape \(3,\)"):
        net.add_lif(3, tau_m=[0.01, 0.02])
    with pytest.raises(ValueError, match=r"tau_ref must be >= 0"):
        net.add_lif(2, tau_ref=np.array([0.001, -0.001]))
    with pytest.raises(ValueError, match="either as arguments or through params"):
        net.add_lif(2, PhysicalLIFParameters(), tau_m=0.01)
    with pytest.raises(TypeError, match="params must be a LIFParameters"):
        net.add_lif(2, {"tau_m": 0.01})
    with pytest.raises(ValueError, match="reset"):
        net.add_if(2, reset="soft")
    with pytest.raises(ValueError, match=r"bias must be a scalar or have shape \(2,\)"):
        net.add_if(2, bias=[1.0, 2.0, 3.0])
    assert net.populations == []
