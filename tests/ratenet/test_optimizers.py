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
