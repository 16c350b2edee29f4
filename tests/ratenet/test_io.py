"""Saving and loading networks: round trips predict bit-identically, training resumes exactly where it
stopped, bad files raise clear errors, and a failed save leaves the old file as it was."""

import json
import os

import numpy as np
import pytest

import neurosim as ns
import ratenet as rn
from ratenet import io


@pytest.fixture
def blobs():
    """Three Gaussian classes in 4-D (90 samples), inputs around +-1."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    return rng.normal(size=(90, 4)) + 2 * np.eye(4)[labels], labels


def _rate_curve_net(dtype):
    """Dense layers joined by sigmoid, LIF rate, soft LIF rate and two neurosim rate curves: the
    analytic LIF curve and a tabulated ("measured") one."""
    analytic = ns.rate_curve("lif", np.linspace(0.0, 4.0, 9), analytic=True)
    inputs = np.linspace(0.0, 4.0, 17)
    tabulated = ns.RateCurve(inputs, ns.lif_rate(inputs), onset=1.0, label="tabulated LIF")
    layers = [rn.Dense(4, 7), rn.Sigmoid(), rn.Dense(7, 6), rn.LIFRate(tau_ref=0.001),
              rn.Dense(6, 6), rn.SoftLIFRate(sigma=0.05), rn.Dense(6, 5),
              rn.RateCurveActivation(analytic, gain=2.0), rn.Dense(5, 5),
              rn.RateCurveActivation(tabulated), rn.Dense(5, 3)]
    return rn.Network(layers, loss="softmax_cross_entropy", seed=4, dtype=dtype)


def _assert_same_parameters(first, second):
    assert len(first.parameters()) == len(second.parameters())
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_predicts_bit_identically_with_rate_curve_activations(tmp_path, blobs, dtype):
    X, y = blobs
    net = _rate_curve_net(dtype)
    net.fit(X, y, epochs=3, batch_size=16, optimizer=rn.Adam(lr=0.01), progress=False)
    path = net.save(tmp_path / "net.npz")
    loaded = rn.load(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    assert [layer.config() for layer in loaded.layers] == [layer.config() for layer in net.layers]
    assert loaded.dtype == net.dtype and loaded.seed == net.seed
    _assert_same_parameters(net, loaded)
    # the weights came from the file: the same architecture built afresh (same seed) differs
    assert not np.array_equal(_rate_curve_net(dtype).layers[0].W, loaded.layers[0].W)
    # exact equality: same arrays, same operations, same order
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.forward(X).dtype == dtype


def test_mlp_comes_back_as_mlp_with_its_loss(tmp_path, blobs):
    X, _ = blobs
    net = rn.MLP([4, 5, 2], activation=rn.LIFRate(gain=2.0), output="sigmoid", dtype=np.float32, seed=1)
    loaded = rn.load(net.save(tmp_path / "mlp.npz"))
    assert type(loaded) is rn.MLP and loaded.sizes == [4, 5, 2] and loaded.output == "sigmoid"
    assert loaded.activation.config() == net.activation.config()
    assert type(loaded.loss) is rn.BinaryCrossEntropy
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))


@pytest.mark.parametrize("make_optimizer", [lambda: rn.Adam(lr=0.01), lambda: rn.Momentum(lr=0.05),
                                            lambda: rn.SGD(lr=0.1)], ids=["adam", "momentum", "sgd"])
def test_resumed_training_equals_uninterrupted_training(tmp_path, blobs, make_optimizer):
    """The contract: fit(epochs=3, seed=rng) -> save(optimizer, rng) -> load_checkpoint ->
    fit(epochs=2, optimizer=ckpt.optimizer, seed=ckpt.rng) gives bit for bit the weights of
    fit(epochs=5) with a generator seeded alike. (A validation split or a schedule would restart
    at the second fit call; neither is used.)"""
    X, y = blobs

    def build():
        return rn.MLP([4, 6, 3], activation="tanh", seed=2)

    uninterrupted = build()
    uninterrupted.fit(X, y, epochs=5, batch_size=16, optimizer=make_optimizer(),
                      seed=np.random.default_rng(11), progress=False)

    first = build()
    optimizer, rng = make_optimizer(), np.random.default_rng(11)
    first.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, seed=rng, progress=False)
    first.save(tmp_path / "ckpt.npz", optimizer=optimizer, rng=rng, metadata={"epoch": 3})
    del first, optimizer, rng

    checkpoint = rn.load_checkpoint(tmp_path / "ckpt.npz")
    assert checkpoint.metadata == {"epoch": 3}
    assert type(checkpoint.optimizer) is type(make_optimizer())
    resumed = checkpoint.net
    resumed.fit(X, y, epochs=2, batch_size=16, optimizer=checkpoint.optimizer, seed=checkpoint.rng,
                progress=False)
    _assert_same_parameters(resumed, uninterrupted)

    # Controls: the test can fail. Without the saved shuffling state the next epochs differ.
    reshuffled = rn.load_checkpoint(tmp_path / "ckpt.npz")
    reshuffled.net.fit(X, y, epochs=2, batch_size=16, optimizer=reshuffled.optimizer,
                       seed=np.random.default_rng(11), progress=False)
    assert not np.array_equal(reshuffled.net.layers[0].W, uninterrupted.layers[0].W)


def test_resume_with_dropout_and_batch_norm_is_exact(tmp_path, blobs):
    """Batch norm's running statistics are saved as buffers and Dropout's mask generator with its
    state, so the resumed run draws the masks and averages the statistics the uninterrupted one
    does; the running statistics also make evaluation-mode predictions identical."""
    X, y = blobs

    def build():
        return rn.Network([rn.Dense(4, 8), rn.BatchNorm(8), rn.ReLU(), rn.Dropout(0.3), rn.Dense(8, 3)],
                          loss="softmax_cross_entropy", seed=1)

    uninterrupted = build()
    uninterrupted.fit(X, y, epochs=4, batch_size=15, optimizer=rn.Adam(lr=0.01),
                      seed=np.random.default_rng(3), progress=False)
    first = build()
    optimizer, rng = rn.Adam(lr=0.01), np.random.default_rng(3)
    first.fit(X, y, epochs=2, batch_size=15, optimizer=optimizer, seed=rng, progress=False)
    first.save(tmp_path / "ckpt.npz", optimizer=optimizer, rng=rng)
    checkpoint = rn.load_checkpoint(tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(checkpoint.net.layers[1].running_var, first.layers[1].running_var)
    np.testing.assert_array_equal(checkpoint.net.forward(X), first.forward(X))
    checkpoint.net.fit(X, y, epochs=2, batch_size=15, optimizer=checkpoint.optimizer, seed=checkpoint.rng,
                       progress=False)
    _assert_same_parameters(checkpoint.net, uninterrupted)
    for name, buffer in uninterrupted.layers[1].buffers().items():
        np.testing.assert_array_equal(checkpoint.net.layers[1].buffers()[name], buffer)


def test_resuming_without_the_optimizer_state_differs(tmp_path, blobs):
    """Control for the test above: Adam restarted from zero moments (step 1 again) does not land on
    the uninterrupted weights, so the saved moments and step count are what make resuming exact."""
    X, y = blobs
    net = rn.MLP([4, 6, 3], activation="tanh", seed=2)
    optimizer, rng = rn.Adam(lr=0.01), np.random.default_rng(11)
    net.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, seed=rng, progress=False)
    net.save(tmp_path / "ckpt.npz", optimizer=optimizer, rng=rng)
    checkpoint = rn.load_checkpoint(tmp_path / "ckpt.npz")
    assert checkpoint.optimizer.step_count == optimizer.step_count == 3 * 6
    for key, value in optimizer.state_dict().items():
        restored = checkpoint.optimizer.state_dict()[key]
        assert np.array_equal(restored, value) if isinstance(value, np.ndarray) else restored == value
    fresh = rn.load_checkpoint(tmp_path / "ckpt.npz")
    fresh.net.fit(X, y, epochs=2, batch_size=16, optimizer=rn.Adam(lr=0.01), seed=fresh.rng,
                  progress=False)
    checkpoint.net.fit(X, y, epochs=2, batch_size=16, optimizer=checkpoint.optimizer,
                       seed=checkpoint.rng, progress=False)
    assert not np.array_equal(fresh.net.layers[0].W, checkpoint.net.layers[0].W)


def test_generator_seeds_and_mt19937_states_round_trip(tmp_path):
    net = rn.MLP([3, 2], seed=np.random.default_rng(4))
    mersenne = np.random.Generator(np.random.MT19937(3))
    checkpoint = rn.load_checkpoint(net.save(tmp_path / "net.npz", rng=mersenne))
    assert checkpoint.net.seed.bit_generator.state == net.seed.bit_generator.state
    np.testing.assert_array_equal(checkpoint.rng.random(5), mersenne.random(5))


def test_load_without_optimizer_or_rng_gives_none(tmp_path):
    net = rn.MLP([3, 2], output="linear")
    checkpoint = rn.load_checkpoint(net.save(tmp_path / "plain.npz"))
    assert checkpoint.optimizer is None and checkpoint.rng is None and checkpoint.metadata == {}


def test_file_holds_json_architecture_and_named_arrays_without_pickles(tmp_path):
    net = rn.MLP([3, 4, 2], activation="relu")
    optimizer = rn.Adam()
    net.fit(np.eye(3), [0, 1, 1], epochs=1, optimizer=optimizer, progress=False)
    net.save(tmp_path / "net.npz", optimizer=optimizer)
    with np.load(tmp_path / "net.npz", allow_pickle=False) as archive:  # would raise on a pickle
        files = set(archive.files)
        description = json.loads(str(archive["architecture"]))
    assert description["format"] == "ratenet.network" and description["format_version"] == 1
    assert [entry["class"] for entry in description["layers"]] == ["Dense", "ReLU", "Dense"]
    assert description["optimizer"]["name"] == "adam"
    assert files == {"architecture", "layers.0.parameter.0", "layers.0.parameter.1",
                     "layers.2.parameter.0", "layers.2.parameter.1",
                     *(f"optimizer.{slot}.{i}" for slot in ("first_moment", "second_moment")
                       for i in range(4))}


# ------------------------------------------------------------------------------------ bad files

def _rewrite(path, change_description=None, change_arrays=None):
    """Write a variant of a saved file: edited JSON and/or arrays, saved by plain numpy."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    description = json.loads(str(arrays.pop("architecture")))
    if change_description:
        change_description(description)
    if change_arrays:
        change_arrays(arrays)
    target = path.with_name("edited.npz")
    np.savez(target, architecture=np.array(json.dumps(description)), **arrays)
    return target


@pytest.fixture
def saved(tmp_path):
    net = rn.MLP([4, 8, 3], activation="sigmoid", seed=0)
    return net.save(tmp_path / "net.npz")


def test_truncated_file_raises(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(rn.NetworkFileError, match="corrupted or truncated"):
        rn.load(saved)


def test_corrupted_array_bytes_raise(saved):
    """A flipped byte inside the weights fails the zip member's CRC-32 check."""
    weights = rn.load(saved).layers[0].W
    data = bytearray(saved.read_bytes())
    offset = data.find(weights.tobytes()[:32])
    assert offset > 0
    data[offset + 5] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(rn.NetworkFileError, match="corrupted or truncated"):
        rn.load(saved)


def test_other_files_raise(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not a zip file")
    with pytest.raises(rn.NetworkFileError, match="not a readable"):
        rn.load(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, W=np.zeros(3))
    with pytest.raises(rn.NetworkFileError, match="no architecture description"):
        rn.load(plain)
    with pytest.raises(FileNotFoundError):
        rn.load(tmp_path / "missing.npz")


def test_wrong_format_version_raises(saved):
    edited = _rewrite(saved, lambda d: d.update(format_version=99))
    with pytest.raises(rn.NetworkFileError, match="format version 99"):
        rn.load(edited)


def test_unknown_layer_type_raises(saved):
    def rename(description):
        description["layers"][0]["class"] = "Conv2D"

    with pytest.raises(rn.NetworkFileError, match="unknown layer type 'Conv2D'"):
        rn.load(_rewrite(saved, rename))

    def rename_activation(description):
        description["layers"][1]["name"] = "swish"

    with pytest.raises(rn.NetworkFileError, match="unknown activation 'swish'"):
        rn.load(_rewrite(saved, rename_activation))


def test_architecture_that_does_not_match_the_arrays_raises(saved):
    def widen(description):  # 8 hidden units -> 9, arrays still hold 8
        description["layers"][0]["config"]["n_out"] = 9
        description["layers"][2]["config"]["n_in"] = 9
        description["network"]["mlp"]["sizes"][1] = 9
        description["network"]["class"] = "Network"

    with pytest.raises(rn.NetworkFileError, match=r"declares .*\(8, 4\).* do not match its configuration, "
                                                  r"which needs .*\(9, 4\)"):
        rn.load(_rewrite(saved, widen))
    with pytest.raises(rn.NetworkFileError, match="'layers.2.parameter.1' is missing"):
        rn.load(_rewrite(saved, change_arrays=lambda a: a.pop("layers.2.parameter.1")))
    with pytest.raises(rn.NetworkFileError, match="does not mention"):
        rn.load(_rewrite(saved, change_arrays=lambda a: a.update(extra=np.ones(2))))
    with pytest.raises(rn.NetworkFileError, match="dtype float32"):
        rn.load(_rewrite(saved, change_arrays=lambda a: a.update(
            {"layers.0.parameter.0": a["layers.0.parameter.0"].astype(np.float32)})))

    def drop_layer(description):
        description["network"]["class"] = "Network"
        del description["layers"][1:]  # one Dense(4, 8) left; the second Dense's arrays remain

    with pytest.raises(rn.NetworkFileError, match="does not mention"):
        rn.load(_rewrite(saved, drop_layer))


# ---------------------------------------------------------------------------------- safe saving

def _leftovers(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = rn.MLP([4, 3]).save(tmp_path / "net.npz")
    before = path.read_bytes()

    def fail_halfway(stream, **arrays):
        stream.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(io.np, "savez", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        rn.MLP([4, 5, 3], seed=9).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    rn.load(path)  # still a valid network


def test_network_that_cannot_be_described_is_refused_before_writing(tmp_path):
    path = rn.MLP([1, 1]).save(tmp_path / "net.npz")
    before = path.read_bytes()
    curve = ns.RateCurve.from_function(lambda x: np.logaddexp(0, x), lambda x: 1 / (1 + np.exp(-x)),
                                       np.linspace(-2, 2, 5))  # softplus: arbitrary Python functions
    net = rn.Network([rn.Dense(1, 2), rn.RateCurveActivation(curve, amplitude=1.0), rn.Dense(2, 1)])
    with pytest.raises(TypeError, match="cannot save layer 1"):
        net.save(path)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rn.MLP([1, 1]).save(tmp_path / "no" / "such" / "folder.npz")


def test_registered_layer_round_trips_with_its_buffers(tmp_path, monkeypatch):
    """A layer type from outside ratenet: its parameters and buffers() are saved and restored once
    it is registered, and an unregistered type is refused by name."""

    class Scale(rn.Layer):
        def __init__(self, n_units):
            self.n_units = n_units
            self.gain = np.ones(n_units)
            self.dgain = np.zeros(n_units)
            self.seen = np.zeros(n_units)

        def forward(self, x, training=False):
            self._x = x
            if training:
                self.seen += np.abs(x).mean(axis=0)
            return x * self.gain

        def backward(self, grad_output):
            self.dgain[...] = (grad_output * self._x).sum(axis=0)
            return grad_output * self.gain

        def parameters(self):
            return [self.gain]

        def gradients(self):
            return [self.dgain]

        def buffers(self):
            return {"seen": self.seen}

        def config(self):
            return {"n_units": self.n_units}

    monkeypatch.setattr(io, "_LAYER_TYPES", dict(io._LAYER_TYPES))
    net = rn.Network([rn.Dense(3, 4), Scale(4), rn.Tanh(), rn.Dense(4, 2)], loss="softmax_cross_entropy")
    X = np.random.default_rng(1).normal(size=(20, 3))
    net.fit(X, np.arange(20) % 2, epochs=2, batch_size=5, progress=False)
    with pytest.raises(TypeError, match="unknown layer type 'Scale'"):
        net.save(tmp_path / "net.npz")
    rn.register_layer(Scale)
    loaded = rn.load(net.save(tmp_path / "net.npz"))
    assert np.all(net.layers[1].seen > 0)
    np.testing.assert_array_equal(loaded.layers[1].seen, net.layers[1].seen)
    _assert_same_parameters(net, loaded)
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
