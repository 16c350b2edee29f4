"""The command line: ``python examples/compare_lif_sigmoid.py OUTDIR [...]`` or ``neurosim-demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .experiment import (
    TrainingRun,
    hh_rate_curve,
    load_data,
    make_activations,
    run_spiking,
    sweep_spiking,
    train_one,
)
from .figures import (
    figure_accuracy,
    figure_activations,
    figure_neurons,
    figure_spiking_network,
    figure_spiking_time,
    figure_sweep,
    figure_training,
)
from .report import format_table, table_rows, write_summary
from .settings import SPIKING, SWEPT, Progress, default_settings, quick_settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="neurosim-demo",
        description="Spiking neurons, rate networks trained with their f-I curves (LIF, soft LIF, HH) "
                    "against sigmoid/tanh/ReLU, and the LIF networks run back as spiking networks. "
                    "Writes figures and summary.md to OUTDIR.")
    parser.add_argument("outdir", type=Path, nargs="?", default=Path("demo-output"),
                        help="folder for the figures and summary.md (default: demo-output)")
    parser.add_argument("--dataset", choices=("digits", "mnist1d"), default="digits",
                        help="built-in data set (default: digits; nothing is downloaded)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per activation (default 3, or 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny configuration that runs in seconds (for tests; numbers not meaningful)")
    parser.add_argument("--progress", choices=("auto", "bar", "lines"), default="auto",
                        help="a progress bar (on a terminal by default) or one line per stage")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; ``argv`` as on the command line (default ``sys.argv[1:]``)."""
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    settings = (quick_settings if args.quick else default_settings)(
        *(() if args.seeds is None else (args.seeds,)))
    outdir: Path = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    program = sys.argv[0] if argv is None else "neurosim-demo"
    program = f"python {program}" if program.endswith(".py") else "neurosim-demo"
    command = " ".join([program, *(sys.argv[1:] if argv is None else list(argv))])

    n_sweep = 2 * len(settings.tau_s_sweep) + len(settings.dt_sweep)
    total_steps = 2 + 6 * settings.n_seeds + 2 * settings.n_seeds + n_sweep + 6
    progress = Progress(total_steps, enabled={"auto": None, "bar": True, "lines": False}[args.progress])
    figures = {key: f"{key}.png" for key in ("neurons", "activations", "training", "accuracy",
                                             "spiking_network", "spiking_time", "spiking_sweep")}
    try:
        progress.stage("measuring the Hodgkin-Huxley f-I curve")
        hh_curve = hh_rate_curve(settings)
        progress.step()
        progress.stage("simulating HH and LIF neurons (voltage, rasters, f-I curves)")
        figure_neurons(outdir / figures["neurons"], hh_curve, settings)
        progress.step()

        data = load_data(args.dataset, settings.n_test)
        activations = make_activations(hh_curve, settings)
        figure_activations(outdir / figures["activations"], activations, settings)
        progress.step()
        progress.stage(f"training {len(activations)} activations x {settings.n_seeds} seed(s) on "
                       f"{args.dataset}")
        runs: dict[str, list[TrainingRun]] = {}
        for name, factory in activations.items():
            for seed in range(settings.n_seeds):
                if progress.bar is not None:
                    progress.stage(f"training {name}, seed {seed}")
                runs.setdefault(name, []).append(train_one(name, factory, seed, data, settings))
                progress.step()
        figure_training(outdir / figures["training"], runs, settings)
        progress.step()

        progress.stage(f"running the LIF networks as spiking networks ({settings.t_present * 1e3:g} ms "
                       "per sample)")
        for name in SPIKING:
            for run in runs[name]:
                run_spiking(run, data, settings)
                progress.step()
        progress.stage(f"sweeping τs and dt ({SWEPT} network, seed 0)")
        sweep = sweep_spiking(runs[SWEPT][0].net, data, settings, progress.step)
        progress.stage("drawing the spiking figures and writing summary.md")
        figure_accuracy(outdir / figures["accuracy"], runs, settings)
        figure_spiking_network(outdir / figures["spiking_network"], runs["soft LIF"][0], data, settings)
        figure_spiking_time(outdir / figures["spiking_time"], runs, settings)
        figure_sweep(outdir / figures["spiking_sweep"], SWEPT, sweep, runs[SWEPT][0].test_accuracy,
                     data.X_test.shape[0], settings)
        progress.step(3)
        rows = table_rows(runs)
        total = progress.elapsed()
        write_summary(outdir / "summary.md", data, settings, rows, figures, hh_curve, sweep, command, total)
        progress.step()
    finally:
        progress.close()
    print()
    print(format_table(rows, markdown=False))
    print(f"\nepochs to converge: first epoch within {settings.converged_within:.0%} of the run's lowest "
          "validation loss; spiking: tau_s = "
          f"{settings.tau_s * 1e3:g} ms, dt = {settings.dt * 1e3:g} ms, {settings.t_present * 1e3:g} ms per "
          "sample")
    print(f"wrote {len(figures)} figures and summary.md to {outdir}/ in {total:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
