"""Losses E(output, target) with their gradients dE/d(output), averaged over the samples.

Every loss takes the network's last-layer output for a batch, shape (n_samples, n_outputs), and
returns the mean over samples of a per-sample loss together with dE/d(output) of that mean. The
classification losses work on logits (pre-activations) and fuse the output nonlinearity with the
loss: the gradient is simply ``(probability - target) / n_samples`` and nothing overflows or takes
log(0), however large the logits.
"""

from __future__ import annotations

import numpy as np


class Loss:
    """Base class. Subclasses implement :meth:`value_and_gradient`.

    Attributes
    ----------
    name : str
        Registry name.
    is_classification : bool
        True when targets are class labels and accuracy is meaningful.
    """

    name = ""
    is_classification = False

    def value_and_gradient(self, output: np.ndarray, target: np.ndarray,
                           out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Return ``(E, dE/d(output))`` for a batch.

        Parameters
        ----------
        output : ndarray, shape (n_samples, n_outputs)
            Network output (logits for the fused classification losses).
        target : ndarray
            Targets as returned by :meth:`prepare_target`.
        out : ndarray, shape of ``output``, optional
            Array to write the gradient into (avoids an allocation per step).
        """
        raise NotImplementedError

    def value(self, output: np.ndarray, target: np.ndarray) -> float:
        """E alone (the default computes the gradient too)."""
        return self.value_and_gradient(output, target)[0]

    def prepare_target(self, y, n_outputs: int, dtype) -> np.ndarray:
        """Validate targets ``y`` and return them in the form :meth:`value_and_gradient` takes.

        Default (regression): float array of shape (n_samples, n_outputs); a 1-D ``y`` is accepted
        when there is a single output.
        """
        target = _finite_float_array(y, dtype)
        if target.ndim == 1 and n_outputs == 1:
            target = target.reshape(-1, 1)
        if target.ndim != 2 or target.shape[1] != n_outputs:
            hint = ""
            if target.ndim == 1 and n_outputs > 1 and np.issubdtype(np.asarray(y).dtype, np.integer):
                hint = (f"; y looks like class labels: for classification give the network "
                        f"loss='softmax_cross_entropy' (MLP: output='softmax'), or one-hot rows of "
                        f"{n_outputs} columns for {type(self).__name__}")
            raise ValueError(f"y must have shape (n_samples, {n_outputs})"
                             + (" or (n_samples,)" if n_outputs == 1 else "") + f", got {target.shape}"
                             + hint)
        return target

    def output_to_probability(self, output: np.ndarray) -> np.ndarray:
        """Class probabilities from the network output (classification losses only)."""
        raise TypeError(f"{type(self).__name__} is not a classification loss; it has no probabilities")

    def decision(self, output: np.ndarray) -> np.ndarray:
        """What the network predicts from its output, shape (n_samples, n_outputs).

        Regression (default): the outputs themselves, shape (n_samples,) for one output (a copy),
        else (n_samples, n_outputs). Classification losses return labels.
        """
        return output[:, 0].copy() if output.shape[1] == 1 else output

    def accuracy(self, output: np.ndarray, target: np.ndarray) -> float:
        """Fraction of samples whose whole label is right (classification losses only); ``target``
        as :meth:`prepare_target` returns it."""
        raise TypeError(f"{type(self).__name__} is not a classification loss; accuracy is undefined")

    def config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class MSE(Loss):
    """Mean squared error, E = (1/N) sum_n 1/2 sum_k (y_nk - t_nk)^2.

    The 1/2 makes the gradient the plain error: dE/dy = (y - t) / N.
    """

    name = "mse"

    def value_and_gradient(self, output, target, out=None):
        out = np.subtract(output, target, out=out)
        value = 0.5 * float(np.vdot(out, out)) / output.shape[0]
        out /= output.shape[0]
        return value, out


class L1Error(Loss):
    """L1 error of the perceptron rule, ``E = (1/N) sum_n sum_k |t_nk - y_nk|``.

    Its (sub)gradient is dE/dy = sign(y - t) / N (0 where y = t). With a threshold unit taken as
    having unit derivative, a gradient step on E is the perceptron rule w <- w + lr (t - y) x
    (the notes, Chapter 7).
    """

    name = "l1"

    def value_and_gradient(self, output, target, out=None):
        out = np.subtract(output, target, out=out)
        value = float(np.abs(out).sum()) / output.shape[0]
        np.sign(out, out=out)
        out /= output.shape[0]
        return value, out


class BinaryCrossEntropy(Loss):
    """Bernoulli cross-entropy, E = -(1/N) sum_n sum_k [t log p + (1 - t) log(1 - p)].

    Parameters
    ----------
    from_logits : bool
        True (default): ``output`` holds logits z and p = sigmoid(z) is fused into the loss,
        evaluated as ``E = softplus(z) - t z`` with ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``, never
        overflowing; dE/dz = (sigmoid(z) - t) / N. False: ``output`` holds probabilities (after a
        Sigmoid layer), clipped to [1e-12, 1 - 1e-12] so that log(0) never happens;
        dE/dp = (p - t) / (p (1 - p)) / N.

    Targets are 0/1 (or probabilities in [0, 1]), shape (n_samples, n_outputs); a 1-D ``y`` is
    accepted for one output. Several outputs are independent labels (multi-label).
    """

    name = "binary_cross_entropy"
    is_classification = True
    clip = 1e-12

    def __init__(self, from_logits: bool = True):
        self.from_logits = bool(from_logits)

    def prepare_target(self, y, n_outputs, dtype):
        target = super().prepare_target(y, n_outputs, dtype)
        if np.any((target < 0) | (target > 1)):
            raise ValueError("y must hold binary-cross-entropy targets in [0, 1] (labels 0 or 1)")
        return target

    def value_and_gradient(self, output, target, out=None):
        n_samples = output.shape[0]
        if self.from_logits:
            out = sigmoid(output, out=out)
            # softplus(z) = max(z, 0) - log(max(p, 1 - p)), from the p = sigmoid(z) needed for the
            # gradient anyway: absolute error ~ eps per entry (that of p itself), never log(0) since
            # max(p, 1 - p) >= 1/2, and several times faster than np.logaddexp(0, z) (np.log is
            # vectorised, np.log1p is not).
            larger = np.subtract(1, out)
            np.maximum(out, larger, out=larger)
            log_larger_sum = float(np.log(larger, out=larger).sum())
            positive_sum = float(np.maximum(output, 0, out=larger).sum())
            value = (positive_sum - log_larger_sum - float(np.vdot(target, output))) / n_samples
            out -= target
            out /= n_samples
            return value, out
        p = np.clip(output, self.clip, 1 - self.clip)
        value = -float(np.sum(target * np.log(p) + (1 - target) * np.log1p(-p))) / n_samples
        out = np.subtract(p, target, out=out)
        out /= p * (1 - p) * n_samples
        return value, out

    def output_to_probability(self, output):
        return sigmoid(output) if self.from_logits else np.array(output, copy=True)

    def decision(self, output):
        """0/1 labels, (n_samples,) for one output, else (n_samples, n_outputs) (multi-label)."""
        labels = (output > self._threshold).astype(np.intp)
        return labels[:, 0] if output.shape[1] == 1 else labels

    def accuracy(self, output, target):
        correct = (output > self._threshold) == (target > 0.5)
        return float(np.mean(correct.all(axis=1)))

    @property
    def _threshold(self) -> float:
        """The output at probability 1/2: logit 0, or probability 0.5."""
        return 0.0 if self.from_logits else 0.5

    def config(self):
        return {"from_logits": self.from_logits}


class CategoricalLoss(Loss):
    """Base of the losses over K exclusive classes, on the logits z of shape (N, K).

    Targets are integer labels in [0, K), shape (n_samples,), or one-hot / probability rows of
    shape (n_samples, K). A network with such a loss predicts the argmax of its outputs, and its
    accuracy is that of the argmax.
    """

    is_classification = True

    def prepare_target(self, y, n_outputs, dtype):
        target = np.asarray(y)
        if target.ndim == 1:
            if target.dtype.kind == "f":
                if not np.all(np.isfinite(target)) or np.any(target != np.round(target)):
                    raise ValueError("y must hold integer class labels (or one-hot rows)")
            elif target.dtype.kind not in "iub":
                raise TypeError(f"y must hold integer class labels, got dtype {target.dtype}")
            # the range is checked in y's own dtype: a cast first would wrap large unsigned labels
            if target.size and (target.min() < 0 or target.max() >= n_outputs):
                raise ValueError(f"y holds labels outside the class range [0, {n_outputs - 1}] "
                                 f"(found {target.min()}..{target.max()}); the network has "
                                 f"{n_outputs} outputs")
            return target.astype(np.intp)
        target = _finite_float_array(y, dtype)
        if target.ndim != 2 or target.shape[1] != n_outputs:
            raise ValueError(f"y must be integer labels of shape (n_samples,) or one-hot rows of shape "
                             f"(n_samples, {n_outputs}), got {target.shape}")
        if np.any(target < 0) or not np.allclose(target.sum(axis=1), 1):
            raise ValueError("one-hot y rows must be non-negative and sum to 1")
        return target

    def decision(self, output):
        """Integer labels, the argmax of the logits, shape (n_samples,)."""
        return output.argmax(axis=1)

    def accuracy(self, output, target):
        true = target if target.ndim == 1 else target.argmax(axis=1)
        return float(np.mean(output.argmax(axis=1) == true))


class SoftmaxCrossEntropy(CategoricalLoss):
    """Softmax followed by categorical cross-entropy, fused, on logits z of shape (N, K).

    E = (1/N) sum_n [logsumexp(z_n) - z_n,t_n] = -(1/N) sum_n log softmax(z_n)_t_n, computed after
    subtracting each row's maximum so that exp never overflows; dE/dz = (softmax(z) - onehot(t)) / N
    (the notes' y - t).

    Targets are integer labels in [0, K), shape (n_samples,), or one-hot / probability rows of
    shape (n_samples, K).
    """

    name = "softmax_cross_entropy"

    def value_and_gradient(self, output, target, out=None):
        n_samples = output.shape[0]
        row_max = output.max(axis=1, keepdims=True)
        out = np.subtract(output, row_max, out=out)
        np.exp(out, out=out)
        row_sum = out.sum(axis=1, keepdims=True)
        log_sum = np.log(row_sum)
        if target.ndim == 1:
            rows = np.arange(n_samples)
            picked = output[rows, target] - row_max[:, 0]
            value = float(log_sum.sum() - picked.sum()) / n_samples
            out /= row_sum
            out[rows, target] -= 1
        else:
            # E = sum_k t_k (logsumexp(z) - z_k), with sum_k t_k = 1
            value = float(np.vdot(target, log_sum + row_max - output)) / n_samples
            out /= row_sum
            out -= target
        out /= n_samples
        return value, out

    def output_to_probability(self, output):
        return softmax(output)


class SparsemaxLoss(CategoricalLoss):
    """The sparsemax loss of Martins & Astudillo (2016), on logits z of shape (N, K).

    For a target distribution q (one-hot for a label k) and p = sparsemax(z), the Euclidean
    projection of z onto the probability simplex (:class:`~ratenet.Sparsemax`), with support
    S(z) = {j : p_j > 0} and threshold tau(z):

        L(z; q) = -q . z + 1/2 sum_{j in S(z)} (z_j^2 - tau(z)^2) + 1/2 ||q||^2
                = 1/2 ||q||^2 - q . z + z . p - 1/2 ||p||^2,

    averaged over the samples (for a label k, -z_k + 1/2 sum_S (z_j^2 - tau^2) + 1/2, the paper's
    Eq. 19). It is convex, differentiable, non-negative, zero exactly when p = q, and its gradient
    is the notes' "probability minus target": dL/dz = sparsemax(z) - q (divided by N here, for the
    mean). Unlike softmax cross-entropy it stops pushing once the right class's probability is 1:
    trained networks give exact zeros to the classes they rule out.

    ``predict`` gives the argmax of z (which is also that of sparsemax(z)); ``predict_proba`` gives
    sparsemax(z), rows summing to 1 with exact zeros. Targets are integer labels in [0, K) or
    probability rows of shape (n_samples, K), as for :class:`SoftmaxCrossEntropy`.

    References
    ----------
    A. F. T. Martins and R. F. Astudillo, "From softmax to sparsemax: a sparse model of attention
    and multi-label classification", ICML 2016, arXiv:1602.02068 (Section 3, Eqs. 18-19).
    """

    name = "sparsemax"

    def value_and_gradient(self, output, target, out=None):
        n_samples, n_classes = output.shape
        # L is unchanged when a constant is added to a row of z (the two z-terms shift by the same
        # amount), so it is evaluated on z - max z, as sparsemax itself is.
        shifted = output - output.max(axis=1, keepdims=True)
        out = sparsemax(shifted, out=out)
        # 1/2 ||q||^2 - q.z + z.p - 1/2 ||p||^2, with p in ``out``
        value = float(np.vdot(shifted, out)) - 0.5 * float(np.vdot(out, out))
        if target.ndim == 1:
            rows = np.arange(n_samples)
            value += 0.5 * n_samples - float(shifted[rows, target].sum())
            out[rows, target] -= 1
        else:
            value += 0.5 * float(np.vdot(target, target)) - float(np.vdot(target, shifted))
            out -= target
        out /= n_samples
        # rounding can leave -1e-17 for a sample the network gets exactly right
        return max(value / n_samples, 0.0), out

    def output_to_probability(self, output):
        return sparsemax(np.asarray(output))


def softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis of ``z``, ``e^{z - max z} / sum e^{z - max z}``.

    Stable for logits of any size, infinite ones included: entries equal to their row's maximum
    are shifted to exactly 0 (so ``[0, inf]`` gives ``[0, 1]``, not ``inf - inf``). ``out`` may be
    ``z`` itself.
    """
    row_max = np.max(z, axis=-1, keepdims=True)
    at_max = z == row_max
    with np.errstate(over="ignore"):  # a difference beyond the float range is -inf: e^-inf = 0
        out = np.subtract(z, row_max, out=out, where=~at_max)
    out[at_max] = 0
    np.exp(out, out=out)
    out /= np.sum(out, axis=-1, keepdims=True)
    return out


def sparsemax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Sparsemax over the last axis of ``z``: the Euclidean projection onto the probability simplex
    (Martins & Astudillo 2016, Algorithm 1), ``max(z - tau(z), 0)`` with the threshold tau making
    each row sum to 1; see :class:`ratenet.Sparsemax`. Infinite logits are handled as by
    :func:`softmax`. ``out`` may be ``z`` itself.
    """
    row_max = np.max(z, axis=-1, keepdims=True)
    at_max = z == row_max  # shifted to exactly 0, so that an infinite maximum gives no inf - inf
    with np.errstate(over="ignore"):
        shifted = np.subtract(z, row_max, out=np.empty_like(z), where=~at_max)
    shifted[at_max] = 0
    descending = -np.sort(-shifted, axis=-1)
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    # Far below the support, sums and products may overflow to -inf; both sides of the test
    # then do (k z_(k) <= sum_{j<=k} z_(j)), which keeps those entries out, as they should be.
    with np.errstate(over="ignore"):
        cumulative = np.cumsum(descending, axis=-1)
        in_support = 1 + k * descending > cumulative
    support_size = np.sum(in_support, axis=-1, keepdims=True)  # >= 1: the largest is always in
    support_sum = np.take_along_axis(cumulative, support_size - 1, axis=-1)
    tau = (support_sum - 1) / support_size.astype(z.dtype)
    out = np.subtract(shifted, tau, out=out)
    return np.maximum(out, 0, out=out)


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + e^{-z})`` to full relative precision on both sides.

    Evaluated from ``e = exp(-|z|)`` (never overflows) as ``e / (1 + e)`` for z < 0, which keeps
    every significant digit as the result goes to 0 (1e-300 at z = -690.8, the smallest normal
    numbers below that), and ``1 - e / (1 + e)`` for z >= 0. ``out`` may be ``z`` itself.
    """
    negative = z < 0
    out = np.abs(z, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    denominator = out + 1
    out /= denominator
    np.subtract(1, out, out=out, where=~negative)
    return out


def softplus(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``log(1 + e^z)`` as ``max(z, 0) + log1p(e^{-|z|})``: never overflows, and (unlike
    ``np.logaddexp(0, z)``) runs at the speed of a few vectorised passes. ``out`` may be ``z`` itself."""
    decay = np.abs(z)
    np.negative(decay, out=decay)
    np.exp(decay, out=decay)
    np.log1p(decay, out=decay)
    out = np.maximum(z, 0, out=out)
    out += decay
    return out


def _finite_float_array(y, dtype) -> np.ndarray:
    try:
        target = np.asarray(y, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"y must be numeric array-like, got {type(y).__name__}") from error
    if not np.all(np.isfinite(target)):
        raise ValueError("y must be finite; it contains NaN or inf")
    return target


_LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (MSE, L1Error, BinaryCrossEntropy,
                                                            SoftmaxCrossEntropy, SparsemaxLoss)}
_ALIASES = {"bce": "binary_cross_entropy", "cross_entropy": "softmax_cross_entropy",
            "categorical_cross_entropy": "softmax_cross_entropy", "l1_error": "l1",
            "sparsemax_loss": "sparsemax"}


def get_loss(loss: str | Loss) -> Loss:
    """Return a :class:`Loss` for a registry name or pass an instance through.

    Names: ``"mse"``, ``"binary_cross_entropy"`` (``"bce"``), ``"softmax_cross_entropy"``
    (``"cross_entropy"``), ``"sparsemax"`` (``"sparsemax_loss"``), ``"l1"``. An unknown name raises
    ValueError listing them.
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = _ALIASES.get(loss.lower(), loss.lower())
        if key in _LOSSES:
            return _LOSSES[key]()
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_LOSSES)} or pass a Loss instance")
    raise TypeError(f"loss must be a name or a Loss, got {type(loss).__name__}")
