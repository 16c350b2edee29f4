"""ratenet.sklearn: the estimators pass scikit-learn's own estimator checks in full, work in its
model-selection tools, and learn the digits as well as scikit-learn's MLPClassifier with the same
architecture and training settings."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="ratenet.sklearn needs the sklearn extra (scikit-learn)")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

import ratenet as rn  # noqa: E402
from ratenet.sklearn import RateNetClassifier, RateNetRegressor  # noqa: E402

# check_estimator runs in a child process because one of its checks (check_array_api_input) runs
# only when SCIPY_ARRAY_API=1 is set before scipy is imported; the child reports every check.
_RUN_CHECKS = textwrap.dedent("""
    import json, sys, warnings
    from sklearn.utils.estimator_checks import check_estimator
    from ratenet.sklearn import RateNetClassifier, RateNetRegressor
    warnings.simplefilter("ignore")
    estimator = {"classifier": RateNetClassifier, "regressor": RateNetRegressor}[sys.argv[1]]()
    results = check_estimator(estimator, on_fail=None)
    print(json.dumps([[r["check_name"], r["status"], repr(r["exception"])[:500]] for r in results]))
""")


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_passes_every_check_of_sklearn_check_estimator(kind):
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    child = subprocess.run([sys.executable, "-c", _RUN_CHECKS, kind], capture_output=True, text=True,
                           env=env, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    results = json.loads(child.stdout.strip().splitlines()[-1])
    not_passed = [result for result in results if result[1] != "passed"]
    assert len(results) > 45                      # scikit-learn 1.9 runs 53-55 checks
    assert not not_passed, not_passed             # none failed, none skipped


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)


def test_digits_accuracy_matches_sklearn_mlp_with_the_same_architecture(digits):
    # Both: 64-100-10, ReLU, Adam lr 1e-3, batches of 200, 200 epochs, no penalty.
    X_train, X_test, y_train, y_test = digits
    ours = RateNetClassifier((100,), "relu", random_state=0).fit(X_train, y_train).score(X_test, y_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # MLPClassifier's ConvergenceWarning at max_iter
        theirs = MLPClassifier((100,), activation="relu", alpha=0.0, batch_size=200, max_iter=200,
                               random_state=0).fit(X_train, y_train).score(X_test, y_test)
    assert theirs > 0.95
    assert ours >= theirs - 0.02          # within 2 points of 450 test digits


def test_in_a_pipeline_with_cross_val_score_and_grid_search(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:600] * 16, y_train[:600]
    model = make_pipeline(MinMaxScaler(), RateNetClassifier((32,), "soft_lif_rate", epochs=30,
                                                            batch_size=32, random_state=0))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    search = GridSearchCV(model, {"ratenetclassifier__activation": ["sigmoid", "relu"],
                                  "ratenetclassifier__learning_rate": [1e-3, 3e-3]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4 and search.best_score_ > 0.85
    assert isinstance(search.best_estimator_[-1].network_, rn.MLP)


def test_clone_copies_parameters_not_the_fitted_network():
    activation = rn.SoftLIFRate(sigma=0.05)
    optimizer = rn.Momentum(lr=0.05, beta=0.8)
    model = RateNetClassifier((8, 4), activation, optimizer=optimizer, epochs=5, random_state=1)
    X = np.random.default_rng(0).normal(size=(40, 3))
    model.fit(X, X[:, 0] > 0)
    copy = clone(model)
    assert not hasattr(copy, "network_")
    assert copy.get_params()["hidden_layer_sizes"] == (8, 4)
    assert copy.activation is not activation and copy.activation.sigma == 0.05
    # fit left the given instances as they were: the optimiser was copied and reset, not stepped.
    assert optimizer.step_count == 0 and optimizer.lr == 0.05


def test_same_random_state_same_model_and_string_labels_come_back():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, "spike", "silence")
    first = RateNetClassifier((10,), epochs=50, random_state=3).fit(X, y)
    second = RateNetClassifier((10,), epochs=50, random_state=3).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert set(first.predict(X)) <= {"silence", "spike"} and list(first.classes_) == ["silence", "spike"]
    np.testing.assert_allclose(first.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(first.predict_log_proba(X)), first.predict_proba(X), rtol=1e-12)


def test_pickle_round_trip_predicts_identically():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 5))
    model = RateNetRegressor((12,), "tanh", epochs=30, random_state=0).fit(X, X @ np.arange(5.0))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    assert restored.n_iter_ == 30 and restored.network_.history is restored.history_


def test_early_stopping_holds_out_a_validation_fraction_and_stops():
    X, y = load_digits(return_X_y=True)
    model = RateNetClassifier((30,), epochs=500, early_stopping=True, validation_fraction=0.2,
                              patience=5, random_state=0).fit(X / 16.0, y)
    assert model.n_iter_ < 500
    assert len(model.validation_loss_curve_) == model.n_iter_ == len(model.loss_curve_)
    assert model.network_.history.best_epoch is not None


def test_regressor_fits_a_smooth_function_and_several_targets():
    X = np.linspace(-1, 1, 200).reshape(-1, 1)
    targets = np.column_stack([np.sin(2 * X[:, 0]), X[:, 0] ** 2])
    model = make_pipeline(StandardScaler(), RateNetRegressor((40,), "tanh", epochs=300,
                                                                     learning_rate=0.01, random_state=0))
    model.fit(X, targets)
    assert model.predict(X).shape == (200, 2) and model.predict(X).dtype == np.float64
    assert model.score(X, targets) > 0.97


@pytest.mark.parametrize("parameter, value, match", [
    ("hidden_layer_sizes", (10, 0), "hidden_layer_sizes"),
    ("activation", "bogus", "activation"),
    ("optimizer", "bogus", "optimizer"),
    ("learning_rate", -1.0, "learning_rate"),
    ("epochs", 0, "epochs"),
    ("batch_size", "big", "batch_size"),
    ("weight_decay", -0.1, "weight_decay"),
    ("dtype", "int8", "dtype"),
])
def test_bad_parameters_raise_at_fit_naming_the_parameter(parameter, value, match):
    model = RateNetClassifier(epochs=2).set_params(**{parameter: value})   # set_params does not check
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match=match):
        model.fit(X, X[:, 0] > 0)


def test_one_class_is_refused_with_a_message():
    with pytest.raises(ValueError, match="at least 2 classes"):
        RateNetClassifier(epochs=1).fit(np.zeros((5, 2)), np.ones(5))
