"""Model selection: grid and random search score every candidate on the validation set exactly as
training it by hand would, pick the best, do not depend on n_jobs, and refuse bad spaces before
training anything."""

import joblib
import numpy as np
import pytest
import scipy.stats

import ratenet as rn

EPOCHS = 4


@pytest.fixture(scope="module")
def data():
    """Three Gaussian classes in 4-D: 120 training and 30 validation samples."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 50)
    X = rng.normal(size=(150, 4)) + 2 * np.eye(4)[labels]
    order = rng.permutation(150)
    X, y = X[order], labels[order]
    return X[:120], y[:120], X[120:], y[120:]


def build(hidden, lr, activation="tanh", seed=0):
    """A module-level build_fn (picklable for worker processes)."""
    net = rn.MLP([4, hidden, 3], activation=activation, seed=seed)
    return net, {"optimizer": rn.Adam(lr=lr)}


FIT = {"epochs": EPOCHS, "batch_size": 16}


def test_grid_search_scores_every_combination_as_training_by_hand(data):
    X, y, X_val, y_val = data
    space = {"hidden": [3, 6], "lr": [1e-3, 1e-2]}
    result = rn.grid_search(build, space, X, y, validation_data=(X_val, y_val), fit_params=FIT)
    assert [(row["hidden"], row["lr"]) for row in result.rows] == [(3, 1e-3), (3, 1e-2), (6, 1e-3), (6, 1e-2)]
    for row in result.rows:
        # reference: the same candidate built and trained directly (build_fn gets seed=0)
        net, options = build(row["hidden"], row["lr"], seed=0)
        history = net.fit(X, y, validation_data=(X_val, y_val), progress=False, **FIT, **options)
        assert row["score"] == net.score(X_val, y_val)
        assert row["val_loss"] == net.loss_value(X_val, y_val)
        assert row["train_loss"] == history.loss[-1] and row["epochs"] == EPOCHS
        assert row["error"] is None
    scores = result.column("score")
    assert result.best_index == int(np.argmax(scores)) and result.best_score == max(scores)
    assert result.best_params == {"hidden": result.rows[result.best_index]["hidden"],
                                  "lr": result.rows[result.best_index]["lr"]}
    assert result.best_net.score(X_val, y_val) == result.best_score
    assert len(result.fit_times) == 4 and min(result.fit_times) > 0


def test_n_jobs_2_gives_the_same_table_as_n_jobs_1(data):
    """Candidates and the validation split are made before dispatch, and every trial builds, seeds
    and trains its own network, so worker processes reproduce the serial table exactly."""
    X, y, _, _ = data
    space = {"hidden": [3, 6], "lr": [1e-3, 3e-2], "activation": ["tanh", "relu"]}
    serial = rn.grid_search(build, space, X, y, validation_split=0.25, fit_params=FIT, n_jobs=1, seed=5)
    parallel = rn.grid_search(build, space, X, y, validation_split=0.25, fit_params=FIT, n_jobs=2, seed=5)
    assert parallel.rows == serial.rows
    assert parallel.best_index == serial.best_index
    for a, b in zip(parallel.best_net.parameters(), serial.best_net.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len({row["score"] for row in serial.rows}) > 1  # the candidates really differ


@pytest.mark.parametrize("backend", ["threading", "multiprocessing"])
def test_enclosing_joblib_backend_runs_the_search_with_the_same_table(data, backend):
    """n_jobs=None takes the backend and its worker count from the enclosing block, as a Dask or Ray
    cluster backend would be used; "multiprocessing" cannot stream results (like Ray's backend)
    and takes the list path."""
    X, y, _, _ = data
    space = {"hidden": [3, 6], "lr": [1e-3, 3e-2]}
    serial = rn.grid_search(build, space, X, y, fit_params=FIT, n_jobs=1)
    with joblib.parallel_backend(backend, n_jobs=2):
        inside = rn.grid_search(build, space, X, y, fit_params=FIT)
    assert inside.rows == serial.rows


def test_unknown_space_key_raises_before_any_training(data):
    X, y, _, _ = data
    calls = []

    def counting_build(hidden, lr, seed=0):
        calls.append(hidden)
        return build(hidden, lr, seed=seed)

    with pytest.raises(ValueError, match=r"\['dropout'\].*does not accept"):
        rn.grid_search(counting_build, {"hidden": [3], "lr": [0.01], "dropout": [0.1, 0.5]}, X, y)
    with pytest.raises(ValueError, match="does not accept"):
        rn.random_search(counting_build, {"hiden": [3, 4], "lr": [0.01]}, X, y, n_iter=2)
    assert calls == []


@pytest.mark.parametrize("space, error", [
    ({"hidden": []}, ValueError),
    ({"hidden": "abc"}, ValueError),
    ({"hidden": 3}, ValueError),
    ([], TypeError),
])
def test_bad_grid_spaces_raise(data, space, error):
    X, y, _, _ = data
    with pytest.raises(error, match="space"):
        rn.grid_search(build, space, X, y)


def test_bad_search_options_raise(data):
    X, y, _, _ = data
    space = {"hidden": [3], "lr": [0.01]}
    with pytest.raises(ValueError, match="validation_split"):
        rn.grid_search(build, space, X, y, fit_params={"validation_split": 0.1})
    with pytest.raises(ValueError, match="fit\\(\\) does not accept"):
        rn.grid_search(build, space, X, y, fit_params={"epoch": 3})
    with pytest.raises(ValueError, match="scoring"):
        rn.grid_search(build, space, X, y, scoring="accuracy")
    with pytest.raises(ValueError, match="validation_split"):
        rn.grid_search(build, space, X, y, validation_split=1.5)
    with pytest.raises(TypeError, match="must return a Network"):
        rn.grid_search(lambda hidden, lr: "not a network", space, X, y)


def test_build_fn_returning_a_network_and_kwargs_accepting_any_key(data):
    X, y, X_val, y_val = data

    def build_any(**params):
        return rn.MLP([4, params["hidden"], 3], seed=params["seed"])

    result = rn.grid_search(build_any, {"hidden": [2, 5]}, X, y, validation_data=(X_val, y_val),
                            fit_params={"epochs": 2}, seed=3)
    assert len(result) == 2 and result.param_names == ["hidden"]
    reference = rn.MLP([4, 5, 3], seed=3)  # build_fn takes **params, so it received seed=3
    reference.fit(X, y, epochs=2, validation_data=(X_val, y_val), progress=False)
    assert result.rows[1]["score"] == reference.score(X_val, y_val)


def test_list_of_grids_searches_their_union(data):
    X, y, X_val, y_val = data
    space = [{"hidden": [3], "lr": [0.01], "activation": ["tanh"]},
             {"hidden": [4], "lr": [0.01, 0.02], "activation": ["relu"]}]
    result = rn.grid_search(build, space, X, y, validation_data=(X_val, y_val), fit_params={"epochs": 1})
    assert [(row["hidden"], row["lr"], row["activation"]) for row in result.rows] == [
        (3, 0.01, "tanh"), (4, 0.01, "relu"), (4, 0.02, "relu")]


def test_random_search_draws_reproducibly_from_lists_and_distributions(data):
    X, y, X_val, y_val = data
    space = {"hidden": [2, 3, 4, 5], "lr": scipy.stats.loguniform(1e-3, 1e-1)}
    kwargs = dict(validation_data=(X_val, y_val), fit_params={"epochs": 1}, n_iter=6)
    first = rn.random_search(build, space, X, y, seed=1, **kwargs)
    again = rn.random_search(build, space, X, y, seed=1, **kwargs)
    other = rn.random_search(build, space, X, y, seed=2, **kwargs)
    assert first.rows == again.rows
    drawn = [(row["hidden"], row["lr"]) for row in first.rows]
    assert drawn != [(row["hidden"], row["lr"]) for row in other.rows]
    assert all(hidden in space["hidden"] for hidden, _ in drawn)
    assert all(1e-3 <= lr <= 1e-1 and type(lr) is float for _, lr in drawn)
    assert len({lr for _, lr in drawn}) == 6  # continuous draws do not repeat
    # the documented draw order: parameters in sorted-name order from Generator([seed, 1])
    rng = np.random.default_rng([1, 1])
    expected = []
    for _ in range(6):
        hidden = space["hidden"][int(rng.integers(4))]
        lr = float(space["lr"].rvs(random_state=rng))
        expected.append((hidden, lr))
    assert drawn == expected


def test_diverging_candidate_is_recorded_and_never_best(data):
    X, _, _, _ = data
    target = 1000 * X[:, 0]

    def build_regression(lr, seed=0):
        return rn.MLP([4, 8, 1], activation="relu", output="linear", seed=seed), {"optimizer": rn.SGD(lr=lr)}

    result = rn.grid_search(build_regression, {"lr": [1e-4, 1e3]}, X, target, fit_params={"epochs": 3})
    diverged = result.rows[1]
    assert diverged["error"] is not None and "learning rate" in diverged["error"]
    assert np.isnan(diverged["score"])
    assert result.best_index == 0
    assert "failed" in result.to_markdown()


def test_each_trial_gets_its_own_copy_of_stateful_fit_options(data):
    X, y, _, _ = data
    stopper = rn.EarlyStopping(patience=1)
    optimizer = rn.Adam(lr=0.01)
    rn.grid_search(lambda hidden, seed: rn.MLP([4, hidden, 3], seed=seed), {"hidden": [2, 3]}, X, y,
                   fit_params={"epochs": 3, "callbacks": [stopper], "optimizer": optimizer})
    assert stopper.wait == 0 and optimizer.step_count == 0  # the user's instances were never used


def test_scoring_by_loss_picks_the_lowest_validation_loss(data):
    X, y, X_val, y_val = data
    result = rn.grid_search(build, {"hidden": [2, 6], "lr": [1e-3, 1e-2]}, X, y,
                            validation_data=(X_val, y_val), fit_params=FIT, scoring="loss")
    val_losses = result.column("val_loss")
    assert result.best_index == int(np.argmin(val_losses))
    assert result.best_score == -min(val_losses)


def test_table_is_readable(data):
    X, y, X_val, y_val = data
    result = rn.grid_search(build, {"hidden": [2, 4], "lr": [0.01]}, X, y, validation_data=(X_val, y_val),
                            fit_params={"epochs": 1})
    table = result.to_markdown()
    lines = table.splitlines()
    assert lines[0] == "| trial | hidden | lr | score | val_loss | train_loss | epochs | fit_time_s |"
    assert len(lines) == 2 + 2 and lines[2].startswith(f"| **{result.best_index}** |")
    assert "best_params={'hidden'" in repr(result) and "2 trials" in repr(result)
