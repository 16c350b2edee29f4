"""Log-likelihood of a binary RBM: the partition function by exact enumeration of the smaller layer,
or estimated by annealed importance sampling (AIS).

For an RBM with weights W (n_hidden, n_visible), hidden biases b and visible biases c,

    log p(x) = -F(x) - log Z,    F(x) = -c.x - sum_j softplus(b_j + W_j x),

and the partition function Z = sum_x e^{-F(x)} sums over 2^n_visible states. Summing out the other
layer analytically leaves a sum over either layer's states,

    Z = sum_h exp(b.h + sum_i softplus(c_i + (W^T h)_i)) = sum_x exp(c.x + sum_j softplus(b_j + (W x)_j)),

so enumerating the smaller layer gives log Z exactly for models with up to ~20 units in it
(:func:`exact_log_partition`). Larger models need an estimate: :func:`ais_log_partition` follows
Salakhutdinov & Murray (2008), annealing from a base-rate model (no weights; visible biases fitted
to the data's marginals) to the RBM through the distributions

    p_k(x) ∝ p*_k(x) = e^{(1 - beta_k) c_A.x + beta_k c.x} prod_j (1 + e^{beta_k (b_j + W_j x)}),

with 0 = beta_0 < ... < beta_K = 1 spaced as in the paper (500 steps up to 0.5, 4,000 up to 0.9,
10,000 up to 1 for K = 14,500; the same shape for other K). Each of ``n_runs`` independent runs
draws x_1 from the base model, moves x_k by one Gibbs sweep that leaves p_k invariant, and adds
log p*_k(x_k) - log p*_{k-1}(x_k) to its log-weight; the mean of the weights estimates Z / Z_A.

References
----------
R. Salakhutdinov and I. Murray, "On the quantitative analysis of deep belief networks", ICML 2008.
R. M. Neal, "Annealed importance sampling", Statistics and Computing 11, 2001.
"""

from __future__ import annotations

import math

import numpy as np

from .losses import sigmoid, softplus
from .validation import check_choice, check_positive_int

#: Largest layer that :func:`exact_log_partition` enumerates by default (2^20 ~ 1e6 states); the
#: ``max_units`` argument changes it.
MAX_EXACT_UNITS = 20

#: States scored per chunk of the enumeration, times the width of the other layer: bounds the
#: enumeration's memory to a few tens of MB whatever the model.
_CHUNK_ELEMENTS = 1 << 20

#: Salakhutdinov & Murray's schedule: (fraction of the steps, beta reached) at each breakpoint.
_SCHEDULE_STEPS = (0.0, 500 / 14500, 4500 / 14500, 1.0)
_SCHEDULE_BETAS = (0.0, 0.5, 0.9, 1.0)


class LogPartition(float):
    """log Z (nats), a float, with how it was obtained.

    Attributes
    ----------
    standard_error : float
        Standard error of the AIS estimate of log Z by the delta method,
        ``std(w) / (sqrt(n_runs) mean(w))`` over the importance weights w; 0 for ``"exact"``.
    method : str
        ``"exact"`` or ``"ais"``.
    effective_sample_size : float
        AIS only: ``(sum w)^2 / sum w^2``, between 1 and ``n_runs``. Far below ``n_runs`` means a
        few runs dominate and the standard error itself is unreliable: use more steps.
    log_weights : ndarray, shape (n_runs,) or None
        AIS only: the log importance weights, log Z_A included (their log-mean-exp is the value).
    """

    standard_error: float
    method: str
    effective_sample_size: float | None
    log_weights: np.ndarray | None

    def __new__(cls, value: float, *, standard_error: float = 0.0, method: str = "exact",
                effective_sample_size: float | None = None, log_weights: np.ndarray | None = None):
        result = super().__new__(cls, value)
        result.standard_error = float(standard_error)
        result.method = method
        result.effective_sample_size = effective_sample_size
        result.log_weights = log_weights
        return result

    def __repr__(self) -> str:
        if self.method == "exact":
            return f"LogPartition({float(self):.6g}, exact)"
        return (f"LogPartition({float(self):.6g} ± {self.standard_error:.2g}, ais, "
                f"effective sample size {self.effective_sample_size:.1f} of {len(self.log_weights)})")


class LogLikelihood(float):
    """Mean log-likelihood per sample (nats), a float, with its parts.

    Attributes
    ----------
    standard_error : float
        Its standard error: that of the estimate of log Z (the data term is exact); 0 for
        ``"exact"``. An AIS estimate of log Z is biased low for few steps (Jensen: E[log Z_hat] <=
        log Z), so the log-likelihood it gives is biased high; more steps shrink the bias.
    per_sample : ndarray, shape (n_samples,)
        log p(x) of every sample.
    log_partition : LogPartition
        The log Z used.
    method : str
        ``"exact"`` or ``"ais"``.
    """

    standard_error: float
    per_sample: np.ndarray
    log_partition: LogPartition
    method: str

    def __new__(cls, per_sample: np.ndarray, log_partition: LogPartition):
        result = super().__new__(cls, float(per_sample.mean()))
        result.per_sample = per_sample
        result.log_partition = log_partition
        result.standard_error = log_partition.standard_error
        result.method = log_partition.method
        return result

    def __repr__(self) -> str:
        error = "" if self.method == "exact" else f" ± {self.standard_error:.2g}"
        return (f"LogLikelihood({float(self):.6g}{error} nats per sample over {self.per_sample.size} "
                f"samples, {self.method}; log Z = {float(self.log_partition):.6g})")


def free_energy(W: np.ndarray, hidden_bias: np.ndarray, visible_bias: np.ndarray,
                x: np.ndarray) -> np.ndarray:
    """F(x) = -c.x - sum_j softplus(b_j + W_j x) in float64 (nats), shape (n_samples,)."""
    W = np.asarray(W, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return -(x @ np.asarray(visible_bias, dtype=np.float64)) - softplus(
        x @ W.T + np.asarray(hidden_bias, dtype=np.float64)).sum(axis=1)


def exact_log_partition(W: np.ndarray, hidden_bias: np.ndarray, visible_bias: np.ndarray, *,
                        over: str = "smaller", max_units: int = MAX_EXACT_UNITS) -> LogPartition:
    """log Z of a binary RBM by summing over every state of one layer.

    Parameters
    ----------
    W : ndarray, shape (n_hidden, n_visible)
    hidden_bias : ndarray, shape (n_hidden,)
    visible_bias : ndarray, shape (n_visible,)
    over : {"smaller", "hidden", "visible"}, default "smaller"
        The layer whose 2^n states are enumerated (the other is summed out analytically).
    max_units : int, default MAX_EXACT_UNITS (20)
        Refuse to enumerate a layer of more units. The cost is about 2^n (n_other + n) operations
        (2^20 states of a 20-unit layer against 784 others: a few seconds); memory stays bounded.

    Raises
    ------
    ValueError
        When the enumerated layer has more than ``max_units`` units: use AIS
        (:func:`ais_log_partition`, ``method="ais"``) or raise ``max_units``.
    """
    check_choice("over", over, ("smaller", "hidden", "visible"))
    max_units = check_positive_int("max_units", max_units)
    W = np.asarray(W, dtype=np.float64)
    hidden_bias = np.asarray(hidden_bias, dtype=np.float64)
    visible_bias = np.asarray(visible_bias, dtype=np.float64)
    n_hidden, n_visible = W.shape
    if over == "smaller":
        over = "hidden" if n_hidden <= n_visible else "visible"
    if over == "hidden":
        coupling, enumerated_bias, other_bias = W.T, hidden_bias, visible_bias
    else:
        coupling, enumerated_bias, other_bias = W, visible_bias, hidden_bias
    n_units = coupling.shape[1]
    if n_units > max_units:
        raise ValueError(
            f"exact log-likelihood needs a sum over the 2**{n_units} = {2**n_units:.3g} states of the "
            f"{over} layer ({n_units} units), past the limit max_units={max_units} (2**{max_units} "
            f"states): use method='ais' for an annealed-importance-sampling estimate, or raise max_units "
            f"if you can afford ~2**{n_units} x {coupling.shape[0] + n_units} operations")
    chunk = max(1, min(2**n_units, _CHUNK_ELEMENTS // max(coupling.shape[0], 1)))
    bits = np.arange(n_units)
    partial = []
    for start in range(0, 2**n_units, chunk):
        index = np.arange(start, min(start + chunk, 2**n_units))
        states = ((index[:, None] >> bits) & 1).astype(np.float64)
        log_terms = states @ enumerated_bias + softplus(states @ coupling.T + other_bias).sum(axis=1)
        partial.append(_log_sum_exp(log_terms))
    return LogPartition(_log_sum_exp(np.array(partial)), method="exact")


def ais_schedule(n_steps: int) -> np.ndarray:
    """Inverse temperatures 0 = beta_0 < ... < beta_K = 1 (K = ``n_steps``), shape (K + 1,):
    Salakhutdinov & Murray's schedule (uniform steps of 1e-3 to 0.5, 1e-4 to 0.9, 1e-5 to 1) for
    K = 14,500, and the same piecewise-uniform shape, scaled, for any other K."""
    n_steps = check_positive_int("n_steps", n_steps)
    return np.interp(np.linspace(0.0, 1.0, n_steps + 1), _SCHEDULE_STEPS, _SCHEDULE_BETAS)


def ais_log_partition(W: np.ndarray, hidden_bias: np.ndarray, visible_bias: np.ndarray, *,
                      base_visible_bias: np.ndarray | None = None, n_runs: int = 100,
                      n_steps: int = 14500, seed=0) -> LogPartition:
    """Estimate log Z of a binary RBM by annealed importance sampling (Salakhutdinov & Murray 2008).

    Parameters
    ----------
    W, hidden_bias, visible_bias
        The RBM, as for :func:`exact_log_partition`.
    base_visible_bias : ndarray, shape (n_visible,), optional
        Visible biases c_A of the base-rate model (no weights, hidden biases 0), whose log Z_A =
        n_hidden log 2 + sum_i softplus(c_A,i) is known. Default: the RBM's own visible biases.
        Biases fitted to the data's marginals (the paper's choice, what
        :meth:`ratenet.RBM.log_likelihood` uses) start the runs closer to the model.
    n_runs : int, default 100
        Independent annealing runs (the paper's 100), simulated together as a batch.
    n_steps : int, default 14500
        Intermediate distributions K (the paper's 14,500); see :func:`ais_schedule`. Cost: about
        4 K n_runs n_hidden n_visible floating-point operations (a 784-500 RBM with the defaults:
        a minute or so).
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    LogPartition
        The estimate ``log Z_A + log mean(w)``, with its standard error, the effective sample size
        and the log-weights.
    """
    n_runs = check_positive_int("n_runs", n_runs)
    betas = ais_schedule(n_steps)
    rng = np.random.default_rng(seed)
    W = np.asarray(W, dtype=np.float64)
    hidden_bias = np.asarray(hidden_bias, dtype=np.float64)
    visible_bias = np.asarray(visible_bias, dtype=np.float64)
    base = visible_bias if base_visible_bias is None else np.asarray(base_visible_bias, dtype=np.float64)
    n_hidden, n_visible = W.shape
    log_base_partition = n_hidden * math.log(2.0) + float(softplus(base).sum())

    visible = (rng.random((n_runs, n_visible)) < sigmoid(base)).astype(np.float64)
    log_weights = np.zeros(n_runs)
    for k in range(1, betas.size):
        previous, beta = betas[k - 1], betas[k]
        hidden_input = visible @ W.T
        hidden_input += hidden_bias
        # log p*_k(x) - log p*_{k-1}(x) for the current states x_k
        log_weights += (beta - previous) * (visible @ (visible_bias - base))
        log_weights += (softplus(beta * hidden_input).sum(axis=1)
                        - softplus(previous * hidden_input).sum(axis=1))
        if k == betas.size - 1:
            break
        # one Gibbs sweep that leaves p_k invariant: h ~ P_k(h | x), then x ~ P_k(x | h)
        hidden = (rng.random((n_runs, n_hidden)) < sigmoid(beta * hidden_input)).astype(np.float64)
        visible_input = hidden @ W
        visible_input += visible_bias
        visible_input *= beta
        visible_input += (1.0 - beta) * base
        visible = (rng.random((n_runs, n_visible)) < sigmoid(visible_input)).astype(np.float64)

    log_weights += log_base_partition
    largest = log_weights.max()
    weights = np.exp(log_weights - largest)
    mean_weight = weights.mean()
    standard_error = (weights.std(ddof=1) / (math.sqrt(n_runs) * mean_weight)) if n_runs > 1 else math.inf
    return LogPartition(largest + math.log(mean_weight), standard_error=standard_error, method="ais",
                        effective_sample_size=float(weights.sum() ** 2 / np.square(weights).sum()),
                        log_weights=log_weights)


def base_rate_visible_bias(X: np.ndarray) -> np.ndarray:
    """Visible biases of the base-rate model fitted to binary data ``X`` (n_samples, n_visible):
    ``log(p / (1 - p))`` with the marginals smoothed by one pseudo-count on each side,
    ``p = (sum_n x_n + 1) / (n_samples + 2)``, so that a pixel never on in the data still gets a
    finite bias."""
    X = np.asarray(X, dtype=np.float64)
    probability = (X.sum(axis=0) + 1.0) / (X.shape[0] + 2.0)
    return np.log(probability) - np.log1p(-probability)


def log_likelihood(W: np.ndarray, hidden_bias: np.ndarray, visible_bias: np.ndarray, X: np.ndarray,
                   log_partition: LogPartition) -> LogLikelihood:
    """log p(x) = -F(x) - log Z for every row of the binary ``X``, and their mean."""
    return LogLikelihood(-free_energy(W, hidden_bias, visible_bias, X) - float(log_partition),
                         log_partition)


def _log_sum_exp(values: np.ndarray) -> float:
    largest = float(values.max())
    return largest + math.log(float(np.exp(values - largest).sum()))
