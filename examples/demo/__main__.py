"""``python -m neurosim_demo OUTDIR ...`` (or ``python -m demo`` from examples/)."""

import sys

from .cli import main

sys.exit(main())
