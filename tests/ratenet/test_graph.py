"""rn.Graph (issue 12, item 3): backprop over a flow graph of modules.

References independent of the graph's own backprop: central finite differences written out here,
PyTorch's autograd on the same graph (skipped when torch is not installed: it is not a test
dependency), a numpy forward pass written out by hand, and the sequential Network, whose chain a
chain graph must reproduce bit for bit."""

import copy
import pickle
import threading

import numpy as np
import pytest

import ratenet as rn
from ratenet.io import GRAPH_FORMAT_VERSION

try:
    import torch
except ImportError:  # torch is a bench dependency, never a test dependency
    torch = None

N_THREADS = 4


def branching_graph(seed=0, dtype=np.float64, batch_norm=True):
    """Two inputs, two weighted losses, fan-out (``h`` feeds three nodes), a sum and a
    concatenation (fan-in):

        h = tanh(A a)                  a: 5 features
        s = h + W2 sigmoid(W1 h)       skip connection
        c = [bn(s), b]                 b: 3 features, batch norm optional
        out = W3 c                     softmax cross-entropy, weight 1
        aux = W4 h                     MSE, weight 0.5
    """
    middle = [rn.BatchNorm(8)] if batch_norm else [rn.Linear()]
    return rn.Graph(
        inputs={"a": 5, "b": 3},
        nodes=[("h", [rn.Dense(5, 8), rn.Tanh()], "a"),
               ("block", [rn.Dense(8, 6), rn.Sigmoid(), rn.Dense(6, 8)], "h"),
               ("s", rn.Add(), ["h", "block"]),
               ("normed", middle, "s"),
               ("c", rn.Concatenate(), ["normed", "b"]),
               ("out", rn.Dense(11, 4), "c"),
               ("aux", rn.Dense(8, 2), "h")],
        losses={"out": "softmax_cross_entropy", "aux": "mse"}, loss_weights={"aux": 0.5},
        seed=seed, dtype=dtype)


def branching_data(n=24, seed=1):
    rng = np.random.default_rng(seed)
    X = {"a": rng.standard_normal((n, 5)), "b": rng.standard_normal((n, 3))}
    y = {"out": rng.integers(0, 4, n), "aux": rng.standard_normal((n, 2))}
    return X, y


def randomize(graph, seed=3):
    """Non-trivial values in every parameter and buffer (biases, batch-norm gamma and beta)."""
    rng = np.random.default_rng(seed)
    for array in graph.training_state():
        array[...] = rng.uniform(0.5, 1.5, array.shape) if array.ndim == 1 else \
            rng.uniform(-0.8, 0.8, array.shape)


# ------------------------------------------------------------------------------------- gradients
def test_backprop_matches_central_finite_differences_on_a_graph_with_fan_out_and_fan_in():
    graph = branching_graph()
    randomize(graph)
    X, y = branching_data()
    loss, gradients = graph.loss_and_gradients(X, y)
    assert loss == pytest.approx(graph.loss_value(X, y), rel=1e-14)
    eps = 1e-6
    for name, layer in zip(graph.node_names, graph.layers, strict=True):
        for key, param in zip(layer.parameter_names(), layer.parameters(), strict=True):
            numeric = np.empty_like(param)
            for index in np.ndindex(param.shape):
                original = param[index]
                param[index] = original + eps
                plus = graph.loss_value(X, y)
                param[index] = original - eps
                minus = graph.loss_value(X, y)
                param[index] = original
                numeric[index] = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(gradients[name][key], numeric, rtol=1e-6, atol=1e-9,
                                       err_msg=f"{name}.{key}")
    assert set(gradients) == {"h[0]", "block[0]", "block", "normed", "out", "aux"}


def test_check_gradients_goes_over_every_parameter_of_every_node():
    graph = branching_graph()
    randomize(graph)
    X, y = branching_data()
    error = rn.check_gradients(graph, X, y)
    assert error < 1e-7
    assert [entry["layer"] for entry in error.layers] == ["h[0]", "block[0]", "block", "normed", "out", "aux"]
    assert set(error.layers[3]) == {"layer", "gamma", "beta"}
    numeric = rn.numerical_gradients(graph, X, y)
    _, analytic = graph.loss_and_gradients(X, y)
    np.testing.assert_allclose(numeric[0][0], analytic["h[0]"]["W"], rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="float64"):
        rn.check_gradients(branching_graph(dtype=np.float32), X, y)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed (it is not a test dependency; "
                                          "pip install torch==2.13.0 runs this comparison)")
@pytest.mark.parametrize("training", [False, True])
def test_backprop_matches_torch_autograd_on_a_graph_with_fan_out_and_fan_in(training):
    graph = branching_graph()
    randomize(graph)
    X, y = branching_data()
    loss, gradients = graph.loss_and_gradients(X, y, training=training)

    def tensor(array):
        return torch.tensor(np.array(array), dtype=torch.float64, requires_grad=True)

    params = {name: [tensor(param) for param in layer.parameters()]
              for name, layer in zip(graph.node_names, graph.layers, strict=True) if layer.parameters()}
    bn = graph.module("normed")

    def dense(name, x):
        weights, bias = params[name]
        return x @ weights.T + bias

    a, b = torch.tensor(X["a"]), torch.tensor(X["b"])
    h = torch.tanh(dense("h[0]", a))
    s = h + dense("block", torch.sigmoid(dense("block[0]", h)))
    gamma, beta = params["normed"]
    if training:      # the batch's statistics (biased variance), as torch's BatchNorm1d trains
        mean, var = s.mean(0), s.var(0, unbiased=False)
    else:             # the running statistics
        mean, var = torch.tensor(bn.running_mean), torch.tensor(bn.running_var)
    normed = (s - mean) / torch.sqrt(var + bn.eps) * gamma + beta
    out = dense("out", torch.cat([normed, b], dim=1))
    aux = dense("aux", h)
    total = (torch.nn.functional.cross_entropy(out, torch.tensor(y["out"]))
             + 0.5 * (0.5 * ((aux - torch.tensor(y["aux"])) ** 2).sum(1).mean()))
    total.backward()
    assert loss == pytest.approx(total.item(), rel=1e-13)
    for name, tensors in params.items():
        for key, parameter in zip(graph.module(name).parameter_names(), tensors, strict=True):
            np.testing.assert_allclose(gradients[name][key], parameter.grad.numpy(), rtol=1e-10, atol=1e-14,
                                       err_msg=f"{name}.{key}")


def test_a_value_read_twice_by_one_sum_gets_twice_the_gradient():
    graph = rn.Graph(inputs={"x": 3}, nodes=[("h", rn.Dense(3, 2), "x"), ("double", rn.Add(), ["h", "h"])],
                     losses={"double": "mse"}, seed=0)
    X, target = np.ones((4, 3)), np.zeros((4, 2))
    _, gradients = graph.loss_and_gradients(X, target)
    h = graph.forward(X, "h")
    # E = (1/N) sum 1/2 |2h|^2 -> dE/dh = 4 h / N, dE/dW = (4/N) h^T x
    np.testing.assert_allclose(gradients["h"]["W"], 4 * h.T @ X / 4, rtol=1e-14)
    np.testing.assert_allclose(graph.forward(X), 2 * h, rtol=0)


# ---------------------------------------------------------------------------- forward, threads
def hand_forward(graph, X):
    """The branching graph's outputs in plain numpy (evaluation mode), from its parameters."""
    def dense(name, x):
        layer = graph.module(name)
        return x @ layer.W.T + layer.b

    h = np.tanh(dense("h[0]", X["a"]))
    s = h + dense("block", 1 / (1 + np.exp(-dense("block[0]", h))))
    bn = graph.module("normed")
    normed = bn.gamma * (s - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) + bn.beta
    return dense("out", np.hstack([normed, X["b"]])), dense("aux", h)


def test_evaluation_matches_a_forward_pass_written_out_by_hand():
    graph = branching_graph()
    randomize(graph)
    X, _ = branching_data(n=2500)     # several prediction chunks
    out, aux = hand_forward(graph, X)
    np.testing.assert_allclose(graph.forward(X), out, rtol=1e-12, atol=1e-12)
    values = graph.outputs(X, ["aux", "h", "out"])
    np.testing.assert_allclose(values["aux"], aux, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values["out"], out, rtol=1e-12, atol=1e-12)
    first = graph.module("h[0]")
    np.testing.assert_allclose(values["h"], np.tanh(X["a"] @ first.W.T + first.b), rtol=1e-12, atol=1e-14)


def test_concurrent_predictions_equal_serial_ones():
    graph = branching_graph()
    randomize(graph)
    X, y = branching_data(n=1200)
    parts = [{key: value[index::N_THREADS] for key, value in X.items()} for index in range(N_THREADS)]
    serial = [(graph.predict(x), graph.predict_proba(x), graph.forward(x, "aux"), graph.outputs(x)["out"])
              for x in parts]
    barrier, results, errors = threading.Barrier(N_THREADS), [None] * N_THREADS, []

    def work(index):
        try:
            barrier.wait()
            results[index] = [(graph.predict(parts[index]), graph.predict_proba(parts[index]),
                               graph.forward(parts[index], "aux"), graph.outputs(parts[index])["out"])
                              for _ in range(15)]
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for index, runs in enumerate(results):
        for run in runs:
            for got, expected in zip(run, serial[index], strict=True):
                np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------------- chain = Network
def chain_layers():
    return [rn.Dense(64, 32), rn.BatchNorm(32), rn.ReLU(), rn.Dropout(0.2), rn.Dense(32, 16), rn.Tanh(),
            rn.Dense(16, 10)]


def as_chain_graph(layers, loss, seed):
    names = [f"layer{index}" for index in range(len(layers))]
    nodes = [(name, layer, source) for name, layer, source in zip(names, layers, ["pixels", *names[:-1]],
                                                                 strict=True)]
    return rn.Graph(inputs={"pixels": 64}, nodes=nodes, losses={names[-1]: loss}, seed=seed)


@pytest.mark.parametrize("optimizer, penalty", [
    (lambda: rn.SGD(lr=0.05), {}),                                          # the fused SGD step
    (lambda: rn.Adam(lr=1e-3), {"weight_decay": 1e-3, "l1": 1e-4})])
def test_a_chain_graph_trains_bit_identically_to_the_network_of_the_same_layers(optimizer, penalty):
    split = rn.datasets.digits(seed=0)
    X, y = split.X_train[:500], split.y_train[:500]
    net = rn.Network(chain_layers(), loss="softmax_cross_entropy", seed=7)
    graph = as_chain_graph(chain_layers(), "softmax_cross_entropy", seed=7)
    for mine, theirs in zip(graph.training_state(), net.training_state(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    options = {"epochs": 3, "batch_size": 32, "validation_split": 0.2, "progress": False, **penalty}
    net_history = net.fit(X, y, optimizer=optimizer(), **options)
    graph_history = graph.fit(X, y, optimizer=optimizer(), **options)
    assert graph_history.as_dict() == net_history.as_dict()
    for mine, theirs in zip(graph.training_state(), net.training_state(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(graph.forward(split.X_test), net.forward(split.X_test))
    np.testing.assert_array_equal(graph.predict_proba(split.X_test), net.predict_proba(split.X_test))
    assert graph.score(split.X_test, split.y_test) == net.score(split.X_test, split.y_test)
    assert graph.loss_value(split.X_test, split.y_test) == net.loss_value(split.X_test, split.y_test)


def test_a_residual_mlp_learns_the_digits():
    split = rn.datasets.digits(seed=0)
    graph = rn.Graph(
        inputs={"pixels": 64},
        nodes=[("hidden", [rn.Dense(64, 64), rn.ReLU()], "pixels"),
               ("block", [rn.Dense(64, 64), rn.ReLU(), rn.Dense(64, 64)], "hidden"),
               ("skip", rn.Add(), ["hidden", "block"]),
               ("features", rn.ReLU(), "skip"),
               ("logits", rn.Dense(64, 10), "features")],
        losses={"logits": "softmax_cross_entropy"}, seed=0)
    history = graph.fit(split.X_train, split.y_train, epochs=15, batch_size=32, optimizer=rn.Adam(lr=1e-3),
                        progress=False)
    assert history.accuracy[-1] > 0.99
    assert graph.score(split.X_test, split.y_test) > 0.95      # 0.97-0.98 over seeds
    assert len(history.gradient_norms[0]) == len(graph.dense_layers) == 4


# ------------------------------------------------------------------ several inputs and losses
def two_task_data(n=400, seed=0):
    """Class from input ``a`` (the sign pattern of two features), a regression target from ``b``."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, 4)), rng.standard_normal((n, 3))
    label = (a[:, 0] > 0).astype(int) + 2 * (a[:, 1] > 0).astype(int)
    value = np.column_stack([b @ [1.0, -2.0, 0.5], np.sin(b[:, 0])])
    return {"a": a, "b": b}, {"label": label, "value": value}


def two_task_graph(seed=0):
    return rn.Graph(
        inputs={"a": 4, "b": 3},
        nodes=[("joined", rn.Concatenate(), ["a", "b"]),
               ("shared", [rn.Dense(7, 32), rn.Tanh()], "joined"),
               ("label", rn.Dense(32, 4), "shared"),
               ("value", rn.Dense(32, 2), "shared")],
        losses={"label": "softmax_cross_entropy", "value": "mse"}, loss_weights={"value": 2.0}, seed=seed)


def test_several_inputs_and_several_weighted_losses_train_together():
    X, y = two_task_data()
    graph = two_task_graph()
    before = (graph.score(X, y), graph.score(X, y, output="value"))
    stop = rn.EarlyStopping(monitor="val_loss", patience=60)       # keeps the best epoch's weights
    history = graph.fit(X, y, epochs=60, batch_size=32, optimizer=rn.Adam(lr=3e-3), progress=False,
                        validation_data=two_task_data(seed=1), callbacks=[stop])
    assert history.best_epoch == 1 + int(np.argmin(history.val_loss))
    assert graph.loss_value(*two_task_data(seed=1)) == pytest.approx(min(history.val_loss), rel=1e-12)
    X_test, y_test = two_task_data(seed=2)
    assert graph.score(X_test, y_test) > 0.9 > before[0]                   # accuracy of the main output
    assert graph.score(X_test, y_test["value"], output="value") > 0.9 > before[1]   # R^2
    assert history.loss[-1] < 0.2 * history.loss[0] and len(history.val_loss) == 60
    # the History's loss is the weighted total: cross-entropy + 2 x MSE
    outputs = graph.outputs(X_test)
    cross_entropy = rn.get_loss("softmax_cross_entropy").value(outputs["label"], y_test["label"])
    mse = rn.get_loss("mse").value(outputs["value"], y_test["value"])
    assert graph.loss_value(X_test, y_test) == pytest.approx(cross_entropy + 2.0 * mse, rel=1e-12)
    np.testing.assert_array_equal(graph.predict(X_test), outputs["label"].argmax(axis=1))
    np.testing.assert_array_equal(graph.predict(X_test, output="value"), outputs["value"])


def test_inputs_and_targets_by_name_are_checked():
    X, y = two_task_data(n=10)
    graph = two_task_graph()
    with pytest.raises(TypeError, match="dict input name -> array"):
        graph.forward(X["a"])
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        graph.forward({"a": X["a"], "c": X["b"]})
    with pytest.raises(ValueError, match=r"X\['b'\] must have shape \(n_samples, 3\)"):
        graph.forward({"a": X["a"], "b": X["a"]})
    with pytest.raises(ValueError, match=r"X\['a'\]: 10, X\['b'\]: 9"):
        graph.forward({"a": X["a"], "b": X["b"][:9]})
    with pytest.raises(ValueError, match=r"y\['label'\]: y holds labels outside"):
        graph.fit(X, {"label": y["label"] + 4, "value": y["value"]}, progress=False)
    with pytest.raises(TypeError, match="dict loss output name"):
        graph.fit(X, y["label"], progress=False)
    with pytest.raises(TypeError, match="augment"):
        graph.fit(X, y, augment=lambda batch, rng: batch, progress=False)
    with pytest.raises(ValueError, match="'shared' carries no loss"):
        graph.predict(X, output="shared")
    with pytest.raises(ValueError, match="not a node"):
        graph.outputs(X, ["sharde"])


# ------------------------------------------------------------------------------- save / load
def test_save_and_load_are_bit_identical_and_training_resumes_exactly(tmp_path):
    X, y = branching_data(n=64)
    graph = branching_graph(seed=4)
    rng = np.random.default_rng(9)
    optimizer = rn.Adam(lr=1e-2)
    graph.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, seed=rng, progress=False)
    path = graph.save(tmp_path / "graph.npz", optimizer=optimizer, rng=rng)
    checkpoint = rn.load_checkpoint(path)
    twin = checkpoint.net
    assert isinstance(twin, rn.Graph) and twin.node_names == graph.node_names
    assert twin.node_inputs == graph.node_inputs and twin.loss_weights == graph.loss_weights
    for mine, theirs in zip(twin.training_state(), graph.training_state(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for name in graph.node_names:
        np.testing.assert_array_equal(twin.forward(X, name), graph.forward(X, name))
    graph.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, seed=rng, progress=False)
    twin.fit(X, y, epochs=2, batch_size=16, optimizer=checkpoint.optimizer, seed=checkpoint.rng,
             progress=False)
    for mine, theirs in zip(twin.training_state(), graph.training_state(), strict=True):
        np.testing.assert_array_equal(mine, theirs)      # dropout-free here; batch norm's statistics too


def _edit_description(path, edit):
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    arrays = {name[:-4]: np.load(__import__("io").BytesIO(data), allow_pickle=False)
              for name, data in members.items()}
    description = json.loads(str(arrays["architecture"]))
    edit(description)
    arrays["architecture"] = np.array(json.dumps(description))
    edited = path.with_name("edited.npz")
    np.savez(edited, **arrays)
    return edited


def test_a_graph_file_is_version_2_and_a_tampered_structure_is_a_file_error(tmp_path):
    path = branching_graph().save(tmp_path / "graph.npz")
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        with archive.open("architecture.npy") as stream:
            description = json.loads(str(np.load(stream, allow_pickle=False)))
    assert description["format_version"] == GRAPH_FORMAT_VERSION == 2
    assert description["network"]["class"] == "Graph"

    def cycle(d):
        d["network"]["graph"]["nodes"][0]["inputs"] = ["s"]

    def dangling(d):
        d["network"]["graph"]["nodes"][2]["inputs"] = ["nowhere"]

    def reorder(d):
        d["network"]["graph"]["nodes"][0], d["network"]["graph"]["nodes"][1] = \
            d["network"]["graph"]["nodes"][1], d["network"]["graph"]["nodes"][0]

    def version_1(d):
        d["format_version"] = 1

    def widths(d):
        d["network"]["graph"]["inputs"][1][1] = 4

    cases = {cycle: "cycle", dangling: "neither an input nor a node", reorder: "graph entry",
             version_1: "needs format version 2", widths: "'c' \\(12 features\\): Dense\\(11, 4\\)"}
    for edit, message in cases.items():
        with pytest.raises(rn.NetworkFileError, match=message):
            rn.load(_edit_description(path, edit))


def test_a_merge_in_a_network_file_is_a_file_error(tmp_path):
    path = rn.Network([rn.Dense(4, 4), rn.Tanh(), rn.Dense(4, 2)]).save(tmp_path / "net.npz")

    def merge(description):
        description["layers"][1].update(type="layer", **{"class": "Add"}, config={})

    with pytest.raises(rn.NetworkFileError, match="build a ratenet.Graph instead"):
        rn.load(_edit_description(path, merge))


def test_pickled_and_copied_graphs_predict_identically():
    graph = branching_graph()
    randomize(graph)
    X, _ = branching_data()
    expected = graph.outputs(X)
    for twin in (pickle.loads(pickle.dumps(graph)), copy.deepcopy(graph)):
        for name, value in twin.outputs(X).items():
            np.testing.assert_array_equal(value, expected[name])
    assert "_buffers" not in graph.__getstate__() and "_thread_state" not in graph.__getstate__()


# ------------------------------------------------------------------------- training guards
def test_divergence_puts_the_state_back_exactly():
    X, y = branching_data(n=64)
    graph = branching_graph(batch_norm=False)
    graph.fit(X, y, epochs=1, progress=False)
    before = [array.copy() for array in graph.training_state()]
    optimizer = rn.SGD(lr=1e6)
    with pytest.raises(FloatingPointError, match="diverged"):
        graph.fit(X, y, epochs=3, optimizer=optimizer, progress=False)
    for array, saved in zip(graph.training_state(), before, strict=True):
        np.testing.assert_array_equal(array, saved)


def test_an_interruption_puts_the_state_back_to_the_last_completed_epoch():
    X, y = branching_data(n=64)

    def interrupt(net, epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    graph, twin = branching_graph(seed=5), branching_graph(seed=5)
    with pytest.raises(KeyboardInterrupt):
        graph.fit(X, y, epochs=5, batch_size=16, optimizer=rn.Adam(lr=1e-2), seed=3, callbacks=[interrupt],
                  progress=False)
    twin.fit(X, y, epochs=1, batch_size=16, optimizer=rn.Adam(lr=1e-2), seed=3, progress=False)
    for array, expected in zip(graph.training_state(), twin.training_state(), strict=True):
        np.testing.assert_array_equal(array, expected)


# ---------------------------------------------------------------------- construction errors
def _dense_graph(nodes, inputs=None, losses=None, **options):
    return rn.Graph(inputs=inputs or {"x": 4}, nodes=nodes, losses=losses or {"out": "mse"}, **options)


@pytest.mark.parametrize("build, error, message", [
    (lambda: _dense_graph([("h", rn.Dense(4, 4), "out"), ("out", rn.Dense(4, 2), "h"),
                           ("start", rn.Dense(4, 4), "x")]),
     ValueError, r"cycle: h -> out -> h|cycle: out -> h -> out"),
    (lambda: _dense_graph([("a", rn.Dense(4, 4), "c"), ("b", rn.Tanh(), "a"), ("c", rn.Add(), ["b", "x"]),
                           ("out", rn.Dense(4, 2), "c")]),
     ValueError, "cycle: a -> b -> c -> a"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), "x")], inputs={"x": 4, "extra": 3}),
     ValueError, r"input\(s\) \['extra'\] are not read by any node"),
    (lambda: _dense_graph([("h", rn.Dense(4, 3), "x"), ("out", rn.Dense(4, 2), "x")]),
     ValueError, r"node\(s\) \['h'\] lead to no loss"),
    (lambda: _dense_graph([("h", rn.Dense(4, 3), "x"), ("out", rn.Dense(4, 2), "h")]),
     ValueError, r"node 'out' reads 'h' \(3 features\): Dense\(4, 2\) takes 4 features \(n_in\), got 3"),
    (lambda: _dense_graph([("h", rn.Dense(4, 3), "x"), ("s", rn.Add(), ["h", "x"]),
                           ("out", rn.Dense(3, 2), "s")]),
     ValueError, r"Add sums inputs of one width, got widths \[3, 4\]"),
    (lambda: _dense_graph([("h", rn.Dense(4, 3), "x"), ("n", rn.BatchNorm(4), "h"),
                           ("out", rn.Dense(3, 2), "n")]),
     ValueError, r"BatchNorm.* takes 4 features \(n_features\), got 3"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), ["x", "x"])]),
     ValueError, "takes one input, got 2"),
    (lambda: _dense_graph([("x", rn.Dense(4, 4), "x"), ("out", rn.Dense(4, 2), "x")]),
     ValueError, r"the name 'x' is used twice \(by an input and a node\)"),
    (lambda: _dense_graph([("h", rn.Dense(4, 4), "x"), ("h", rn.Dense(4, 4), "x"),
                           ("out", rn.Dense(4, 2), "h")]),
     ValueError, r"the name 'h' is used twice \(by two nodes\)"),
    (lambda: _dense_graph([("h[0]", rn.Dense(4, 4), "x"), ("h", [rn.Dense(4, 4), rn.Tanh()], "h[0]"),
                           ("out", rn.Dense(4, 2), "h")]),
     ValueError, r"the name 'h\[0\]' is used twice"),
    (lambda: _dense_graph([("hidden", rn.Dense(4, 4), "x"), ("out", rn.Dense(4, 2), "hiden")]),
     ValueError, r"node 'out' reads 'hiden', which is neither an input nor a node "
                 r"\(did you mean 'hidden'\?\)"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), "x")], losses={"x": "mse"}),
     ValueError, "losses sit on nodes; 'x' is an input"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), "x")], losses={"outt": "mse"}),
     ValueError, "a loss sits on 'outt', which is not a node"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), "x")], loss_weights={"out": -1}),
     ValueError, r"loss_weights\['out'\] must be a finite number > 0"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), "x")], loss_weights={"other": 1}),
     ValueError, "loss_weights names 'other', which carries no loss"),
    (lambda: _dense_graph([("out", rn.Tanh(), "x")]), ValueError, "no layer with parameters"),
    (lambda: _dense_graph([("out", "dense", "x")]), TypeError, "must be a ratenet Layer"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2))]), TypeError, r"must be a tuple \(name, module, inputs\)"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), [])]),
     TypeError, "inputs must be a name or a non-empty list"),
    (lambda: _dense_graph([("out", rn.Dense(4, 2), "x")], inputs={"x": 0}), ValueError, "must be a width"),
    (lambda: _dense_graph([("s", rn.Add(), ["x"]), ("out", rn.Dense(4, 2), "s")]),
     ValueError, "Add sums at least 2 inputs"),
    (lambda: rn.Network([rn.Dense(4, 4), rn.Add()]), TypeError, "build a ratenet.Graph instead"),
])
def test_construction_errors_say_what_is_wrong(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_a_module_used_by_two_nodes_is_refused_and_a_failed_construction_changes_nothing():
    shared = rn.Tanh()
    with pytest.raises(ValueError, match=r"nodes 'a' and 'b' share one Tanh\(\)"):
        _dense_graph([("h", rn.Dense(4, 4), "x"), ("a", shared, "h"), ("b", shared, "a"),
                      ("out", rn.Dense(4, 2), "b")])
    weights = np.full((3, 4), 0.25)
    given = rn.Dense(4, 3, weights=weights)
    plain = rn.Dense(4, 3, dtype=np.float64)
    with pytest.raises(ValueError, match="n_in"):
        _dense_graph([("h", plain, "x"), ("out", rn.Dense(4, 2), "h")], dtype=np.float32)
    assert plain.W.dtype == np.float64 and not plain.W.any() and plain.compute_input_gradient
    np.testing.assert_array_equal(given.W, weights)


# ---------------------------------------------------------------------------------- merges
def test_add_and_concatenate_forward_and_backward():
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    add, join = rn.Add(), rn.Concatenate()
    np.testing.assert_array_equal(add.forward([a, b, a]), a + b + a)
    grad = rng.standard_normal((5, 3))
    assert all(part is grad for part in add.backward(grad))
    np.testing.assert_array_equal(join.forward([a, c]), np.hstack([a, c]))
    grad = rng.standard_normal((5, 5))
    left, right = join.backward(grad)
    np.testing.assert_array_equal(left, grad[:, :3])
    np.testing.assert_array_equal(right, grad[:, 3:])
    assert left.flags.c_contiguous and right.flags.c_contiguous
    assert join.merged_width([3, 2]) == 5 and add.merged_width([3, 3]) == 3
    with pytest.raises(RuntimeError, match="before forward"):
        rn.Add().backward(grad)


def test_summary_and_repr_describe_the_graph():
    graph = branching_graph()
    assert repr(graph).startswith("Graph(inputs={'a': 5, 'b': 3}, 10 nodes, "
                                  "losses={'out': SoftmaxCrossEntropy(), 'aux': MSE()}")
    table = graph.summary().splitlines()
    assert table[0].split() == ["node", "module", "reads", "width", "parameters"]
    assert any(line.startswith("s ") and "Add()" in line and "h, block" in line for line in table)
    assert graph.widths == {"a": 5, "b": 3, "h[0]": 8, "h": 8, "block[0]": 6, "block[1]": 6, "block": 8,
                            "s": 8, "normed": 8, "c": 11, "out": 4, "aux": 2}
