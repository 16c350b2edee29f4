"""The project's main demo: LIF-rate and soft-LIF networks against sigmoid, tanh, ReLU and a measured
Hodgkin-Huxley rate curve, and the LIF networks run back as spiking networks.

Usage::

    python examples/compare_lif_sigmoid.py OUTDIR [--dataset digits|mnist1d] [--seeds N] [--quick]

Writes figures and a one-page ``summary.md`` to OUTDIR and prints the results table. The code lives
beside this script in ``examples/demo/`` (also installed as the ``neurosim-demo`` command); see its
docstring.
"""

import sys

from demo import main  # examples/demo/, next to this script

if __name__ == "__main__":
    sys.exit(main())
