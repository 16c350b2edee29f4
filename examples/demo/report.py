"""The results table (printed and in Markdown) and the one-page ``summary.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import neurosim as ns

from .experiment import Data, TrainingRun
from .settings import SWEPT, Settings


@dataclass
class Row:
    activation: str
    accuracy: tuple[float, float]
    spiking: tuple[float, float] | None
    epochs: tuple[float, float]
    seconds: float
    runs: list[TrainingRun] = field(repr=False, default_factory=list)


def _mean_sd(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def table_rows(runs: dict[str, list[TrainingRun]]) -> list[Row]:
    rows = []
    for name, group in runs.items():
        spiking = [r.spiking_accuracy for r in group if r.spiking_accuracy is not None]
        rows.append(Row(name, _mean_sd([r.test_accuracy for r in group]),
                        _mean_sd(spiking) if spiking else None,
                        _mean_sd([r.epochs_to_converge for r in group]),
                        float(np.mean([r.seconds for r in group])), group))
    return rows


def format_table(rows: list[Row], markdown: bool) -> str:
    """The results table, as Markdown or as aligned plain text."""
    header = ["hidden activation", "test accuracy (rate)", "test accuracy (spiking)",
              "epochs to converge", "training time (s)"]
    body = []
    for row in rows:
        spiking = "–" if row.spiking is None else f"{row.spiking[0]:.3f} ± {row.spiking[1]:.3f}"
        body.append([row.activation, f"{row.accuracy[0]:.3f} ± {row.accuracy[1]:.3f}", spiking,
                     f"{row.epochs[0]:.1f} ± {row.epochs[1]:.1f}", f"{row.seconds:.2f}"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * 4) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))
             for cells in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _accuracy_at(times: np.ndarray, accuracy: np.ndarray, t: float) -> float:
    """Accuracy at the presentation time nearest to ``t``."""
    return float(accuracy[np.argmin(np.abs(times - t))])


def _sweep_table(sweep: dict, settings: Settings) -> str:
    """The sweep as a Markdown table: accuracy after 20 ms, 50 ms and the whole presentation."""
    marks = sorted({min(0.02, settings.t_present), min(0.05, settings.t_present), settings.t_present})
    lines = ["| input | τs (ms) | dt (ms) | " + " | ".join(f"after {t * 1e3:g} ms" for t in marks) + " |",
             "|---|---:|---:|" + "---:|" * len(marks)]
    cases = [("tau_s", "currents", ((tau, settings.dt) for tau in settings.tau_s_sweep)),
             ("dt", "currents", ((settings.tau_s, dt) for dt in settings.dt_sweep)),
             ("tau_s_poisson", "Poisson spikes", ((tau, settings.dt) for tau in settings.tau_s_sweep))]
    listed = set()
    for key, source, pairs in cases:
        if sweep.get(key) is None:
            continue
        for (times, accuracy), (tau_s, dt) in zip(sweep[key], pairs, strict=True):
            if (source, tau_s, dt) in listed:      # the default (tau_s, dt) is in both sweeps
                continue
            listed.add((source, tau_s, dt))
            cells = " | ".join(f"{_accuracy_at(times, accuracy, t):.3f}" for t in marks)
            lines.append(f"| {source} | {tau_s * 1e3:g} | {dt * 1e3:g} | {cells} |")
    return "\n".join(lines)


def _spiking_loss(rows: list[Row]) -> str:
    """Per LIF network, its spiking accuracy minus its rate accuracy, in points."""
    parts = []
    for row in rows:
        differences = [100 * (r.spiking_accuracy - r.test_accuracy) for r in row.runs
                       if r.spiking_accuracy is not None]
        if differences:
            parts.append(f"{row.activation}: " + ", ".join(f"{d:+.1f}" for d in differences))
    return "; ".join(parts)


def write_summary(path: Path, data: Data, settings: Settings, rows: list[Row], figures: dict[str, str],
                  hh_curve: ns.RateCurve, sweep: dict, command: str, total_seconds: float) -> None:
    sizes = f"{data.X_train.shape[1]}-{settings.hidden}-10"
    capped = [f"{row.activation} {sum(r.epochs_run == settings.max_epochs for r in row.runs)}"
              for row in rows if any(r.epochs_run == settings.max_epochs for r in row.runs)]
    capped_note = ("Runs that reached the epoch cap without early stopping (their count is then a lower "
                   f"bound): {', '.join(capped)}." if capped else "Every run stopped early.")
    runs_rate = next(row.runs[0].test_accuracy for row in rows if row.activation == SWEPT)
    onset = "no onset found" if hh_curve.onset is None else f"onset {hh_curve.onset:.2f} µA/cm²"
    text = f"""# LIF rates vs sigmoid: spiking neurons, rate networks, and back

`{command}` — {total_seconds:.0f} s in all.

**Data**: {data.description}; {data.X_train.shape[0]} training samples (20 % of them held out for
validation), {data.X_test.shape[0]} test samples.
**Network**: MLP {sizes} in float32, softmax output, Glorot initialisation,
Adam (lr {settings.learning_rate:g}), batches of {settings.batch_size}, at most {settings.max_epochs}
epochs with early stopping after {settings.patience} epochs without a lower validation loss; the
weights of the epoch with the lowest validation loss are kept. {settings.n_seeds} seed(s) per
activation (the seed sets the initial weights, the validation split and the shuffling).

{format_table(rows, markdown=True)}

- *test accuracy*: mean ± sd over seeds, on the test set.
- *spiking*: the same network run as LIF neurons (`ratenet.to_spiking`, τs = {settings.tau_s * 1e3:g} ms
  exponential synapses, dt = {settings.dt * 1e3:g} ms, each sample presented as constant input currents
  for {settings.t_present * 1e3:g} ms, outputs averaged after the first
  {min(0.05, settings.t_present / 4) * 1e3:g} ms).
- *epochs to converge*: the first epoch whose validation loss is within {settings.converged_within:.0%}
  of the lowest validation loss of that run.
  {capped_note}
- *training time*: wall-clock seconds per run of `ratenet.fit` (all epochs, early stopping included) on
  this machine; it varies from run to run, the other columns do not.
- *HH rate*: the Hodgkin-Huxley f-I curve measured by simulation (forward Euler, dt = 0.01 ms,
  {settings.hh_currents[2]} currents from {settings.hh_currents[0]:g} to {settings.hh_currents[1]:g} µA/cm²,
  rates from inter-spike intervals after {settings.hh_t_skip * 1e3:g} ms, {onset}) as the activation
  `RateCurveActivation(curve, gain={settings.hh_gain:g})`.

Spiking minus rate accuracy of each network (accuracy points, one per seed): {_spiking_loss(rows)}.

Spiking accuracy of the {SWEPT} network (seed 0, rate accuracy
{runs_rate:.3f}) against presentation time, τs and dt; Poisson inputs fire at 200 Hz per unit pixel:

{_sweep_table(sweep, settings)}

## Single neurons

![neurons]({figures['neurons']})

## The activations

![activations]({figures['activations']})

## Training

![training]({figures['training']})

![accuracy]({figures['accuracy']})

## Spiking networks

![spiking network]({figures['spiking_network']})

![accuracy vs presentation time]({figures['spiking_time']})

![accuracy vs tau_s and dt]({figures['spiking_sweep']})
"""
    path.write_text(text, encoding="utf-8")
