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
    # tau_m dV/dt = -(V - V_rest) + R I with V in mV, I in nA, R in MΩ, PSC weights as charges (pC)
    # and delta weights as jumps (mV), against the normalized model written out by hand:
    # v_in = (V_rest - V_reset + R I) / (V_th - V_reset), a charge q moves V by q / C (pC / nF = mV),
    # so its normalized weight is tau_m (q / C) / (V_th - V_reset), a jump J is J / (V_th - V_reset).
    params = PhysicalLIFParameters(tau_m=0.02, V_rest=-65.0, V_th=-50.0, V_reset=-60.0, tau_ref=0.002,
                                   R=100.0)
    span, capacitance = params.V_th - params.V_reset, 0.02e3 / 100.0        # C = tau_m / R = 0.2 nF
    current = np.array([0.12, 0.2, 0.35])                                    # nA
    charges = np.array([[0.02, 0.01], [0.04, 0.03], [0.01, 0.01]])           # pC
    jumps = np.array([[1.0, 0.0], [0.5, 2.0], [3.0, 1.0]])                   # mV

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
    v_in = (params.V_rest - params.V_reset + 100.0 * current) / span
    neurons = normalized.add_lif(3, tau_m=0.02, tau_ref=0.002, current=v_in, v_init=0.5)
    normalized.connect(source, neurons, 0.02 * (charges / capacitance) / span, synapse=PSC(0.005))
    normalized.connect(source, neurons, jumps / span, synapse=Delta(), delay=1e-3)
    n_spikes, n_voltage = normalized.probe(neurons, "spikes"), normalized.probe(neurons, "voltage")
    n = normalized.run(0.1)

    assert p[p_spikes].n_spikes > 10
    for a, b in zip(p[p_spikes].times, n[n_spikes].times, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p[p_voltage], params.V_reset + span * n[n_voltage], rtol=0, atol=1e-9)
    assert p[p_voltage][0, 0] == pytest.approx(-55.0) and p[p_voltage].max() < params.V_th
    assert p[p_current][0, 0] == pytest.approx(current[0])             # the current probe is in nA


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
    with pytest.raises(ValueError, match="params hold 3 per-neuron values, but the population has n=2"):
        net.add_lif(2, PhysicalLIFParameters(V_th=[-50.0, -52.0, -51.0]))
    with pytest.raises(ValueError, match="hold 2 per-neuron values, but the population has n=3"):
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


def test_noisy_lif_population_is_simulate_lifs_noisy_neuron():
    # The network steps noisy neurons with simulate_lif's own step (lif_noisy_step) and the same
    # counter-based noise: the first population of a one-trial network, seeded alike, gives the
    # same spike times as simulate_lif (exactly: same numbers, same order).
    import neurosim as ns

    mu = np.linspace(0.7, 1.3, 40)
    reference = ns.simulate_lif(mu, t_end=0.5, dt=1e-4, noise=0.15, seed=7, record_v=False)
    net = SpikingNetwork(dt=1e-4)
    population = net.add_lif(40, current=mu, noise=0.15, seed=7)
    spikes = net.probe(population, "spikes")
    trains = net.run(0.5)[spikes]
    assert trains.n_spikes > 100
    for ours, theirs in zip(trains.times, reference.spikes.times, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_noisy_lif_membrane_variance_and_rate():
    # Free membrane (mu = 0, far below threshold): stationary variance sigma^2 / 2 (Brunel's
    # convention), within 6 % over 400 neurons x 1.9 s (correlation time tau_m: ~38,000
    # independent samples, standard error of the variance ~0.7 %). Near threshold the rate is
    # Siegert's (lif_rate_noisy) within 3 %: 400 neurons x 2 s at ~20 Hz, 16,000 spikes.
    import neurosim as ns

    net = SpikingNetwork(dt=1e-4, seed=3)
    free = net.add_lif(400, noise=0.2)
    firing = net.add_lif(400, current=np.full(400, 0.9), noise=0.2)
    voltage, spikes = net.probe(free, "voltage", record_every=10), net.probe(firing, "spikes")
    result = net.run(2.0)
    samples = result[voltage][:, 10:]
    assert samples.var() == pytest.approx(0.2**2 / 2, rel=0.06)
    expected = ns.lif_rate_noisy(0.9, 0.2)
    assert result[spikes].n_spikes / (400 * 2.0) == pytest.approx(expected, rel=0.03)
