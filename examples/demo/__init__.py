"""The project's main demo: spiking neurons, the rate networks built from their f-I curves, and
those networks run back as spiking networks.

Usage::

    python examples/compare_lif_sigmoid.py OUTDIR [--dataset digits|mnist1d] [--seeds N] [--quick]
    neurosim-demo OUTDIR ...          # the same, once the project is installed

In about a minute on two cores it

1. simulates Hodgkin-Huxley and LIF neurons: voltage traces, rasters, f-I curves (the HH curve
   measured by simulation with its firing onset, the LIF curve simulated and analytic);
2. trains the same MLP (64-100-10 on scikit-learn's digits, 40-100-10 on MNIST-1D) with sigmoid,
   tanh, ReLU, LIF-rate, soft-LIF and the measured HH rate curve as hidden activations, several
   seeds each, and tabulates test accuracy, epochs to converge and training time;
3. runs the LIF-rate and soft-LIF networks as spiking LIF networks (``ratenet.to_spiking``,
   tau_s = 5 ms, dt = 1 ms, 0.2 s per sample): spiking accuracy, accuracy against presentation
   time, and a small sweep over tau_s and dt;
4. writes every figure and a one-page ``summary.md`` to OUTDIR.

Everything is seeded: the same command gives the same table (apart from the timings).

The demo is an application of the two libraries, not part of them: it lives here, beside the other
examples, in five modules (``settings``, ``experiment``, ``figures``, ``report``, ``cli``), and is
installed as the top-level package ``neurosim_demo`` only so that the ``neurosim-demo`` command
works.
"""
from .cli import main, parse_args
from .experiment import epochs_to_converge, load_data
from .settings import COLORS, SPIKING

__all__ = ["COLORS", "SPIKING", "epochs_to_converge", "load_data", "main", "parse_args"]
