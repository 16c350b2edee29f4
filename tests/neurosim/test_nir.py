"""NIR export and import (neurosim.nir). References independent of the bridge: NIR's own node classes
and their documented equations (the analytic LIF period of ``tau dv/dt = (v_leak - v) + r I``, the
IF rate ``r I / (v_threshold - v_reset)``, the closed-form response of the CubaLIF ODE to one spike),
``nir.write``/``nir.read`` for files, and the original network for round trips, spike for spike."""

import numpy as np
import pytest

import neurosim as ns

nir = pytest.importorskip("nir", reason="the nir package (the 'nir' extra) is not installed")
from neurosim.nir import from_nir, to_nir  # noqa: E402


def _trains(n, t_end, per_neuron, seed):
    rng = np.random.default_rng(seed)
    return ns.SpikeTrains([np.sort(rng.uniform(0, t_end, per_neuron)) for _ in range(n)], t_end=t_end)


def _mixed_network(trains):
    """Dense and sparse weights, delays per connection and per synapse, exponential and alpha PSCs,
    delta synapses, a recurrent connection, per-neuron tau_m, LIF and IF neurons."""
    rng = np.random.default_rng(0)
    net = ns.SpikingNetwork(dt=1e-3)
    source = net.add_spike_source(trains=trains, label="source")
    a = net.add_lif(20, tau_m=0.02, tau_ref=0.0, bias=0.5, label="a")
    b = net.add_lif(10, tau_m=np.linspace(0.01, 0.03, 10), tau_ref=0.0, label="b")
    c = net.add_if(5, reset="zero", bias=2.0, label="c")
    net.connect(source, a, rng.uniform(0, 0.01, (20, 30)), synapse=ns.PSC(0.005))
    sparse = ns.connectivity.fixed_probability(20, 10, 0.3, weights=0.2, seed=1)
    delays = sparse.copy()
    delays.data = rng.integers(1, 5, delays.data.size) * 1e-3
    net.connect(a, b, sparse, synapse=ns.Delta(), delay=delays)
    net.connect(source, b, rng.uniform(0, 0.005, (10, 30)), synapse=ns.PSC(0.003, order=1), delay=2e-3)
    net.connect(b, c, rng.uniform(0, 0.3, (5, 10)), synapse=ns.PSC(0.004))
    recurrent = ns.connectivity.fixed_probability(10, 10, 0.2, weights=-0.1, seed=2)
    net.connect(b, b, recurrent, synapse=ns.Delta())
    return net


def _spikes(network, populations, t_end):
    probes = [network.probe(p, "spikes") for p in populations]
    result = network.run(t_end)
    return [result[p] for p in probes]


def _assert_same_spikes(expected, got):
    # The same spikes, each at the same time to rounding: weights of delta synapses into a neuron that
    # also has PSC inputs travel as w tau_m and come back times 1 / tau_m (one ulp).
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.counts(), b.counts())
        for times_a, times_b in zip(a.times, b.times, strict=True):
            np.testing.assert_allclose(times_a, times_b, rtol=1e-13, atol=0)


@pytest.mark.parametrize("through_file", [False, True])
def test_a_network_exported_and_imported_runs_spike_for_spike(tmp_path, through_file):
    trains = _trains(30, 0.5, 20, seed=3)
    original = _mixed_network(trains)
    expected = _spikes(original, original.populations[1:], 0.5)
    assert sum(s.n_spikes for s in expected) > 1000          # every population fires
    assert all(s.n_spikes > 50 for s in expected)
    graph = to_nir(original)
    if through_file:
        nir.write(tmp_path / "net.nir", graph)
        graph = tmp_path / "net.nir"
    imported = from_nir(graph, inputs={"source": trains})
    assert list(imported.populations) == ["source", "a", "b", "c"]
    assert imported.network.dt == original.dt
    got = _spikes(imported.network, [imported.populations[k] for k in "abc"], 0.5)
    _assert_same_spikes(expected, got)
    assert list(imported.outputs) == ["output_c"]
    assert imported.outputs["output_c"].population is imported.populations["c"]


def test_nodes_carry_neurosim_parameters_by_nirs_documented_meaning():
    dt = 1e-4
    net = ns.SpikingNetwork(dt=dt)
    source = net.add_spike_source(trains=_trains(3, 0.1, 2, seed=0), label="in")
    cuba = net.add_lif(2, tau_m=[0.01, 0.02], tau_ref=0.0, bias=[0.3, 0.4], label="cuba")
    jumps = net.add_lif(2, tau_m=0.02, tau_ref=0.0, label="jumps")
    alpha = net.add_lif(2, tau_m=0.02, tau_ref=0.0, label="alpha")
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]) * 1e-3
    net.connect(source, cuba, weights, synapse=ns.PSC(0.005))
    net.connect(source, jumps, weights, synapse=ns.Delta(), delay=1.5e-3)
    net.connect(source, alpha, weights, synapse=ns.PSC(0.002, order=1))
    graph = to_nir(net)
    node = graph.nodes["cuba"]
    assert isinstance(node, nir.CubaLIF)
    # tau_syn dI/dt = -I + w_in S: a spike of weight W makes I jump by W / tau_syn, neurosim's w / tau_s.
    np.testing.assert_array_equal(node.tau_syn, [0.005, 0.005])
    np.testing.assert_array_equal(node.tau_mem, [0.01, 0.02])
    np.testing.assert_array_equal(node.v_leak, [0.3, 0.4])          # tau dv/dt = (v_leak - v) + r I
    for value, expected in ((node.r, 1.0), (node.w_in, 1.0), (node.v_threshold, 1.0), (node.v_reset, 0.0)):
        np.testing.assert_array_equal(value, [expected, expected])
    assert isinstance(graph.nodes["connection0"], nir.Linear)
    np.testing.assert_array_equal(graph.nodes["connection0"].weight, weights)     # W[post, pre]
    # Delta synapses only: r = tau, so a weight W is the jump r W / tau = W itself.
    node = graph.nodes["jumps"]
    assert isinstance(node, nir.LIF)
    np.testing.assert_array_equal(node.r, node.tau)
    np.testing.assert_array_equal(graph.nodes["connection1"].weight, weights)
    np.testing.assert_allclose(graph.nodes["connection1_delay15"].delay, [1.5e-3, 1.5e-3], rtol=1e-12)
    assert ("connection1", "connection1_delay15") in graph.edges
    # The alpha kernel is two equal first-order stages of unit gain (LI, v_leak = 0) before the LIF.
    stages = [graph.nodes[f"connection2_synapse{k}"] for k in range(2)]
    assert all(isinstance(s, nir.LI) and np.all(s.tau == 0.002) and np.all(s.r == 1) for s in stages)
    assert ("connection2_synapse1", "alpha") in graph.edges
    assert graph.metadata["neurosim_dt"] == dt and graph.metadata["time_unit_s"] == 1.0
    assert set(graph.nodes["in"].output_type["output"]) == {3}


def test_milliseconds_scale_times_and_the_weights_of_dirac_spikes():
    trains = _trains(30, 0.3, 10, seed=5)
    original = _mixed_network(trains)
    seconds, millis = to_nir(original), to_nir(original, time_unit=1e-3)
    np.testing.assert_allclose(millis.nodes["a"].tau_mem, 1e3 * seconds.nodes["a"].tau_mem, rtol=1e-12)
    np.testing.assert_allclose(millis.nodes["connection2_delay2"].delay, 2.0, rtol=1e-12)
    # A spike is a unit impulse of the graph's time unit (1/ms = 1000/s): a synapse's charge q = u r W
    # gives W = q / u, 1000x larger in milliseconds. A jump (r / tau) W into "b" (r = 1, as it has PSC
    # inputs too) gives W = jump tau, which grows with tau in ms.
    for linear in ("connection0", "connection1_1"):
        np.testing.assert_allclose(millis.nodes[linear].weight, 1e3 * seconds.nodes[linear].weight,
                                   rtol=1e-12)
    expected = _spikes(original, original.populations[1:], 0.3)
    millis.metadata.pop("time_unit_s")
    imported = from_nir(millis, inputs={"source": trains}, time_unit=1e-3)
    got = _spikes(imported.network, [imported.populations[k] for k in "abc"], 0.3)
    _assert_same_spikes(expected, got)              # rescaled by 1e3 and back: equal to rounding


def _analog_graph(neuron, weight, bias):
    return nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])),
                               "drive": nir.Affine(weight=np.array(weight), bias=np.array(bias)),
                               "neurons": neuron, "out": nir.Output(output_type=np.array([2]))},
                        edges=[("x", "drive"), ("drive", "neurons"), ("neurons", "out")])


def test_an_imported_lif_node_fires_at_the_period_of_nirs_equation():
    # tau dv/dt = (v_leak - v) + r I, I = W x + b constant: from v_reset the membrane reaches
    # v_threshold after T = tau ln((v_inf - v_reset) / (v_inf - v_threshold)), v_inf = v_leak + r I.
    tau, r, v_leak = np.array([0.02, 0.01]), np.array([2.0, 0.5]), np.array([0.5, -1.0])
    threshold, reset = np.array([1.5, 2.0]), np.array([-0.5, 0.0])
    weight, bias, x = [[0.6], [3.0]], [0.2, 1.0], 2.0
    node = nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=threshold, v_reset=reset)
    imported = from_nir(_analog_graph(node, weight, bias), dt=1e-4, inputs={"x": [x]})
    t_end = 2.0
    spikes = _spikes(imported.network, [imported.populations["neurons"]], t_end)[0]
    v_inf = v_leak + r * (np.ravel(weight) * x + bias)
    period = tau * np.log((v_inf - reset) / (v_inf - threshold))
    assert np.all(spikes.counts() >= 50)
    for times, expected in zip(spikes.times, period, strict=True):
        np.testing.assert_allclose(np.diff(times), expected, rtol=1e-9)
        np.testing.assert_allclose(times[0], expected, rtol=1e-9)
    assert imported.outputs["out"].weights is None and imported.outputs["out"].synapse is None


def test_an_imported_if_node_fires_at_r_i_over_its_span():
    node = nir.IF(r=np.array([2.0, 0.5]), v_threshold=np.array([1.0, 3.0]), v_reset=np.array([0.0, -1.0]))
    imported = from_nir(_analog_graph(node, [[10.0], [40.0]], [5.0, 0.0]), dt=1e-3, inputs={"x": [1.5]})
    spikes = _spikes(imported.network, [imported.populations["neurons"]], 1.0)[0]
    rates = np.array([2.0 * 20.0 / 1.0, 0.5 * 60.0 / 4.0])       # r (W x + b) / (v_th - v_reset), Hz
    np.testing.assert_allclose(spikes.counts(), rates * 1.0, atol=1)


def test_an_imported_cubalif_answers_one_spike_as_its_ode():
    # tau_syn dI/dt = -I + w_in W S, tau_mem dv/dt = -v + r I: one spike of weight W at t0 gives
    # v(t) = r w_in W (exp(-s / tau_mem) - exp(-s / tau_syn)) / (tau_mem - tau_syn), s = t - t0.
    tau_syn, tau_mem, r, w_in, W = 0.004, 0.012, 1.5, 2.0, 0.03
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1])), "w": nir.Linear(weight=np.array([[W]])),
               "cell": nir.CubaLIF(tau_syn=np.array([tau_syn]), tau_mem=np.array([tau_mem]),
                                   r=np.array([r]), v_leak=np.array([0.0]), v_threshold=np.array([10.0]),
                                   v_reset=np.array([0.0]), w_in=np.array([w_in])),
               "out": nir.Output(output_type=np.array([1]))},
        edges=[("in", "w"), ("w", "cell"), ("cell", "out")])
    t0, dt = 0.01, 1e-5
    imported = from_nir(graph, dt=dt, inputs={"in": ns.SpikeTrains([np.array([t0])], t_end=0.1)})
    connection = imported.network.connections[0]
    assert connection.synapse == ns.PSC(tau_syn) and isinstance(connection.synapse, ns.PSC)
    probe = imported.network.probe(imported.populations["cell"], "voltage")
    result = imported.network.run(0.08)
    t, v = result.times(probe), 10.0 * result[probe][0]               # back from units of the span
    s = t - t0
    response = r * w_in * W * (np.exp(-s / tau_mem) - np.exp(-s / tau_syn)) / (tau_mem - tau_syn)
    expected = np.where(s > 0, response, 0.0)
    # neurosim holds the synaptic current over each step and feels the spike from the next step:
    # an O(dt) difference, about 0.5 % of the peak at dt = 0.01 ms.
    assert expected.max() > 2.0
    np.testing.assert_allclose(v, expected, atol=0.01 * expected.max())


def test_refractory_periods_are_refused_or_kept_in_metadata():
    trains = _trains(4, 0.3, 30, seed=1)
    net = ns.SpikingNetwork(dt=1e-3)
    source = net.add_spike_source(trains=trains, label="in")
    cells = net.add_lif(3, tau_m=0.02, tau_ref=0.004, label="cells")
    net.connect(source, cells, np.full((3, 4), 0.02), synapse=ns.PSC(0.005))
    with pytest.raises(ValueError, match="refractory period.*'cells'|'cells'.*refractory period"):
        to_nir(net)
    graph = to_nir(net, refractory="metadata")
    np.testing.assert_array_equal(graph.nodes["cells"].metadata["neurosim_tau_ref"], [0.004] * 3)
    expected = _spikes(net, [cells], 0.3)
    imported = from_nir(graph, inputs={"in": trains})
    got = _spikes(imported.network, [imported.populations["cells"]], 0.3)
    _assert_same_spikes(expected, got)
    assert expected[0].n_spikes > 10


def _network_with(feature):
    net = ns.SpikingNetwork(dt=1e-5 if feature == "hh" else 1e-3, n_trials=2)
    source = net.add_spike_source(rates=np.full(3, 10.0), label="in")
    if feature == "hh":
        post = net.add_hh(2, label="squid")
    elif feature == "if_subtract":
        post = net.add_if(2, reset="subtract", label="counter")
    else:
        options = {"noise": {"noise": 0.2}, "current": {"current": np.array([[0.5, 0.6], [0.7, 0.8]])},
                   "v_init": {"v_init": np.array([[0.1, 0.2], [0.3, 0.4]])}}.get(feature, {})
        post = net.add_lif(2, tau_ref=0.0, label="cells", **options)
    synapse = {"euler": ns.PSC(0.005, method="euler"), "if_subtract": ns.Delta()}.get(feature, ns.PSC(0.005))
    net.connect(source, post, np.full((2, 3), 0.01), synapse=synapse)
    return net


@pytest.mark.parametrize("feature, message", [
    ("hh", "'squid'.*Hodgkin-Huxley"),
    ("noise", "'cells'.*noise"),
    ("euler", "Euler"),
    ("current", "'cells'.*current that varies per trial"),
    ("v_init", "'cells'.*own voltages"),
    ("if_subtract", "'counter'.*subtraction.*delta"),
])
def test_what_nir_cannot_express_is_refused_naming_it(feature, message):
    net = _network_with(feature)
    connections = list(net.connections)
    with pytest.raises(ValueError, match=message):
        to_nir(net)
    assert net.connections == connections            # the network is left as it was


def test_a_per_trial_current_exports_as_an_analog_input_and_comes_back_per_trial():
    rng = np.random.default_rng(2)
    W, b, X = rng.uniform(0, 1, (4, 3)), rng.uniform(0.5, 1.0, 4), rng.uniform(0, 2, (2, 3))
    net = ns.SpikingNetwork(dt=1e-3, n_trials=2)
    cells = net.add_lif(4, tau_ref=0.0, current=X @ W.T + b, label="cells")
    graph = to_nir(net, analog_inputs={"x": (cells, W, b)})
    assert isinstance(graph.nodes["x_to_cells"], nir.Affine)
    imported = from_nir(graph, inputs={"x": X}, n_trials=2)
    expected, got = (_spikes(n, [p], 0.5)[0] for n, p in ((net, cells),
                                                           (imported.network, imported.populations["cells"])))
    for a, c in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.counts(), c.counts())
        for times_a, times_c in zip(a.times, c.times, strict=True):
            np.testing.assert_allclose(times_a, times_c, rtol=1e-12)


def test_import_refuses_what_neurosim_cannot_run_naming_the_node():
    base = {"in": nir.Input(input_type=np.array([2])), "w": nir.Linear(weight=np.eye(2)),
            "out": nir.Output(output_type=np.array([2]))}
    unsupported = nir.NIRGraph(nodes={**base, "odd": nir.Threshold(threshold=np.ones(2))},
                               edges=[("in", "w"), ("w", "odd"), ("odd", "out")])
    with pytest.raises(ValueError, match="'odd'.*Threshold"):
        from_nir(unsupported, inputs={"in": np.ones(2)})
    cell = nir.LIF(tau=np.full(2, 0.02), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                   v_reset=np.zeros(2))
    stages = {f"s{k}": nir.LI(tau=np.full(2, tau), r=np.ones(2), v_leak=np.zeros(2))
              for k, tau in enumerate((0.002, 0.005))}
    unequal = nir.NIRGraph(nodes={**base, **stages, "cell": cell},
                           edges=[("in", "w"), ("w", "s0"), ("s0", "s1"), ("s1", "cell"), ("cell", "out")])
    trains = _trains(2, 0.1, 3, seed=0)
    with pytest.raises(ValueError, match="s0.*s1.*unequal time constants"):
        from_nir(unequal, inputs={"in": trains})
    with pytest.raises(ValueError, match="Input node 'in' needs data"):
        from_nir(unequal)
