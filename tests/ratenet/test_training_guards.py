"""Trust under misuse: concurrent inference, concurrent training, runaway training and
interruption (issue 9, items 1 and 2). Each test failed on the main branch before the shared
training loop: threads corrupted each other's predictions, a failed fit left the weights at 1e159
or NaN, finite divergence went unnoticed, and Ctrl-C left a half-applied mini-batch."""

import threading
import warnings

import numpy as np
import pytest

import ratenet as rn
from ratenet.layers import Layer

N_THREADS = 4


def _run_in_threads(function, n_threads=N_THREADS):
    """Run ``function(index)`` in ``n_threads`` threads started together; return the results and
    re-raise the first exception."""
    barrier = threading.Barrier(n_threads)
    results, errors = [None] * n_threads, []

    def target(index):
        try:
            barrier.wait()
            results[index] = function(index)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    threads = [threading.Thread(target=target, args=(index,)) for index in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture(scope="module")
def wide_net():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 16))
    y = rng.integers(0, 4, 600)
    net = rn.MLP([16, 256, 4], activation="relu", seed=0)
    net.fit(X, y, epochs=2, progress=False)
    return net, X


# ------------------------------------------------------------------------------ concurrent inference
def test_concurrent_predictions_on_one_network_equal_serial_ones(wide_net):
    net, X = wide_net
    # each thread its own inputs, many calls of several batch sizes, interleaved with the others
    inputs = [X[index::N_THREADS] for index in range(N_THREADS)]
    serial = [(net.predict(x), net.predict_proba(x), net.forward(x[:7])) for x in inputs]

    def predict_many(index):
        x = inputs[index]
        return [(net.predict(x), net.predict_proba(x), net.forward(x[:7])) for _ in range(40)]

    for index, runs in enumerate(_run_in_threads(predict_many)):
        for labels, probability, output in runs:
            np.testing.assert_array_equal(labels, serial[index][0])
            np.testing.assert_array_equal(probability, serial[index][1])
            np.testing.assert_array_equal(output, serial[index][2])


def test_concurrent_score_and_loss_with_batch_norm_and_dropout_equal_serial_ones():
    split = rn.datasets.digits(standardize=True)
    net = rn.Network([rn.Dense(64, 32), rn.BatchNorm(32), rn.ReLU(), rn.Dropout(0.3), rn.Dense(32, 10)],
                     loss="softmax_cross_entropy", seed=0)
    net.fit(split.X_train, split.y_train, epochs=2, progress=False)
    expected = (net.score(split.X_test, split.y_test), net.loss_value(split.X_test, split.y_test))
    runs = _run_in_threads(lambda _: [(net.score(split.X_test, split.y_test),
                                       net.loss_value(split.X_test, split.y_test)) for _ in range(20)])
    assert all(result == expected for run in runs for result in run)


class _Doubler(Layer):
    """A custom layer without ``infer``: it keeps its input, as layers written for training do."""

    def forward(self, x, training=False):
        self.kept = x
        return 2 * x

    def backward(self, grad_output):
        return 2 * grad_output


def test_a_custom_layer_without_infer_makes_predictions_take_turns_correctly():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 5))
    net = rn.Network([rn.Dense(5, 20), _Doubler(), rn.Tanh(), rn.Dense(20, 3)],
                     loss="softmax_cross_entropy", seed=0)
    expected = [net.predict(X[index::N_THREADS]) for index in range(N_THREADS)]
    runs = _run_in_threads(lambda index: [net.predict(X[index::N_THREADS]) for _ in range(30)])
    for index, run in enumerate(runs):
        for labels in run:
            np.testing.assert_array_equal(labels, expected[index])


def test_predictions_during_fit_in_another_thread_do_not_fail(wide_net):
    _, X = wide_net
    net = rn.MLP([16, 64, 4], activation="relu", seed=0)
    y = np.arange(X.shape[0]) % 4
    done = threading.Event()
    shapes = []

    def predict_while_training():
        while not done.is_set():
            shapes.append(net.predict_proba(X[:50]).shape)

    thread = threading.Thread(target=predict_while_training)
    thread.start()
    try:
        net.fit(X, y, epochs=5, batch_size=16, progress=False)
    finally:
        done.set()
        thread.join()
    assert shapes and set(shapes) == {(50, 4)}


# ------------------------------------------------------------------------------ concurrent training
def test_a_second_fit_on_a_training_network_raises_and_the_first_completes():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)
    net = rn.MLP([4, 8, 3], seed=0)
    started, release = threading.Event(), threading.Event()

    def hold(net, epoch, logs):
        started.set()
        release.wait(timeout=30)

    first = {}
    thread = threading.Thread(target=lambda: first.update(
        history=net.fit(X, y, epochs=2, callbacks=[hold], progress=False)))
    thread.start()
    try:
        assert started.wait(timeout=30)
        with pytest.raises(RuntimeError, match="already training"):
            net.fit(X, y, epochs=1, progress=False)
        with pytest.raises(RuntimeError, match="already training"):
            net.loss_and_gradients(X, y)
    finally:
        release.set()
        thread.join()
    assert len(first["history"]) == 2
    net.fit(X, y, epochs=1, progress=False)  # free again


def test_fit_called_from_its_own_callback_raises():
    X, y = np.ones((8, 2)), np.arange(8) % 2
    net = rn.MLP([2, 3, 2], seed=0)
    with pytest.raises(RuntimeError, match="already training"):
        net.fit(X, y, epochs=1, progress=False,
                callbacks=[lambda net, epoch, logs: net.fit(X, y, epochs=1, progress=False)])


# ------------------------------------------------------------------------------ runaway training
def _state(net, optimizer=None):
    arrays = [array.copy() for array in net.training_state()]
    if optimizer is not None and optimizer.state is not None:
        arrays += [array.copy() for slot in optimizer.slots for array in optimizer.state[slot]]
    return arrays


def _assert_same(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(a, e)


def test_an_overflowing_learning_rate_restores_the_weights_of_the_start_of_the_call():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((200, 4)), rng.integers(0, 3, 200)
    net = rn.MLP([4, 16, 3], activation="relu", seed=0)
    before = _state(net)
    with pytest.raises(FloatingPointError, match="start of this call.*lr=1e\\+06.*smaller"):
        net.fit(X, y, epochs=5, optimizer=rn.SGD(lr=1e6), progress=False)
    _assert_same(_state(net), before)
    assert len(net.history) == 0


def test_finite_divergence_is_caught_before_it_overflows():
    # loss 7.6e6 -> 1e123 on main, with no warning
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((300, 4)) * 3, rng.integers(0, 3, 300)
    net = rn.MLP([4, 16, 3], activation="relu", seed=0)
    with pytest.raises(FloatingPointError, match="diverged") as caught:
        net.fit(X, y, epochs=20, optimizer=rn.SGD(lr=50), progress=False)
    reached = float(str(caught.value).split("the loss reached ")[1].split(" ")[0])
    assert 1e4 < reached < 1e12  # stopped near the limit, far from overflow
    assert all(np.isfinite(array).all() for array in net.training_state())


def test_divergence_after_good_epochs_restores_the_last_good_epoch_with_the_optimizer_state():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((128, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(128)
    net = rn.Network([rn.Dense(3, 16), rn.BatchNorm(16), rn.Tanh(), rn.Dense(16, 1)], seed=0)
    optimizer = rn.Adam(lr=1e-2)
    ends = []

    def record_then_explode(net, epoch, logs):
        ends.append((_state(net, optimizer), optimizer.step_count, optimizer.lr))
        if epoch == 3:  # the next epoch runs away
            optimizer.lr = 1e12

    with pytest.raises(FloatingPointError, match="end of epoch 3"):
        net.fit(X, y, epochs=10, batch_size=32, optimizer=optimizer, callbacks=[record_then_explode],
                progress=False)
    state, step_count, learning_rate = ends[2]
    _assert_same(_state(net, optimizer), state)  # parameters, batch-norm statistics, Adam moments
    assert optimizer.step_count == step_count == 12 and len(net.history) == 3
    assert optimizer.lr == 1e12  # the learning rate the last good epoch handed on (the culprit)


def test_divergence_can_warn_and_return_instead():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((200, 4)), rng.integers(0, 3, 200)
    net = rn.MLP([4, 16, 3], activation="relu", seed=0)
    before = _state(net)
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = net.fit(X, y, epochs=5, optimizer=rn.SGD(lr=1e6), on_divergence="warn", progress=False)
    assert history is net.history and len(history) == 0
    _assert_same(_state(net), before)
    with pytest.raises(ValueError, match="on_divergence"):
        net.fit(X, y, on_divergence="ignore", progress=False)
    with pytest.raises(ValueError, match="divergence_factor"):
        net.fit(X, y, divergence_factor=0.5, progress=False)


def test_autoencoder_and_rbm_restore_their_weights_on_divergence():
    rng = np.random.default_rng(6)
    X = rng.random((64, 12))
    autoencoder = rn.Autoencoder(12, 6, loss="squared_error", seed=0)
    before = _state(autoencoder)
    with pytest.raises(FloatingPointError, match="start of this call"):
        autoencoder.fit(X, epochs=3, optimizer=rn.SGD(lr=1e9), progress=False)
    _assert_same(_state(autoencoder), before)

    rbm = rn.RBM(12, 6, seed=0)
    rbm.fit(X, epochs=2, persistent=True, progress=False)
    before = _state(rbm)
    assert len(before) == 4  # W, two biases and the persistent chains
    with pytest.raises(FloatingPointError):
        rbm.fit(X, epochs=3, persistent=True, optimizer=rn.SGD(lr=1e308), progress=False)
    _assert_same(_state(rbm), before)


# ------------------------------------------------------------------------------ interruption
def test_ctrl_c_in_the_middle_of_an_epoch_leaves_the_last_completed_epoch():
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((96, 4)), rng.integers(0, 3, 96)
    net = rn.MLP([4, 8, 3], seed=0)
    optimizer = rn.Adam()
    ends, batches = [], []

    def record(net, epoch, logs):
        ends.append((_state(net, optimizer), optimizer.step_count))

    def interrupt_in_epoch_three(batch, rng):
        batches.append(1)
        if len(batches) == 2 * 3 + 2:  # 3 batches per epoch: the second batch of epoch 3
            raise KeyboardInterrupt
        return batch

    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=5, batch_size=32, optimizer=optimizer, callbacks=[record],
                augment=interrupt_in_epoch_three, progress=False)
    state, step_count = ends[-1]
    assert len(ends) == 2 and len(net.history) == 2
    _assert_same(_state(net, optimizer), state)
    assert optimizer.step_count == step_count == 6


def test_ctrl_c_during_autoencoder_training_leaves_the_last_completed_epoch():
    rng = np.random.default_rng(8)
    X = rng.random((40, 6))
    autoencoder = rn.Autoencoder(6, 3, seed=0)
    autoencoder.fit(X, epochs=1, progress=False)
    before = _state(autoencoder)
    calls = []
    original = autoencoder.train_step

    def interrupted(x, optimizer, rng):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(x, optimizer, rng)

    autoencoder.train_step = interrupted
    with pytest.raises(KeyboardInterrupt):
        autoencoder.fit(X, epochs=2, batch_size=8, progress=False)
    _assert_same(_state(autoencoder), before)


def test_an_optimizer_restored_for_another_architecture_starts_its_step_count_afresh():
    optimizer = rn.Adam(lr=0.1)
    first = [np.zeros(3)]
    for _ in range(5):
        optimizer.update(first, [np.ones(3)])
    assert optimizer.step_count == 5
    second = [np.zeros((2, 2))]
    with pytest.warns(UserWarning, match="start afresh"):
        optimizer.update(second, [np.ones((2, 2))])
    assert optimizer.step_count == 1
    # Adam's first step after a reset: bias-corrected, exactly lr in each coordinate
    np.testing.assert_allclose(second[0], -0.1, rtol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.update(second, [np.ones((2, 2))])  # same shapes: no warning
