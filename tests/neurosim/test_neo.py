"""neurosim <-> neo: spike trains cross with their units and interval, and Elephant's own
statistics (firing rates, ISI CV, Fano factor) agree with neurosim's on the same trains."""

import sys
import warnings

import numpy as np
import pytest

import neurosim as ns

neo = pytest.importorskip("neo", reason="the neo bridge needs the neo extra (neo, quantities)")
pq = pytest.importorskip("quantities", reason="the neo bridge needs the neo extra (quantities)")
elephant_statistics = pytest.importorskip("elephant.statistics",
                                          reason="the statistics checks need Elephant (the neo extra)")


def _poisson_trains(rates, t_start, t_end, seed):
    rng = np.random.default_rng(seed)
    return ns.SpikeTrains([np.sort(rng.uniform(t_start, t_end, rng.poisson(rate * (t_end - t_start))))
                           for rate in rates], t_end=t_end, t_start=t_start)


def test_to_neo_keeps_units_interval_and_times():
    trains = _poisson_trains([5.0, 0.0, 40.0], t_start=0.25, t_end=2.0, seed=0)
    converted = trains.to_neo(units="ms")
    assert [train.name for train in converted] == ["neuron 0", "neuron 1", "neuron 2"]
    for index, train in enumerate(converted):
        assert isinstance(train, neo.SpikeTrain) and train.units == pq.ms
        assert float(train.t_start) == pytest.approx(250.0, rel=1e-15)
        assert float(train.t_stop) == pytest.approx(2000.0, rel=1e-15)
        np.testing.assert_allclose(train.magnitude, trains.times[index] * 1e3, rtol=1e-15)
        assert train.annotations["neuron"] == index


def test_round_trip_through_neo_in_milliseconds_gives_the_same_trains():
    trains = ns.simulate_lif(np.array([1.2, 2.0, 0.5]), t_end=0.5, dt=1e-4, record_v=False).spikes
    back = ns.SpikeTrains.from_neo(trains.to_neo(units="ms"))
    assert (back.t_start, back.n_neurons) == (trains.t_start, trains.n_neurons)
    assert back.t_end == pytest.approx(trains.t_end, rel=1e-15)
    for mine, theirs in zip(trains.times, back.times, strict=True):
        np.testing.assert_allclose(theirs, mine, rtol=1e-14, atol=0)


def test_from_neo_takes_a_segment_and_trains_generated_by_elephant():
    from elephant.spike_train_generation import StationaryPoissonProcess

    np.random.seed(1)           # Elephant's generators draw from numpy's global generator
    process = StationaryPoissonProcess(rate=20 * pq.Hz, t_start=0 * pq.ms, t_stop=3000 * pq.ms)
    segment = neo.Segment()
    segment.spiketrains.extend(process.generate_n_spiketrains(4))
    trains = ns.SpikeTrains.from_neo(segment)
    assert trains.n_neurons == 4 and (trains.t_start, trains.t_end) == (0.0, 3.0)
    np.testing.assert_allclose(trains.times[2], segment.spiketrains[2].rescale("s").magnitude, rtol=1e-15)


def _elephant_and_neurosim(trains):
    converted = trains.to_neo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # Elephant warns on trains with < 2 spikes
        rates = np.array([float(elephant_statistics.mean_firing_rate(train).rescale("Hz"))
                          for train in converted])
        cvs = np.array([elephant_statistics.cv(elephant_statistics.isi(train)) if len(train) > 1
                        else np.nan for train in converted])
        fano = elephant_statistics.fanofactor(converted)
    return (rates, cvs, fano), (trains.rates(), trains.isi_cv(), trains.fano_factor())


def test_rates_isi_cv_and_fano_factor_agree_with_elephant_on_poisson_trains():
    trains = _poisson_trains(np.linspace(0.0, 60.0, 25), t_start=0.0, t_end=4.0, seed=2)
    (rates, cvs, fano), (our_rates, our_cvs, our_fano) = _elephant_and_neurosim(trains)
    np.testing.assert_allclose(our_rates, rates, rtol=1e-12)
    np.testing.assert_allclose(our_cvs, cvs, rtol=1e-12, equal_nan=True)
    assert np.isnan(our_cvs[0])                           # the silent neuron: no interval
    assert our_fano == pytest.approx(fano, rel=1e-12)
    # Poisson trains: CV near 1 where there are many intervals.
    assert np.all(np.abs(our_cvs[-5:] - 1.0) < 0.25)


def test_statistics_agree_with_elephant_on_a_simulated_spiking_network():
    net = ns.SpikingNetwork(dt=1e-4)
    inputs = net.add_spike_source(rates=np.full(40, 30.0), seed=3)
    neurons = net.add_lif(12, bias=0.6)
    net.connect(inputs, neurons, weights=np.random.default_rng(3).uniform(0, 0.004, (12, 40)),
                synapse=ns.PSC(0.005))
    probe = net.probe(neurons, "spikes")
    trains = net.run(t_end=2.0)[probe]
    assert trains.n_spikes > 100
    (rates, cvs, fano), (our_rates, our_cvs, our_fano) = _elephant_and_neurosim(trains)
    np.testing.assert_allclose(our_rates, rates, rtol=1e-12)
    np.testing.assert_allclose(our_cvs, cvs, rtol=1e-12, equal_nan=True)
    assert our_fano == pytest.approx(fano, rel=1e-12)


def test_fano_factor_over_a_window_matches_elephant_on_time_sliced_trains():
    trains = _poisson_trains(np.full(30, 25.0), t_start=0.0, t_end=2.0, seed=4)
    sliced = [train.time_slice(0.5 * pq.s, 1.5 * pq.s) for train in trains.to_neo()]
    assert trains.fano_factor(0.5, 1.5) == pytest.approx(elephant_statistics.fanofactor(sliced), rel=1e-12)


def test_fano_factor_and_cv_by_hand():
    trains = ns.SpikeTrains([[0.1, 0.2, 0.4], [0.5], []], t_end=1.0)
    # ISIs 0.1, 0.2: std 0.05, mean 0.15. Counts 3, 1, 0: var 14/9, mean 4/3.
    np.testing.assert_allclose(trains.isi_cv(), [1 / 3, np.nan, np.nan], rtol=1e-12)
    assert trains.fano_factor() == pytest.approx((14 / 9) / (4 / 3), rel=1e-12)
    assert np.isnan(ns.SpikeTrains([[], []], t_end=1.0).fano_factor())


def test_from_neo_refuses_trains_over_different_intervals_and_non_trains():
    a = neo.SpikeTrain([0.1] * pq.s, t_stop=1.0 * pq.s)
    b = neo.SpikeTrain([0.1] * pq.s, t_stop=2.0 * pq.s)
    with pytest.raises(ValueError, match=r"spiketrains\[1\] has t_stop"):
        ns.SpikeTrains.from_neo([a, b])
    with pytest.raises(ValueError, match="at least one"):
        ns.SpikeTrains.from_neo([])
    with pytest.raises(TypeError, match=r"spiketrains\[1\] must be a neo.SpikeTrain"):
        ns.SpikeTrains.from_neo([a, np.array([0.1])])
    with pytest.raises(ValueError, match="time unit"):
        ns.SpikeTrains([[0.1]], t_end=1.0).to_neo(units="mV")


def test_a_missing_neo_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "neo", None)       # makes `import neo` fail
    with pytest.raises(ImportError, match=r"neurosim-ratenet\[neo\]"):
        ns.SpikeTrains([[0.1]], t_end=1.0).to_neo()
