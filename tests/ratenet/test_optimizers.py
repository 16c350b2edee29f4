"""Optimiser update rules against steps computed by hand from their published formulas, state
export, and the learning-rate schedules."""

import math

import numpy as np
import pytest

import ratenet as rn

W0 = np.array([1.0, -2.0])
G1 = np.array([0.5, 1.0])
G2 = np.array([-1.0, 2.0])


def _two_steps(optimizer):
    w = W0.copy()
    optimizer.update([w], [G1.copy()])
    after_one = w.copy()
    optimizer.update([w], [G2.copy()])
    return after_one, w


def test_sgd_step_is_minus_lr_times_gradient():
    one, two = _two_steps(rn.SGD(lr=0.1))
    np.testing.assert_allclose(one, W0 - 0.1 * G1, rtol=1e-15)
    np.testing.assert_allclose(two, W0 - 0.1 * G1 - 0.1 * G2, rtol=1e-15)


def test_classic_momentum():
    # V1 = -lr g1; V2 = beta V1 - lr g2; w2 = w0 + V1 + V2
    one, two = _two_steps(rn.Momentum(lr=0.1, beta=0.9))
    v1 = -0.1 * G1
    v2 = 0.9 * v1 - 0.1 * G2
    np.testing.assert_allclose(one, W0 + v1, rtol=1e-15)
    np.testing.assert_allclose(two, W0 + v1 + v2, rtol=1e-15)


def test_dampened_momentum_is_the_notes_moving_average_form():
    # V <- beta V - (1 - beta) g ; w <- w + lr V
    one, two = _two_steps(rn.Momentum(lr=0.1, beta=0.9, dampened=True))
    v1 = -0.1 * G1
    v2 = 0.9 * v1 - 0.1 * G2
    np.testing.assert_allclose(one, W0 + 0.1 * v1, rtol=1e-15)
    np.testing.assert_allclose(two, W0 + 0.1 * v1 + 0.1 * v2, rtol=1e-15)


def test_nesterov():
    # V <- beta V - lr g ; w <- w + beta V - lr g
    one, two = _two_steps(rn.Nesterov(lr=0.1, beta=0.9))
    v1 = -0.1 * G1
    w1 = W0 + 0.9 * v1 - 0.1 * G1
    v2 = 0.9 * v1 - 0.1 * G2
    np.testing.assert_allclose(one, w1, rtol=1e-15)
    np.testing.assert_allclose(two, w1 + 0.9 * v2 - 0.1 * G2, rtol=1e-15)


def test_adagrad():
    one, two = _two_steps(rn.Adagrad(lr=0.1, eps=1e-10))
    w1 = W0 - 0.1 * G1 / (np.sqrt(G1**2) + 1e-10)
    w2 = w1 - 0.1 * G2 / (np.sqrt(G1**2 + G2**2) + 1e-10)
    np.testing.assert_allclose(one, w1, rtol=1e-14)
    np.testing.assert_allclose(two, w2, rtol=1e-14)


def test_rmsprop():
    one, two = _two_steps(rn.RMSProp(lr=0.01, rho=0.9, eps=1e-8))
    s1 = 0.1 * G1**2
    w1 = W0 - 0.01 * G1 / (np.sqrt(s1) + 1e-8)
    s2 = 0.9 * s1 + 0.1 * G2**2
    np.testing.assert_allclose(one, w1, rtol=1e-14)
    np.testing.assert_allclose(two, w1 - 0.01 * G2 / (np.sqrt(s2) + 1e-8), rtol=1e-14)


def test_adam_follows_kingma_ba_algorithm_1():
    optimizer = rn.Adam()
    assert (optimizer.lr, optimizer.beta1, optimizer.beta2, optimizer.eps) == (1e-3, 0.9, 0.999, 1e-8)
    one, two = _two_steps(optimizer)
    m1, v1 = 0.1 * G1, 0.001 * G1**2
    w1 = W0 - 1e-3 * (m1 / 0.1) / (np.sqrt(v1 / 0.001) + 1e-8)
    m2, v2 = 0.9 * m1 + 0.1 * G2, 0.999 * v1 + 0.001 * G2**2
    w2 = w1 - 1e-3 * (m2 / (1 - 0.9**2)) / (np.sqrt(v2 / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(one, w1, rtol=1e-13)
    np.testing.assert_allclose(two, w2, rtol=1e-13)
    # the first Adam step has size ~lr in every coordinate, whatever the gradient's scale
    np.testing.assert_allclose(np.abs(one - W0), 1e-3, rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    reference = rn.Adam(lr=0.01)
    w_reference = W0.copy()
    reference.update([w_reference], [G1.copy()])
    state = reference.state_dict()
    assert state["step_count"] == 1 and state["first_moment.0"].shape == (2,)
    restored = rn.Adam(lr=0.5)
    w_restored = w_reference.copy()
    restored.load_state_dict(state, [w_restored])
    assert restored.lr == 0.01
    reference.update([w_reference], [G2.copy()])
    restored.update([w_restored], [G2.copy()])
    np.testing.assert_array_equal(w_restored, w_reference)


def test_updates_keep_float32_parameters_float32():
    w = W0.astype(np.float32)
    rn.Adam().update([w], [G1.astype(np.float32)])
    assert w.dtype == np.float32


def test_optimizer_arguments_are_validated():
    with pytest.raises(ValueError, match="lr"):
        rn.SGD(lr=-1)
    with pytest.raises(ValueError, match="beta"):
        rn.Momentum(beta=1.0)
    with pytest.raises(ValueError, match="adam"):
        rn.get_optimizer("adamw")


# ------------------------------------------------------------------------------------ schedules
def _run(schedule, values, lr=1.0, key="val_loss"):
    rates = []
    for epoch, value in enumerate(values, start=1):  # epochs are numbered from 1
        lr = schedule.next_learning_rate(epoch, lr, {key: value, "loss": value})
        rates.append(lr)
    return rates


def test_step_decay_halves_every_step_size_epochs():
    rates = _run(rn.StepDecay(step_size=3, factor=0.5), [0] * 7)
    # after epochs 1..7: the rate of the next epoch e + 1 is 0.5 ** (e // 3)
    assert rates == [0.5 ** (epoch // 3) for epoch in range(1, 8)]


def test_exponential_decay():
    rates = _run(rn.ExponentialDecay(factor=0.9), [0] * 4)
    np.testing.assert_allclose(rates, 0.9 ** np.arange(1, 5), rtol=1e-15)


def test_reduce_on_plateau_halves_when_validation_stops_improving():
    # improves, improves, worse (halve), better than best (keep), equal (halve)
    assert _run(rn.ReduceOnPlateau(), [1.0, 0.8, 0.9, 0.7, 0.7]) == [1.0, 1.0, 0.5, 0.5, 0.25]
    # patience 1: two bad epochs in a row before halving
    assert _run(rn.ReduceOnPlateau(patience=1), [1.0, 1.1, 1.2, 1.3]) == [1.0, 1.0, 0.5, 0.5]
    assert math.isclose(_run(rn.ReduceOnPlateau(min_lr=0.3), [1, 2, 3])[-1], 0.3)


# ------------------------------------------------------- the notes' forms against PyTorch's rules
# PyTorch's update rules, written out by hand from its documentation (torch.optim.SGD, Adagrad and
# RMSprop, default options); torch itself is not a test dependency.
GRADIENTS = [np.array([0.5, 1.0]), np.array([-1.0, 2.0]), np.array([0.25, -0.5]), np.array([2.0, 0.0]),
             np.array([0.0, 0.0])]


def _trajectory(optimizer, gradients=GRADIENTS, lrs=None):
    w, path = W0.copy(), []
    for step, gradient in enumerate(gradients):
        if lrs is not None:
            optimizer.lr = lrs[step]
        optimizer.update([w], [gradient.copy()])
        path.append(w.copy())
    return np.array(path)


def _torch_sgd(lr, momentum, dampening, gradients=GRADIENTS, lrs=None):
    # buf = g on the first step, then buf = momentum buf + (1 - dampening) g; w -= lr buf
    w, buffer, path = W0.copy(), None, []
    for step, gradient in enumerate(gradients):
        buffer = gradient.copy() if buffer is None else momentum * buffer + (1 - dampening) * gradient
        w = w - (lr if lrs is None else lrs[step]) * buffer
        path.append(w)
    return np.array(path)


def _torch_adagrad(lr, eps):
    # state_sum += g^2; w -= lr g / (sqrt(state_sum) + eps)   (lr_decay = 0)
    w, state_sum, path = W0.copy(), np.zeros(2), []
    for gradient in GRADIENTS:
        state_sum = state_sum + gradient**2
        w = w - lr * gradient / (np.sqrt(state_sum) + eps)
        path.append(w)
    return np.array(path)


def _torch_rmsprop(lr, alpha, eps):
    # square_avg = alpha square_avg + (1 - alpha) g^2; w -= lr g / (sqrt(square_avg) + eps)
    w, square_avg, path = W0.copy(), np.zeros(2), []
    for gradient in GRADIENTS:
        square_avg = alpha * square_avg + (1 - alpha) * gradient**2
        w = w - lr * gradient / (np.sqrt(square_avg) + eps)
        path.append(w)
    return np.array(path)


def test_classic_momentum_equals_pytorch_sgd_momentum_at_constant_lr():
    np.testing.assert_allclose(_trajectory(rn.Momentum(lr=0.1, beta=0.9)),
                               _torch_sgd(0.1, momentum=0.9, dampening=0.0), rtol=1e-14, atol=1e-15)


def test_classic_momentum_departs_from_pytorch_when_the_lr_changes():
    # documented: PyTorch rescales its whole buffer by the current lr, ratenet's V keeps the old lrs
    lrs = [0.1, 0.1, 0.01, 0.01, 0.01]
    ours = _trajectory(rn.Momentum(lr=0.1, beta=0.9), lrs=lrs)
    torch = _torch_sgd(0.1, momentum=0.9, dampening=0.0, lrs=lrs)
    np.testing.assert_allclose(ours[:2], torch[:2], rtol=1e-14)
    # step 3 by hand: V3 = beta V2 - lr3 g3 with V2 from lr 0.1; PyTorch: w -= lr3 (beta buf2 + g3)
    v1 = -0.1 * GRADIENTS[0]
    v2 = 0.9 * v1 - 0.1 * GRADIENTS[1]
    v3 = 0.9 * v2 - 0.01 * GRADIENTS[2]
    np.testing.assert_allclose(ours[2], W0 + v1 + v2 + v3, rtol=1e-14)
    buffer2 = 0.9 * GRADIENTS[0] + GRADIENTS[1]
    np.testing.assert_allclose(torch[2], torch[1] - 0.01 * (0.9 * buffer2 + GRADIENTS[2]), rtol=1e-14)
    assert np.abs(ours[2] - torch[2]).max() > 0.05


def test_dampened_momentum_trails_pytorch_dampening_by_the_documented_sum():
    # documented: w_ratenet(t) - w_torch(t) = lr g_1 (beta + beta^2 + ... + beta^t)
    lr, beta = 0.1, 0.9
    ours = _trajectory(rn.Momentum(lr=lr, beta=beta, dampened=True))
    torch = _torch_sgd(lr, momentum=beta, dampening=beta)
    for t in range(1, len(GRADIENTS) + 1):
        offset = lr * GRADIENTS[0] * sum(beta**s for s in range(1, t + 1))
        np.testing.assert_allclose(ours[t - 1] - torch[t - 1], offset, rtol=1e-12, atol=1e-15)


def test_adagrad_and_rmsprop_defaults_equal_pytorch_eps_outside_the_root():
    np.testing.assert_allclose(_trajectory(rn.Adagrad(lr=0.1, eps=1e-10)), _torch_adagrad(0.1, 1e-10),
                               rtol=1e-14)
    np.testing.assert_allclose(_trajectory(rn.RMSProp(lr=0.01, rho=0.9, eps=1e-8)),
                               _torch_rmsprop(0.01, alpha=0.9, eps=1e-8), rtol=1e-14)
    assert rn.Adagrad().eps_inside_sqrt is False and rn.RMSProp().eps_inside_sqrt is False


def test_adagrad_with_eps_inside_the_root():
    # the notes' form: G <- G + g^2; w <- w - lr g / sqrt(G + eps)
    eps = 1e-3
    w, total, expected = W0.copy(), np.zeros(2), []
    for gradient in GRADIENTS:
        total = total + gradient**2
        w = w - 0.1 * gradient / np.sqrt(total + eps)
        expected.append(w)
    np.testing.assert_allclose(_trajectory(rn.Adagrad(lr=0.1, eps=eps, eps_inside_sqrt=True)),
                               np.array(expected), rtol=1e-14)


def test_rmsprop_with_eps_inside_the_root():
    # the notes' form (Goodfellow et al. 2016, Algorithm 8.5): S <- rho S + (1 - rho) g^2;
    # w <- w - lr g / sqrt(S + eps)
    eps = 1e-6
    w, mean_square, expected = W0.copy(), np.zeros(2), []
    for gradient in GRADIENTS:
        mean_square = 0.9 * mean_square + 0.1 * gradient**2
        w = w - 0.01 * gradient / np.sqrt(mean_square + eps)
        expected.append(w)
    ours = _trajectory(rn.RMSProp(lr=0.01, rho=0.9, eps=eps, eps_inside_sqrt=True))
    np.testing.assert_allclose(ours, np.array(expected), rtol=1e-14)
    # where the mean square is tiny the two forms part: a first gradient of 1e-4 gives a step of
    # lr g / (sqrt(1e-9) + eps) ~ 0.3 lr outside the root, lr g / sqrt(1e-9 + eps) ~ 0.1 lr inside
    tiny = [np.array([1e-4, 1e-4])]
    inside = W0 - _trajectory(rn.RMSProp(lr=0.01, eps=eps, eps_inside_sqrt=True), tiny)[0]
    outside = W0 - _trajectory(rn.RMSProp(lr=0.01, eps=eps), tiny)[0]
    np.testing.assert_allclose(inside, 0.01 * 1e-4 / np.sqrt(1e-9 + eps), rtol=1e-12)
    np.testing.assert_allclose(outside, 0.01 * 1e-4 / (np.sqrt(1e-9) + eps), rtol=1e-12)


def test_eps_inside_sqrt_is_validated_and_saved(tmp_path):
    with pytest.raises(TypeError, match="eps_inside_sqrt"):
        rn.RMSProp(eps_inside_sqrt="yes")
    net = rn.MLP([2, 3, 2], seed=0)
    optimizer = rn.RMSProp(lr=0.01, eps=1e-6, eps_inside_sqrt=True)
    net.fit(np.eye(2), [0, 1], epochs=2, batch_size=None, optimizer=optimizer, progress=False)
    net.save(tmp_path / "net.npz", optimizer=optimizer)
    restored = rn.load_checkpoint(tmp_path / "net.npz").optimizer
    assert restored.eps_inside_sqrt is True and restored.config() == optimizer.config()


def test_copy_state_is_a_copy_that_reuses_the_arrays_it_is_given():
    params = [np.zeros((3, 2)), np.zeros(2)]
    adam = rn.Adam(lr=0.1)
    assert adam.copy_state() is None                        # no step yet: no state
    adam.update(params, [np.ones((3, 2)), np.ones(2)])
    copy = adam.copy_state()
    for slot, arrays in adam.state.items():
        for live, saved in zip(arrays, copy[slot], strict=True):
            np.testing.assert_array_equal(saved, live)
            assert saved is not live
    kept = {slot: list(arrays) for slot, arrays in copy.items()}
    adam.update(params, [np.ones((3, 2)), np.ones(2)])
    again = adam.copy_state(copy)
    assert again is copy
    assert all(a is b for slot in kept for a, b in zip(kept[slot], again[slot], strict=True))
    slot = adam.slots[0]
    np.testing.assert_array_equal(again[slot][0], adam.state[slot][0])
