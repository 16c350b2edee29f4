"""Model selection: grid search and random search over hyper-parameters, scored on a validation set,
run in parallel through joblib.

The course notes' recipe: hold out a validation set, train one network per candidate setting of the
hyper-parameters (sizes, learning rate, activation, dropout rate, weight decay...), keep the setting
whose validation score is best, and report the final network's error on a test set that played no
part in the choice.

Every trial is an independent task ``build_fn(**params)`` -> train -> score, dispatched by
``joblib.Parallel``; with ``n_jobs=1`` they run one after the other in this process, with
``n_jobs=k`` in k worker processes, and inside ``with joblib.parallel_backend("dask"):`` (or
``"ray"``) on a cluster (``n_jobs=None``, the default, lets that block choose). Candidates are
drawn, and the validation split made, in the calling process before any task starts, so the table
does not depend on ``n_jobs`` or on the backend.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .network import Network
from .validation import check_positive_int

#: fit() options that grid_search/random_search set themselves.
_RESERVED_FIT_OPTIONS = ("validation_split", "validation_data", "progress")
_SCORINGS = ("score", "loss")


class SearchResult:
    """Every trial of a :func:`grid_search` or :func:`random_search`, and the best one.

    Attributes
    ----------
    rows : list of dict
        One per trial, in the order the candidates were generated: ``"trial"`` (index), the
        hyper-parameters, ``"score"`` (validation score, higher is better: accuracy or R^2 with
        ``scoring="score"``, minus the validation loss with ``scoring="loss"``, or the callable's
        value), ``"val_loss"``, ``"train_loss"`` (last epoch), ``"epochs"`` (trained, fewer than
        asked when a callback stopped early) and ``"error"`` (None, or why training failed, e.g.
        a diverging learning rate; such a trial has score NaN and is never the best).
    param_names : list of str
        The hyper-parameter columns.
    best_index : int
        Index in ``rows`` of the best trial (the first one in case of a tie).
    best_params : dict
    best_score : float
    best_net : Network
        The trained network of the best trial.
    fit_times : list of float
        Wall-clock seconds of each trial (build, fit and score); kept apart from ``rows`` because
        it is the only thing that changes from run to run.
    scoring : str or callable
    """

    def __init__(self, rows: list[dict], param_names: list[str], best_index: int, best_net: Network,
                 fit_times: list[float], scoring):
        self.rows = rows
        self.param_names = param_names
        self.best_index = best_index
        self.best_net = best_net
        self.fit_times = fit_times
        self.scoring = scoring

    @property
    def best_params(self) -> dict:
        row = self.rows[self.best_index]
        return {name: row[name] for name in self.param_names}

    @property
    def best_score(self) -> float:
        return self.rows[self.best_index]["score"]

    def column(self, name: str) -> list:
        """The values of one column, trial by trial."""
        if name not in self.rows[0]:
            raise KeyError(f"no column {name!r}; columns are {list(self.rows[0])}")
        return [row[name] for row in self.rows]

    def ranked(self) -> list[dict]:
        """The rows from best to worst score (failed trials last)."""
        def key(row):
            failed = math.isnan(row["score"])
            return failed, 0.0 if failed else -row["score"], row["trial"]

        return sorted(self.rows, key=key)

    def to_markdown(self, sort: bool = True) -> str:
        """The table as GitHub Markdown, best trial first when ``sort`` (the best row is marked)."""
        columns = ["trial", *self.param_names, "score", "val_loss", "train_loss", "epochs", "fit_time_s"]
        rows = self.ranked() if sort else self.rows
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        for row in rows:
            cells = []
            for column in columns:
                if column == "fit_time_s":
                    value = self.fit_times[row["trial"]]
                elif column == "score" and row["error"] is not None:
                    value = "failed"
                else:
                    value = row[column]
                cells.append(_format_cell(value))
            if row["trial"] == self.best_index:
                cells[0] = f"**{cells[0]}**"
            lines.append("| " + " | ".join(cells) + " |")
        failed = [row for row in self.rows if row["error"] is not None]
        for row in failed:
            lines.append(f"\ntrial {row['trial']} failed: {row['error']}")
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        scoring = self.scoring if isinstance(self.scoring, str) else getattr(self.scoring, "__name__",
                                                                             "callable")
        return (f"SearchResult({len(self.rows)} trials, scoring={scoring!r}, best_score="
                f"{self.best_score:.4g}, best_params={self.best_params!r})")


def grid_search(build_fn: Callable, space, X, y, *, validation_split: float = 0.2,
                validation_data=None, fit_params: dict | None = None, scoring="score",
                n_jobs: int | None = None, seed: int = 0, verbose: int = 0) -> SearchResult:
    """Train one network per point of a grid of hyper-parameters and score each on validation data.

    Parameters
    ----------
    build_fn : callable
        ``build_fn(**params)`` returns a new, untrained :class:`~ratenet.Network`, or a tuple
        ``(network, fit_options)`` where ``fit_options`` is a dict of :func:`~ratenet.fit` options
        for this candidate (e.g. ``{"optimizer": rn.Adam(lr=lr)}``), which take precedence over
        ``fit_params``. It must be deterministic (seed its network; see ``seed``) and, for
        ``n_jobs != 1``, picklable by joblib (module-level functions always are; lambdas and
        closures go through cloudpickle).
    space : dict of str to list, or list of such dicts
        Hyper-parameter names (parameters of ``build_fn``) and the values to try; the grid is the
        Cartesian product, in the order of the keys (the last key varies fastest). A list of dicts
        searches the union of their grids.
    X : array-like, shape (n_samples, n_inputs)
    y : array-like
        Targets as the networks' loss takes them.
    validation_split : float in (0, 1), default 0.2
        Fraction of ``(X, y)`` held out for scoring, drawn once with ``seed`` (the same split for
        every trial). Ignored when ``validation_data`` is given.
    validation_data : tuple (X_val, y_val), optional
        Validation set; then every sample of ``(X, y)`` is used for training.
    fit_params : dict, optional
        Options of :func:`~ratenet.fit` for every trial: ``epochs``, ``batch_size``, ``optimizer``,
        ``callbacks`` (e.g. early stopping on the validation loss), ``schedule``... Each trial gets
        its own deep copy, so stateful optimisers and callbacks never leak between trials.
        ``validation_split``, ``validation_data`` and ``progress`` are set by the search.
    scoring : {"score", "loss"} or callable, default "score"
        ``"score"``: :meth:`Network.score` on the validation set (accuracy, or R^2 for regression);
        ``"loss"``: minus the validation loss; a callable ``scoring(net, X_val, y_val) -> float``.
        Higher is better.
    n_jobs : int or None, default None
        Trials run at once, as joblib counts them: None takes the number from an enclosing
        ``joblib.parallel_backend(...)``/``joblib.parallel_config(...)`` block (1, serial, outside
        one), -1 every core or every worker of a cluster backend, 1 forces serial execution in
        this process. The table does not depend on it, nor on the backend.
    seed : int, default 0
        Seed of the validation split. When ``build_fn`` has a parameter ``seed`` that ``space``
        does not set, every trial is built with ``seed=seed``, so candidates start from comparable
        initialisations and shufflings.
    verbose : int, default 0
        joblib's progress messages.

    Returns
    -------
    SearchResult
        Every trial as a row, ``best_params``, ``best_score`` and ``best_net`` (trained).

    Raises
    ------
    ValueError
        Before any training: a ``space`` key that is not a parameter of ``build_fn``, an empty or
        non-list value, a bad ``validation_split``, ``scoring`` or ``fit_params``. When every trial
        fails, the first failure's message.
    TypeError
        When ``build_fn`` is not callable or does not return a Network (raised by the first
        trial).

    Examples
    --------
    >>> def build(hidden, lr, seed=0):
    ...     net = rn.MLP([64, hidden, 10], activation="relu", seed=seed)
    ...     return net, {"optimizer": rn.Adam(lr=lr)}
    >>> result = rn.grid_search(build, {"hidden": [32, 64], "lr": [1e-3, 3e-3]}, X, y,
    ...                         fit_params={"epochs": 20}, n_jobs=2)  # doctest: +SKIP
    >>> print(result.to_markdown())  # doctest: +SKIP
    """
    grids = _check_grid_space(space)
    candidates = [dict(zip(grid, values, strict=True))
                  for grid in grids for values in itertools.product(*grid.values())]
    param_names = _ordered_names(grids)
    return _search(build_fn, candidates, param_names, X, y, validation_split=validation_split,
                   validation_data=validation_data, fit_params=fit_params, scoring=scoring,
                   n_jobs=n_jobs, seed=seed, verbose=verbose)


def random_search(build_fn: Callable, space: Mapping, X, y, n_iter: int = 10, *,
                  validation_split: float = 0.2, validation_data=None, fit_params: dict | None = None,
                  scoring="score", n_jobs: int | None = None, seed: int = 0,
                  verbose: int = 0) -> SearchResult:
    """Train networks for ``n_iter`` hyper-parameter settings drawn at random; score each on
    validation data.

    Bergstra & Bengio (2012): when few hyper-parameters matter, random draws try more distinct
    values of each than a grid with the same number of trials.

    Parameters
    ----------
    build_fn, X, y, validation_split, validation_data, fit_params, scoring, n_jobs, verbose
        As for :func:`grid_search`.
    space : dict of str to list or distribution
        For each parameter of ``build_fn``: a non-empty list (one value drawn uniformly) or a
        scipy.stats distribution, frozen, with ``rvs`` (e.g. ``scipy.stats.loguniform(1e-4, 1e-1)``
        for a learning rate, ``scipy.stats.randint(16, 129)`` for a size).
    n_iter : int, default 10
        Number of settings drawn (draws may repeat when the space is small).
    seed : int, default 0
        Seeds the draws (a ``numpy.random.Generator``, parameters drawn in sorted-name order), the
        validation split, and ``build_fn``'s ``seed`` as in :func:`grid_search`. Same seed, same
        candidates, same table.

    Returns
    -------
    SearchResult
    """
    n_iter = check_positive_int("n_iter", n_iter)
    space = _check_random_space(space)
    seed = _check_seed(seed)
    rng = np.random.default_rng([seed, 1])  # a stream apart from the validation split's
    candidates = []
    for _ in range(n_iter):
        drawn = {}
        for name in sorted(space):
            values = space[name]
            if hasattr(values, "rvs"):
                drawn[name] = _plain(values.rvs(random_state=rng))
            else:
                drawn[name] = values[int(rng.integers(len(values)))]
        candidates.append({name: drawn[name] for name in space})
    return _search(build_fn, candidates, list(space), X, y, validation_split=validation_split,
                   validation_data=validation_data, fit_params=fit_params, scoring=scoring,
                   n_jobs=n_jobs, seed=seed, verbose=verbose)


# ------------------------------------------------------------------------------------ machinery

def _search(build_fn, candidates, param_names, X, y, *, validation_split, validation_data, fit_params,
            scoring, n_jobs, seed, verbose) -> SearchResult:
    import joblib

    if not callable(build_fn):
        raise TypeError(f"build_fn must be callable, got {type(build_fn).__name__}")
    seed = _check_seed(seed)
    _check_names_accepted(build_fn, param_names)
    pass_seed = "seed" not in param_names and _accepts(build_fn, "seed")
    if pass_seed:
        candidates = [{**params, "seed": seed} for params in candidates]
    fit_params = _check_fit_params(fit_params)
    if not (scoring in _SCORINGS or callable(scoring)):
        raise ValueError(f"scoring must be one of {_SCORINGS} or a callable(net, X_val, y_val), "
                         f"got {scoring!r}")
    X_train, y_train, X_val, y_val = _split(X, y, validation_split, validation_data, seed)

    tasks = (joblib.delayed(_run_trial)(build_fn, params, X_train, y_train, X_val, y_val, fit_params,
                                        scoring) for params in candidates)
    try:  # stream results, so that only the best trained network is kept
        parallel = joblib.Parallel(n_jobs=n_jobs, verbose=verbose, return_as="generator")
    except ValueError:  # a backend that cannot stream (joblib's multiprocessing, Ray's)
        parallel = joblib.Parallel(n_jobs=n_jobs, verbose=verbose)
    rows, fit_times = [], []
    best_index, best_net, best_score = -1, None, -math.inf
    for trial, (outcome, net, seconds) in enumerate(parallel(tasks)):
        row = {"trial": trial, **{name: candidates[trial][name] for name in param_names}, **outcome}
        rows.append(row)
        fit_times.append(seconds)
        if row["error"] is None and row["score"] > best_score:
            best_index, best_net, best_score = trial, net, row["score"]
    if best_net is None:
        raise ValueError(f"every trial failed; the first: {rows[0]['error']}")
    return SearchResult(rows, param_names, best_index, best_net, fit_times, scoring)


def _run_trial(build_fn, params, X_train, y_train, X_val, y_val, fit_params, scoring):
    """Build, train and score one candidate; returns (row values, trained net or None, seconds)."""
    start = time.perf_counter()
    built = build_fn(**params)
    options = copy.deepcopy(fit_params)
    if isinstance(built, tuple):
        if len(built) != 2 or not isinstance(built[1], dict):
            raise TypeError("build_fn must return a Network or a tuple (Network, dict of fit options), "
                            f"got a tuple of {len(built)}")
        net, extra = built
        bad = [key for key in extra if key in _RESERVED_FIT_OPTIONS]
        if bad:
            raise ValueError(f"build_fn's fit options may not set {bad}: the search sets them")
        options.update(extra)
    else:
        net = built
    if not isinstance(net, Network):
        raise TypeError(f"build_fn must return a Network (or (Network, dict)), got {type(net).__name__}")
    outcome = {"score": math.nan, "val_loss": math.nan, "train_loss": math.nan, "epochs": 0, "error": None}
    try:
        history = net.fit(X_train, y_train, validation_data=(X_val, y_val), progress=False, **options)
    except FloatingPointError as error:  # a diverging candidate (learning rate too large) is a result
        outcome["error"] = str(error)
        return outcome, None, time.perf_counter() - start
    val_loss = float(net.loss_value(X_val, y_val))
    if scoring == "score":
        score = net.score(X_val, y_val)
    elif scoring == "loss":
        score = -val_loss
    else:
        score = scoring(net, X_val, y_val)
    score = float(score)
    if math.isnan(score):
        raise ValueError(f"the score of trial {params!r} is NaN")
    outcome.update(score=score, val_loss=val_loss, train_loss=float(history.loss[-1]),
                   epochs=len(history))
    return outcome, net, time.perf_counter() - start


def _check_grid_space(space) -> list[dict]:
    grids = [space] if isinstance(space, Mapping) else space
    if not isinstance(grids, Sequence) or isinstance(grids, str) or not grids:
        raise TypeError("space must be a dict of parameter name -> list of values, or a non-empty list "
                        f"of such dicts, got {type(space).__name__}")
    checked = []
    for grid in grids:
        if not isinstance(grid, Mapping) or not grid:
            raise ValueError(f"space must hold non-empty dicts, got {grid!r}")
        for name, values in grid.items():
            if not isinstance(name, str):
                raise TypeError(f"space keys must be parameter names (str), got {name!r}")
            if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
                raise ValueError(f"space[{name!r}] must be a non-empty list of values, got {values!r}")
        checked.append({name: list(values) for name, values in grid.items()})
    return checked


def _check_random_space(space) -> dict:
    if not isinstance(space, Mapping) or not space:
        raise TypeError("space must be a non-empty dict of parameter name -> list or distribution, "
                        f"got {space!r}")
    checked = {}
    for name, values in space.items():
        if not isinstance(name, str):
            raise TypeError(f"space keys must be parameter names (str), got {name!r}")
        if hasattr(values, "rvs"):
            checked[name] = values
        elif isinstance(values, str) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
            raise ValueError(f"space[{name!r}] must be a non-empty list or a scipy.stats distribution "
                             f"with rvs(), got {values!r}")
        else:
            checked[name] = list(values)
    return checked


def _ordered_names(grids: list[dict]) -> list[str]:
    names: list[str] = []
    for grid in grids:
        names += [name for name in grid if name not in names]
    for grid in grids:
        if set(grid) != set(names):
            raise ValueError("every dict of a list-of-dicts space must name the same parameters (give "
                             f"a single value where one does not vary); got {[sorted(g) for g in grids]}")
    return names


def _accepts(function, name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    if name in parameters:
        return parameters[name].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                         inspect.Parameter.KEYWORD_ONLY)
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _check_names_accepted(build_fn, names: list[str]) -> None:
    unknown = [name for name in names if not _accepts(build_fn, name)]
    if unknown:
        try:
            signature = str(inspect.signature(build_fn))
        except (TypeError, ValueError):  # pragma: no cover
            signature = "(...)"
        raise ValueError(f"space names {unknown}, which build_fn{signature} does not accept; the "
                         "space's keys must be parameters of build_fn")


def _check_fit_params(fit_params) -> dict:
    if fit_params is None:
        return {}
    if not isinstance(fit_params, Mapping):
        raise TypeError(f"fit_params must be a dict of fit() options, got {type(fit_params).__name__}")
    bad = [key for key in fit_params if key in _RESERVED_FIT_OPTIONS]
    if bad:
        raise ValueError(f"fit_params may not set {bad}: give validation_split or validation_data to "
                         "the search itself")
    from .train import fit

    accepted = inspect.signature(fit).parameters
    unknown = [key for key in fit_params if key not in accepted]
    if unknown:
        raise ValueError(f"fit_params names {unknown}, which fit() does not accept")
    return dict(fit_params)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _split(X, y, validation_split, validation_data, seed):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_samples, n_inputs), got {X.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y hold different numbers of samples ({X.shape[0]} vs {y.shape[0]})")
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (X_val, y_val)")
        X_val, y_val = (np.asarray(part) for part in validation_data)
        if X_val.shape[0] != y_val.shape[0] or X_val.shape[0] == 0:
            raise ValueError("validation_data must hold the same, non-zero number of samples in "
                             f"X_val and y_val, got {X_val.shape[0]} and {y_val.shape[0]}")
        return X, y, X_val, y_val
    if not isinstance(validation_split, numbers.Real) or not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
    n_val = int(round(validation_split * X.shape[0]))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ValueError(f"validation_split={validation_split} leaves {n_val} validation samples out of "
                         f"{X.shape[0]}; need at least one on each side")
    order = np.random.default_rng([seed, 0]).permutation(X.shape[0])
    return X[order[n_val:]], y[order[n_val:]], X[order[:n_val]], y[order[:n_val]]


def _plain(value):
    """A numpy scalar drawn from a distribution as a Python number (readable in the table)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _format_cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
