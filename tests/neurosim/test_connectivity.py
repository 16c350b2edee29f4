"""Connection builders against their definitions: counts, degrees, autapses, weights, seeds, and
memory refused before anything is allocated."""

import numpy as np
import pytest
import scipy.sparse

from neurosim import connectivity, validation


def test_fixed_probability_has_a_binomial_number_of_synapses_spread_uniformly():
    n_pre, n_post, p = 400, 300, 0.05
    W = connectivity.fixed_probability(n_pre, n_post, p, weights=0.5, seed=1)
    assert isinstance(W, scipy.sparse.csr_array) and W.shape == (n_post, n_pre)
    mean, sd = n_pre * n_post * p, np.sqrt(n_pre * n_post * p * (1 - p))
    assert abs(W.nnz - mean) < 5 * sd                                   # 6000 +- 5 x 75
    np.testing.assert_array_equal(W.data, 0.5)
    assert W.has_sorted_indices and W.max() == 0.5                        # no duplicate entries
    # Every row and column is Binomial(n, p): their means match within 5 standard errors.
    in_degrees, out_degrees = np.diff(W.indptr), np.bincount(W.indices, minlength=n_pre)
    assert abs(in_degrees.mean() - n_pre * p) < 5 * np.sqrt(n_pre * p / n_post)
    assert abs(out_degrees.mean() - n_post * p) < 5 * np.sqrt(n_post * p / n_pre)
    assert abs(in_degrees.var() - n_pre * p * (1 - p)) < 0.25 * n_pre * p  # binomial spread


def test_fixed_probability_without_autapses_and_the_extremes():
    W = connectivity.fixed_probability(50, 50, 0.5, autapses=False, seed=2)
    assert np.all(W.diagonal() == 0)
    full = connectivity.fixed_probability(4, 3, 1.0)
    np.testing.assert_array_equal(full.toarray(), np.ones((3, 4)))
    assert connectivity.fixed_probability(4, 3, 0.0).nnz == 0
    no_self = connectivity.fixed_probability(5, 5, 1.0, autapses=False)
    np.testing.assert_array_equal(no_self.toarray(), 1 - np.eye(5))


def test_fixed_indegree_gives_every_neuron_exactly_k_distinct_inputs():
    W = connectivity.fixed_indegree(1000, 200, 100, weights=-0.2, autapses=True, seed=3)
    assert W.nnz == 200 * 100
    np.testing.assert_array_equal(np.diff(W.indptr), 100)
    for row in range(200):
        columns = W.indices[W.indptr[row]:W.indptr[row + 1]]
        assert np.unique(columns).size == 100                       # distinct, no multapses
    # Presynaptic partners uniform: out-degrees have mean 20 and binomial-like spread.
    out_degrees = np.bincount(W.indices, minlength=1000)
    assert out_degrees.mean() == 20.0 and 10 < out_degrees.var() < 30
    recurrent = connectivity.fixed_indegree(30, 30, 29, autapses=False, seed=4)
    np.testing.assert_array_equal(recurrent.toarray(), 1 - np.eye(30))     # all but itself
    dense_choice = connectivity.fixed_indegree(10, 8, 9, seed=5)           # the complement path
    np.testing.assert_array_equal(np.diff(dense_choice.indptr), 9)


def test_builders_are_seeded_and_draw_weights():
    a = connectivity.fixed_indegree(100, 50, 10, weights=lambda rng, size: rng.normal(1.0, 0.1, size),
                                    seed=7)
    b = connectivity.fixed_indegree(100, 50, 10, weights=lambda rng, size: rng.normal(1.0, 0.1, size),
                                    seed=7)
    c = connectivity.fixed_indegree(100, 50, 10, weights=lambda rng, size: rng.normal(1.0, 0.1, size),
                                    seed=8)
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    assert abs(a.data.mean() - 1.0) < 0.05 and abs(a.data.std() - 0.1) < 0.02
    given = connectivity.fixed_indegree(6, 2, 3, weights=np.arange(6.0), seed=0)
    np.testing.assert_array_equal(given.data, np.arange(6.0))             # row-major order
    p1 = connectivity.fixed_probability(60, 40, 0.3, seed=np.random.default_rng(9))
    p2 = connectivity.fixed_probability(60, 40, 0.3, seed=np.random.default_rng(9))
    assert (p1 != p2).nnz == 0


def test_one_to_one_and_all_to_all():
    np.testing.assert_array_equal(connectivity.one_to_one(4, weights=2.0).toarray(), 2 * np.eye(4))
    np.testing.assert_array_equal(connectivity.one_to_one(3, weights=[1.0, 2.0, 3.0]).toarray(),
                                  np.diag([1.0, 2.0, 3.0]))
    grid = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(connectivity.all_to_all(4, 3, weights=grid).toarray(), grid)
    square = np.arange(9.0).reshape(3, 3) + 1
    np.testing.assert_array_equal(connectivity.all_to_all(3, 3, weights=square, autapses=False).toarray(),
                                  square * (1 - np.eye(3)))


def test_bad_arguments_are_named():
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="p must be a probability"):
            connectivity.fixed_probability(10, 10, p)
    with pytest.raises(ValueError, match="indegree must be in"):
        connectivity.fixed_indegree(10, 5, 11)
    with pytest.raises(ValueError, match="no autapses"):
        connectivity.fixed_indegree(10, 10, 10, autapses=False)
    with pytest.raises(TypeError, match="indegree must be an integer"):
        connectivity.fixed_indegree(10, 5, 2.5)
    with pytest.raises(ValueError, match="autapses=False needs"):
        connectivity.fixed_probability(10, 5, 0.1, autapses=False)
    with pytest.raises(ValueError, match="number of synapses is random"):
        connectivity.fixed_probability(10, 5, 0.1, weights=np.ones(3))
    with pytest.raises(ValueError, match="one weight per synapse"):
        connectivity.fixed_indegree(10, 5, 2, weights=np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        connectivity.one_to_one(2, weights=float("nan"))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        connectivity.fixed_indegree(10, 2, 2, weights=lambda rng, size: np.ones(size + 1))


def test_memory_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(validation, "MAX_ALLOCATION_BYTES", 10 * 2**20)       # 10 MiB
    with pytest.raises(ValueError, match=r"indegree: .*more than the limit"):
        connectivity.fixed_indegree(100_000, 100_000, 1_000)                 # 1e8 synapses
    with pytest.raises(ValueError, match=r"^p: "):
        connectivity.fixed_probability(100_000, 100_000, 0.1)
    connectivity.fixed_indegree(1000, 1000, 100)                              # 1e5 synapses fit


def test_offset_columns_places_a_group_in_its_population():
    W = connectivity.fixed_indegree(3, 4, 2, weights=lambda rng, n: rng.uniform(1, 2, n), seed=0)
    placed = connectivity.offset_columns(W, 5, 10)
    assert placed.shape == (4, 10)
    np.testing.assert_array_equal(placed.toarray()[:, 5:8], W.toarray())
    assert placed.toarray()[:, :5].sum() == 0 and placed.toarray()[:, 8:].sum() == 0
    with pytest.raises(ValueError, match="n_pre must be at least first \\+ n_group = 8"):
        connectivity.offset_columns(W, 5, 7)
    with pytest.raises(TypeError, match="scipy.sparse"):
        connectivity.offset_columns(W.toarray(), 0, 3)
