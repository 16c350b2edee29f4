"""neurosim: Hodgkin-Huxley and leaky integrate-and-fire neurons under Numba.

Spike trains, post-synaptic current filters, firing-rate curves and plots. Time is in seconds in
every public signature; Hodgkin-Huxley voltages are in mV and its currents in µA/cm².

"The course notes" in the docstrings are the lecture notes this project follows (Hodgkin-Huxley and
LIF neurons, post-synaptic currents and firing-rate curves, then the rate networks of ``ratenet``:
the perceptron, backpropagation, optimisers, regularisation, autoencoders and RBMs); their symbols
are kept, e.g. G(v_in) for the LIF rate and τs for a synapse.
"""

from . import connectivity, plot
from ._result import SimResult
from .hh import HHParameters, hh_steady_state, simulate_hh
from .lif import LIFParameters, PhysicalLIFParameters, simulate_lif
from .network import NetworkResult, Population, Probe, SpikingNetwork
from .rates import (
    RateCurve,
    firing_onset,
    lif_rate,
    lif_rate_derivative,
    lif_rate_noisy,
    lif_rate_noisy_derivative,
    periodic_rates,
    rate_curve,
)
from .spikes import SpikeTrains
from .synapse import PSC, Delta, filter_spikes, psc_kernel
from .validation import UnitsWarning

__version__ = "0.1.0"

__all__ = [
    "Delta",
    "HHParameters",
    "LIFParameters",
    "NetworkResult",
    "PSC",
    "PhysicalLIFParameters",
    "Population",
    "Probe",
    "RateCurve",
    "SimResult",
    "SpikeTrains",
    "SpikingNetwork",
    "connectivity",
    "UnitsWarning",
    "filter_spikes",
    "firing_onset",
    "hh_steady_state",
    "lif_rate",
    "lif_rate_derivative",
    "lif_rate_noisy",
    "lif_rate_noisy_derivative",
    "periodic_rates",
    "plot",
    "psc_kernel",
    "rate_curve",
    "simulate_hh",
    "simulate_lif",
]
