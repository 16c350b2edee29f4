"""Flow graphs: :class:`Graph`, a directed acyclic graph of modules trained by backpropagation.

The flow-graph view of backprop (Larochelle's "flow graph" and "automatic differentiation"
slides): every module is a node with an fprop, computing its output from its inputs, and a bprop,
turning dE/d(output) into dE/d(input) and dE/d(its parameters). The forward pass visits the nodes
in a topological order (every node after the nodes it reads); backprop visits them in the reverse
order, and where a value fans out to several nodes, its gradient is the sum of what each of them
sends back (the multivariate chain rule). A sequential :class:`~ratenet.Network` is the chain
case; a graph adds skip connections, several inputs and several losses.

A residual MLP, ``h = relu(W1 x)``, ``features = relu(h + f(h))`` with the block
``f(h) = W3 relu(W2 h)``::

    import ratenet as rn

    graph = rn.Graph(
        inputs={"pixels": 64},
        nodes=[("hidden", [rn.Dense(64, 100), rn.ReLU()], "pixels"),
               ("block", [rn.Dense(100, 100), rn.ReLU(), rn.Dense(100, 100)], "hidden"),
               ("skip", rn.Add(), ["hidden", "block"]),
               ("features", rn.ReLU(), "skip"),
               ("logits", rn.Dense(100, 10), "features")],
        losses={"logits": "softmax_cross_entropy"}, seed=0)
    graph.fit(X_train, y_train, epochs=30)
    graph.score(X_test, y_test)

Each node is ``(name, module, inputs)``: a name, a module (any ratenet layer, a merge such as
:class:`~ratenet.Add` or :class:`~ratenet.Concatenate`, or a list of single-input layers applied in
turn, whose inner nodes are named ``"block[0]"``, ``"block[1]"``...) and the name or names of what
it reads (graph inputs or other nodes). The nodes may be listed in any order. Losses sit on named
nodes; with several, the graph minimises their weighted sum (``loss_weights``), and the first is
the *main* output that :meth:`Graph.predict` and :meth:`Graph.score` use by default. With several
inputs, ``X`` is a dict input name -> array; with several losses, ``y`` is a dict output name ->
targets (one input or one loss: a plain array, as for a Network).

Everything is checked when the graph is built, before any layer is touched: unknown names,
duplicate names, a module used twice, cycles (named node by node), inputs no node reads, nodes
that lead to no loss, and the width of every connection.
"""

from __future__ import annotations

import difflib
import math
import threading

import numpy as np

from ._loop import exclusive
from .layers import INITIALIZATIONS, Dense, Layer, Scratch, WeightLayer
from .losses import Loss, get_loss
from .merge import Merge
from .model import PREDICT_CHUNK, Model, is_elementwise, is_following_layer, prepare_layers, score_outputs
from .validation import check_choice, check_dtype, check_samples

# How a node runs: an element-wise activation through the graph's own buffers (as a Network runs
# it), any other single-input layer through its forward/backward, a merge on a list of inputs.
_ELEMENTWISE, _LAYER, _MERGE = 0, 1, 2


def sort_nodes(input_names: list[str], nodes: list[tuple[str, list[str]]], outputs: list[str]) -> list[str]:
    """The node names in an order where every node comes after the nodes it reads, after checking
    the structure of a graph; ValueError otherwise.

    Parameters
    ----------
    input_names : list of str
        The graph's inputs.
    nodes : list of (str, list of str)
        Every node's name and the names it reads, in the order the nodes were listed (ties in the
        order are broken by it, so a list that is already ordered comes back unchanged).
    outputs : list of str
        The nodes that carry a loss.

    Raises
    ------
    ValueError
        For a name given twice, a name that is neither an input nor a node, a cycle (named node by
        node), an input that no node reads, or a node whose value reaches no loss.
    """
    seen: set[str] = set()
    for position, name in enumerate([*input_names, *(name for name, _ in nodes)]):
        if not isinstance(name, str) or not name:
            raise TypeError(f"names must be non-empty strings, got {name!r}")
        if name in seen:
            where = "an input and a node" if name in input_names and position >= len(input_names) else (
                "two inputs" if position < len(input_names) else "two nodes")
            raise ValueError(f"the name {name!r} is used twice (by {where}); every input and node "
                             "needs a name of its own")
        seen.add(name)
    node_inputs = dict(nodes)
    for name, sources in node_inputs.items():
        for source in sources:
            if source not in seen:
                raise ValueError(f"node {name!r} reads {source!r}, which is neither an input nor a node"
                                 + _did_you_mean(source, seen))
    for output in outputs:
        if output in input_names:
            raise ValueError(f"losses sit on nodes; {output!r} is an input")
        if output not in node_inputs:
            raise ValueError(f"a loss sits on {output!r}, which is not a node" + _did_you_mean(output, seen))
    order, done, waiting = [], set(input_names), list(node_inputs)
    while waiting:
        ready = next((name for name in waiting if all(source in done for source in node_inputs[name])), None)
        if ready is None:
            raise ValueError(f"the graph has a cycle: {_cycle(waiting, node_inputs)}; a flow graph must "
                             "be acyclic (a node cannot depend on its own output)")
        waiting.remove(ready)
        order.append(ready)
        done.add(ready)
    read = {source for sources in node_inputs.values() for source in sources}
    unused = [name for name in input_names if name not in read]
    if unused:
        raise ValueError(f"input(s) {unused} are not read by any node: connect them or remove them")
    reaching = set(outputs)
    for name in reversed(order):
        if name in reaching:
            reaching.update(node_inputs[name])
    dead = [name for name in order if name not in reaching]
    if dead:
        raise ValueError(f"node(s) {dead} lead to no loss (no loss sits on them or on any node after "
                         f"them; the losses sit on {list(outputs)}): connect them or remove them")
    return order


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (the names are {sorted(known)})"


def _cycle(waiting: list[str], node_inputs: dict[str, list[str]]) -> str:
    """One cycle among nodes that all wait for one another, as 'a -> b -> a'."""
    blocked = set(waiting)
    path, position = [], {}
    name = waiting[0]
    while name not in position:
        position[name] = len(path)
        path.append(name)
        name = next(source for source in node_inputs[name] if source in blocked)
    loop = path[position[name]:] + [name]
    return " -> ".join(reversed(loop))  # in the direction values flow


def _expand(nodes) -> list[tuple[str, Layer, list[str]]]:
    """``(name, module, inputs)`` per node, a list of layers unrolled into a chain of nodes."""
    if not isinstance(nodes, list | tuple) or not nodes:
        raise TypeError("nodes must be a non-empty list of (name, module, inputs) tuples")
    expanded = []
    for index, node in enumerate(nodes):
        if not isinstance(node, tuple | list) or len(node) != 3:
            raise TypeError(f"nodes[{index}] must be a tuple (name, module, inputs), got {node!r:.80}")
        name, module, sources = node
        if not isinstance(name, str) or not name:
            raise TypeError(f"nodes[{index}]: the name must be a non-empty string, got {name!r}")
        sources = [sources] if isinstance(sources, str) else sources
        if (not isinstance(sources, list | tuple) or not sources
                or not all(isinstance(source, str) for source in sources)):
            raise TypeError(f"node {name!r}: inputs must be a name or a non-empty list of names, got "
                            f"{node[2]!r:.80}")
        chain = list(module) if isinstance(module, list | tuple) else [module]
        if not chain:
            raise ValueError(f"node {name!r}: an empty list of layers")
        for layer in chain:
            if not isinstance(layer, Layer):
                raise TypeError(f"node {name!r}: the module must be a ratenet Layer (or a list of them), "
                                f"got {type(layer).__name__}")
        names = [f"{name}[{position}]" for position in range(len(chain) - 1)] + [name]
        for position, (layer, inner) in enumerate(zip(chain, names, strict=True)):
            expanded.append((inner, layer, list(sources) if position == 0 else [names[position - 1]]))
    return expanded


class _GraphScratch(Scratch):
    """Per-thread evaluation arrays that also know which arrays still have readers to come in the
    current pass (a value that fans out): a layer may not write its output over those."""

    def __init__(self, max_arrays: int):
        super().__init__(max_arrays)
        self.protected: set[int] = set()

    def owns(self, array: np.ndarray) -> bool:
        return id(array) not in self.protected and super().owns(array)


class Graph(Model):
    """A directed acyclic graph of modules with named inputs and weighted losses, trained by
    backpropagation in reverse topological order.

    Forward visits the nodes so that each comes after the nodes it reads; backprop visits them in
    reverse, each node's module turning dE/d(output) into dE/d(input) and its parameters'
    gradients, and the gradient of a value that several nodes read is the sum of what they send
    back. ``fit``, ``check_gradients``, ``save``/``load`` and the training guards take a graph as
    they take a :class:`~ratenet.Network`.

    Parameters
    ----------
    inputs : dict str -> int
        The graph's inputs and their widths (features), e.g. ``{"pixels": 64}``.
    nodes : list of (name, module, inputs)
        ``name`` (str, unique among inputs and nodes); ``module``: a Layer (Dense, an activation,
        BatchNorm, Dropout, Maxout, a merge such as :class:`~ratenet.Add` or
        :class:`~ratenet.Concatenate`), or a list of single-input layers applied in turn (inner nodes
        named ``"name[0]"``, ``"name[1]"``..., the last one ``name``); ``inputs``: the name (str) or
        names (list, for merges) of the inputs or nodes it reads. Any order; every module a distinct
        instance.
    losses : dict str -> str or Loss
        The loss on each output node (``"softmax_cross_entropy"``, ``"mse"``... or an instance). The
        first is the main output.
    loss_weights : dict str -> float > 0, optional
        Weight of each loss in the total minimised (default 1 each).
    seed : int or numpy.random.Generator, default 0
        Draws the initial weights (in topological order) and the dropout streams, and is the
        default shuffling seed of :meth:`fit`. Same seed, same graph: a chain graph starts with the
        weights of the :class:`~ratenet.Network` of the same layers.
    dtype : float64 (default) or float32
    init : {"glorot", "he", "symmetric"} or None
        Initialisation of weight layers that name none; None: He before a ReLU, Glorot otherwise.

    Attributes
    ----------
    input_names : list of str
    input_widths : dict str -> int
    node_names : list of str
        Every node, in the topological order the forward pass follows.
    node_inputs : dict str -> list of str
        What each node reads.
    widths : dict str -> int
        The width of every input's and node's value.
    layers : list of Layer
        The module of each node, in the order of ``node_names``.
    dense_layers : list
        The Dense and Maxout layers among them (weight penalties and gradient norms go over them).
    losses : dict str -> Loss
    loss_weights : dict str -> float
    output_names : list of str
        The nodes that carry a loss, the main output first.

    Raises
    ------
    TypeError, ValueError
        At construction, naming the node: a name given twice, an unknown name, a module that is not a
        Layer or used by two nodes, a cycle, an input no node reads, a node that leads to no loss, a
        connection of the wrong width, a single-input layer given several inputs, no layer with
        parameters.

    Examples
    --------
    A residual MLP, ``features = relu(h + f(h))`` with ``h = relu(W1 x)`` and the block
    ``f(h) = W3 relu(W2 h)``:

    >>> import ratenet as rn
    >>> graph = rn.Graph(
    ...     inputs={"pixels": 64},
    ...     nodes=[("hidden", [rn.Dense(64, 100), rn.ReLU()], "pixels"),
    ...            ("block", [rn.Dense(100, 100), rn.ReLU(), rn.Dense(100, 100)], "hidden"),
    ...            ("skip", rn.Add(), ["hidden", "block"]),
    ...            ("features", rn.ReLU(), "skip"),
    ...            ("logits", rn.Dense(100, 10), "features")],
    ...     losses={"logits": "softmax_cross_entropy"}, seed=0)
    >>> graph.node_names[:3]
    ['hidden[0]', 'hidden', 'block[0]']

    Two inputs and two weighted losses take dicts by name: ``graph.fit({"a": A, "b": B},
    {"label": labels, "value": values})``, ``graph.predict(X, output="value")``.
    """

    def __init__(self, inputs: dict[str, int], nodes, losses: dict, *, loss_weights: dict | None = None,
                 seed=0, dtype=np.float64, init: str | None = None):
        if not isinstance(inputs, dict) or not inputs:
            raise TypeError("inputs must be a non-empty dict input name -> width, e.g. {'pixels': 64}")
        for name, width in inputs.items():
            if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 1:
                raise ValueError(f"inputs[{name!r}] must be a width (an integer >= 1), got {width!r}")
        if not isinstance(losses, dict) or not losses:
            raise TypeError("losses must be a non-empty dict output node -> loss, e.g. "
                            "{'logits': 'softmax_cross_entropy'}")
        expanded = _expand(nodes)
        order = sort_nodes(list(inputs), [(name, sources) for name, _, sources in expanded], list(losses))
        node_inputs = {name: sources for name, _, sources in expanded}
        modules = {name: module for name, module, _ in expanded}
        owners: dict[int, str] = {}
        for name, module in modules.items():
            if id(module) in owners:
                raise ValueError(f"nodes {owners[id(module)]!r} and {name!r} share one {module!r}: a module "
                                 "keeps what it needs for backprop, so create one per node")
            owners[id(module)] = name
        if init is not None:
            check_choice("init", init, INITIALIZATIONS)
        self.dtype = check_dtype(dtype)
        self.losses: dict[str, Loss] = {name: get_loss(loss) for name, loss in losses.items()}
        self.loss_weights = _check_loss_weights(loss_weights, losses)
        self.input_names = list(inputs)
        self.input_widths = {name: int(width) for name, width in inputs.items()}
        self.node_names = order
        self.node_inputs = {name: list(node_inputs[name]) for name in order}
        self.output_names = list(losses)
        self.layers = [modules[name] for name in order]
        self.widths = _check_widths(self.input_widths, order, self.node_inputs, modules)
        if not any(layer.parameters() for layer in self.layers):
            raise ValueError("the graph has no layer with parameters (Dense, Maxout, BatchNorm...): "
                             "there is nothing to train")
        self.dense_layers = [layer for layer in self.layers if isinstance(layer, WeightLayer)]
        self.init = init
        self.seed = seed
        self.history = None
        self._build_plan()
        for position, layer in enumerate(self.layers):
            if isinstance(layer, WeightLayer):  # dE/dx of the data is never needed
                layer.compute_input_gradient = self._needs_gradient[self._sources[position][0]]
        prepare_layers(self.layers, self._following(), dtype=self.dtype, init=init,
                       rng=np.random.default_rng(seed))
        self._reset_runtime_state()

    # --------------------------------------------------------------------------- structure
    def _build_plan(self) -> None:
        """Slots (inputs first, then nodes in order), each node's kind and source slots, which
        values need a gradient, and the losses' slots."""
        slot = {name: position for position, name in enumerate([*self.input_names, *self.node_names])}
        self._n_inputs = len(self.input_names)
        self._slot = slot
        self._sources = [[slot[source] for source in self.node_inputs[name]] for name in self.node_names]
        self._kinds = []
        for layer in self.layers:
            if isinstance(layer, Merge):
                self._kinds.append(_MERGE)
            elif is_elementwise(layer):
                self._kinds.append(_ELEMENTWISE)
            else:
                self._kinds.append(_LAYER)
        # a value needs a gradient when parameters lie on the way to it
        needs = [False] * len(slot)
        for position, layer in enumerate(self.layers):
            needs[self._n_inputs + position] = bool(layer.parameters()) or any(
                needs[source] for source in self._sources[position])
        self._needs_gradient = needs
        self._losses = [(slot[name], self.losses[name], self.loss_weights[name])
                        for name in self.output_names]
        self._consumers = [[] for _ in slot]
        for position, sources in enumerate(self._sources):
            for source in sources:
                self._consumers[source].append(position)

    def _following(self) -> list[Layer | None]:
        """For each node, the activation or weight layer its value reaches first (through its first
        reader, looking past batch norm, dropout and merges); it picks a weight layer's default
        initialisation, as in a Network."""
        following = []
        for position in range(len(self.layers)):
            readers = self._consumers[self._n_inputs + position]
            while readers and not is_following_layer(self.layers[readers[0]]):
                readers = self._consumers[self._n_inputs + readers[0]]
            following.append(self.layers[readers[0]] if readers else None)
        return following

    def _reset_runtime_state(self) -> None:
        """Training buffers, per-thread scratch and locks: rebuilt, never pickled or copied."""
        self._buffers: dict[tuple, np.ndarray] = {}
        self._values: list = [None] * len(self._slot)
        self._pre_activation: list = [None] * len(self.layers)
        self._plans: dict[tuple[int, ...], list] = {}
        self._thread_state = threading.local()
        self._serial_lock = (None if all(type(layer).infer is not Layer.infer for layer in self.layers)
                             else threading.Lock())

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in ("_buffers", "_values", "_pre_activation", "_plans", "_thread_state", "_serial_lock"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset_runtime_state()

    def module(self, name: str) -> Layer:
        """The module of node ``name``."""
        if name not in self._slot or name in self.input_widths:
            raise KeyError(f"no node {name!r}; the nodes are {self.node_names}")
        return self.layers[self._slot[name] - self._n_inputs]

    # ------------------------------------------------------------------------------ passes
    def _buffer(self, key, shape) -> np.ndarray:
        key = (key, shape)
        buffer = self._buffers.get(key)
        if buffer is None:
            if len(self._buffers) > 64 + 8 * len(self.layers):
                self._buffers.clear()
            buffer = np.empty(shape, dtype=self.dtype)
            self._buffers[key] = buffer
        return buffer

    def _forward(self, inputs: tuple[np.ndarray, ...], training: bool) -> list:
        """Every value for validated inputs, keeping what backprop needs; the values are reused
        buffers. The training path: one thread at a time."""
        values = self._values
        values[:self._n_inputs] = inputs
        slot = self._n_inputs
        for position, (layer, kind, sources) in enumerate(zip(self.layers, self._kinds, self._sources,
                                                                         strict=True)):
            if kind == _ELEMENTWISE:
                z = values[sources[0]]
                self._pre_activation[position] = z
                values[slot] = layer.function(z, out=self._buffer(("h", position), z.shape))
            elif kind == _LAYER:
                values[slot] = layer.forward(values[sources[0]], training)
            else:
                values[slot] = layer.forward([values[source] for source in sources], training)
            slot += 1
        return values

    def loss_step(self, inputs, targets, *, training: bool = True,
                  sgd_learning_rate: float | None = None) -> tuple[float, object]:
        """Forward, the weighted losses and backprop in reverse topological order, summing the
        gradients of every value that fans out. See :meth:`Model.loss_step
        <ratenet.model.Model.loss_step>`."""
        inputs = (inputs,) if self._n_inputs == 1 else inputs
        targets = (targets,) if len(self._losses) == 1 else targets
        values = self._forward(inputs, training)
        gradients: list = [None] * len(values)
        owned = [False] * len(values)
        total = 0.0
        for index, ((slot, loss, weight), target) in enumerate(zip(self._losses, targets, strict=True)):
            output = values[slot]
            value, grad = loss.value_and_gradient(output, target,
                                                  out=self._buffer(("loss", index), output.shape))
            if weight != 1.0:
                grad *= weight
            total += weight * value
            self._accumulate(gradients, owned, slot, grad)
        needs = self._needs_gradient
        for position in range(len(self.layers) - 1, -1, -1):
            slot = self._n_inputs + position
            if not needs[slot]:
                continue
            layer, kind, sources = self.layers[position], self._kinds[position], self._sources[position]
            grad = gradients[slot]
            if kind == _ELEMENTWISE:
                z = self._pre_activation[position]
                derivative = layer.derivative(z, out=self._buffer(("d", position), z.shape))
                derivative *= grad
                self._accumulate(gradients, owned, sources[0], derivative)
            elif kind == _LAYER:
                if sgd_learning_rate is not None and isinstance(layer, Dense):
                    grad_input = layer.backward_sgd(grad, sgd_learning_rate)
                else:
                    grad_input = layer.backward(grad)
                if grad_input is not None and needs[sources[0]]:
                    self._accumulate(gradients, owned, sources[0], grad_input)
            else:
                for source, grad_input in zip(sources, layer.backward(grad), strict=True):
                    if needs[source]:
                        self._accumulate(gradients, owned, source, grad_input)
        outputs = tuple(values[slot] for slot, _, _ in self._losses)
        return total, outputs[0] if len(outputs) == 1 else outputs

    def _accumulate(self, gradients: list, owned: list, slot: int, grad: np.ndarray) -> None:
        """Add ``grad`` to the gradient of value ``slot``. The first contribution is kept as it is
        (never written into: a sum hands the same array to all its inputs); a second one is added
        into a buffer of the graph's own."""
        current = gradients[slot]
        if current is None:
            gradients[slot] = grad
        elif owned[slot]:
            current += grad
        else:
            total = self._buffer(("g", slot), grad.shape)
            np.add(current, grad, out=total)
            gradients[slot] = total
            owned[slot] = True

    def _evaluation_plan(self, wanted: tuple[int, ...]) -> list:
        """The nodes needed for the ``wanted`` slots, in order, each with whether its value has more
        than one reader to come (so that nothing writes over it)."""
        plan = self._plans.get(wanted)
        if plan is None:
            needed = set(wanted)
            for position in range(len(self.layers) - 1, -1, -1):
                if self._n_inputs + position in needed:
                    needed.update(self._sources[position])
            readers = [wanted.count(slot) for slot in range(len(self._slot))]
            for position, sources in enumerate(self._sources):
                if self._n_inputs + position in needed:
                    for source in sources:
                        readers[source] += 1
            plan = [(self.layers[position], self._kinds[position] == _MERGE, self._sources[position],
                     self._n_inputs + position, readers[self._n_inputs + position] > 1)
                    for position in range(len(self.layers)) if self._n_inputs + position in needed]
            self._plans[wanted] = plan
        return plan

    def _evaluate(self, inputs: tuple[np.ndarray, ...], wanted: tuple[int, ...]) -> list[np.ndarray]:
        """The values of the ``wanted`` slots for validated inputs, new arrays, computed chunk by
        chunk in the calling thread's own scratch arrays (:meth:`Layer.infer`), or under a lock
        when a layer cannot infer without changing itself."""
        n_samples = inputs[0].shape[0]
        widths = [*self.input_widths.values(), *(self.widths[name] for name in self.node_names)]
        results = [np.empty((n_samples, widths[slot]), dtype=self.dtype) for slot in wanted]
        if self._serial_lock is not None:
            with self._serial_lock:
                for start in range(0, n_samples, PREDICT_CHUNK):
                    values = self._forward(tuple(x[start:start + PREDICT_CHUNK] for x in inputs), False)
                    for result, slot in zip(results, wanted, strict=True):
                        result[start:start + PREDICT_CHUNK] = values[slot]
            return results
        scratch = getattr(self._thread_state, "scratch", None)
        if scratch is None:
            scratch = self._thread_state.scratch = _GraphScratch(max(64, 8 * len(self.layers)))
        plan = self._evaluation_plan(wanted)
        values: list = [None] * len(self._slot)
        for start in range(0, n_samples, PREDICT_CHUNK):
            values[:self._n_inputs] = [x[start:start + PREDICT_CHUNK] for x in inputs]
            scratch.protected.clear()
            for layer, merge, sources, slot, shared in plan:
                if merge:
                    value = layer.infer([values[source] for source in sources], scratch)
                else:
                    value = layer.infer(values[sources[0]], scratch)
                values[slot] = value
                if shared:
                    scratch.protected.add(id(value))
            for result, slot in zip(results, wanted, strict=True):
                result[start:start + PREDICT_CHUNK] = values[slot]
        return results

    # ---------------------------------------------------------------------------- checking
    def check_X(self, X, name: str = "X") -> tuple[np.ndarray, ...]:
        """The inputs as the graph takes them: a tuple in the order of ``input_names``, each a
        C-contiguous array of the graph's dtype, shape (n_samples, width), finite, with the same
        number of samples. ``X`` is a dict input name -> array, or, for a graph with one input, the
        array itself (1-D for an input of width 1)."""
        arrays = _by_name(X, self.input_names, name, "input")
        checked = []
        for (label, array), input_name in zip(arrays, self.input_names, strict=True):
            width = self.input_widths[input_name]
            if np.ndim(array) == 1 and width == 1:
                array = np.reshape(array, (-1, 1))
            checked.append(check_samples(array, label, width, self.dtype))
        _same_lengths([label for label, _ in arrays], checked)
        return tuple(checked)

    def check_Xy(self, X, y, names=("X", "y")) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """``(inputs, targets)``: :meth:`check_X`'s tuple, and the targets of every loss (in the
        order of ``output_names``) as its ``prepare_target`` takes them. ``y`` is a dict output
        name -> targets, or, for a graph with one loss, the targets themselves."""
        inputs = self.check_X(X, names[0])
        labelled = _by_name(y, self.output_names, names[1], "loss output")
        targets = []
        for (label, values), output in zip(labelled, self.output_names, strict=True):
            try:
                targets.append(self.losses[output].prepare_target(values, self.widths[output], self.dtype))
            except (TypeError, ValueError) as error:
                if label == names[1]:
                    raise
                raise type(error)(f"{label}: {error}") from None
        _same_lengths([names[0], *(label for label, _ in labelled)], [inputs[0], *targets])
        return inputs, tuple(targets)

    # ---------------------------------------------------------------- the Model protocol
    def data_arrays(self, X, y, names=("X", "y")) -> tuple[np.ndarray, ...]:
        """The inputs, then the targets, of :meth:`check_Xy`, in one tuple."""
        inputs, targets = self.check_Xy(X, y, names)
        return (*inputs, *targets)

    def batch_parts(self, arrays: tuple[np.ndarray, ...]) -> tuple:
        """``(inputs, targets)`` of a batch of :meth:`data_arrays`: each a tuple, or the array
        itself for a graph with one input (one loss)."""
        inputs, targets = arrays[:self._n_inputs], arrays[self._n_inputs:]
        return (inputs[0] if len(inputs) == 1 else tuple(inputs),
                targets[0] if len(targets) == 1 else tuple(targets))

    def _as_tuple(self, parts) -> tuple:
        return parts if isinstance(parts, tuple) else (parts,)

    def loss_targets(self, targets) -> list[tuple[Loss, int, np.ndarray]]:
        return [(self.losses[name], self.widths[name], target)
                for name, target in zip(self.output_names, self._as_tuple(targets), strict=True)]

    def checked_parameters(self) -> list[tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]]:
        """Every node with parameters, by name: ``[(node, {"W": (W, dW), "b": (b, db)}), ...]``
        (``"gamma"``, ``"beta"`` for batch normalisation)."""
        return [(name, dict(zip(layer.parameter_names(), zip(layer.parameters(), layer.gradients(),
                                                                strict=True), strict=True)))
                for name, layer in zip(self.node_names, self.layers, strict=True) if layer.parameters()]

    def loss_outputs(self, inputs):
        """The loss outputs for validated inputs (one array, or a tuple in the order of
        ``output_names``), new arrays; thread-safe."""
        outputs = self._evaluate(self._as_tuple(inputs), tuple(slot for slot, _, _ in self._losses))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def outputs_loss(self, outputs, targets) -> float:
        """The weighted sum of the losses (each a mean over the samples)."""
        total = 0.0
        for (_, loss, weight), output, target in zip(self._losses, self._as_tuple(outputs),
                                                     self._as_tuple(targets), strict=True):
            total += weight * loss.value(output, target)
        return total

    def outputs_accuracy(self, outputs, targets) -> float:
        """The accuracy of the main output."""
        main = self.losses[self.output_names[0]]
        return main.accuracy(self._as_tuple(outputs)[0], self._as_tuple(targets)[0])

    @property
    def is_classification(self) -> bool:
        """True when the main output's loss classifies."""
        return self.losses[self.output_names[0]].is_classification

    # -------------------------------------------------------------------------- public API
    def forward(self, X, output: str | None = None) -> np.ndarray:
        """The value of node ``output`` (default: the main output, e.g. its logits) for ``X``, a new
        array of shape (n_samples, width).

        Thread safety: :meth:`forward`, :meth:`outputs`, :meth:`predict`, :meth:`predict_proba`,
        :meth:`score` and :meth:`loss_value` may run in several threads at once on one graph: each
        thread computes in arrays of its own and no module is changed (a custom layer without
        :meth:`~ratenet.layers.Layer.infer` makes them take turns). While :meth:`fit` runs in
        another thread they read weights that change between and during calls.
        """
        name = self.output_names[0] if output is None else output
        return self.outputs(X, [name])[name]

    def outputs(self, X, names: list[str] | None = None) -> dict[str, np.ndarray]:
        """The values of several nodes for ``X`` in one pass, by name (default: every loss output);
        new arrays. Thread-safe as :meth:`forward`."""
        names = list(self.output_names if names is None else names)
        for name in names:
            if name not in self.node_inputs:
                raise ValueError(f"{name!r} is not a node of this graph"
                                 + _did_you_mean(name, self.node_names))
        values = self._evaluate(self.check_X(X), tuple(self._slot[name] for name in names))
        return dict(zip(names, values, strict=True))

    def _loss_output(self, output: str | None, what: str) -> str:
        name = self.output_names[0] if output is None else output
        if name not in self.losses:
            raise ValueError(f"{what} needs a loss output; {name!r} carries no loss (the loss outputs are "
                             f"{self.output_names})")
        return name

    def predict(self, X, output: str | None = None) -> np.ndarray:
        """What loss output ``output`` (default: the main one) predicts for ``X``: labels for a
        classification loss, values for a regression (as :meth:`ratenet.Network.predict`)."""
        name = self._loss_output(output, "predict")
        return self.losses[name].decision(self.forward(X, name))

    def predict_proba(self, X, output: str | None = None) -> np.ndarray:
        """Class probabilities of loss output ``output`` (default: the main one), as
        :meth:`ratenet.Network.predict_proba`."""
        name = self._loss_output(output, "predict_proba")
        if not self.losses[name].is_classification:
            raise TypeError(f"predict_proba needs a classification loss; output {name!r} has "
                            f"{self.losses[name]!r}")
        return self.losses[name].output_to_probability(self.forward(X, name))

    def score(self, X, y, output: str | None = None) -> float:
        """Accuracy (classification) or R^2 (regression) of loss output ``output`` (default: the
        main one). ``y``: that output's targets, or a dict output name -> targets holding them."""
        name = self._loss_output(output, "score")
        if isinstance(y, dict):
            if name not in y:
                raise ValueError(f"y holds no targets for output {name!r} (it holds {list(y)})")
            y = y[name]
        loss = self.losses[name]
        inputs = self.check_X(X)
        target = loss.prepare_target(y, self.widths[name], self.dtype)
        _same_lengths(["X", "y"], [inputs[0], target])
        return score_outputs(loss, self._evaluate(inputs, (self._slot[name],))[0], target)

    def loss_value(self, X, y) -> float:
        """The weighted sum of the losses on ``(X, y)`` (each a mean over samples, evaluation
        mode), without gradients; computed chunk by chunk. Thread-safe as :meth:`forward`."""
        inputs, targets = self.check_Xy(X, y)
        outputs = self._evaluate(inputs, tuple(slot for slot, _, _ in self._losses))
        n_samples = inputs[0].shape[0]
        total = 0.0
        for start in range(0, n_samples, PREDICT_CHUNK):
            stop = min(start + PREDICT_CHUNK, n_samples)
            chunk = self.outputs_loss(tuple(output[start:stop] for output in outputs),
                                      tuple(target[start:stop] for target in targets))
            total += chunk * (stop - start)
        return total / n_samples

    def loss_and_gradients(self, X, y, *, training: bool = False) -> tuple[float, dict[str, dict]]:
        """The total loss on the batch ``(X, y)`` and the gradient of every parameter, by node:
        ``{node: {"W": dW, "b": db}, ...}`` (copies; ``"gamma"``, ``"beta"`` for batch norm).

        ``training=True`` evaluates in training mode (dropout masks, batch statistics). Raises
        RuntimeError while the graph trains in another thread (the gradients live in its layers).
        """
        inputs, targets = self.batch_parts(self.data_arrays(X, y))
        with exclusive(self, "loss_and_gradients"):
            value = self.compute_gradients(inputs, targets, training=training)
            return value, {name: {key: gradient.copy() for key, (_, gradient) in named.items()}
                           for name, named in self.checked_parameters()}

    def fit(self, X, y, epochs: int = 10, batch_size: int | None = 32, optimizer="adam", **options):
        """Train by mini-batch gradient descent on the weighted sum of the losses
        (:func:`ratenet.fit`, with every option it takes).

        ``X``: a dict input name -> array (or one array for a graph with one input); ``y``: a dict
        output name -> targets (or the targets for a graph with one loss); ``validation_data``
        likewise. The History's ``loss`` is the weighted total, its ``accuracy`` the main output's.
        Divergence and Ctrl-C put the parameters, buffers and optimiser state back, as for a Network.

        Returns
        -------
        History
            Also kept as ``self.history``.
        """
        from .train import fit

        return fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, **options)

    def save(self, path, optimizer=None, **options):
        """Write the graph (and optionally ``optimizer``) to one ``.npz`` file (:func:`ratenet.io.save`);
        :func:`ratenet.load` reads it back as a Graph. Returns the path written."""
        from .io import save

        return save(self, path, optimizer, **options)

    def summary(self) -> str:
        """A table of the nodes in evaluation order: name, module, inputs, width, parameters."""
        rows = [("node", "module", "reads", "width", "parameters")]
        rows += [(name, "input", "", str(width), "") for name, width in self.input_widths.items()]
        for name, layer in zip(self.node_names, self.layers, strict=True):
            count = sum(param.size for param in layer.parameters())
            loss = f"  <- {self.losses[name]!r}" if name in self.losses else ""
            rows.append((name, repr(layer), ", ".join(self.node_inputs[name]), str(self.widths[name]),
                         f"{count}{loss}" if count or loss else ""))
        sizes = [max(len(row[column]) for row in rows) for column in range(4)]
        return "\n".join("  ".join(cell.ljust(size) for cell, size in zip(row[:4], sizes, strict=True))
                         + "  " + row[4] for row in rows).rstrip()

    def __repr__(self) -> str:
        losses = ", ".join(f"{name!r}: {loss!r}" for name, loss in self.losses.items())
        return (f"Graph(inputs={self.input_widths}, {len(self.layers)} nodes, losses={{{losses}}}, "
                f"dtype={np.dtype(self.dtype).name}, n_parameters={self.n_parameters})")


def _check_loss_weights(loss_weights, losses: dict) -> dict[str, float]:
    weights = {name: 1.0 for name in losses}
    if loss_weights is None:
        return weights
    if not isinstance(loss_weights, dict):
        raise TypeError(f"loss_weights must be a dict output name -> weight, got "
                        f"{type(loss_weights).__name__}")
    for name, weight in loss_weights.items():
        if name not in losses:
            raise ValueError(f"loss_weights names {name!r}, which carries no loss (the losses sit on "
                             f"{list(losses)})")
        if isinstance(weight, bool) or not isinstance(weight, int | float | np.floating) \
                or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"loss_weights[{name!r}] must be a finite number > 0, got {weight!r}")
        weights[name] = float(weight)
    return weights


def _check_widths(input_widths: dict[str, int], order: list[str], node_inputs: dict[str, list[str]],
                  modules: dict[str, Layer]) -> dict[str, int]:
    """The width of every value, checking every connection; ValueError naming the node."""
    widths = dict(input_widths)
    for name in order:
        module, sources = modules[name], node_inputs[name]
        incoming = [widths[source] for source in sources]
        if not isinstance(module, Merge) and len(sources) != 1:
            raise ValueError(f"node {name!r}: {module!r} takes one input, got {len(sources)} ({sources}); "
                             "combine them first with rn.Add or rn.Concatenate")
        try:
            widths[name] = (module.merged_width(incoming) if isinstance(module, Merge)
                            else module.output_width(incoming[0]))
        except ValueError as error:
            described = ", ".join(f"{source!r} ({width} features)"
                                  for source, width in zip(sources, incoming, strict=True))
            raise ValueError(f"node {name!r} reads {described}: {error}") from None
    return widths


def _by_name(value, names: list[str], argument: str, what: str) -> list[tuple[str, object]]:
    """``[(label, value), ...]`` in the order of ``names``, from a dict by name, or from the value
    itself when there is one name."""
    if isinstance(value, dict):
        missing = [name for name in names if name not in value]
        unexpected = [key for key in value if key not in names]
        if missing or unexpected:
            raise ValueError(f"{argument} must have one entry per {what}, {names}; missing {missing}, "
                             f"unexpected {unexpected}")
        return [(f"{argument}[{name!r}]", value[name]) for name in names]
    if len(names) == 1:
        return [(argument, value)]
    raise TypeError(f"{argument} must be a dict {what} name -> array for a graph with several of them "
                    f"({names}), got {type(value).__name__}")


def _same_lengths(labels: list[str], arrays: list[np.ndarray]) -> None:
    lengths = [array.shape[0] for array in arrays]
    if len(set(lengths)) > 1:
        detail = ", ".join(f"{label}: {length}" for label, length in zip(labels, lengths, strict=True))
        raise ValueError(f"the inputs and targets hold different numbers of samples ({detail})")
