"""Builders of sparse connection matrices for :meth:`neurosim.SpikingNetwork.connect`.

Each builder returns a ``scipy.sparse.csr_array`` of shape ``(n_post, n_pre)``: entry ``[i, j]`` is
the weight of the synapse from presynaptic neuron ``j`` onto postsynaptic neuron ``i``; absent
entries are absent synapses. Rows (postsynaptic neurons) hold their columns in increasing order.

Weights are given in one of three ways:

- a number: every synapse gets it;
- an array with one weight per synapse, in the matrix's row-major order (only where the number of
  synapses is known in advance: :func:`fixed_indegree`, :func:`one_to_one`, :func:`all_to_all`);
- a callable ``draw(rng, size)`` returning ``size`` weights drawn with the builder's generator,
  e.g. ``lambda rng, size: rng.normal(0.1, 0.01, size)``.

Randomness flows from ``seed`` (an int or a ``numpy.random.Generator``): the same seed gives the
same matrix. Before allocating, every builder estimates the memory of the matrix (indices and
weights, 12 bytes per synapse, and the work arrays it needs while building) and refuses past
:data:`neurosim.validation.MAX_ALLOCATION_BYTES`.

Per-synapse delays take the same sparse structure: copy the weight matrix and replace its data,
e.g. ``delays = weights.copy(); delays.data = rng.uniform(1e-3, 3e-3, delays.nnz)``.

Examples
--------
>>> from neurosim import connectivity
>>> W = connectivity.fixed_indegree(10_000, 12_500, 1_000, weights=0.1, seed=0)   # Brunel's C_E
>>> W.shape, W.nnz
((12500, 10000), 12500000)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .validation import check_allocation, check_positive_int

__all__ = ["all_to_all", "fixed_indegree", "fixed_probability", "offset_columns", "one_to_one"]

# Peak bytes per synapse while a builder works (positions, rows and columns, weights, the matrix).
_BUILD_BYTES_PER_SYNAPSE = 48


def fixed_probability(n_pre: int, n_post: int, p: float, weights=1.0, *, autapses: bool = True,
                      seed=None) -> scipy.sparse.csr_array:
    """Each of the ``n_post x n_pre`` possible synapses exists independently with probability ``p``.

    Parameters
    ----------
    n_pre, n_post : int
        Sizes of the presynaptic and postsynaptic populations, >= 1.
    p : float
        Connection probability, in [0, 1].
    weights : float, or callable ``draw(rng, size)``
        The weight of every synapse, or a function drawing them (see the module notes).
    autapses : bool
        Allow the synapses ``[i, i]`` (a neuron onto itself, when ``pre`` and ``post`` are the same
        population). With False, ``n_pre`` must equal ``n_post``, and each other pair exists with
        probability ``p``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    scipy.sparse.csr_array, shape (n_post, n_pre)
    """
    n_pre, n_post = _sizes(n_pre, n_post)
    p = _probability(p)
    _check_autapses(autapses, n_pre, n_post)
    rng = np.random.default_rng(seed)
    total = n_pre * n_post
    expected = p * total
    # The positions of the synapses in the row-major n_post x n_pre grid, drawn as the partial sums
    # of geometric gaps (the gaps between successes of independent Bernoulli(p) trials).
    margin = 6.0 * np.sqrt(expected + 1.0) + 16.0
    n_draws = int(min(total, expected + margin)) + 1
    check_allocation("p", n_draws * float(_BUILD_BYTES_PER_SYNAPSE) + 8.0 * (n_post + 1),
                     "use a smaller p or smaller populations, or raise the limit",
                     what=f"a {n_post} x {n_pre} connection matrix with p={p:g} (~{expected:.3g} synapses)")
    if p == 0.0:
        positions = np.zeros(0, dtype=np.int64)
    elif p == 1.0:
        positions = np.arange(total, dtype=np.int64)
    else:
        chunks, last = [], -1
        while last < total:
            gaps = rng.geometric(p, size=n_draws)
            chunk = last + np.cumsum(gaps)
            chunks.append(chunk)
            last = int(chunk[-1])
            n_draws = int(margin) + 1             # rarely needed: the first draw covers the grid
        positions = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        positions = positions[:np.searchsorted(positions, total)]
    rows, columns = np.divmod(positions, n_pre)
    if not autapses:
        keep = rows != columns
        rows, columns = rows[keep], columns[keep]
    del positions
    values = _weights(weights, rng, rows.size, known_count=False)
    return _csr(_row_pointers(rows, n_post), columns, values, n_pre)


def fixed_indegree(n_pre: int, n_post: int, indegree: int, weights=1.0, *, autapses: bool = True,
                   seed=None) -> scipy.sparse.csr_array:
    """Every postsynaptic neuron receives exactly ``indegree`` synapses from distinct presynaptic
    neurons chosen uniformly at random (Brunel 2000's "C randomly chosen neurons").

    Parameters
    ----------
    n_pre, n_post : int
        Sizes of the presynaptic and postsynaptic populations, >= 1.
    indegree : int
        Synapses per postsynaptic neuron, in ``[0, n_pre]`` (``n_pre - 1`` without autapses).
    weights : float, array_like of shape (n_post * indegree,), or callable ``draw(rng, size)``
        See the module notes; an array is read row by row (postsynaptic neuron 0's synapses first,
        in increasing presynaptic order).
    autapses : bool
        Allow a neuron to be its own presynaptic partner (``pre`` and ``post`` the same
        population). With False, ``n_pre`` must equal ``n_post``.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    scipy.sparse.csr_array, shape (n_post, n_pre), with ``n_post * indegree`` synapses
    """
    n_pre, n_post = _sizes(n_pre, n_post)
    _check_autapses(autapses, n_pre, n_post)
    if isinstance(indegree, bool) or not isinstance(indegree, int | np.integer):
        raise TypeError(f"indegree must be an integer, got {type(indegree).__name__}")
    available = n_pre if autapses else n_pre - 1
    if not 0 <= indegree <= available:
        raise ValueError(f"indegree must be in [0, {available}] (distinct presynaptic neurons"
                         f"{'' if autapses else ', no autapses'}), got {indegree!r}")
    indegree = int(indegree)
    n_synapses = n_post * indegree
    check_allocation("indegree", n_synapses * float(_BUILD_BYTES_PER_SYNAPSE) + 8.0 * (n_post + 1),
                     "use a smaller indegree or smaller populations, or raise the limit",
                     what=f"{n_post} neurons x {indegree} synapses")
    rng = np.random.default_rng(seed)
    columns = _distinct_columns(rng, n_post, n_pre, indegree, autapses)
    values = _weights(weights, rng, n_synapses, known_count=True)
    return _csr(np.arange(n_post + 1, dtype=np.int64) * indegree, columns.ravel(), values, n_pre)


def one_to_one(n: int, weights=1.0) -> scipy.sparse.csr_array:
    """Neuron ``i`` of the presynaptic population onto neuron ``i`` of the postsynaptic one.

    Parameters
    ----------
    n : int
        Size of both populations, >= 1.
    weights : float, array_like of shape (n,), or callable ``draw(rng, size)``
        (A callable is called with ``numpy.random.default_rng(0)``.)

    Returns
    -------
    scipy.sparse.csr_array, shape (n, n), diagonal
    """
    n = check_positive_int("n", n)
    check_allocation("n", n * float(_BUILD_BYTES_PER_SYNAPSE), "use smaller populations",
                     what=f"{n} synapses")
    values = _weights(weights, np.random.default_rng(0), n, known_count=True)
    return _csr(np.arange(n + 1, dtype=np.int64), np.arange(n), values, n)


def all_to_all(n_pre: int, n_post: int, weights=1.0, *, autapses: bool = True,
               seed=None) -> scipy.sparse.csr_array:
    """Every presynaptic neuron onto every postsynaptic neuron.

    (A dense weight array given to :meth:`~neurosim.SpikingNetwork.connect` is the same network
    and propagates as fast; this builder is for drawn weights and for excluding autapses.)

    Parameters
    ----------
    n_pre, n_post : int
        Sizes of the populations, >= 1.
    weights : float, array_like of shape (n_post * n_pre,) or (n_post, n_pre), or callable
        See the module notes. A 2-D array is read at the synapses' positions.
    autapses : bool
        With False, no synapse ``[i, i]`` (``n_pre`` must equal ``n_post``).
    seed : int or numpy.random.Generator, optional
        For drawn weights.

    Returns
    -------
    scipy.sparse.csr_array, shape (n_post, n_pre)
    """
    n_pre, n_post = _sizes(n_pre, n_post)
    _check_autapses(autapses, n_pre, n_post)
    n_synapses = n_post * n_pre - (0 if autapses else n_post)
    check_allocation("n_post", n_synapses * float(_BUILD_BYTES_PER_SYNAPSE), "use smaller populations",
                     what=f"an all-to-all {n_post} x {n_pre} connection")
    rows = np.repeat(np.arange(n_post, dtype=np.int64), n_pre)
    columns = np.tile(np.arange(n_pre, dtype=np.int32), n_post)
    if not autapses:
        keep = rows != columns
        rows, columns = rows[keep], columns[keep]
    if not callable(weights) and np.ndim(weights) == 2:
        grid = np.asarray(weights)
        if grid.shape != (n_post, n_pre):
            raise ValueError(f"weights must have shape (n_post, n_pre) = ({n_post}, {n_pre}), "
                             f"got {grid.shape}")
        weights = grid[rows, columns]
    values = _weights(weights, np.random.default_rng(seed), rows.size, known_count=True)
    return _csr(_row_pointers(rows, n_post), columns, values, n_pre)


def offset_columns(weights, first: int, n_pre: int) -> scipy.sparse.csr_array:
    """The synapses of ``weights`` (shape (n_post, n_group)) as the columns ``first`` to
    ``first + n_group - 1`` of a matrix of shape (n_post, n_pre).

    For a group of a population's neurons onto the whole population (Brunel's and CUBA's excitatory
    and inhibitory neurons): connect the population to itself with each group's matrix in its own
    columns, e.g. through a synapse of its own. The weights are shared with ``weights`` (no copy).

    Parameters
    ----------
    weights : scipy.sparse matrix, shape (n_post, n_group)
    first : int
        Index of the group's first neuron in the presynaptic population, >= 0.
    n_pre : int
        Size of the presynaptic population, >= first + n_group.

    Returns
    -------
    scipy.sparse.csr_array, shape (n_post, n_pre)
    """
    if not scipy.sparse.issparse(weights):
        raise TypeError(f"weights must be a scipy.sparse matrix, got {type(weights).__name__}")
    matrix = scipy.sparse.csr_array(weights)
    if isinstance(first, bool) or not isinstance(first, int | np.integer) or first < 0:
        raise ValueError(f"first must be an integer >= 0, got {first!r}")
    n_pre = check_positive_int("n_pre", n_pre)
    if first + matrix.shape[1] > n_pre:
        raise ValueError(f"n_pre must be at least first + n_group = {first + matrix.shape[1]}, got {n_pre}")
    return scipy.sparse.csr_array((matrix.data, matrix.indices + first, matrix.indptr),
                                  shape=(matrix.shape[0], n_pre))


# -- helpers ---------------------------------------------------------------------------------------

def _sizes(n_pre, n_post):
    return check_positive_int("n_pre", n_pre), check_positive_int("n_post", n_post)


def _probability(p):
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise TypeError(f"p must be a number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:                       # also NaN
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    return float(p)


def _check_autapses(autapses, n_pre, n_post):
    if not isinstance(autapses, bool | np.bool_):
        raise TypeError(f"autapses must be a bool, got {type(autapses).__name__}")
    if not autapses and n_pre != n_post:
        raise ValueError(f"autapses=False needs a population connected to itself (n_pre == n_post), "
                         f"got n_pre={n_pre}, n_post={n_post}")


def _weights(weights, rng, size, *, known_count):
    """The synapses' weights as float64 (size,): a number repeated, an array checked, or drawn."""
    if callable(weights):
        values = np.asarray(weights(rng, size), dtype=np.float64)
        if values.shape != (size,):
            raise ValueError(f"the weights function must return an array of shape ({size},), "
                             f"got {values.shape}")
    elif np.ndim(weights) == 0:
        if isinstance(weights, bool) or not isinstance(weights, int | float | np.integer | np.floating):
            raise TypeError(f"weights must be a number, an array or a callable draw(rng, size), got "
                            f"{type(weights).__name__}")
        values = np.full(size, float(weights))
    else:
        if not known_count:
            raise ValueError("weights: the number of synapses is random here; give a number or a "
                             "callable draw(rng, size)")
        values = np.asarray(weights, dtype=np.float64).ravel()
        if values.shape != (size,):
            raise ValueError(f"weights must hold one weight per synapse ({size}), got {values.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError("weights must be finite; they contain NaN or inf")
    return values


def _distinct_columns(rng, n_rows, n_columns, k, autapses):
    """``k`` distinct random columns per row, sorted (int32 (n_rows, k)); without ``autapses`` no
    row ``i`` holds column ``i``.

    Draws with replacement and redraws the duplicates (and the excluded diagonal) until there are
    none: with ``k`` much smaller than ``n_columns`` few are redrawn; for ``k`` more than half of
    ``n_columns`` the complement (the columns left out) is drawn instead.
    """
    if k == 0:
        return np.zeros((n_rows, 0), dtype=np.int32)
    available = n_columns if autapses else n_columns - 1
    if 2 * k > available:
        # Draw the columns to leave out, then take the others.
        left_out = _distinct_columns(rng, n_rows, n_columns, available - k, autapses)
        mask = np.ones((n_rows, n_columns), dtype=bool)
        np.put_along_axis(mask, left_out.astype(np.int64), False, axis=1)
        if not autapses:
            mask[np.arange(n_rows), np.arange(n_rows)] = False
        return np.nonzero(mask)[1].astype(np.int32).reshape(n_rows, k)
    columns = rng.integers(0, n_columns, size=(n_rows, k), dtype=np.int32)
    row_index = np.arange(n_rows, dtype=np.int32)[:, None]
    while True:
        columns.sort(axis=1)
        bad = np.zeros(columns.shape, dtype=bool)
        bad[:, 1:] = columns[:, 1:] == columns[:, :-1]
        if not autapses:
            bad |= columns == row_index
        n_bad = int(np.count_nonzero(bad))
        if n_bad == 0:
            return columns
        columns[bad] = rng.integers(0, n_columns, size=n_bad, dtype=np.int32)


def _row_pointers(rows, n_rows):
    """CSR row pointers (int64 (n_rows + 1,)) of synapses listed by non-decreasing row."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr


def _csr(indptr, columns, values, n_columns):
    """A csr_array from row pointers and the synapses' columns (sorted within a row) and weights."""
    index_dtype = np.int32 if values.size < 2**31 and n_columns < 2**31 else np.int64
    return scipy.sparse.csr_array((values, columns.astype(index_dtype, copy=False),
                                   indptr.astype(index_dtype, copy=False)),
                                  shape=(indptr.size - 1, n_columns))
