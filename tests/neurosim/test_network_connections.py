"""Connections of a SpikingNetwork: sparse against dense weights, delays against shifted traces,
delta synapses against the exponential decay of a jump, and the errors of bad connections."""

import numpy as np
import pytest
import scipy.sparse

import neurosim as ns
from neurosim import PSC, Delta, SpikeTrains, SpikingNetwork, connectivity, validation


def _recurrent(weights, dt=1e-3, t_end=0.5, delay=None):
    """60 LIF neurons driven near threshold, recurrently coupled by ``weights``: many spikes a step."""
    net = SpikingNetwork(dt=dt, seed=6)
    source = net.add_spike_source(rates=np.full(20, 50.0))
    population = net.add_lif(60, current=np.linspace(0.8, 1.6, 60))
    net.connect(source, population, connectivity.all_to_all(20, 60, weights=0.005))
    net.connect(population, population, weights, synapse=PSC(0.005, order=1), delay=delay)
    probes = net.probe(population, "spikes"), net.probe(population, "current")
    result = net.run(t_end)
    return result[probes[0]], result[probes[1]]


def test_sparse_and_dense_weights_give_identical_spikes():
    # The same synapses stored as dense rows of W.T or as its CSR add the same numbers in the same
    # order (each event adds its synapses to their targets): identical currents and spike times.
    rng = np.random.default_rng(5)
    dense = rng.normal(0.0, 0.03, size=(60, 60)) * (rng.random((60, 60)) < 0.2)
    sparse_trains, sparse_current = _recurrent(scipy.sparse.coo_array(dense))
    dense_trains, dense_current = _recurrent(dense)
    assert dense_trains.n_spikes > 500
    np.testing.assert_array_equal(sparse_current, dense_current)
    for a, b in zip(sparse_trains.times, dense_trains.times, strict=True):
        np.testing.assert_array_equal(a, b)


def test_one_weight_for_all_synapses_is_the_same_network():
    # Equal weights are stored once ("uniform"); the arithmetic is the same as one weight each.
    W = connectivity.fixed_probability(60, 60, 0.2, weights=0.02, seed=1)
    uniform_trains, _ = _recurrent(W)
    dense_trains, _ = _recurrent(W.toarray())
    for a, b in zip(uniform_trains.times, dense_trains.times, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_sparse_connection_stores_only_its_synapses():
    net = SpikingNetwork(dt=1e-3)
    pre, post = net.add_lif(2000), net.add_lif(3000)
    W = connectivity.fixed_indegree(2000, 3000, 50, weights=lambda rng, n: rng.uniform(0, 1, n), seed=0)
    connection = net.connect(pre, post, W)
    assert connection.storage == "sparse" and connection.n_synapses == 150_000
    # 4 bytes of index + 8 of weight per synapse, plus one pointer per presynaptic neuron.
    assert connection.nbytes == 150_000 * 12 + 2001 * 8
    uniform = net.connect(pre, post, connectivity.fixed_indegree(2000, 3000, 50, weights=0.1, seed=0))
    assert uniform.storage == "uniform" and uniform.nbytes == 150_000 * 4 + 2001 * 8
    # Out-degrees from the stored structure equal the count of listed synapses per presynaptic
    # neuron (and a dense connection's zero weights are no synapses).
    for c in (connection, uniform):
        np.testing.assert_array_equal(c.out_degrees(), np.bincount(c.synapses()[1], minlength=2000))
    dense = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])                     # (post 2, pre 3)
    small = SpikingNetwork(dt=1e-3)
    assert small.connect(small.add_lif(3), small.add_lif(2), dense).out_degrees().tolist() == [1, 1, 0]


def _delayed_current(delay, spike_time=0.0105, dt=1e-3, synapse=None):
    """The input current of a silent neuron fed one source spike through ``delay``."""
    net = SpikingNetwork(dt=dt)
    source = net.add_spike_source(trains=SpikeTrains([np.array([spike_time])], t_end=0.05))
    silent = net.add_lif(1, bias=-1e3)
    net.connect(source, silent, np.array([[1.0]]), synapse=synapse or PSC(0.005), delay=delay)
    current = net.probe(silent, "current")
    return net.run(0.05)[current][0] + 1e3


@pytest.mark.parametrize("delay, steps", [(None, 1), (0.0, 1), (3e-4, 1), (1e-3, 1), (2.5e-3, 3),
                                          (5e-3, 5), (0.0174, 17)])
def test_a_delay_shifts_the_spike_by_exactly_the_rounded_delay(delay, steps):
    # A source spike at 10.5 ms is felt at the first step time at or after it, step 11, with the
    # minimal delay of one step; a delay of d = max(1, round(delay / dt)) steps (halves up) moves
    # it to step 11 + d - 1, and the current is the same trace shifted there, exactly.
    reference = _delayed_current(None)
    current = _delayed_current(delay)
    onset = int(np.flatnonzero(current)[0])
    assert onset == 11 + steps - 1
    shift = steps - 1
    np.testing.assert_array_equal(current[shift:], reference[:reference.size - shift])
    assert np.all(current[:onset] == 0)


def test_neuron_to_neuron_delay_and_per_synapse_delays():
    # A neuron driven to fire once early: its spike reaches two targets with delays of 2 and 7 ms
    # (per synapse, given as a sparse matrix with the structure of the weights).
    dt = 1e-4
    net = SpikingNetwork(dt=dt)
    driver = net.add_lif(1, current=np.array([5.0]), tau_ref=0.5)     # one spike, then refractory
    targets = net.add_lif(2, bias=-1e3)
    weights = scipy.sparse.csr_array(np.array([[1.0], [2.0]]))
    delays = weights.copy()
    delays.data = np.array([2e-3, 7e-3])
    net.connect(driver, targets, weights, delay=delays)
    spikes, current = net.probe(driver, "spikes"), net.probe(targets, "current")
    result = net.run(0.02)
    (t_spike,) = result[spikes].times[0]
    spike_step = int(t_spike // dt)                       # the step during which it fired
    onsets = [int(np.flatnonzero(row + 1e3)[0]) for row in result[current]]
    assert onsets == [spike_step + 20, spike_step + 70]


def test_delay_given_as_a_dense_array_is_read_at_the_synapses():
    def onsets(delay):
        net = SpikingNetwork(dt=1e-3)
        source = net.add_spike_source(trains=SpikeTrains([np.array([0.0])] * 2, t_end=0.03))
        silent = net.add_lif(2, bias=-1e3)
        net.connect(source, silent, np.eye(2), delay=delay)
        current = net.probe(silent, "current")
        return [int(np.flatnonzero(row + 1e3)[0]) for row in net.run(0.03)[current]]

    assert onsets(np.array([[3e-3, 99.0], [99.0, 6e-3]])) == [2, 5]   # off-diagonal entries unread
    assert onsets(4e-3) == [3, 3]


def test_delta_synapse_jumps_the_voltage_by_the_weight():
    # A spike felt at step 11 makes v jump by 0.3 at t = 11 ms; the free membrane then decays as
    # 0.3 exp(-(t - 11 ms) / tau_m), exactly (the update is the exact exponential).
    net = SpikingNetwork(dt=1e-3)
    source = net.add_spike_source(trains=SpikeTrains([np.array([0.0105])], t_end=0.05))
    neuron = net.add_lif(1, tau_m=0.02)
    net.connect(source, neuron, np.array([[0.3]]), synapse=Delta())
    voltage, current = net.probe(neuron, "voltage"), net.probe(neuron, "current")
    result = net.run(0.05)
    t = result.times(voltage)
    expected = np.where(t > 0.011 + 1e-12, 0.3 * np.exp(-(t - 0.011) / 0.02), 0.0)
    np.testing.assert_allclose(result[voltage][0], expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(result[current], 0.0)                 # a jump is not a current


def test_delta_jump_over_threshold_fires_at_arrival_and_is_lost_when_refractory():
    # Two spikes 1 ms apart, each a jump of 0.6, with a delay of 1.5 ms (2 steps at 1 ms): the sum
    # crosses 1 at the second arrival, t = 13 ms; a third jump during the refractory period is lost.
    net = SpikingNetwork(dt=1e-3)
    times = np.array([0.0105, 0.0115, 0.0125])
    source = net.add_spike_source(trains=SpikeTrains([times], t_end=0.05))
    neuron = net.add_lif(1, tau_m=0.9, tau_ref=0.002)                 # almost no leak over 1 ms
    net.connect(source, neuron, np.array([[0.6]]), synapse=Delta(), delay=1.5e-3)
    spikes, voltage = net.probe(neuron, "spikes"), net.probe(neuron, "voltage")
    result = net.run(0.05)
    np.testing.assert_allclose(result[spikes].times[0], [0.013], rtol=0, atol=1e-15)
    assert result[voltage][0, 14] == 0.0 and result[voltage][0, 16] == 0.0   # the third jump: lost


def test_connect_refuses_bad_weights_and_delays():
    net = SpikingNetwork(dt=1e-3)
    pre, post = net.add_lif(3), net.add_lif(2)
    with pytest.raises(ValueError, match=r"weights must have shape \(post.n, pre.n\) = \(2, 3\)"):
        net.connect(pre, post, scipy.sparse.csr_array((3, 2)))
    bad = scipy.sparse.csr_array(np.array([[1.0, 0, 0], [0, np.nan, 0]]))
    with pytest.raises(ValueError, match="weights must be finite"):
        net.connect(pre, post, bad)
    with pytest.raises(ValueError, match="weights must be finite"):
        net.connect(pre, post, np.full((2, 3), np.inf))
    for delay in (-1e-3, np.nan, np.inf):
        with pytest.raises(ValueError, match="delay must be finite and >= 0"):
            net.connect(pre, post, np.ones((2, 3)), delay=delay)
    with pytest.raises(ValueError, match="delay must be finite and >= 0"):
        net.connect(pre, post, np.ones((2, 3)), delay=np.full((2, 3), -1.0))
    weights = scipy.sparse.csr_array(np.array([[1.0, 0, 0], [0, 2.0, 0]]))
    with pytest.raises(ValueError, match="same sparse structure"):
        net.connect(pre, post, weights, delay=scipy.sparse.csr_array(np.array([[1e-3, 0, 0], [0, 0, 0]])))
    with pytest.raises(TypeError, match="delay must be a number"):
        net.connect(pre, post, np.ones((2, 3)), delay="1 ms")
    with pytest.raises(TypeError, match="synapse must be a neurosim.PSC"):
        net.connect(pre, post, np.ones((2, 3)), synapse=0.005)
    assert net.connections == []                       # nothing half-built was kept
    net.connect(pre, post, np.ones((2, 3)), delay=0.2)
    with pytest.raises(ValueError, match="delay: the connection .* longer than the run"):
        net.run(0.1)


def test_connect_refuses_a_synapse_state_past_the_memory_limit(monkeypatch):
    # Issue 9: a kernel order of 1e8 ran for minutes at 5.6 GB. Its state (order + 1 stages per
    # neuron) is estimated first and refused.
    net = SpikingNetwork(dt=1e-3)
    pre, post = net.add_lif(10), net.add_lif(10)
    with pytest.raises(ValueError, match=r"synapse: the state of .* more than the limit"):
        net.connect(pre, post, np.ones((10, 10)), synapse=PSC(0.005, order=10**8))
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 2**20)
    with pytest.raises(ValueError, match=r"weights: a dense 1000 x 1000 weight matrix"):
        net.connect(net.add_lif(1000), net.add_lif(1000), np.zeros((1000, 1000)))


def test_high_order_synapse_in_a_network_is_the_kernel_convolution():
    # The exact propagator is computed in logarithms: order 200 no longer overflows a**m / m!. The
    # probe filters the spikes where they are felt (2 ms and 4 ms): h(t - 2 ms) + h(t - 4 ms).
    trains = SpikeTrains([np.array([0.002, 0.0031])], t_end=0.6)
    net = SpikingNetwork(dt=1e-3)
    source = net.add_spike_source(trains=trains)
    filtered = net.probe(source, "filtered", synapse=PSC(0.001, order=200))
    result = net.run(0.6)
    t = result.times(filtered)
    synapse = PSC(0.001, order=200)
    reference = ns.psc_kernel(t - 0.002, synapse) + ns.psc_kernel(t - 0.004, synapse)
    assert reference.max() > 10
    np.testing.assert_allclose(result[filtered][0], reference, rtol=0, atol=1e-9 * reference.max())


def test_delta_synapse_into_hh_neurons_jumps_their_voltage_in_mv():
    # Two HH neurons at rest, one receiving a jump of 5 mV at 1 ms (felt at the first step at or
    # after the source spike, plus the one-step delay: 1.01 ms): its trace leaves the other's there
    # by exactly the jump, and the other stays at rest.
    dt = 1e-5
    net = SpikingNetwork(dt=dt)
    source = net.add_spike_source(trains=SpikeTrains([np.array([0.001])], t_end=0.002))
    cells = net.add_hh(2)
    net.connect(source, cells, np.array([[5.0], [0.0]]), synapse=Delta())
    voltage = net.probe(cells, "voltage")
    v = net.run(0.002)[voltage]
    arrival = 100                                   # step at which the jump is applied
    np.testing.assert_array_equal(v[0, :arrival + 1], v[1, :arrival + 1])
    assert v[0, arrival + 1] - v[1, arrival + 1] == pytest.approx(5.0, abs=0.2)   # then the membrane moves
    assert abs(v[1, -1] - v[1, 0]) < 0.01
