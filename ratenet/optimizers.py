"""Optimisers: small classes with one job, ``update(params, grads)``, which changes the parameter
arrays in place.

State (velocities, moment estimates, step count) is created on the first update for the given list
of parameter arrays and is exposed by :meth:`Optimizer.state_dict` as plain arrays and numbers, so
that a trained network and its optimiser can be saved without pickling. Updates allocate nothing
per step: every intermediate goes into a scratch array kept with the state.

Full-batch gradient descent, single-example SGD and mini-batch SGD are the same :class:`SGD`; the
batch size is chosen in ``fit`` (``batch_size=None`` for the full batch, ``1`` for single examples).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .validation import check_fraction, check_nonnegative, check_positive


class Optimizer:
    """Base class. Subclasses implement :meth:`_update_one` and name their state arrays in
    :attr:`slots`.

    Parameters
    ----------
    lr : float
        Learning rate (step size) alpha, > 0. Schedules change it between epochs.

    Attributes
    ----------
    step_count : int
        Steps taken since the state was created (Adam's bias correction uses it). The optimiser
        counts its own steps: :meth:`update` counts one, and so does :meth:`step_applied` for a
        step that a model folded into its backward products.
    state : dict of list of ndarray, or None
        The state arrays by slot name (one array per parameter), None before the first step.
        They are the optimiser's own arrays (not copies).
    """

    name = ""
    #: Names of the state arrays kept per parameter (e.g. Adam's first and second moments).
    slots: tuple[str, ...] = ()
    #: Slots that hold sums or averages of squares, never negative.
    nonnegative_slots: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = check_positive("lr", lr)
        self.step_count = 0
        self._state: dict[str, list[np.ndarray]] | None = None
        self._scratch: list[np.ndarray] = []

    @property
    def state(self) -> dict[str, list[np.ndarray]] | None:
        return self._state

    @property
    def fused_learning_rate(self) -> float | None:
        """The learning rate when a step of this optimiser is plain gradient descent with no state
        (``w <- w - lr g``), which a model may fold into its backward matrix products instead of
        storing the gradients; None for every optimiser with state. A model that folds a step
        reports it with :meth:`step_applied`."""
        return None

    def step_applied(self) -> None:
        """Count a step that a model applied itself (see :attr:`fused_learning_rate`)."""
        if self.fused_learning_rate is None:
            raise TypeError(f"{type(self).__name__} keeps state: its steps cannot be applied by the "
                            "model; call update(params, grads)")
        self.step_count += 1

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Apply one step to ``params`` in place, given ``grads`` of the same shapes."""
        if len(params) != len(grads):
            raise ValueError(f"params and grads differ in length ({len(params)} vs {len(grads)})")
        if not _fits(self._state, self.slots, params):
            if self._state is not None:
                warnings.warn(f"{type(self).__name__}: its state belongs to parameters of other shapes "
                              "(another network?); the state and the step count start afresh",
                              stacklevel=2)
                self.step_count = 0
            self._state = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}
        if not _fits({"scratch": self._scratch}, ("scratch",), params):
            self._scratch = [np.empty_like(p) for p in params]
        self.step_count += 1
        state = self._state
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            slots = {slot: state[slot][index] for slot in self.slots}
            self._update_one(param, grad, self._scratch[index], **slots)

    def _update_one(self, param, grad, scratch, **slots) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Hyper-parameters, step count and state arrays (``"<slot>.<index>"``), JSON/npz-ready."""
        state = {"name": self.name, "step_count": self.step_count, **self.config()}
        if self._state is not None:
            for slot in self.slots:
                for index, array in enumerate(self._state[slot]):
                    state[f"{slot}.{index}"] = array.copy()
        return state

    def load_state_dict(self, state: dict, params: list[np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned, for the parameter list ``params``.

        Raises ``ValueError`` when a saved array does not fit its parameter; the optimiser is then
        left as it was.
        """
        arrays = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}
        for slot in self.slots:
            for index, param in enumerate(params):
                key = f"{slot}.{index}"
                if key in state:
                    array = np.asarray(state[key], dtype=param.dtype)
                    if array.shape != param.shape:
                        raise ValueError(f"optimizer state {key} has shape {array.shape}, "
                                         f"parameter {index} has {param.shape}")
                    arrays[slot][index][...] = array
        for key, value in self.config().items():
            setattr(self, key, type(value)(state.get(key, value)))
        self.step_count = int(state.get("step_count", 0))
        self._state = arrays

    def copy_state(self, into: dict[str, list[np.ndarray]] | None = None
                   ) -> dict[str, list[np.ndarray]] | None:
        """A copy of :attr:`state` (None when there is none), written into ``into``'s arrays when
        they have its layout, so that a snapshot taken again and again allocates once."""
        if self._state is None:
            return None
        if into is None or into.keys() != self._state.keys() or not all(
                _fits(into, (slot,), arrays) for slot, arrays in self._state.items()):
            into = {slot: [np.empty_like(array) for array in arrays] for slot, arrays in self._state.items()}
        for slot, arrays in self._state.items():
            for array, saved in zip(arrays, into[slot], strict=True):
                np.copyto(saved, array)
        return into

    def restore(self, state: dict[str, list[np.ndarray]] | None, step_count: int, lr: float) -> None:
        """Set the state arrays (copied in, by slot), step count and learning rate, e.g. back to a
        snapshot that the training loop took. ``state=None`` forgets the state."""
        if state is None:
            self._state = None
        else:
            if self._state is None or not all(_fits(self._state, (slot,), state[slot])
                                              for slot in self.slots):
                self._state = {slot: [np.empty_like(array) for array in state[slot]] for slot in self.slots}
            for slot in self.slots:
                for live, saved in zip(self._state[slot], state[slot], strict=True):
                    np.copyto(live, saved)
        self.step_count = int(step_count)
        self.lr = lr

    def check_state(self) -> None:
        """Raise ValueError when the state holds values an update cannot use: NaN, infinity, or a
        negative sum of squares. :func:`ratenet.load_checkpoint` refuses such a file."""
        for slot, arrays in (self._state or {}).items():
            for index, array in enumerate(arrays):
                if not np.isfinite(array).all():
                    raise ValueError(f"optimizer state {slot}.{index} holds NaN or infinite values")
                if slot in self.nonnegative_slots and np.any(array < 0):
                    raise ValueError(f"optimizer state {slot}.{index} holds negative values")

    def reset(self) -> None:
        """Forget the state (velocities, moments, step count)."""
        self._state = None
        self._scratch = []
        self.step_count = 0

    def config(self) -> dict:
        return {"lr": self.lr}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class SGD(Optimizer):
    """Plain gradient descent, w <- w - lr * dE/dw.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate (scikit-learn's and PyTorch's customary starting value).
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    @property
    def fused_learning_rate(self) -> float | None:
        return self.lr if type(self) is SGD else None

    def _update_one(self, param, grad, scratch):
        np.multiply(grad, -self.lr, out=scratch)
        param += scratch


class Momentum(Optimizer):
    """Gradient descent with momentum, in either of the notes' two forms.

    Classic (``dampened=False``, Polyak 1964): V <- beta V - lr dE/dw; w <- w + V.
    Dampened (``dampened=True``, an exponential moving average of the gradient):
    V <- beta V - (1 - beta) dE/dw; w <- w + lr V. Its steps are (1 - beta) times the classic ones
    for the same lr.

    Parameters
    ----------
    lr : float, default 0.01
    beta : float in [0, 1), default 0.9
        Momentum coefficient (0.9 as in Sutskever et al. 2013 and the notes).
    dampened : bool, default False

    Notes
    -----
    PyTorch's ``torch.optim.SGD(lr, momentum=mu, dampening=d)`` keeps a buffer in gradient units,
    ``v <- mu v + (1 - d) g`` with ``v = g`` on the first step (no dampening then), and steps
    ``w <- w - lr v``. Where the conventions differ:

    - Classic form, PyTorch's ``dampening=0``: with a constant learning rate the two give the same
      parameters at every step (``V = -lr v``). When lr changes between steps (a schedule), they
      differ: here V accumulates steps already scaled by the lr in force when each gradient
      arrived, while PyTorch multiplies the whole buffer, old gradients included, by the current lr.
    - Dampened form, PyTorch's ``dampening=beta``: here ``-V`` starts at ``(1 - beta) g_1``,
      PyTorch's ``v`` at ``g_1``, so their buffers differ by ``beta^t g_1`` at step t and the
      parameters by ``lr g_1 (beta + beta^2 + ... + beta^t)`` (here behind PyTorch), which
      approaches ``lr g_1 beta / (1 - beta)``: PyTorch's first step is the full gradient, the
      moving average here starts from zero (as Adam's first moment does, without Adam's bias
      correction).
    """

    name = "momentum"
    slots = ("velocity",)

    def __init__(self, lr: float = 0.01, beta: float = 0.9, dampened: bool = False):
        super().__init__(lr)
        self.beta = check_fraction("beta", beta)
        self.dampened = bool(dampened)

    def _update_one(self, param, grad, scratch, velocity):
        velocity *= self.beta
        np.multiply(grad, (1 - self.beta) if self.dampened else self.lr, out=scratch)
        velocity -= scratch
        if self.dampened:
            np.multiply(velocity, self.lr, out=scratch)
            param += scratch
        else:
            param += velocity

    def config(self):
        return {"lr": self.lr, "beta": self.beta, "dampened": self.dampened}


class Nesterov(Optimizer):
    """Nesterov accelerated gradient in the form of Sutskever et al. (2013) / Bengio et al. (2013):
    the gradient is taken at the stored parameters, which track the look-ahead point.

    V <- beta V - lr g;  w <- w + beta V - lr g.

    Parameters
    ----------
    lr : float, default 0.01
    beta : float in [0, 1), default 0.9
    """

    name = "nesterov"
    slots = ("velocity",)

    def __init__(self, lr: float = 0.01, beta: float = 0.9):
        super().__init__(lr)
        self.beta = check_fraction("beta", beta)

    def _update_one(self, param, grad, scratch, velocity):
        velocity *= self.beta
        np.multiply(grad, self.lr, out=scratch)
        velocity -= scratch           # V = beta V - lr g
        param -= scratch              # w - lr g
        np.multiply(velocity, self.beta, out=scratch)
        param += scratch              # + beta V

    def config(self):
        return {"lr": self.lr, "beta": self.beta}


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011): G <- G + g^2, then, with ``eps_inside_sqrt=False``
    (default), w <- w - lr g / (sqrt(G) + eps), or with ``eps_inside_sqrt=True``,
    w <- w - lr g / sqrt(G + eps).

    Parameters
    ----------
    lr : float, default 0.01
    eps : float, default 1e-10
        Defaults as in PyTorch's Adagrad.
    eps_inside_sqrt : bool, default False
        Where eps enters the denominator. False: ``sqrt(G) + eps``, PyTorch's and Keras's form and
        Goodfellow, Bengio & Courville (2016), Algorithm 8.4. True: ``sqrt(G + eps)``, the notes'
        form. The two agree when ``G >> eps``; they differ for coordinates whose gradients have
        been ~0 so far: the step is bounded by ``lr |g| / eps`` outside and ``lr |g| / sqrt(eps)``
        inside, so the same eps means a far stronger floor inside (use ``eps`` about the square of
        the outside value for the same floor, e.g. 1e-20 for 1e-10).
    """

    name = "adagrad"
    slots = ("sum_squares",)
    nonnegative_slots = ("sum_squares",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-10, eps_inside_sqrt: bool = False):
        super().__init__(lr)
        self.eps = check_nonnegative("eps", eps)
        self.eps_inside_sqrt = _check_bool("eps_inside_sqrt", eps_inside_sqrt)

    def _update_one(self, param, grad, scratch, sum_squares):
        np.square(grad, out=scratch)
        sum_squares += scratch
        _root_mean_square_plus_eps(sum_squares, self.eps, self.eps_inside_sqrt, out=scratch)
        np.divide(grad, scratch, out=scratch)
        scratch *= self.lr
        param -= scratch

    def config(self):
        return {"lr": self.lr, "eps": self.eps, "eps_inside_sqrt": self.eps_inside_sqrt}


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012, lecture 6e): S <- rho S + (1 - rho) g^2, then, with
    ``eps_inside_sqrt=False`` (default), w <- w - lr g / (sqrt(S) + eps), or with
    ``eps_inside_sqrt=True``, w <- w - lr g / sqrt(S + eps).

    Parameters
    ----------
    lr : float, default 0.001
    rho : float in [0, 1), default 0.9
        Decay of the mean square (the lecture's 0.9; PyTorch's ``alpha``).
    eps : float, default 1e-8
    eps_inside_sqrt : bool, default False
        Where eps enters the denominator. False: ``sqrt(S) + eps``, PyTorch's ``RMSprop`` (with
        ``momentum=0, centered=False``). True: ``sqrt(S + eps)``, the notes' form and Goodfellow,
        Bengio & Courville (2016), Algorithm 8.5 (with eps = 1e-6); TensorFlow 1's
        ``RMSPropOptimizer`` too. The same eps is a far stronger floor inside the root (see
        :class:`Adagrad`).
    """

    name = "rmsprop"
    slots = ("mean_square",)
    nonnegative_slots = ("mean_square",)

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8,
                 eps_inside_sqrt: bool = False):
        super().__init__(lr)
        self.rho = check_fraction("rho", rho)
        self.eps = check_nonnegative("eps", eps)
        self.eps_inside_sqrt = _check_bool("eps_inside_sqrt", eps_inside_sqrt)

    def _update_one(self, param, grad, scratch, mean_square):
        mean_square *= self.rho
        np.square(grad, out=scratch)
        scratch *= 1 - self.rho
        mean_square += scratch
        _root_mean_square_plus_eps(mean_square, self.eps, self.eps_inside_sqrt, out=scratch)
        np.divide(grad, scratch, out=scratch)
        scratch *= self.lr
        param -= scratch

    def config(self):
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps, "eps_inside_sqrt": self.eps_inside_sqrt}


def _root_mean_square_plus_eps(accumulator, eps: float, inside: bool, out):
    """``sqrt(accumulator + eps)`` when ``inside``, else ``sqrt(accumulator) + eps``, into ``out``."""
    if inside:
        np.add(accumulator, eps, out=out)
        return np.sqrt(out, out=out)
    np.sqrt(accumulator, out=out)
    out += eps
    return out


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1), with bias-corrected moment estimates.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    w <- w - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t).

    Parameters
    ----------
    lr : float, default 0.001
    beta1 : float in [0, 1), default 0.9
    beta2 : float in [0, 1), default 0.999
    eps : float, default 1e-8
        The paper's defaults.
    """

    name = "adam"
    slots = ("first_moment", "second_moment")
    nonnegative_slots = ("second_moment",)

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = check_fraction("beta1", beta1)
        self.beta2 = check_fraction("beta2", beta2)
        self.eps = check_nonnegative("eps", eps)

    def _update_one(self, param, grad, scratch, first_moment, second_moment):
        t = self.step_count
        first_moment *= self.beta1
        np.multiply(grad, 1 - self.beta1, out=scratch)
        first_moment += scratch
        second_moment *= self.beta2
        np.square(grad, out=scratch)
        scratch *= 1 - self.beta2
        second_moment += scratch
        # sqrt(v_hat) + eps, then m_hat / that
        np.sqrt(second_moment, out=scratch)
        scratch *= 1 / math.sqrt(1 - self.beta2 ** t)
        scratch += self.eps
        np.divide(first_moment, scratch, out=scratch)
        scratch *= self.lr / (1 - self.beta1 ** t)
        param -= scratch

    def config(self):
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _fits(state: dict | None, slots: tuple[str, ...], params: list[np.ndarray]) -> bool:
    """True when ``state`` holds, for every slot, one array of each parameter's shape and dtype."""
    if state is None:
        return False
    return all(len(state[slot]) == len(params)
               and all(array.shape == param.shape and array.dtype == param.dtype
                       for array, param in zip(state[slot], params, strict=True))
               for slot in slots)


_OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad,
                                                                     RMSProp, Adam)}


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """Return an :class:`Optimizer` for a name (with its default hyper-parameters) or pass an
    instance through. An unknown name raises ValueError listing the known ones."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        try:
            return _OPTIMIZERS[optimizer.lower()]()
        except KeyError:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(_OPTIMIZERS)} "
                             "or pass an Optimizer instance") from None
    raise TypeError(f"optimizer must be a name or an Optimizer, got {type(optimizer).__name__}")
