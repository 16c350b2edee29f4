"""Plot helpers: each draws the data it is given (checked through the artists' data), into the Axes
it is given or a new one, and returns that Axes. Agg backend; every figure is closed."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes

import neurosim as ns
from neurosim import PSC, SimResult, SpikeTrains, filter_spikes, lif_rate, plot, psc_kernel


def make_result(v_unit="mV", record_v=True):
    t = np.arange(0, 0.05, 1e-4)
    v = np.vstack([-65 + 10 * np.sin(2 * np.pi * 40 * t), -65 + 5 * np.cos(2 * np.pi * 20 * t),
                   np.full_like(t, -70.0)])
    spikes = SpikeTrains([np.array([0.006, 0.031]), np.array([0.02]), np.array([])], t_end=0.05)
    return SimResult(t=t, v=v if record_v else None, spikes=spikes, dt=1e-4, model="hh", v_unit=v_unit,
                     method="euler")


class FakeRateCurve:
    """The attributes neurosim.rates.RateCurve exposes: inputs, rates, input_unit, label, __call__."""

    def __init__(self):
        self.inputs = np.linspace(0.5, 5.0, 10)
        self.rates = lif_rate(self.inputs)
        self.input_unit = "1"
        self.label = "LIF, simulated"

    def __call__(self, x):
        return np.interp(x, self.inputs, self.rates)


def test_voltage_draws_each_trace_in_ms_and_mv():
    result = make_result()
    ax = plot.voltage(result, threshold=0.0)
    assert isinstance(ax, Axes)
    traces = [line for line in ax.get_lines() if line.get_label().startswith("neuron")]
    assert [line.get_label() for line in traces] == ["neuron 0", "neuron 1", "neuron 2"]
    for line, row in zip(traces, result.v, strict=True):
        np.testing.assert_allclose(line.get_xdata(), result.t * 1e3)
        np.testing.assert_array_equal(line.get_ydata(), row)
    assert "mV" in ax.get_ylabel() and "ms" in ax.get_xlabel()
    assert any(line.get_label() == "threshold" for line in ax.get_lines())
    assert ax.get_legend() is not None


def test_voltage_draws_into_the_given_axes_and_selects_neurons():
    _, given = plt.subplots()
    result = make_result(v_unit="1")
    ax = plot.voltage(result, ax=given, neurons=[2], labels=["quiet"])
    assert ax is given
    assert [line.get_label() for line in ax.get_lines()] == ["quiet"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), result.v[2])
    assert "threshold 1" in ax.get_ylabel()


def test_voltage_without_recorded_traces_says_how_to_get_them():
    with pytest.raises(ValueError, match="record_v"):
        plot.voltage(make_result(record_v=False))


def test_raster_puts_each_spike_at_its_time_and_row():
    trains = SpikeTrains([np.array([0.006, 0.031]), np.array([]), np.array([0.02])], t_end=0.05)
    ax = plot.raster(trains)
    (ticks,) = ax.get_lines()
    np.testing.assert_allclose(ticks.get_xdata(), [6.0, 31.0, 20.0])
    np.testing.assert_array_equal(ticks.get_ydata(), [0, 0, 2])
    assert ticks.get_linestyle() == "None" and ticks.get_marker() == "|"
    assert ax.get_xlim() == pytest.approx((0.0, 50.0))
    assert ax.get_ylim() == pytest.approx((-0.5, 2.5))


def test_raster_of_thousands_of_neurons_is_one_artist():
    rng = np.random.default_rng(0)
    trains = SpikeTrains([rng.uniform(0, 1, 5) for _ in range(2000)], t_end=1.0)
    _, given = plt.subplots()
    ax = plot.raster(trains, ax=given)
    assert ax is given and len(ax.get_lines()) == 1
    assert ax.get_lines()[0].get_xdata().size == 10_000


def test_raster_accepts_a_sim_result_and_a_neuron_selection():
    result = make_result()
    ax = plot.raster(result, neurons=[1, 0])
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [20.0, 6.0, 31.0])
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [0, 1, 1])
    assert [label.get_text() for label in ax.get_yticklabels()] == ["1", "0"]


def test_filtered_draws_the_traces_on_their_grid_and_the_kernel_inset():
    trains = SpikeTrains([np.array([0.010, 0.025]), np.array([0.04])], t_end=0.06, t_start=0.005)
    alpha = PSC(0.005, order=1)
    values = filter_spikes(trains, dt=1e-3, synapse=alpha)
    ax = plot.filtered(trains, values, dt=1e-3, synapse=alpha)
    traces = ax.get_lines()[:2]
    for line, row in zip(traces, values, strict=True):
        np.testing.assert_allclose(line.get_xdata(), 5.0 + np.arange(values.shape[1]))
        np.testing.assert_array_equal(line.get_ydata(), row)
    spike_ticks = ax.get_lines()[2:]
    np.testing.assert_allclose(spike_ticks[0].get_xdata(), [10.0, 25.0])
    (inset,) = ax.child_axes
    (kernel_line,) = inset.get_lines()
    np.testing.assert_allclose(kernel_line.get_ydata(),
                               psc_kernel(kernel_line.get_xdata() / 1e3, alpha))


def test_filtered_uses_the_given_axes_and_checks_shapes():
    trains = SpikeTrains([np.array([0.01])], t_end=0.02)
    _, given = plt.subplots()
    assert plot.filtered(trains, np.zeros((1, 20)), dt=1e-3, ax=given, show_spikes=False) is given
    assert len(given.get_lines()) == 1
    with pytest.raises(ValueError, match="filtered_trains"):
        plot.filtered(trains, np.zeros((2, 20)), dt=1e-3)


def test_rate_curve_draws_points_interpolant_and_analytic_overlay():
    curve = FakeRateCurve()
    ax = plot.rate_curve(curve, analytic=lif_rate)
    smooth, points, analytic = ax.get_lines()
    np.testing.assert_array_equal(points.get_xdata(), curve.inputs)
    np.testing.assert_array_equal(points.get_ydata(), curve.rates)
    np.testing.assert_allclose(smooth.get_ydata(), curve(smooth.get_xdata()))
    np.testing.assert_allclose(analytic.get_ydata(), lif_rate(analytic.get_xdata()))
    assert smooth.get_label() == "LIF, simulated" and analytic.get_label() == "analytic"
    assert "Hz" in ax.get_ylabel()


def test_rate_curve_into_given_axes_with_a_second_curve_as_reference():
    curve, reference = FakeRateCurve(), FakeRateCurve()
    reference.label = "reference"
    reference.input_unit = "µA/cm²"
    _, given = plt.subplots()
    ax = plot.rate_curve(curve, ax=given, analytic=reference)
    assert ax is given
    assert ax.get_lines()[-1].get_label() == "reference"
    assert "normalized" in ax.get_xlabel()
    with pytest.raises(TypeError, match="analytic"):
        plot.rate_curve(curve, analytic=3.0)


def test_rate_curve_draws_neurosims_own_rate_curve_with_its_onset_jump():
    from neurosim.rates import RateCurve

    inputs = np.linspace(0.0, 20.0, 21)
    rates = np.where(inputs > 6.26, 51.0 + 3.0 * (inputs - 7.0), 0.0)
    curve = RateCurve(inputs, rates, onset=6.26, onset_rate=51.0, input_unit="µA/cm²")
    ax = plot.rate_curve(curve)
    smooth, points = ax.get_lines()
    np.testing.assert_array_equal(points.get_xdata(), inputs)
    np.testing.assert_allclose(smooth.get_ydata(), curve(smooth.get_xdata()))
    assert "µA/cm²" in ax.get_xlabel()
    # An unlabelled curve gets a readable legend entry rather than an empty one.
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["simulated"]


@pytest.mark.parametrize("draw", [
    lambda ax: plot.voltage(SimResult(t=np.arange(3) * 1e-3, v=np.zeros((1, 3)), dt=1e-3, model="lif",
                                      spikes=SpikeTrains([[]], t_end=0.003), v_unit="1", method="exact"),
                            ax=ax),
    lambda ax: plot.raster(SpikeTrains([[0.001]], t_end=0.003), ax=ax),
    lambda ax: plot.filtered(SpikeTrains([[0.001]], t_end=0.003), np.zeros((1, 3)), 1e-3, ax=ax),
    lambda ax: plot.rate_curve(ns.rate_curve("lif", [1.0, 2.0], analytic=True), ax=ax),
    lambda ax: plot.network_raster(None, [SpikeTrains([[0.001]], t_end=0.003)], ax=ax),
    lambda ax: plot.filtered_traces(np.arange(3) * 1e-3, np.zeros((1, 3)), ax=ax),
])
@pytest.mark.parametrize("not_axes", ["axes", 3, object()])
def test_plot_functions_given_something_else_than_axes_raise_type_error_naming_ax(draw, not_axes):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        draw(not_axes)


def test_the_plot_module_offers_plots_only():
    import types

    public = {name for name in dir(plot) if not name.startswith("_")}
    helpers = {name for name in public - set(plot.__all__)
               if not isinstance(getattr(plot, name), types.ModuleType) and name != "annotations"}
    assert not helpers, f"neurosim.plot exposes non-plots: {sorted(helpers)}"
    assert set(plot.__all__) == {"voltage", "raster", "filtered", "rate_curve", "network_raster",
                                    "filtered_traces"}
