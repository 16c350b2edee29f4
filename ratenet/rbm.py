"""Restricted Boltzmann machines with binary visible and hidden units, trained by contrastive
divergence (CD-k) or persistent contrastive divergence (PCD).

Energy of a visible vector x (n_visible,) and a hidden vector h (n_hidden,), both binary:

    E(x, h) = -h^T W x - c^T x - b^T h,      p(x, h) = e^{-E(x, h)} / Z,

with W of shape (n_hidden, n_visible) (the layout of a :class:`~ratenet.layers.Dense` layer, so
that ``P(h = 1 | x) = sigmoid(W x + b)`` is a sigmoid layer's output), hidden biases b and visible
biases c. Summing h out gives the free energy

    F(x) = -c^T x - sum_j softplus(b_j + W_j x),    p(x) = e^{-F(x)} / Z.

The gradient of the mean log-likelihood is a data term minus a model term,
``d log p / dW = <h x^T>_data - <h x^T>_model``; CD-k estimates the model term from a Gibbs chain
started at the data and run k steps (Hinton 2002), PCD from chains that persist across updates
(Tieleman 2008). Following Hinton's practical guide (2010), the statistics use the hidden
probabilities rather than samples wherever that lowers the noise without biasing the estimate, and
the visible units of the chains are sampled.

The log-likelihood itself, ``log p(x) = -F(x) - log Z``, needs the partition function:
:meth:`RBM.log_likelihood` computes it exactly for small models or estimates it by annealed
importance sampling (:mod:`ratenet.rbm_likelihood`).
"""

from __future__ import annotations

import numpy as np

from ._loop import DIVERGENCE_FACTOR, batch_size_for, check_divergence_options, exclusive, run_epochs
from .autoencoder import ReconstructionHistory
from .losses import sigmoid, softplus
from .optimizers import SGD, Optimizer, get_optimizer
from .rbm_likelihood import (
    MAX_EXACT_UNITS,
    LogLikelihood,
    LogPartition,
    ais_log_partition,
    base_rate_visible_bias,
    exact_log_partition,
)
from .rbm_likelihood import log_likelihood as rbm_log_likelihood
from .validation import (
    as_finite_array,
    check_choice,
    check_dtype,
    check_nonnegative,
    check_positive_int,
    check_samples,
)

#: Samples on which fit() evaluates the monitoring quantities after each epoch.
MONITOR_SAMPLES = 256


class RBM:
    """Binary-binary restricted Boltzmann machine.

    Parameters
    ----------
    n_visible, n_hidden : int
        Numbers of visible and hidden units.
    weight_scale : float, default 0.01
        Standard deviation of the initial weights, drawn from N(0, weight_scale^2) (Hinton 2010,
        section 8); biases start at zero.
    seed : int or numpy.random.Generator, default 0
        Seed of the initialisation and the default seed of :meth:`fit` and :meth:`sample`.
    dtype : float64 (default) or float32

    Attributes
    ----------
    W : ndarray, shape (n_hidden, n_visible)
        Weights; ``W[j, i]`` couples visible unit i and hidden unit j.
    hidden_bias : ndarray, shape (n_hidden,)
        b in the energy.
    visible_bias : ndarray, shape (n_visible,)
        c in the energy.
    history : ReconstructionHistory or None
        Reconstruction error and pseudo-log-likelihood per epoch of the last :meth:`fit`.
    persistent_chains : ndarray, shape (n_chains, n_visible) or None
        Visible states of the PCD chains (kept between calls to :meth:`fit`).
    """

    def __init__(self, n_visible: int, n_hidden: int, *, weight_scale: float = 0.01, seed=0,
                 dtype=np.float64):
        self.n_visible = check_positive_int("n_visible", n_visible)
        self.n_hidden = check_positive_int("n_hidden", n_hidden)
        self.weight_scale = check_nonnegative("weight_scale", weight_scale)
        self.seed = seed
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.W = (self.weight_scale * rng.standard_normal((self.n_hidden, self.n_visible))).astype(self.dtype)
        self.hidden_bias = np.zeros(self.n_hidden, dtype=self.dtype)
        self.visible_bias = np.zeros(self.n_visible, dtype=self.dtype)
        self.dW = np.zeros_like(self.W)
        self.d_hidden_bias = np.zeros_like(self.hidden_bias)
        self.d_visible_bias = np.zeros_like(self.visible_bias)
        self.history: ReconstructionHistory | None = None
        self.persistent_chains: np.ndarray | None = None
        self._k = 1
        self._persistent = False

    # ------------------------------------------------------------------------------ checking
    def _check_visible(self, X, name: str = "X") -> np.ndarray:
        return check_samples(X, name, self.n_visible, self.dtype, unit_interval=True,
                           why="a binary RBM (its visible units are probabilities of being on)",
                           remedy="rescale it to [0, 1] (e.g. divide by its maximum)")

    # ------------------------------------------------------------------------- conditionals
    def hidden_probability(self, X) -> np.ndarray:
        """P(h_j = 1 | x) = sigmoid(W x + b), shape (n_samples, n_hidden)."""
        return self._hidden_probability(self._check_visible(X))

    def visible_probability(self, H) -> np.ndarray:
        """P(x_i = 1 | h) = sigmoid(W^T h + c), shape (n_samples, n_visible)."""
        H = check_samples(H, "H", self.n_hidden, self.dtype, unit_interval=True,
                        why="an RBM's hidden states", remedy="pass binary states or probabilities")
        return self._visible_probability(H)

    def transform(self, X) -> np.ndarray:
        """The representation used for the next layer: :meth:`hidden_probability`."""
        return self.hidden_probability(X)

    def _hidden_probability(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.W.T
        z += self.hidden_bias
        return sigmoid(z, out=z)

    def _visible_probability(self, h: np.ndarray) -> np.ndarray:
        a = h @ self.W
        a += self.visible_bias
        return sigmoid(a, out=a)

    @staticmethod
    def _sample(probability: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Bernoulli draws with the given probabilities (same shape and dtype)."""
        uniform = rng.random(probability.shape, dtype=probability.dtype)
        return (uniform < probability).astype(probability.dtype)

    # --------------------------------------------------------------------------- monitoring
    def free_energy(self, X) -> np.ndarray:
        """F(x) = -c^T x - sum_j softplus(b_j + W_j x) (nats), shape (n_samples,)."""
        return self._free_energy(self._check_visible(X))

    def _free_energy(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.W.T
        z += self.hidden_bias
        return -(x @ self.visible_bias) - softplus(z).sum(axis=1)

    def reconstruction_error(self, X) -> float:
        """Mean over samples of ``sum_i (x_i - xhat_i)^2`` with the mean-field reconstruction
        ``xhat = P(x = 1 | h = P(h = 1 | x))`` (deterministic, no sampling)."""
        x = self._check_visible(X)
        reconstruction = self._visible_probability(self._hidden_probability(x))
        reconstruction -= x
        return float(np.vdot(reconstruction, reconstruction)) / x.shape[0]

    def pseudo_log_likelihood(self, X) -> float:
        """Mean over samples of the pseudo-log-likelihood ``sum_i log P(x_i | x_{-i})`` (nats).

        Exact over every visible unit: ``log P(x_i | x_{-i}) = log sigmoid(F(x~i) - F(x))`` where
        ``x~i`` is x with unit i flipped (Besag 1975). Costs n_visible passes over the hidden
        layer; the inputs are rounded to binary states first.
        """
        x = np.round(self._check_visible(X))
        z = x @ self.W.T
        z += self.hidden_bias
        hidden_term = softplus(z).sum(axis=1)
        free_energy = -(x @ self.visible_bias) - hidden_term
        total = np.zeros(x.shape[0], dtype=np.float64)
        flipped_z = np.empty_like(z)
        for unit in range(self.n_visible):
            sign = 1 - 2 * x[:, unit]  # +1 turns the unit on, -1 turns it off
            np.multiply.outer(sign, self.W[:, unit], out=flipped_z)
            flipped_z += z
            flipped_free_energy = (free_energy - sign * self.visible_bias[unit] + hidden_term
                                   - softplus(flipped_z, out=flipped_z).sum(axis=1))
            # log sigmoid(d) = -softplus(-d)
            total -= softplus(free_energy - flipped_free_energy)
        return float(total.mean())

    # ------------------------------------------------------------------------------ likelihood
    def log_partition_function(self, method: str = "exact", *, n_runs: int = 100, n_steps: int = 14500,
                               seed=0, base_rate=None, max_units: int = MAX_EXACT_UNITS) -> LogPartition:
        """log Z (nats), exactly or estimated by annealed importance sampling.

        Parameters
        ----------
        method : {"exact", "ais"}, default "exact"
            ``"exact"`` enumerates the 2^n states of the smaller layer (refused past ``max_units``
            units, with a message pointing to ``"ais"``); ``"ais"`` anneals ``n_runs`` runs through
            ``n_steps`` distributions from a base-rate model (Salakhutdinov & Murray 2008).
        n_runs, n_steps : int, default 100 and 14500
            AIS runs and intermediate distributions (the paper's values); see
            :func:`ratenet.rbm_likelihood.ais_log_partition` for the cost.
        seed : int or numpy.random.Generator, default 0
            AIS only. The same seed at every call (common random numbers) makes successive
            estimates during training differ by less noise than independent ones.
        base_rate : array-like, shape (n_visible,), optional
            AIS only: the base model's visible marginals, probabilities in (0, 1). Default: the
            base model keeps this RBM's visible biases.
        max_units : int, default 20
            ``"exact"`` only: the largest layer it enumerates.

        Returns
        -------
        LogPartition
            A float with ``standard_error`` (0 for ``"exact"``) and, for AIS, diagnostics.
        """
        check_choice("method", method, ("exact", "ais"))
        if method == "exact":
            return exact_log_partition(self.W, self.hidden_bias, self.visible_bias, max_units=max_units)
        base = None if base_rate is None else self._base_bias(base_rate)
        return ais_log_partition(self.W, self.hidden_bias, self.visible_bias, base_visible_bias=base,
                                 n_runs=n_runs, n_steps=n_steps, seed=seed)

    def log_likelihood(self, X, method: str = "exact", *, n_runs: int = 100, n_steps: int = 14500,
                       seed=0, max_units: int = MAX_EXACT_UNITS) -> LogLikelihood:
        """Mean log-likelihood per sample, ``mean_n log p(x_n) = -mean_n F(x_n) - log Z`` (nats).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_visible)
            Binary data (every entry 0 or 1): a likelihood is defined for states, not for grey
            levels (binarise them first, e.g. ``X > 0.5``).
        method : {"exact", "ais"}, default "exact"
            How log Z is obtained (:meth:`log_partition_function`). ``"exact"`` is for models whose
            smaller layer has at most ``max_units`` (20) units; a larger model raises a ValueError
            that says to use ``"ais"``.
        n_runs, n_steps, seed, max_units
            As for :meth:`log_partition_function`. The AIS base-rate model's visible marginals
            are those of ``X``, smoothed (:func:`ratenet.rbm_likelihood.base_rate_visible_bias`).

        Returns
        -------
        LogLikelihood
            A float (the mean over samples) with ``standard_error`` (that of the AIS log Z; 0 for
            ``"exact"``), ``per_sample`` log p(x) and the ``log_partition`` used.

        Examples
        --------
        Monitoring training: continue :meth:`fit` one epoch at a time with the same optimiser
        and generator (so that the epochs are those of one long run), and estimate the
        log-likelihood of held-out data after each:

        >>> rng, optimizer, curve = np.random.default_rng(0), rn.SGD(lr=0.1), []
        >>> for epoch in range(20):
        ...     rbm.fit(X_train, epochs=1, optimizer=optimizer, seed=rng, progress=False)
        ...     curve.append(rbm.log_likelihood(X_valid, method="ais", n_steps=1000, seed=0))

        ``n_steps=1000`` keeps each estimate cheap; the fixed AIS ``seed`` makes the curve smooth.
        Use the paper's 14,500 steps for the figure you report.
        """
        x = self._check_visible(X)
        if np.any((x != 0) & (x != 1)):
            raise ValueError("X must be binary (0 or 1) for a log-likelihood: an RBM assigns "
                             "probabilities to binary states; binarise the data first (e.g. X > 0.5)")
        check_choice("method", method, ("exact", "ais"))
        if method == "exact":
            log_partition = self.log_partition_function("exact", max_units=max_units)
        else:
            log_partition = ais_log_partition(self.W, self.hidden_bias, self.visible_bias,
                                              base_visible_bias=base_rate_visible_bias(x), n_runs=n_runs,
                                              n_steps=n_steps, seed=seed)
        return rbm_log_likelihood(self.W, self.hidden_bias, self.visible_bias, x, log_partition)

    def _base_bias(self, base_rate) -> np.ndarray:
        rate = as_finite_array("base_rate", base_rate, ndim=1)
        if rate.shape != (self.n_visible,) or np.any((rate <= 0) | (rate >= 1)):
            raise ValueError(f"base_rate must hold {self.n_visible} probabilities in (0, 1) (the base "
                             f"model's visible marginals), got shape {rate.shape}")
        return np.log(rate) - np.log1p(-rate)

    # ------------------------------------------------------------------------------- training
    def parameters(self) -> list[np.ndarray]:
        """[W, hidden_bias, visible_bias], updated in place by the optimiser."""
        return [self.W, self.hidden_bias, self.visible_bias]

    def gradients(self) -> list[np.ndarray]:
        """CD/PCD estimates of the gradients of the *negative* mean log-likelihood, same order
        as :meth:`parameters` (so that any ratenet optimiser descends them)."""
        return [self.dW, self.d_hidden_bias, self.d_visible_bias]

    def fit(self, X, epochs: int = 10, batch_size: int | None = 32, optimizer=None, *, k: int = 1,
            persistent: bool = False, shuffle: bool = True, seed=None, monitor: bool = True,
            progress: bool | None = None, divergence_factor: float = DIVERGENCE_FACTOR,
            on_divergence: str = "raise") -> ReconstructionHistory:
        """Train by CD-k or PCD-k.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_visible)
            Binary data or probabilities in [0, 1] (used as they are in the positive phase).
        epochs : int, default 10
        batch_size : int or None, default 32
            Samples per update (and number of persistent chains); None: the full batch.
        optimizer : str or Optimizer, optional
            Default ``SGD(lr=0.1)``.
        k : int, default 1
            Gibbs steps per update.
        persistent : bool, default False
            PCD: the negative chains continue from where the previous update left them (and from
            where the previous call to fit left them) instead of restarting at the data.
        shuffle : bool, default True
        seed : int or numpy.random.Generator, optional
            Seed of shuffling and Gibbs sampling; default: the RBM's ``seed``.
        monitor : bool, default True
            After each epoch record the reconstruction error and the pseudo-log-likelihood of (up
            to) 256 training samples in ``history``.
        progress : bool or None
        divergence_factor, on_divergence
            Runaway training (see :func:`ratenet.fit`): the weights, persistent chains and
            optimizer state go back to the last completed epoch (or the start of the call); then
            raise or warn.

        Returns
        -------
        ReconstructionHistory
            ``reconstruction_error``: the mean over the epoch's mini-batches of the squared error of
            the one-step (mean-field) reconstruction; ``pseudo_log_likelihood`` per epoch.

        Raises
        ------
        FloatingPointError
            On runaway training; the weights are restored first.
        RuntimeError
            When the RBM is already training in another thread.
        """
        X = self._check_visible(X)
        epochs = check_positive_int("epochs", epochs)
        k = check_positive_int("k", k)
        optimizer = SGD(lr=0.1) if optimizer is None else get_optimizer(optimizer)
        divergence_factor, on_divergence = check_divergence_options(divergence_factor, on_divergence)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        n_samples = X.shape[0]
        batch_size = batch_size_for(batch_size, n_samples)
        history = ReconstructionHistory()
        with exclusive(self):
            self._k, self._persistent = k, bool(persistent)
            if self._persistent and (self.persistent_chains is None
                                     or self.persistent_chains.shape != (batch_size, self.n_visible)):
                rows = rng.choice(n_samples, size=batch_size, replace=False)     # batch_size <= n_samples
                self.persistent_chains = self._sample(X[rows], rng)
            X_monitor = X[np.sort(rng.permutation(n_samples)[:MONITOR_SAMPLES])]

            def measure(epoch: int, error: float) -> dict:
                logs = {"error": error}
                if monitor:
                    logs["pseudo_log_likelihood"] = self.pseudo_log_likelihood(X_monitor)
                return logs

            def record(epoch: int, logs: dict) -> bool:
                history.record(epoch, logs["error"], optimizer.lr)
                if monitor:
                    history.pseudo_log_likelihood.append(logs["pseudo_log_likelihood"])
                return False

            self.history = history
            run_epochs(self, (X,), optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                       rng=rng, step=lambda batch, _: self.train_step(batch[0], optimizer, rng),
                       measure=measure, record=record, progress=progress, desc="rbm",
                       divergence_factor=divergence_factor, on_divergence=on_divergence)
        return history

    def train_step(self, x: np.ndarray, optimizer: Optimizer, rng: np.random.Generator) -> float:
        """One CD-k/PCD-k update on the batch ``x`` (validated, as :meth:`fit` passes it), with
        the ``k`` and chains of the current :meth:`fit`; returns the batch's reconstruction error
        before the update. Not thread-safe: one thread trains an RBM at a time."""
        error = self._train_batch(x, rng)
        optimizer.update(self.parameters(), self.gradients())
        return error

    def training_state(self) -> list[np.ndarray]:
        """The arrays that training changes, the RBM's own: :meth:`parameters`, and the persistent
        chains when PCD keeps some."""
        chains = [] if self.persistent_chains is None else [self.persistent_chains]
        return [*self.parameters(), *chains]

    def _train_batch(self, x: np.ndarray, rng: np.random.Generator) -> float:
        """Fill the CD/PCD gradients for the batch ``x``; return its reconstruction error."""
        n_samples = x.shape[0]
        positive_hidden = self._hidden_probability(x)
        # monitoring: mean-field one-step reconstruction
        reconstruction = self._visible_probability(positive_hidden)
        reconstruction -= x
        error = float(np.vdot(reconstruction, reconstruction)) / n_samples
        if self._persistent:
            visible = self.persistent_chains
            hidden_probability = self._hidden_probability(visible)
        else:
            visible = x
            hidden_probability = positive_hidden
        for _ in range(self._k):
            hidden = self._sample(hidden_probability, rng)
            visible = self._sample(self._visible_probability(hidden), rng)
            hidden_probability = self._hidden_probability(visible)
        if self._persistent:
            np.copyto(self.persistent_chains, visible)  # in place: the training loop snapshots it
        n_chains = visible.shape[0]
        # gradient of the negative log-likelihood: model term - data term
        np.matmul(hidden_probability.T, visible, out=self.dW)
        self.dW *= 1.0 / n_chains
        self.dW -= (positive_hidden.T @ x) * (1.0 / n_samples)
        np.subtract(hidden_probability.mean(axis=0), positive_hidden.mean(axis=0), out=self.d_hidden_bias)
        np.subtract(visible.mean(axis=0), x.mean(axis=0), out=self.d_visible_bias)
        return error

    # ------------------------------------------------------------------------------- sampling
    def sample(self, n_samples: int = 16, n_steps: int = 1000, *, initial=None, seed=None,
               return_probability: bool = False) -> np.ndarray:
        """Draw visible vectors from the model by block Gibbs sampling.

        Parameters
        ----------
        n_samples : int, default 16
            Number of independent chains (ignored when ``initial`` is given).
        n_steps : int, default 1000
            Gibbs steps (h ~ P(h | x), then x ~ P(x | h)) per chain.
        initial : array-like, shape (n_chains, n_visible), optional
            Starting visible states (e.g. data); default uniform random bits.
        seed : int or numpy.random.Generator, optional
            Default: the RBM's ``seed``.
        return_probability : bool, default False
            Return ``P(x = 1 | h)`` of the last step (smoother images) instead of binary states.

        Returns
        -------
        ndarray, shape (n_chains, n_visible)
        """
        n_steps = check_positive_int("n_steps", n_steps)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        if initial is None:
            n_samples = check_positive_int("n_samples", n_samples)
            visible = (rng.random((n_samples, self.n_visible)) < 0.5).astype(self.dtype)
        else:
            visible = self._check_visible(initial, "initial").copy()
        probability = visible
        for _ in range(n_steps):
            hidden = self._sample(self._hidden_probability(visible), rng)
            probability = self._visible_probability(hidden)
            visible = self._sample(probability, rng)
        return probability if return_probability else visible

    def __repr__(self) -> str:
        return f"RBM({self.n_visible}, {self.n_hidden}, dtype={np.dtype(self.dtype).name})"
