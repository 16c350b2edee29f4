"""Spiking networks: synapses against neurosim's spike filter, LIF populations against the analytic
rate, trials against separate runs, sources against their definitions."""

import numpy as np
import pytest

import neurosim as ns
from neurosim import PSC, SpikeTrains, SpikingNetwork, filter_spikes


def _erlang_cdf(t, tau_s, order):
    """The charge a unit-area kernel of order ``order`` has delivered ``t`` s after its spike: the
    Erlang(order + 1) distribution function, 1 - exp(-x) sum_{j <= order} x**j / j!, x = t / tau_s."""
    x = np.maximum(t, 0.0) / tau_s
    term = total = np.ones_like(x)
    for j in range(1, order + 1):
        term = term * x / j
        total = total + term
    return np.where(t > 0, 1.0 - np.exp(-x) * total, 0.0)


def _held_currents(trains, dt, synapse, t_end):
    """What a network holds over each step [t_k, t_k + dt) for the spike trains through ``synapse``:
    the exact kernel's average over the step (the Euler synapse: its value, as filter_spikes gives
    it), each spike felt from the first grid point at or after it. Independent of the network's
    arithmetic (the kernel's integral in closed form)."""
    if synapse.method == "euler":
        moved = SpikeTrains([np.ceil(np.round(t / dt, 9)) * dt for t in trains.times], t_end=t_end)
        return filter_spikes(moved, dt=dt, synapse=synapse)
    edges = np.arange(int(round(t_end / dt)) + 1) * dt
    out = np.zeros((trains.n_neurons, edges.size - 1))
    for i, times in enumerate(trains.times):
        for t in times:
            felt = np.ceil(np.round(t / dt, 9)) * dt
            out[i] += np.diff(_erlang_cdf(edges - felt, synapse.tau_s, synapse.order)) / dt
    return out


@pytest.mark.parametrize("method", ["euler", "exact"])
@pytest.mark.parametrize("order", [0, 1])
def test_single_synapse_delivers_the_kernel_over_each_step(method, order):
    # Spikes on the grid. The filtered probe samples the kernel as filter_spikes does (the same
    # arithmetic: 1e-12 of the peak 1/tau_s = 200); the neuron's input over each step is the exact
    # kernel's average over the step (Euler: its value), so every spike delivers its whole charge.
    trains = SpikeTrains([np.array([0.010, 0.012, 0.030, 0.031]), np.array([0.005])], t_end=0.1)
    synapse = PSC(0.005, order, method)
    net = SpikingNetwork(dt=1e-3)
    source = net.add_spike_source(trains=trains)
    silent = net.add_lif(1, bias=-1e3)  # never fires: its input current is the synapse's output
    net.connect(source, silent, weights=np.array([[0.5, 0.0]]), synapse=synapse)
    current = net.probe(silent, "current")
    filtered = net.probe(source, "filtered", synapse=synapse)
    result = net.run(t_end=0.1)

    reference = filter_spikes(trains, dt=1e-3, synapse=synapse)
    np.testing.assert_allclose(result[filtered], reference, rtol=0, atol=1e-12 * 200)
    held = _held_currents(trains, 1e-3, synapse, 0.1)
    np.testing.assert_allclose(result[current][0] + 1e3, 0.5 * held[0], rtol=0, atol=1e-10)
    if method == "exact":                  # the charge delivered within the window, exactly
        delivered = (result[current][0] + 1e3).sum() * 1e-3
        assert delivered == pytest.approx(0.5 * 4 * _erlang_cdf(np.array([0.1 - 0.031]), 0.005, order)[0],
                                          rel=1e-3)


@pytest.mark.parametrize("order", [0, 1, 4])
@pytest.mark.parametrize("dt", [1e-3, 1e-4, 2e-2])
def test_step_average_gives_every_spike_its_charge(order, dt):
    # One spike through a unit weight: the current held over the steps, summed, is 1 (the kernel's
    # area), for any ratio dt / tau_s; the coefficients are the closed-form averages of the stages.
    synapse = PSC(0.004, order)
    net = SpikingNetwork(dt=dt)
    source = net.add_spike_source(trains=SpikeTrains([np.array([0.0])], t_end=2.0))
    silent = net.add_lif(1, bias=-1e3)
    net.connect(source, silent, weights=np.ones((1, 1)), synapse=synapse, delay=3 * dt)
    current = net.probe(silent, "current")
    delivered = (net.run(t_end=2.0)[current][0] + 1e3).sum() * dt
    assert delivered == pytest.approx(1.0, abs=1e-9)
    a = dt / 0.004
    stage_averages = [(_erlang_cdf(np.array([dt]), 0.004, m)[0]) / a for m in range(order + 1)]
    # (The closed form cancels for small dt / tau_s at high orders: 1e-13 absolute of a sum of 1.)
    np.testing.assert_allclose(synapse.step_average(dt), stage_averages, rtol=1e-9, atol=1e-13)
    assert PSC(0.004, order, "euler").step_average(1e-3).tolist() == [1.0] + [0.0] * order


def test_synaptic_current_is_the_weighted_sum_of_filtered_presynaptic_trains():
    # z = W x + b with x the filtered spike trains of the sources (Poisson, off the grid).
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(3, 8))
    bias = np.array([-5.0, -6.0, -7.0])          # strongly negative: the post neurons stay silent
    net = SpikingNetwork(dt=1e-3, seed=2)
    source = net.add_spike_source(rates=np.full(8, 40.0))
    post = net.add_lif(3, bias=bias)
    net.connect(source, post, weights, synapse=PSC(0.01, order=1))
    spikes = net.probe(source, "spikes")
    current = net.probe(post, "current")
    result = net.run(t_end=0.5)
    # A spike is felt at the first grid point at or after it.
    held = _held_currents(result[spikes], 1e-3, PSC(0.01, order=1), 0.5)
    np.testing.assert_allclose(result[current], weights @ held + bias[:, None], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_lif_population_fires_at_the_analytic_rate(dt):
    # The issue asks for 1 %; the exact-timing step makes the error a counting error of at most one
    # spike in the window (1 / (rate * 2 s) <= 1 % for rates >= 50 Hz; we count from the first
    # spike to the last one to remove the window edges).
    v_in = np.linspace(1.5, 20.0, 40)
    net = SpikingNetwork(dt=dt)
    population = net.add_lif(v_in.size, current=v_in, tau_m=0.02, tau_ref=0.002)
    spikes = net.probe(population, "spikes")
    trains = net.run(t_end=2.0)[spikes]
    measured = np.array([(t.size - 1) / (t[-1] - t[0]) for t in trains.times])
    np.testing.assert_allclose(measured, ns.lif_rate(v_in, tau_m=0.02, tau_ref=0.002), rtol=1e-3)


def test_trials_equal_separate_runs():
    rng = np.random.default_rng(3)
    weights = rng.normal(0.0, 0.3, size=(5, 4))
    currents = rng.uniform(1.0, 4.0, size=(3, 4))

    def build(n_trials, current):
        net = SpikingNetwork(dt=1e-3, n_trials=n_trials)
        hidden = net.add_lif(4, current=current)
        out = net.add_lif(5, bias=0.8)
        net.connect(hidden, out, weights, synapse=PSC(0.005))
        return net, net.probe(out, "filtered"), net.probe(out, "spikes")

    net, filtered, spikes = build(3, currents)
    together = net.run(t_end=0.3)
    for trial in range(3):
        alone_net, alone_filtered, alone_spikes = build(1, currents[trial])
        alone = alone_net.run(t_end=0.3)
        np.testing.assert_array_equal(together[filtered][trial], alone[alone_filtered])
        for a, b in zip(together[spikes][trial].times, alone[alone_spikes].times, strict=True):
            np.testing.assert_array_equal(a, b)


def test_poisson_source_rate_and_regular_source_times():
    net = SpikingNetwork(dt=1e-3, seed=4)
    poisson = net.add_spike_source(rates=np.full(200, 25.0), kind="poisson")
    regular = net.add_spike_source(rates=np.array([10.0, 40.0]), kind="regular")
    p_spikes, r_spikes = net.probe(poisson, "spikes"), net.probe(regular, "spikes")
    result = net.run(t_end=2.0)
    total = result[p_spikes].n_spikes
    expected = 200 * 25.0 * 2.0                    # Poisson: mean 10,000, sd 100
    assert abs(total - expected) < 5 * np.sqrt(expected)
    np.testing.assert_allclose(result[r_spikes].times[0], (np.arange(20) + 0.5) / 10.0)
    np.testing.assert_allclose(result[r_spikes].times[1], (np.arange(80) + 0.5) / 40.0)


def test_voltage_probe_is_decimated_and_matches_the_exponential_approach():
    net = SpikingNetwork(dt=1e-4)
    population = net.add_lif(1, current=np.array([0.8]), tau_m=0.02)
    voltage = net.probe(population, "voltage", record_every=10)
    result = net.run(t_end=0.1)
    t = result.times(voltage)
    assert t.shape == (100,) and np.isclose(t[1], 1e-3)
    np.testing.assert_allclose(result[voltage][0], 0.8 * (1 - np.exp(-t / 0.02)), atol=1e-12)


def test_time_varying_current_equal_to_a_constant_gives_the_same_spikes():
    constant = SpikingNetwork(dt=1e-3)
    a = constant.add_lif(2, current=np.array([1.5, 3.0]))
    pa = constant.probe(a, "spikes")
    varying = SpikingNetwork(dt=1e-3)
    b = varying.add_lif(2, current=np.repeat([[1.5], [3.0]], 500, axis=1))
    pb = varying.probe(b, "spikes")
    for x, y in zip(constant.run(0.5)[pa].times, varying.run(0.5)[pb].times, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-15)


def test_errors_name_what_is_wrong():
    net = SpikingNetwork(dt=1e-3)
    pre, post = net.add_lif(3), net.add_lif(2)
    with pytest.raises(ValueError, match=r"weights must have shape \(post.n, pre.n\) = \(2, 3\)"):
        net.connect(pre, post, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="tau_s"):
        net.connect(pre, post, np.zeros((2, 3)), synapse=PSC(tau_s=0.0))
    with pytest.raises(TypeError, match="synapse must be a neurosim.PSC"):
        net.connect(pre, post, np.zeros((2, 3)), synapse=0.005)
    source = net.add_spike_source(rates=np.ones(2))
    with pytest.raises(ValueError, match="post must be an LIF, IF or HH population"):
        net.connect(pre, source, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dt"):
        SpikingNetwork(dt=-1e-3)
    with pytest.raises(ValueError, match="unstable"):
        net.connect(pre, post, np.zeros((2, 3)), synapse=PSC(4e-4, method="euler"))
        net.run(0.01)
    other = SpikingNetwork().add_lif(2)
    with pytest.raises(TypeError, match="Population of this network"):
        net.probe(other, "spikes")
    with pytest.raises(ValueError, match="kind"):
        net.probe(post, "gates")


def test_unconnected_hh_population_reproduces_simulate_hh():
    # The network steps HH neurons with simulate_hh's own step function (forward Euler, same dt),
    # so spike times may differ only by how the in-step crossing time is added to the step's start
    # (rounding, ~1e-16 s); we allow 1e-9 s. Voltages are the same numbers (atol 1e-9 mV).
    currents = np.array([0.0, 3.0, 7.0, 10.0, 15.0])          # µA/cm²: silent, one spike, firing
    reference = ns.simulate_hh(currents, t_end=0.1, dt=1e-5, record_every=10)
    net = SpikingNetwork(dt=1e-5)
    population = net.add_hh(currents.size, current=currents)
    spikes = net.probe(population, "spikes")
    voltage = net.probe(population, "voltage", record_every=10)
    result = net.run(t_end=0.1)
    assert reference.spikes.n_spikes > 10
    for ours, theirs in zip(result[spikes].times, reference.spikes.times, strict=True):
        assert ours.size == theirs.size
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result[voltage], reference.v, rtol=0, atol=1e-9)


@pytest.mark.parametrize("order", [0, 1])
def test_hh_neuron_receives_the_synaptic_current_filter_spikes_predicts(order):
    # Source spikes on the grid: the HH neuron's input current must be bias + w * the kernel's
    # average over each step (tolerance 1e-9 µA/cm² against currents of tens of µA/cm²). The
    # weight (µA/cm² x s) is large enough for the PSCs to make the neuron fire.
    dt, tau_s, weight, bias = 1e-5, 0.002, 0.05, 2.0
    trains = SpikeTrains([np.array([0.005, 0.00502, 0.02, 0.021, 0.04])], t_end=0.06)
    net = SpikingNetwork(dt=dt)
    source = net.add_spike_source(trains=trains)
    neuron = net.add_hh(1, bias=bias)
    net.connect(source, neuron, weights=np.array([[weight]]), synapse=PSC(tau_s, order))
    current = net.probe(neuron, "current")
    spikes = net.probe(neuron, "spikes")
    result = net.run(t_end=0.06)
    expected = bias + weight * _held_currents(trains, dt, PSC(tau_s, order=order), 0.06)[0]
    np.testing.assert_allclose(result[current][0], expected, rtol=0, atol=1e-9)
    assert result[spikes].n_spikes >= 1


def test_hh_spikes_drive_connections_like_lif_spikes():
    # An HH neuron's spike at t (its threshold crossing) is felt at the next grid point, as a source
    # spike would be: the silent LIF neuron's input is w * filter_spikes of the HH trains moved to
    # the grid (same arithmetic up to rounding: 1e-9 against a peak of w / tau_s = 25).
    dt = 1e-5
    net = SpikingNetwork(dt=dt)
    hh = net.add_hh(2, current=np.array([8.0, 12.0]))
    silent = net.add_lif(1, bias=-1e3)
    net.connect(hh, silent, weights=np.array([[0.05, 0.1]]), synapse=PSC(0.004, method="euler"))
    hh_spikes = net.probe(hh, "spikes")
    current = net.probe(silent, "current")
    result = net.run(t_end=0.1)
    trains = result[hh_spikes]
    assert min(t.size for t in trains.times) >= 4
    moved = SpikeTrains([np.ceil(np.round(t / dt, 9)) * dt for t in trains.times], t_end=0.1)
    filtered = filter_spikes(moved, dt=dt, synapse=PSC(0.004, method="euler"))
    expected = 0.05 * filtered[0] + 0.1 * filtered[1] - 1e3
    np.testing.assert_allclose(result[current][0], expected, rtol=0, atol=1e-9)


def test_hh_population_errors_name_what_is_wrong():
    net = SpikingNetwork(dt=1e-5)
    with pytest.raises(TypeError, match="HHParameters"):
        net.add_hh(2, params={"g_na": 120.0})
    with pytest.raises(ValueError, match="method"):
        net.add_hh(2, method="rk4")
    with pytest.raises(ValueError, match=r"current must have shape \(2,\)"):
        net.add_hh(2, current=np.ones(3))
    unstable = SpikingNetwork(dt=2e-4)
    unstable.add_hh(1, current=np.array([20.0]))
    with pytest.raises(FloatingPointError, match="dt <= 2e-05"):
        unstable.run(t_end=0.05)


def test_lif_v_init_per_trial_sets_each_trials_first_spike():
    # Constant input v_in, start v0: the first spike comes at tau_m ln((v_in - v0) / (v_in - 1)),
    # exactly for the exact-timing LIF (a negative v0 delays it, as a refractory remainder would).
    v_in, tau_m = 2.0, 0.02
    starts = np.array([[0.0, 0.5], [0.9, -0.4]])                      # (n_trials, n)
    net = ns.SpikingNetwork(dt=1e-3, n_trials=2)
    neurons = net.add_lif(2, tau_m=tau_m, bias=v_in, v_init=starts)
    spikes = net.probe(neurons, "spikes")
    result = net.run(0.05)
    first = np.array([[trains.times[i][0] for i in range(2)] for trains in result[spikes]])
    expected = tau_m * np.log((v_in - starts) / (v_in - 1.0))
    np.testing.assert_allclose(first, expected, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(n_trials, n\) = \(2, 2\)"):
        net.add_lif(2, v_init=np.zeros((3, 2)))
