"""Recording from a SpikingNetwork: probes of neuron subsets against the full record, memory
estimates against what is allocated, the memory guard, the progress bar, non-finite states caught
in the kernel, and Poisson sources drawn in the kernel against their definition."""

import tracemalloc

import numpy as np
import pytest

from neurosim import PSC, SpikingNetwork, connectivity, validation


def _network(seed=3):
    net = SpikingNetwork(dt=1e-3, seed=seed)
    source = net.add_spike_source(rates=np.full(40, 30.0))
    population = net.add_lif(30, current=np.linspace(0.9, 1.4, 30))
    net.connect(source, population, connectivity.fixed_probability(40, 30, 0.3, weights=0.01, seed=1))
    net.connect(population, population, connectivity.fixed_probability(30, 30, 0.2, weights=-0.005, seed=2))
    return net, source, population


@pytest.mark.parametrize("kind", ["spikes", "voltage", "current", "filtered"])
def test_a_probe_of_a_subset_equals_those_rows_of_the_full_record(kind):
    net, source, population = _network()
    subset = np.array([17, 3, 29, 4])
    full = net.probe(population, kind, **({"synapse": PSC(0.01)} if kind == "filtered" else {}))
    part = net.probe(population, kind, neurons=subset,
                     **({"synapse": PSC(0.01)} if kind == "filtered" else {}))
    sliced = net.probe(population, kind, neurons=slice(5, 25, 5),
                       **({"synapse": PSC(0.01)} if kind == "filtered" else {}))
    result = net.run(0.5)
    if kind == "spikes":
        assert result[full].n_spikes > 100
        for row, neuron in enumerate(subset):
            np.testing.assert_array_equal(result[part].times[row], result[full].times[neuron])
        assert result[sliced].n_neurons == 4
        np.testing.assert_array_equal(result[sliced].times[1], result[full].times[10])
    else:
        assert result[part].shape == (4, 500)
        np.testing.assert_array_equal(result[part], result[full][subset])
        np.testing.assert_array_equal(result[sliced], result[full][5:25:5])


def test_a_subset_of_a_source_is_recorded_too():
    net, source, _ = _network()
    full, part = net.probe(source, "spikes"), net.probe(source, "spikes", neurons=[2, 0])
    result = net.run(0.3)
    assert result[full].n_spikes > 100
    np.testing.assert_array_equal(result[part].times[0], result[full].times[2])
    np.testing.assert_array_equal(result[part].times[1], result[full].times[0])


def test_probe_arguments_are_checked():
    net, source, population = _network()
    with pytest.raises(ValueError, match=r"neurons must lie in \[0, 30\)"):
        net.probe(population, "voltage", neurons=[0, 30])
    with pytest.raises(ValueError, match="must not repeat"):
        net.probe(population, "voltage", neurons=[1, 1])
    with pytest.raises(TypeError, match="neurons must be a slice or a 1-D array of integer"):
        net.probe(population, "voltage", neurons=[0.5])
    with pytest.raises(ValueError, match="synapse= is for 'filtered' probes only"):
        net.probe(population, "voltage", synapse=PSC())
    assert net.probes == []


def test_memory_estimate_is_within_10_percent_of_what_the_run_allocates():
    # A voltage probe of 2,000 neurons over 2,000 steps (32 MB) and a filtered probe of 500 of them
    # every 4th step (4 MB); tracemalloc sees every numpy allocation the run makes. (A spike record
    # depends on the spikes: 12 bytes each, estimated at its first allocation.)
    net = SpikingNetwork(dt=1e-3, seed=0)
    source = net.add_spike_source(rates=np.full(100, 20.0))
    population = net.add_lif(2000, current=np.linspace(0.5, 2.0, 2000), label="cells")
    net.connect(source, population, connectivity.fixed_indegree(100, 2000, 10, weights=0.01, seed=0))
    net.probe(population, "voltage")
    net.probe(population, "filtered", neurons=slice(0, 500), record_every=4)
    estimate = net.memory_estimate(2.0)
    assert estimate["probe 0 (voltage of cells)"] == 8 * 2000 * 2000
    assert estimate["probe 1 (filtered of cells)"] == 8 * 500 * 500
    net.run(0.01)                                               # compile outside the measurement
    tracemalloc.start()
    result = net.run(2.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert abs(peak - estimate["total"]) < 0.1 * estimate["total"], (peak, estimate)
    del result


def test_a_voltage_probe_past_the_limit_is_refused_before_the_run():
    # Issue 9: 10,000 LIF neurons x 10 s at dt = 0.1 ms is a 7.45 GiB voltage trace.
    net = SpikingNetwork(dt=1e-4)
    population = net.add_lif(10_000, bias=0.5)
    net.probe(population, "voltage")
    with pytest.raises(ValueError, match=r"probe: the voltage probe of 'lif0' \(1 trial\(s\) x 10000 "
                                         r"neurons x 100000 samples over 10 s\) would need 7.45 GiB.*"
                                         r"probe\(\.\.\., neurons=\.\.\.\)"):
        net.run(10.0)
    estimate = net.memory_estimate(10.0)
    assert estimate["probe 0 (voltage of lif0)"] == 8 * 10_000 * 100_000


def test_the_spike_record_grows_and_is_refused_past_the_limit(monkeypatch):
    net = SpikingNetwork(dt=1e-3)
    population = net.add_lif(200, current=np.full(200, 50.0), tau_ref=0.001)   # 712 Hz each
    spikes = net.probe(population, "spikes")
    result = net.run(1.0)                     # starts with room for 10 Hz, grows to 142,400 spikes
    assert result[spikes].n_spikes == 200 * 712
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 2**20)
    with pytest.raises(ValueError, match=r"probe: the spike record .* record the spikes of fewer"):
        net.run(1.0)


def test_non_finite_state_is_caught_in_the_kernel():
    # Issue 9: weights of 1e306 with only a spike probe returned rates of 0.
    net = SpikingNetwork(dt=1e-3, seed=0)
    source = net.add_spike_source(rates=np.full(10, 100.0))
    population = net.add_lif(5)
    net.connect(source, population, np.full((5, 10), 1e306))
    net.probe(population, "spikes")
    with pytest.raises(FloatingPointError, match=r"non-finite at t = .*largest \|weight\| 1e\+306"):
        net.run(0.5)


def test_source_arguments_are_checked():
    net = SpikingNetwork(dt=1e-3)
    with pytest.raises(ValueError, match=r"rates must be at most 1e\+09 Hz"):
        net.add_spike_source(rates=[1e300])                         # issue 9 item 9
    with pytest.raises(ValueError, match="rates must be finite"):
        net.add_spike_source(rates=[np.inf])
    with pytest.raises(ValueError, match="rates must be >= 0"):
        net.add_spike_source(rates=[-1.0])


def test_poisson_counts_drawn_in_the_kernel_are_poisson():
    # 2 kHz per neuron at dt = 0.1 ms is a mean of 0.2 spikes a step: drawn step by step in the
    # kernel. Counts in 100 ms windows: mean 200, variance 200 (Fano factor 1) within 5 standard
    # errors over 200 neurons x 20 windows; recorded spikes lie in the run, sorted.
    net = SpikingNetwork(dt=1e-4, seed=11)
    source = net.add_spike_source(rates=np.full(200, 2000.0))
    spikes = net.probe(source, "spikes")
    trains = net.run(2.0)[spikes]
    counts = np.array([np.histogram(t, bins=20, range=(0, 2.0))[0] for t in trains.times]).ravel()
    assert abs(counts.mean() - 200) < 5 * np.sqrt(200 / counts.size)
    assert abs(counts.var() / counts.mean() - 1) < 5 * np.sqrt(2 / counts.size)
    assert all(np.all(np.diff(t) >= 0) and t.min() > 0 and t.max() < 2.0 for t in trains.times)


def test_recording_a_source_does_not_change_the_simulation():
    def run(record_source):
        net = SpikingNetwork(dt=1e-4, seed=12)
        source = net.add_spike_source(rates=np.full(50, 1000.0))    # drawn in the kernel
        population = net.add_lif(20)
        net.connect(source, population, np.full((20, 50), 2e-4))
        if record_source:
            net.probe(source, "spikes")
        spikes = net.probe(population, "spikes")
        return net.run(0.3)[spikes]

    with_probe, without = run(True), run(False)
    assert without.n_spikes > 50
    for a, b in zip(with_probe.times, without.times, strict=True):
        np.testing.assert_array_equal(a, b)


def test_progress_bar_on_request_only(capsys):
    net, _, population = _network()
    net.probe(population, "spikes")
    net.run(0.2, progress=True)
    assert "step" in capsys.readouterr().err
    net.run(0.2, progress=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be a bool"):
        net.run(0.2, progress="yes")
