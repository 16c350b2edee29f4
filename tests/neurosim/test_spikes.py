"""SpikeTrains: construction, rates, ISIs, binning and rasters, as specifications.

The property tests draw spike trains from hypothesis; the references are plain counting done in the
test (no call into the code under test for the expected value).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neurosim import SpikeTrains

FAST = settings(max_examples=60, deadline=None)


@st.composite
def spike_trains(draw, max_neurons=6, max_spikes=20):
    """A SpikeTrains on [t_start, t_start + duration] with spikes anywhere in that closed interval."""
    t_start = draw(st.floats(-1.0, 1.0))
    duration = draw(st.floats(0.01, 2.0))
    n_neurons = draw(st.integers(0, max_neurons))
    fractions = st.lists(st.floats(0.0, 1.0), max_size=max_spikes)
    times = [t_start + duration * np.array(draw(fractions), dtype=float) for _ in range(n_neurons)]
    times = [np.clip(train, t_start, t_start + duration) for train in times]
    return SpikeTrains(times, t_end=t_start + duration, t_start=t_start)


rasters = st.integers(1, 5).flatmap(
    lambda n_neurons: st.integers(1, 40).flatmap(
        lambda n_steps: arrays(bool, (n_neurons, n_steps))))


def test_trains_keep_sorted_spike_times_and_count_them():
    trains = SpikeTrains([np.array([0.025, 0.010]), np.array([])], t_end=0.5)
    np.testing.assert_array_equal(trains.times[0], [0.010, 0.025])
    assert trains.n_spikes == 2
    np.testing.assert_array_equal(trains.rates(), [4.0, 0.0])
    assert "n_spikes=2" in repr(trains)


def test_isis_are_differences_of_consecutive_spikes():
    trains = SpikeTrains([np.array([0.1, 0.15, 0.3]), np.array([0.2]), np.array([])], t_end=1.0)
    isis = trains.isis()
    np.testing.assert_allclose(isis[0], [0.05, 0.15], rtol=1e-12)
    assert isis[1].size == 0 and isis[2].size == 0


def test_bin_counts_spikes_per_bin_with_a_partial_last_bin():
    trains = SpikeTrains([np.array([0.0, 0.004, 0.0099, 0.01, 0.0251]), np.array([0.026])],
                         t_end=0.026)
    counts = trains.bin(0.01)
    # Bins [0, 10), [10, 20), [20, 26] ms; the spike at t_end counts in the last bin.
    np.testing.assert_array_equal(counts, [[3, 1, 1], [0, 0, 1]])
    assert counts.dtype == np.int64


def test_bin_puts_spikes_at_step_times_in_their_own_step_despite_rounding():
    # 0.003 / 0.001 == 2.9999999999999996 in floating point; the spike belongs to step 3.
    trains = SpikeTrains([np.array([0.003, 0.007])], t_end=0.01)
    np.testing.assert_array_equal(np.flatnonzero(trains.bin(0.001)[0]), [3, 7])


def test_to_raster_rejects_two_spikes_in_one_step():
    trains = SpikeTrains([np.array([0.0101, 0.0102])], t_end=0.1)
    with pytest.raises(ValueError, match="dt"):
        trains.to_raster(1e-3)


def test_from_raster_places_spikes_at_step_times():
    raster = np.zeros((2, 10), dtype=bool)
    raster[0, [0, 3, 9]] = True
    trains = SpikeTrains.from_raster(raster, dt=0.5e-3, t_start=0.1)
    np.testing.assert_allclose(trains.times[0], 0.1 + np.array([0, 3, 9]) * 0.5e-3, rtol=1e-15)
    assert trains.times[1].size == 0
    assert trains.t_start == 0.1 and trains.t_end == pytest.approx(0.105, rel=1e-15)


@pytest.mark.parametrize("bad, error", [(np.zeros(5, dtype=bool), ValueError),
                                        (np.full((2, 3), 0.5), TypeError),
                                        (-np.ones((2, 3), dtype=int), ValueError)])
def test_from_raster_rejects_bad_rasters(bad, error):
    with pytest.raises(error, match="raster"):
        SpikeTrains.from_raster(bad, dt=1e-3)


def test_selecting_neurons_keeps_their_trains_and_the_interval():
    trains = SpikeTrains([np.array([0.1]), np.array([0.2, 0.3]), np.array([])], t_end=1.0, t_start=0.05)
    np.testing.assert_array_equal(trains[1], [0.2, 0.3])
    picked = trains[[2, 0]]
    assert isinstance(picked, SpikeTrains) and picked.n_neurons == 2
    np.testing.assert_array_equal(picked.times[1], [0.1])
    assert (picked.t_start, picked.t_end) == (0.05, 1.0)
    assert trains[1:].n_neurons == 2
    assert trains.select(np.array([False, True, True])).n_spikes == 2
    with pytest.raises(IndexError, match="neurons"):
        trains.select([3])


def test_bin_rejects_a_non_positive_width():
    with pytest.raises(ValueError, match="bin_width"):
        SpikeTrains([np.array([0.1])], t_end=1.0).bin(0.0)


@FAST
@given(rasters, st.floats(1e-4, 0.1), st.floats(-1.0, 1.0))
def test_raster_round_trip_is_exact(raster, dt, t_start):
    trains = SpikeTrains.from_raster(raster, dt=dt, t_start=t_start)
    np.testing.assert_array_equal(trains.to_raster(dt), raster)
    assert trains.n_spikes == raster.sum()


@FAST
@given(spike_trains(), st.floats(1e-3, 0.5))
def test_binned_counts_sum_to_the_number_of_spikes(trains, bin_width):
    counts = trains.bin(bin_width)
    assert counts.shape == (trains.n_neurons, int(np.ceil(trains.duration / bin_width - 1e-9)))
    assert counts.sum() == trains.n_spikes
    np.testing.assert_array_equal(counts.sum(axis=1), [train.size for train in trains.times])


@FAST
@given(spike_trains())
def test_rates_times_duration_are_the_spike_counts(trains):
    expected = np.array([train.size for train in trains.times])
    np.testing.assert_allclose(trains.rates() * trains.duration, expected, rtol=1e-12)


@FAST
@given(spike_trains(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_rates_over_a_window_count_spikes_in_the_half_open_window(trains, a, b):
    start, end = sorted((trains.t_start + a * trains.duration, trains.t_start + b * trains.duration))
    if not end > start:
        return
    expected = np.array([np.count_nonzero((train >= start) & (train < end)) for train in trains.times])
    np.testing.assert_allclose(trains.rates(start, end) * (end - start), expected, rtol=1e-9)


@FAST
@given(spike_trains())
def test_from_events_equals_direct_construction(trains):
    neurons, times = trains.all_events()
    assert np.all(np.diff(times) >= 0)
    rng = np.random.default_rng(0)
    shuffle = rng.permutation(times.size)
    rebuilt = SpikeTrains.from_events(neurons[shuffle], times[shuffle], trains.n_neurons,
                                      t_end=trains.t_end, t_start=trains.t_start)
    assert rebuilt.n_neurons == trains.n_neurons
    for mine, theirs in zip(rebuilt.times, trains.times, strict=True):
        np.testing.assert_array_equal(mine, theirs)


@FAST
@given(spike_trains())
def test_isis_sum_to_the_span_from_first_to_last_spike(trains):
    for train, isis in zip(trains.times, trains.isis(), strict=True):
        assert isis.size == max(0, train.size - 1)
        assert np.all(isis >= 0)
        if train.size >= 2:
            assert isis.sum() == pytest.approx(train[-1] - train[0], rel=1e-9, abs=1e-12)


def test_from_slots_reads_each_neurons_slot_and_checks_the_buffer():
    buffer = np.array([0.1, 0.2, 9.0, 0.05, 9.0, 9.0])
    trains = SpikeTrains.from_slots(buffer, offsets=[0, 3, 4], counts=[2, 1, 0], t_end=1.0)
    assert [t.tolist() for t in trains.times] == [[0.1, 0.2], [0.05], []]
    assert not trains.times[0].flags.writeable
    with pytest.raises(ValueError, match="sorted"):
        SpikeTrains.from_slots(np.array([0.2, 0.1]), offsets=[0], counts=[2], t_end=1.0)
    with pytest.raises(ValueError, match="within"):
        SpikeTrains.from_slots(np.array([0.2, 1.5]), offsets=[0], counts=[2], t_end=1.0)
    with pytest.raises(ValueError, match="slot"):
        SpikeTrains.from_slots(np.array([0.2]), offsets=[0], counts=[2], t_end=1.0)


# --------------------------------------------------------------------------- issue 9 item 6: memory guards

def test_bin_refuses_a_huge_count_array_naming_bin_width():
    trains = SpikeTrains([np.array([1.0])], t_end=100.0)
    with pytest.raises(ValueError, match=r"bin_width: 1 x \d+ spike counts would need 745 GiB.*wider"):
        trains.bin(1e-9)


def test_to_raster_refuses_a_huge_raster_naming_dt():
    trains = SpikeTrains([np.array([1.0])] * 10, t_end=100.0)
    with pytest.raises(ValueError, match=r"dt: a 10 x \d+ raster would need 8.19 TiB.*larger dt"):
        trains.to_raster(1e-9)


def test_from_raster_refuses_counts_that_would_need_gigabytes_of_spike_times():
    with pytest.raises(ValueError, match=r"raster: the 1000000000000 spike times.*fewer spikes"):
        SpikeTrains.from_raster(np.array([[0, 10**12]]), dt=1e-3)


def test_the_memory_limit_can_be_raised(monkeypatch):
    from neurosim import validation

    trains = SpikeTrains([np.array([0.5])], t_end=1.0)
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 1000)
    with pytest.raises(ValueError, match="bin_width"):
        trains.bin(1e-3)
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 10_000)
    assert trains.bin(1e-3).sum() == 1


def test_felt_steps_count_a_time_on_the_grid_at_its_own_point_however_far():
    # ceil(t / dt), with a time within rounding of a grid point counted at that point: 1000 s is
    # step 10**6 at dt = 1 ms even though 1000.0000000001 / 1e-3 rounds above it; a time between
    # points is felt at the next one.
    from neurosim.spikes import felt_steps

    times = np.array([0.0, 0.0010000000001, 0.0015, 0.0029999999999, 1000.0000000001])
    assert felt_steps(times, 1e-3).tolist() == [0, 1, 2, 3, 1_000_000]
    assert felt_steps(np.array([0.25]), 0.1, t_start=0.05).tolist() == [2]
