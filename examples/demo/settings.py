"""What one run of the demo does: its sizes (:class:`Settings`), the colour of each activation, and
the progress report."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

COLORS = {
    "sigmoid": "#4c72b0",
    "tanh": "#64b5cd",
    "ReLU": "#55a868",
    "LIF rate": "#c44e52",
    "soft LIF": "#dd8452",
    "HH rate": "#8172b3",
}
HH_COLOR, LIF_COLOR = COLORS["HH rate"], COLORS["LIF rate"]
SPIKING = ("LIF rate", "soft LIF")
SWEPT = "soft LIF"             # the network whose tau_s and dt are swept


@dataclass(frozen=True)
class Settings:
    """Sizes of one demo run; :func:`default_settings` and :func:`quick_settings` make them."""

    n_seeds: int = 3
    hidden: int = 100
    max_epochs: int = 50
    patience: int = 6
    learning_rate: float = 5e-3
    batch_size: int = 64
    validation_split: float = 0.2
    # Within this fraction of its lowest validation loss a run counts as converged.
    converged_within: float = 0.05
    n_test: int | None = None                        # None: the whole test set
    tau_s: float = 0.005
    dt: float = 1e-3
    t_present: float = 0.2
    tau_s_sweep: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
    dt_sweep: tuple[float, ...] = (0.00025, 0.0005, 0.001, 0.002)
    n_time_points: int = 40
    # Measured HH f-I curve: forward Euler at 0.01 ms (within 0.4 % of a tight reference), rates
    # from the inter-spike intervals after a 0.2 s transient, onset bisected to 0.02 µA/cm².
    hh_currents: tuple[float, float, int] = (0.0, 60.0, 61)
    hh_t_end: float = 0.6
    hh_t_skip: float = 0.2
    hh_gain: float = 10.0                           # µA/cm² per unit of pre-activation
    neuron_t_end: float = 0.1
    raster_t_end: float = 0.5
    raster_neurons: int = 50
    dpi: int = 120


def default_settings(n_seeds: int = 3) -> Settings:
    return Settings(n_seeds=n_seeds)


def quick_settings(n_seeds: int = 1) -> Settings:
    """A few seconds: tiny training, a short spiking run on 60 test samples, coarse neurons."""
    return Settings(n_seeds=n_seeds, hidden=20, max_epochs=3, patience=2, n_test=60, t_present=0.05,
                    tau_s_sweep=(0.002, 0.005), dt_sweep=(0.001,), n_time_points=5,
                    hh_currents=(0.0, 30.0, 7), hh_t_end=0.15, hh_t_skip=0.05, neuron_t_end=0.03,
                    raster_t_end=0.05, raster_neurons=8, dpi=50)


class Progress:
    """One line per stage on a pipe or in a log; a tqdm bar over the steps on a terminal."""

    def __init__(self, total: int, enabled: bool | None = None, stream=None):
        self.stream = sys.stdout if stream is None else stream
        self.start = time.perf_counter()
        self.bar = None
        if enabled is None:
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                                                 "[{elapsed}<{remaining}]")

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def stage(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)
        else:
            print(f"[{self.elapsed():6.1f} s] {text}", file=self.stream, flush=True)

    def step(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream, flush=True)
