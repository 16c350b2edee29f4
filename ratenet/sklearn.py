"""scikit-learn estimators backed by ratenet networks: :class:`RateNetClassifier` and
:class:`RateNetRegressor`.

They follow scikit-learn's estimator contract (parameters stored as given by ``__init__``,
validated in ``fit``; fitted attributes end in ``_``; ``random_state``), pass its own test suite
(``sklearn.utils.estimator_checks.check_estimator``), and so work in ``Pipeline``,
``GridSearchCV``, ``cross_val_score`` and ``clone``. Underneath, ``fit`` builds a
:class:`ratenet.MLP` and trains it with :meth:`ratenet.Network.fit`; the trained network is
``network_``, so it can be saved, inspected or run as a spiking network (:func:`ratenet.to_spiking`)
like any other.

The defaults follow scikit-learn's ``MLPClassifier``/``MLPRegressor`` (one hidden layer of 100
ReLU units, Adam at lr = 1e-3, 200 epochs in batches of ``min(200, n_samples)``), so swapping one
for the other keeps the meaning of a pipeline; any ratenet activation works in the hidden layers,
the rate curves of neurons included (``activation="lif_rate"`` or an instance such as
``SoftLIFRate(sigma=0.02)``).

Needs the ``sklearn`` extra: ``pip install "neurosim-ratenet[sklearn]"``.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("ratenet.sklearn needs scikit-learn >= 1.6: pip install "
                      "'neurosim-ratenet[sklearn]'") from error

from .activations import Activation, get_activation
from .losses import softmax
from .network import MLP
from .optimizers import Optimizer, get_optimizer
from .train import EarlyStopping
from .validation import check_dtype

__all__ = ["RateNetClassifier", "RateNetRegressor"]

#: The largest mini-batch of ``batch_size="auto"`` (scikit-learn's MLP uses the same).
AUTO_BATCH_SIZE = 200


class _RateNetEstimator(BaseEstimator):
    """What the classifier and the regressor share: the hyper-parameters, the network they build
    and the training call."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, optimizer="adam",
                 learning_rate=None, epochs=200, batch_size="auto", weight_decay=0.0,
                 early_stopping=False, validation_fraction=0.1, patience=10, shuffle=True,
                 random_state=None, dtype="float64", progress=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.shuffle = shuffle
        self.random_state = random_state
        self.dtype = dtype
        self.progress = progress

    # ------------------------------------------------------------------ checking the parameters
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be a sequence of positive integers, got "
                            f"{self.hidden_layer_sizes!r}") from None
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
                raise ValueError(f"hidden_layer_sizes must hold positive integers, got "
                                 f"{self.hidden_layer_sizes!r}")
        return [int(size) for size in sizes]

    def _optimizer(self) -> Optimizer:
        """A fresh optimiser (the parameter itself is never changed by ``fit``)."""
        if isinstance(self.optimizer, Optimizer):
            optimizer = copy.deepcopy(self.optimizer)
            optimizer.reset()
        else:
            optimizer = get_optimizer(self.optimizer)
            if self.learning_rate is None:
                optimizer.lr = 1e-3
        if self.learning_rate is not None:
            if (isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, numbers.Real)
                    or not np.isfinite(self.learning_rate) or self.learning_rate <= 0):
                raise ValueError(f"learning_rate must be a positive number or None, got "
                                 f"{self.learning_rate!r}")
            optimizer.lr = float(self.learning_rate)
        return optimizer

    def _activation(self) -> Activation:
        # An instance is copied: MLP clones it per layer, but the parameter stays untouched.
        activation = self.activation
        return copy.deepcopy(activation) if isinstance(activation, Activation) else get_activation(activation)

    def _check_training_options(self) -> None:
        for name in ("epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral)
                                              and not isinstance(self.batch_size, bool)
                                              and self.batch_size >= 1)):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        if (isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, numbers.Real)
                or not self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if self.early_stopping and not (isinstance(self.validation_fraction, numbers.Real)
                                        and 0 < self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")

    # ------------------------------------------------------------------------------ training
    def _train(self, X: np.ndarray, target: np.ndarray, n_outputs: int, output: str) -> None:
        """Build ``network_`` for ``X`` and train it on ``target`` (validated arrays)."""
        self._check_training_options()
        dtype = check_dtype(self.dtype)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        network = MLP([X.shape[1], *self._hidden_sizes(), n_outputs], activation=self._activation(),
                      output=output, seed=seed, dtype=dtype)
        n_samples = X.shape[0]
        batch_size = min(AUTO_BATCH_SIZE, n_samples) if self.batch_size == "auto" else self.batch_size
        options = {}
        callbacks = []
        if self.early_stopping:
            options["validation_split"] = self.validation_fraction
            callbacks.append(EarlyStopping(monitor="val_loss", patience=self.patience))
        history = network.fit(X, target, epochs=self.epochs, batch_size=min(batch_size, n_samples),
                              optimizer=self._optimizer(), weight_decay=float(self.weight_decay),
                              shuffle=bool(self.shuffle), seed=seed, progress=bool(self.progress),
                              callbacks=callbacks, **options)
        self.network_ = network
        self.history_ = history
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history.loss)
        self.loss_ = self.loss_curve_[-1]
        self.validation_loss_curve_ = list(history.val_loss)

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.forward(X)


class RateNetClassifier(ClassifierMixin, _RateNetEstimator):
    """A ratenet multilayer network as a scikit-learn classifier (softmax output, cross-entropy).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Units of each hidden layer, input to output; ``()`` gives multinomial logistic regression.
    activation : str or ratenet.Activation, default "relu"
        Hidden activation: a registry name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"lif_rate"``,
        ``"soft_lif_rate"``, ...; see :func:`ratenet.activation_names`) or an instance (copied, never
        changed), e.g. ``SoftLIFRate(sigma=0.02)`` or a measured HH curve's
        ``RateCurveActivation(curve)``.
    optimizer : str or ratenet.Optimizer, default "adam"
        ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"`` or an
        instance (copied and reset at every ``fit``, so it carries no state between fits).
    learning_rate : float or None, default None
        Step size of the optimiser. None: 1e-3 for an optimiser given by name, the instance's own
        ``lr`` otherwise.
    epochs : int, default 200
        Passes over the training data (fewer with early stopping).
    batch_size : int or "auto", default "auto"
        Samples per gradient step; "auto" is ``min(200, n_samples)``.
    weight_decay : float >= 0, default 0
        L2 penalty ``weight_decay * ||W||^2`` on every weight matrix (gradient ``2 weight_decay W``),
        the penalty of :func:`ratenet.fit`. scikit-learn's MLP ``alpha`` corresponds to
        ``weight_decay = alpha / (2 n_samples)``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data, stop when its loss has not fallen for
        ``patience`` epochs, and keep the weights of the best epoch.
    validation_fraction : float in (0, 1), default 0.1
        Used only with ``early_stopping``.
    patience : int, default 10
        Epochs without a lower validation loss tolerated by early stopping.
    shuffle : bool, default True
        Shuffle the samples at every epoch.
    random_state : int, numpy.random.RandomState or None, default None
        Seeds the initial weights, the shuffling and the validation split; an int gives the same
        model at every fit.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the network.
    progress : bool, default False
        Show a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        The class labels, in the order of the network's outputs.
    network_ : ratenet.MLP
        The trained network; its outputs are the logits of ``classes_``.
    history_ : ratenet.History
        Training history (loss per epoch; validation loss with early stopping).
    loss_ : float
        Training loss (cross-entropy) of the last epoch.
    loss_curve_ : list of float
        Training loss of every epoch.
    validation_loss_curve_ : list of float
        Validation loss of every epoch (empty without early stopping).
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` was given with string column names (a DataFrame).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from ratenet.sklearn import RateNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(MinMaxScaler(), RateNetClassifier((50,), "soft_lif_rate", epochs=30,
    ...                                                         batch_size=32, random_state=0))
    >>> scores = cross_val_score(model, X, y, cv=3)     # doctest: +SKIP
    """

    def fit(self, X, y):
        """Train a new network on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        classes, labels = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in y; got 1 "
                             f"class ({classes[0]!r})")
        self.classes_ = classes
        self._train(X, labels, n_outputs=classes.size, output="softmax")
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class in ``classes_``, shape (n_samples, n_classes); rows sum to 1."""
        return softmax(self._forward(X).astype(np.float64))

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably from the logits."""
        logits = self._forward(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return logits

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, shape (n_samples,), labels as in ``y``."""
        logits = self._forward(X)
        return self.classes_[logits.argmax(axis=1)]


class RateNetRegressor(RegressorMixin, _RateNetEstimator):
    """A ratenet multilayer network as a scikit-learn regressor (linear output, squared error).

    Takes the same parameters as :class:`RateNetClassifier`; the loss is the mean squared error
    ``(1/N) sum 1/2 (y - t)^2``. Several targets at once are fitted by one network with one output
    each.

    Parameters
    ----------
    hidden_layer_sizes, activation, optimizer, learning_rate, epochs, batch_size, weight_decay, \
early_stopping, validation_fraction, patience, shuffle, random_state, dtype, progress
        As for :class:`RateNetClassifier`.

    Attributes
    ----------
    network_ : ratenet.MLP
        The trained network.
    n_outputs_ : int
        Number of targets.
    history_, loss_, loss_curve_, validation_loss_curve_, n_iter_, n_features_in_, \
feature_names_in_
        As for :class:`RateNetClassifier`; the loss is the squared error.

    Examples
    --------
    >>> import numpy as np
    >>> from ratenet.sklearn import RateNetRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> model = RateNetRegressor((30,), "tanh", epochs=300, learning_rate=0.01,
    ...                          random_state=0).fit(X, X[:, 0] ** 2)
    >>> model.score(X, X[:, 0] ** 2) > 0.9
    True
    """

    def fit(self, X, y):
        """Train a new network on ``X`` (n_samples, n_features) and targets ``y``, shape
        (n_samples,) or (n_samples, n_targets).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=True)
        target = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_ = target.shape[1]
        self._train(X, target, n_outputs=self.n_outputs_, output="linear")
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted targets, float64, shape (n_samples,) for one target, else (n_samples, n_targets)."""
        output = self._forward(X).astype(np.float64)
        return output[:, 0] if self.n_outputs_ == 1 else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
