"""Activation functions and their derivatives, the firing-rate ones beside the textbook ones.

Usage::

    python examples/activations.py OUTDIR [--quick]

writes to OUTDIR:

- ``activations.png``: f(z) (top) and f'(z) (bottom) for sigmoid, tanh, arctan, ReLU and the
  threshold unit;
- ``rate_activations.png``: the LIF rate (scaled so that f(1) = 1), the soft LIF rate for three
  values of sigma, and a measured Hodgkin-Huxley f-I curve as an activation, with derivatives:
  the soft LIF rate's slope stays finite at threshold where the LIF rate's diverges;
- ``softmax_sparsemax.png``: softmax and sparsemax of the logits (z, 0) as z varies: sparsemax
  reaches exact 0 and 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurosim as ns  # noqa: E402
import ratenet as rn  # noqa: E402


def plot_textbook(path: Path) -> None:
    z = np.linspace(-4, 4, 801)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.0, 6.0), sharex=True, layout="constrained")
    for name in ("sigmoid", "tanh", "arctan", "relu", "threshold"):
        activation = rn.get_activation(name)
        top.plot(z, activation(z), label=name)
        bottom.plot(z, activation.derivative(z), label=name)
    top.set_ylabel("f(z)")
    bottom.set_ylabel("f'(z)")
    bottom.set_xlabel("pre-activation z")
    top.set_ylim(-2, 4)
    top.legend(frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_rates(path: Path, quick: bool = False) -> None:
    z = np.linspace(-1, 3, 2001)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.0, 6.0), sharex=True, layout="constrained")
    lif = rn.LIFRate()
    top.plot(z, lif(z), color="black", label="LIF rate")
    bottom.plot(z, lif.derivative(z), color="black")
    for sigma in (0.3, 0.1, 0.02):
        soft = rn.SoftLIFRate(sigma=sigma)
        top.plot(z, soft(z), label=f"soft LIF, sigma = {sigma}")
        bottom.plot(z, soft.derivative(z))
    curve = ns.rate_curve("hh", np.linspace(0.0, 30.0, 7 if quick else 31), t_end=0.3 if quick else 0.5,
                          dt=1e-5, t_skip=0.1 if quick else 0.2)
    hh = rn.RateCurveActivation(curve, gain=5.0)
    top.plot(z, hh(z), color="tab:red", label=f"HH f-I curve (gain 5 uA/cm2, bias {hh.bias:.2f})")
    bottom.plot(z, hh.derivative(z), color="tab:red")
    top.set_ylabel("f(z)  (rate x amplitude)")
    bottom.set_ylabel("f'(z)")
    bottom.set_ylim(0, 5)
    bottom.set_xlabel("pre-activation z  (v_in = gain z + bias)")
    top.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_softmax_sparsemax(path: Path) -> None:
    z = np.linspace(-3, 3, 601)
    logits = np.stack([z, np.zeros_like(z)], axis=1)
    fig, ax = plt.subplots(figsize=(6.0, 3.6), layout="constrained")
    ax.plot(z, rn.Softmax()(logits)[:, 0], label="softmax")
    ax.plot(z, rn.Sparsemax()(logits)[:, 0], label="sparsemax")
    ax.set_xlabel("z (logits (z, 0))")
    ax.set_ylabel("probability of the first class")
    ax.legend(frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--quick", action="store_true", help="a coarse HH rate curve (a smoke test)")
    args = parser.parse_args()
    outdir = args.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    plot_textbook(outdir / "activations.png")
    plot_rates(outdir / "rate_activations.png", quick=args.quick)
    plot_softmax_sparsemax(outdir / "softmax_sparsemax.png")
    print(f"wrote activations.png, rate_activations.png, softmax_sparsemax.png to {outdir}")


if __name__ == "__main__":
    main()
