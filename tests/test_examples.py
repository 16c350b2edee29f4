"""Smoke tests of the examples: every script runs end to end in its ``--quick`` form and writes what
it promises. The main demo (``examples/demo/``, behind ``examples/compare_lif_sigmoid.py`` and the
``neurosim-demo`` command) is checked more closely; the numbers of a quick run mean nothing, so only
the files, the table's shape and the determinism of seeded results are checked."""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))       # as when a script runs: its folder comes first
import demo  # noqa: E402  (examples/demo/)

sys.path.remove(str(EXAMPLES))
FIGURES = ("neurons", "activations", "training", "accuracy", "spiking_network", "spiking_time",
           "spiking_sweep")


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("demo")
    assert demo.main([str(outdir), "--quick", "--progress", "lines"]) == 0
    return outdir


def test_quick_demo_writes_every_figure_and_a_summary_that_embeds_them(quick_demo):
    for name in FIGURES:
        png = quick_demo / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{name}.png is not a PNG"
    summary = (quick_demo / "summary.md").read_text(encoding="utf-8")
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", summary)
    assert sorted(embedded) == sorted(f"{name}.png" for name in FIGURES)
    # One table row per activation, the spiking column filled exactly for the two LIF rates.
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "±" in line]
    assert [row.split("|")[1].strip() for row in rows] == list(demo.COLORS)
    spiking = {row.split("|")[1].strip(): row.split("|")[3].strip() for row in rows}
    assert {name for name, cell in spiking.items() if cell != "–"} == set(demo.SPIKING)


def test_quick_demo_prints_the_table(quick_demo, capsys):
    # The module fixture already ran; run the printing part again on a fresh folder for capsys.
    outdir = quick_demo / "again"
    demo.main([str(outdir), "--quick", "--progress", "lines"])
    printed = capsys.readouterr().out
    assert "hidden activation" in printed and "test accuracy (spiking)" in printed
    for name in demo.COLORS:
        assert re.search(rf"^{re.escape(name)}\s+\d\.\d{{3}} ± \d\.\d{{3}}", printed, re.MULTILINE)
    # Seeded: the same run gives the same table (timings aside).
    first = (quick_demo / "summary.md").read_text(encoding="utf-8")
    second = (outdir / "summary.md").read_text(encoding="utf-8")

    def without_timings(text):
        return [line.rsplit("|", 2)[0] for line in text.splitlines() if line.startswith("| ")]

    assert without_timings(first) == without_timings(second)


def test_epochs_to_converge_is_the_first_epoch_within_the_tolerance_of_the_minimum():
    # Minimum 1.0 at epoch 5; within 5 %: 1.05 first reached at epoch 3 (counted from 1).
    assert demo.epochs_to_converge([2.0, 1.2, 1.05, 1.1, 1.0, 1.3], within=0.05) == 3
    assert demo.epochs_to_converge([2.0, 1.2, 1.05, 1.1, 1.0, 1.3], within=0.0) == 5
    assert demo.epochs_to_converge([0.5], within=0.01) == 1


def test_demo_rejects_an_unknown_dataset_and_nonpositive_seeds(tmp_path):
    with pytest.raises(SystemExit):
        demo.parse_args([str(tmp_path), "--dataset", "cifar"])
    with pytest.raises(SystemExit):
        demo.parse_args([str(tmp_path), "--seeds", "0"])
    with pytest.raises(ValueError, match="dataset"):
        demo.load_data("cifar")


def test_compare_lif_sigmoid_script_is_the_demo(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    script = _load_example("compare_lif_sigmoid")
    assert script.main is demo.main


# Every example and the files its quick form writes (the demo's are checked above).
QUICK_OUTPUTS = {
    "hh_spikes": {"hh_voltage.png", "hh_gates.png", "hh_raster.png"},
    "noisy_lif": {"noisy_lif_rates.png", "noisy_lif_membrane.png"},
    "cuba": {"cuba_raster.png", "cuba_rate.png", "cuba_isi_cv.png"},
    "brunel": {"brunel_regimes.png"},
    "lif_rate_curve": {"lif_rate_curve.png", "hh_rate_curve.png"},
    "psc_filtering": {"psc_kernels.png", "psc_filtering.png", "psc_euler_error.png"},
    "activations": {"activations.png", "rate_activations.png", "softmax_sparsemax.png"},
    "vanishing_gradients": {"gradient_norms.png", "learning_curves.png", "sigmoid_derivative.png"},
    "weight_decay": {"weight_decay_errors.png", "weight_decay_fits.png"},
    "augmentation": {"augmentation_curves.png", "augmentation_samples.png"},
    "model_selection": {"best_net.npz", "model_selection.md", "model_selection.png"},
    "pretraining": {"pretraining_accuracy.png", "pretraining_features.png", "pretraining_results.txt"},
    "sparsemax": {"sparsemax_digits.png", "sparsemax_two_classes.png"},
    "residual_mlp": {"residual_gradient_norms.png", "residual_learning_curves.png", "residual_summary.txt"},
    "round_trip": {"rate_curves.png", "accuracy.png", "accuracy_time.png", "diagnostics.png", "summary.md"},
    "short_presentations": {"short_presentations.png", "short_presentations.md"},
    "nest_backend": {"nest_counts.png", "nest_cuba.png"},
}
# Examples that need an optional extra, and the module it brings.
NEEDS = {"nest_backend": "nest"}


def test_every_example_has_a_quick_form_that_is_tested():
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    assert scripts == set(QUICK_OUTPUTS) | {"compare_lif_sigmoid"}
    for script in scripts:
        assert "--quick" in (EXAMPLES / f"{script}.py").read_text(encoding="utf-8"), script


@pytest.mark.parametrize("name", sorted(QUICK_OUTPUTS))
def test_every_example_runs_in_its_quick_form(name, tmp_path, monkeypatch):
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        pytest.skip(f"examples/{name}.py needs {NEEDS[name]} (its extra is not installed)")
    module = _load_example(name)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", str(tmp_path), "--quick"])
    assert module.main() in (None, 0)
    assert {p.name for p in tmp_path.iterdir()} == QUICK_OUTPUTS[name]
    for path in tmp_path.glob("*.png"):
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs_as_written(tmp_path, monkeypatch):
    """Every Python block of the README, in order, as one script (but the one that needs a Dask
    or Ray cluster, and the NEST one where NEST is not installed). Checks that the tour's results
    are sensible."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    blocks = [block for block in blocks if "parallel_backend" not in block]     # needs a cluster
    have_nest = importlib.util.find_spec("nest") is not None
    if not have_nest:                                               # the nest extra is not installed
        blocks = [block for block in blocks if 'backend="nest"' not in block]
    has_nir = importlib.util.find_spec("nir") is not None         # the nir extra (in the test extra)
    blocks = [block for block in blocks if has_nir or "neurosim.nir" not in block]
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)                                         # net.save("digits.npz")
    scope: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), scope)
    rates = scope["res"].spikes.rates(t_start=0.2)
    assert rates[0] == 0.0 and rates[2] > 40.0      # rest; 10 µA/cm² is above the onset (6.26)
    assert np.all(scope["result"][scope["spikes"]].rates() > 20.0)
    assert np.all(scope["out"][scope["hh_spikes"]].rates() > 20.0)
    brunel_rate = scope["brunel_out"][scope["raster"]].rates(t_start=0.1).mean()
    assert brunel_rate == pytest.approx(75.3, rel=0.1)              # Brunel's mean field for this size
    if have_nest:                                                   # the same network on NEST
        nest_rate = scope["on_nest"][scope["raster"]].rates(t_start=0.1).mean()
        assert nest_rate == pytest.approx(brunel_rate, rel=0.1)
        assert scope["on_nest"][scope["trace"]].shape == (2, 300)
    assert scope["net"].score(scope["X_test"], scope["y_test"]) > 0.95
    assert scope["snet"].score(scope["X_test"], scope["y_test"], t_end=0.2) > 0.9
    assert scope["deep"].score(scope["X_test"], scope["y_test"]) > 0.6
    assert scope["residual"].score(scope["X_test"], scope["y_test"]) > 0.9    # rn.Graph
    assert scope["two_heads"].score(scope["test_halves"], scope["y_test"]) > 0.8
    assert (tmp_path / "two_heads.npz").exists()
    assert (tmp_path / "digits.npz").exists()
    assert len(scope["search"].rows) == 8 and scope["search"].best_score > 0.9
    assert scope["grid"].best_score_ > 0.9                              # ratenet.sklearn
    if has_nir:                                                         # through a NIR file and back
        np.testing.assert_array_equal(scope["imported_out"][scope["imported_spikes"]].counts(),
                                      scope["small_out"][scope["small_spikes"]].counts())
        assert scope["small_out"][scope["small_spikes"]].n_spikes > 50
        assert set(scope["twin"].populations) == {"hidden_1_LIF"}
    np.testing.assert_allclose(scope["back"].times[0], scope["result"][scope["spikes"]].times[0],
                               rtol=1e-14)                              # through neo and back
    simulated = scope["noisy"].spikes.rates(t_start=0.2).mean()
    assert simulated == pytest.approx(scope["ns"].lif_rate_noisy(0.9, 0.2), rel=0.1)   # 200 neurons x 1 s
