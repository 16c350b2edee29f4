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

import numpy as np

from .validation import check_nonnegative, check_positive


class Optimizer:
    """Base class. Subclasses implement :meth:`_update_one` and list their state in ``_slots``.

    Parameters
    ----------
    lr : float
        Learning rate (step size) alpha, > 0. Schedules change it between epochs.
    """

    name = ""
    _slots: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = check_positive("lr", lr)
        self.step_count = 0
        self._state: dict[str, list[np.ndarray]] | None = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Apply one step to ``params`` in place, given ``grads`` of the same shapes."""
        if len(params) != len(grads):
            raise ValueError(f"params and grads differ in length ({len(params)} vs {len(grads)})")
        if self._state is None or len(self._state["scratch"]) != len(params) or any(
                s.shape != p.shape or s.dtype != p.dtype for s, p in zip(self._state["scratch"], params,
                                                                         strict=True)):
            self._state = {slot: [np.zeros_like(p) for p in params] for slot in (*self._slots, "scratch")}
        self.step_count += 1
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            slots = {slot: self._state[slot][index] for slot in self._slots}
            self._update_one(param, grad, self._state["scratch"][index], **slots)

    def _update_one(self, param, grad, scratch, **slots) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Hyper-parameters, step count and state arrays (``"<slot>.<index>"``), JSON/npz-ready."""
        state = {"name": self.name, "step_count": self.step_count, **self.config()}
        if self._state is not None:
            for slot in self._slots:
                for index, array in enumerate(self._state[slot]):
                    state[f"{slot}.{index}"] = array.copy()
        return state

    def load_state_dict(self, state: dict, params: list[np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned, for the parameter list ``params``."""
        for key, value in self.config().items():
            setattr(self, key, type(value)(state.get(key, value)))
        self.step_count = int(state.get("step_count", 0))
        self._state = {slot: [np.zeros_like(p) for p in params] for slot in (*self._slots, "scratch")}
        for slot in self._slots:
            for index, param in enumerate(params):
                key = f"{slot}.{index}"
                if key in state:
                    array = np.asarray(state[key], dtype=param.dtype)
                    if array.shape != param.shape:
                        raise ValueError(f"optimizer state {key} has shape {array.shape}, "
                                         f"parameter has {param.shape}")
                    self._state[slot][index][...] = array

    def reset(self) -> None:
        """Forget the state (velocities, moments, step count)."""
        self._state = None
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
    _slots = ("velocity",)

    def __init__(self, lr: float = 0.01, beta: float = 0.9, dampened: bool = False):
        super().__init__(lr)
        self.beta = _check_unit_interval("beta", beta)
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
    _slots = ("velocity",)

    def __init__(self, lr: float = 0.01, beta: float = 0.9):
        super().__init__(lr)
        self.beta = _check_unit_interval("beta", beta)

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
    _slots = ("sum_squares",)

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
    _slots = ("mean_square",)

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8,
                 eps_inside_sqrt: bool = False):
        super().__init__(lr)
        self.rho = _check_unit_interval("rho", rho)
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
    _slots = ("first_moment", "second_moment")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = _check_unit_interval("beta1", beta1)
        self.beta2 = _check_unit_interval("beta2", beta2)
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


def _check_unit_interval(name: str, value) -> float:
    number = check_nonnegative(name, value)
    if number >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return number


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
