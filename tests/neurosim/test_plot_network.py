"""Network plots: the raster stacks every population's spikes in its own band, and the filtered
traces carry the rate prediction as dashed lines. Checked through the artists' data; Agg backend."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from neurosim import PSC, SpikeTrains, SpikingNetwork, plot


@pytest.fixture(scope="module")
def two_layer_run():
    """Three regular sources driving four LIF neurons for 100 ms, spikes probed on both."""
    net = SpikingNetwork(dt=1e-3, n_trials=2)
    source = net.add_spike_source(rates=np.array([[50.0, 100.0, 150.0], [20.0, 40.0, 60.0]]),
                                  kind="regular", label="input")
    hidden = net.add_lif(4, bias=np.array([0.5, 1.2, 1.5, 2.0]), label="hidden")
    net.connect(source, hidden, np.full((4, 3), 0.02), synapse=PSC(0.005))
    probes = [net.probe(source, "spikes"), net.probe(hidden, "spikes")]
    return net.run(0.1), probes


def _marker_lines(ax):
    return [line for line in ax.get_lines() if line.get_marker() == "|"]


def test_network_raster_stacks_populations_top_down_with_their_spikes(two_layer_run):
    result, probes = two_layer_run
    ax = plot.network_raster(result, probes, colors=["tab:blue", "tab:red"], trial=1)
    source_trains, hidden_trains = result[probes[0]][1], result[probes[1]][1]
    source_line, hidden_line = _marker_lines(ax)
    # The first population takes the top band: rows 4..6 above the hidden population's 0..3.
    expected_source_rows = 4 + np.repeat(np.arange(3), [t.size for t in source_trains.times])
    np.testing.assert_array_equal(source_line.get_ydata(), expected_source_rows)
    np.testing.assert_allclose(source_line.get_xdata(), np.concatenate(source_trains.times) * 1e3)
    expected_hidden_rows = np.repeat(np.arange(4), [t.size for t in hidden_trains.times])
    np.testing.assert_array_equal(hidden_line.get_ydata(), expected_hidden_rows)
    np.testing.assert_allclose(hidden_line.get_xdata(), np.concatenate(hidden_trains.times) * 1e3)
    assert source_line.get_color() == "tab:blue" and hidden_line.get_color() == "tab:red"
    # Regular 20 Hz over 100 ms: two spikes, at 25 and 75 ms (first at 1 / (2 rate)).
    np.testing.assert_allclose(source_trains.times[0], [0.025, 0.075])
    assert ax.get_ylim() == (-0.5, 6.5)
    assert ax.get_xlim() == (0.0, 100.0)
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == ["input\n(3 neurons)", "hidden\n(4 neurons)"]
    np.testing.assert_allclose(ax.get_yticks(), [5.0, 1.5])


def test_network_raster_takes_spike_trains_and_labels():
    trains = [SpikeTrains([np.array([0.01, 0.02])], t_end=0.05),
              SpikeTrains([np.array([0.03]), np.array([])], t_end=0.05)]
    ax = plot.network_raster(None, trains, labels=["a", "b"])
    top, bottom = _marker_lines(ax)
    np.testing.assert_array_equal(top.get_ydata(), [2, 2])
    np.testing.assert_allclose(bottom.get_xdata(), [30.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a\n(1 neurons)", "b\n(2 neurons)"]


def test_network_raster_refuses_trace_probes_and_wrong_lengths(two_layer_run):
    result, probes = two_layer_run
    net = SpikingNetwork(dt=1e-3)
    lif = net.add_lif(2)
    voltage = net.probe(lif, "voltage")
    with pytest.raises(ValueError, match="records 'voltage'"):
        plot.network_raster(net.run(0.01), [voltage])
    with pytest.raises(ValueError, match="labels must have one entry per population"):
        plot.network_raster(result, probes, labels=["only one"])
    with pytest.raises(ValueError, match="trial must lie in"):
        plot.network_raster(result, probes, trial=2)
    with pytest.raises(TypeError, match="spike probes"):
        plot.network_raster(result, [np.zeros(3)])
    with pytest.raises(ValueError, match="at least one"):
        plot.network_raster(result, [])


def test_filtered_traces_draws_traces_then_dashed_rate_prediction():
    times = np.arange(50) * 1e-3
    traces = np.vstack([np.sin(times * 100), np.cos(times * 100), times])
    prediction = np.array([0.5, -0.5, 0.02])
    fig, ax = plt.subplots()
    returned = plot.filtered_traces(times, traces, ax=ax, rate_prediction=prediction,
                                    labels=["zero", "one", "two"], colors=["C0", "C1", "C2"], highlight=1)
    assert returned is ax
    lines = ax.get_lines()
    assert len(lines) == 6
    for i in range(3):
        np.testing.assert_allclose(lines[i].get_xdata(), times * 1e3)
        np.testing.assert_allclose(lines[i].get_ydata(), traces[i])
        assert lines[i].get_linestyle() == "-"
        np.testing.assert_allclose(lines[3 + i].get_ydata(), np.full(50, prediction[i]))
        assert lines[3 + i].get_linestyle() == "--"
        assert lines[3 + i].get_color() == lines[i].get_color() == f"C{i}"
    # The highlighted trace is drawn thicker than the others.
    assert lines[1].get_linewidth() > lines[0].get_linewidth()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["zero", "one", "two", "rate network"]
    assert ax.get_xlabel() == "time (ms)"


def test_filtered_traces_accepts_a_time_varying_prediction_and_checks_shapes():
    times = np.linspace(0, 0.1, 11)
    traces = np.ones((2, 11))
    prediction = np.vstack([np.linspace(0, 1, 11), np.linspace(1, 0, 11)])
    ax = plot.filtered_traces(times, traces, rate_prediction=prediction)
    np.testing.assert_allclose(ax.get_lines()[3].get_ydata(), prediction[1])
    with pytest.raises(ValueError, match="traces must have shape"):
        plot.filtered_traces(times, np.ones((2, 5)))
    with pytest.raises(ValueError, match="rate_prediction must have shape"):
        plot.filtered_traces(times, traces, rate_prediction=np.ones(3))
    with pytest.raises(ValueError, match="highlight"):
        plot.filtered_traces(times, traces, highlight=2)
    with pytest.raises(ValueError, match="times"):
        plot.filtered_traces(times * np.nan, traces)
