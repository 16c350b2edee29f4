"""Saving and loading networks: one ``.npz`` file of arrays plus a JSON description, never pickled.

A file written by :func:`save` holds

- ``architecture``: a JSON document (stored as a 0-d string array) with the format name and
  version, the network's class, loss, dtype, init and seed, and for every layer its type, its
  ``config()`` (constructor arguments, activation parameters and rate curves included) and the
  shapes of the arrays saved for it; optionally the optimiser's name, hyper-parameters and step
  count, the state of a shuffling generator and a small user dictionary;
- ``layers.<i>.parameter.<j>``: the j-th array of ``layers[i].parameters()``;
- ``layers.<i>.buffer.<name>``: the non-trainable state of ``layers[i].buffers()`` (batch norm's
  running statistics);
- ``optimizer.<slot>.<j>``: the optimiser's state arrays (``Optimizer.state_dict``).

A :class:`~ratenet.Graph` is written the same way, its nodes' modules as the layer list (in the
graph's evaluation order), and its network entry also holds ``graph``: the inputs and their
widths, each node's name and the names it reads, and each loss with its output node and weight.
Such a file has format version 2 (:data:`GRAPH_FORMAT_VERSION`), which a ratenet that predates
graphs refuses; a sequential network is still written in version 1, and both are read. The graph's
structure (names, references, order, acyclicity) is checked with the rest of the description,
before any array is read or layer built.

A layer that draws random numbers from a ``numpy.random.Generator`` kept as its ``rng`` attribute
(Dropout's masks) has that generator's state saved in its JSON entry and restored on load, so that
resumed training draws the masks an uninterrupted run would.

Loading reads it with ``numpy.load(..., allow_pickle=False)``, rebuilds every layer from its type
and configuration (activations through :func:`~ratenet.activations.get_activation`, other layers
through a registry, :func:`register_layer`), checks every array against the description, and
copies the arrays into the new network. A round trip predicts bit-identically.

Saving writes a temporary file in the target's folder and renames it over the target only once it
is complete, so a failed save leaves whatever file was there untouched.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._archive import Archive, ArchiveError
from .activations import Activation, activation_class, get_activation
from .graph import Graph, sort_nodes
from .layers import Dense, Layer
from .losses import Loss, get_loss
from .model import Model
from .network import MLP, Network
from .optimizers import Optimizer, get_optimizer
from .validation import check_dtype

#: Name written into every file, checked on load.
FILE_FORMAT = "ratenet.network"
#: Version of the layout above that a sequential network is written in (and that earlier ratenet
#: versions read).
FORMAT_VERSION = 1
#: Version of the layout with a ``graph`` entry in the network entry (:class:`~ratenet.Graph`):
#: a ratenet that reads only version 1 refuses such a file instead of misreading it.
GRAPH_FORMAT_VERSION = 2
#: The versions :func:`load` reads; a file with another version is refused.
READABLE_VERSIONS = (FORMAT_VERSION, GRAPH_FORMAT_VERSION)

_ARCHITECTURE_KEY = "architecture"

#: Layer classes (other than activations) that :func:`load` may construct, by class name.
_LAYER_TYPES: dict[str, type[Layer]] = {"Dense": Dense}

#: Bit generators whose state a file may carry (names of classes in ``numpy.random``).
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


class NetworkFileError(ValueError):
    """A file that is not a readable ratenet network: corrupted, truncated, of another format or
    version, or whose description does not match its arrays."""


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow :func:`load` to rebuild layers of class ``cls`` (usable as a decorator).

    ``cls(**layer.config())`` must rebuild a layer with parameters and buffers of the same shapes
    as ``layer``'s; the saved arrays are then copied in. Activations need no registration: they
    are rebuilt by :func:`~ratenet.activations.get_activation` from their registry name. Layer
    classes exported by ``ratenet`` itself are found without registration as well.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer takes a Layer subclass, got {cls!r}")
    if issubclass(cls, Activation):
        raise TypeError(f"{cls.__name__} is an Activation: register it with register_activation")
    _LAYER_TYPES[cls.__name__] = cls
    return cls


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes
    ----------
    net : Network or Graph
        The network, with its parameters and buffers.
    optimizer : Optimizer or None
        The optimiser with its state (moments, velocities, step count), ready to continue
        training ``net``; None when the file holds none.
    rng : numpy.random.Generator or None
        The shuffling generator in the state it had when saved; None when the file holds none.
    metadata : dict
        The JSON-compatible ``metadata`` given to :func:`save` (empty by default).
    """

    net: Model
    optimizer: Optimizer | None = None
    rng: np.random.Generator | None = None
    metadata: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- save

def save(net: Model, path: str | os.PathLike, optimizer: Optimizer | None = None, *,
         rng: np.random.Generator | None = None, metadata: dict | None = None) -> Path:
    """Write ``net`` (and optionally its optimiser and shuffling generator) to one ``.npz`` file.

    Parameters
    ----------
    net : Network or Graph
        A Graph is written with its inputs, nodes (each node's layer as a network's) and weighted
        losses, in format version 2; a sequential network in version 1, as before graphs existed.
    path : str or path-like
        Target file, used as given (``.npz`` is the customary suffix). An existing file is
        replaced only once the new one is completely written.
    optimizer : Optimizer, optional
        The optimiser that trains ``net``; its hyper-parameters, step count and state arrays are
        saved so that training can resume exactly (see :func:`load_checkpoint`).
    rng : numpy.random.Generator, optional
        The generator passed as ``seed=`` to :func:`~ratenet.fit`; its state is saved so that the
        next epochs shuffle as an uninterrupted run would.
    metadata : dict, optional
        JSON-compatible values kept with the network (e.g. the epoch reached).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        When ``net`` is not a Network, a layer cannot be described in JSON or rebuilt from its
        description (e.g. a rate curve built from arbitrary Python functions), or ``metadata`` is
        not JSON-compatible.
    """
    if not isinstance(net, Model):
        raise TypeError(f"net must be a ratenet Network or Graph, got {type(net).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer or None, got {type(optimizer).__name__}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    path = Path(os.fspath(path))
    description, arrays = _describe(net, optimizer, rng, metadata)
    try:
        text = json.dumps(description, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"cannot save {net!r}: its description is not JSON-compatible ({error})") from error
    arrays[_ARCHITECTURE_KEY] = np.array(text)
    _write_atomically(path, arrays)
    return path


def _describe(net: Model, optimizer, rng, metadata) -> tuple[dict, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for index, layer in enumerate(net.layers):
        entry = _describe_layer(index, layer)
        for position, param in enumerate(layer.parameters()):
            arrays[f"layers.{index}.parameter.{position}"] = param
        for name, buffer in _buffers(layer).items():
            arrays[f"layers.{index}.buffer.{name}"] = np.asarray(buffer)
        entry["parameters"] = [list(param.shape) for param in layer.parameters()]
        entry["buffers"] = {name: list(np.shape(buffer)) for name, buffer in _buffers(layer).items()}
        layer_rng = getattr(layer, "rng", None)
        if isinstance(layer_rng, np.random.Generator):  # Dropout's mask generator
            entry["rng"] = _generator_state(layer_rng)
        layers.append(entry)
    network = _describe_network(net)
    version = GRAPH_FORMAT_VERSION if isinstance(net, Graph) else FORMAT_VERSION
    description = {"format": FILE_FORMAT, "format_version": version, "network": network,
                   "layers": layers, "optimizer": None, "rng": None, "metadata": metadata or {}}
    if not isinstance(description["metadata"], dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    if optimizer is not None:
        state = optimizer.state_dict()
        config = optimizer.config()
        array_keys = [key for key, value in state.items() if isinstance(value, np.ndarray)]
        for key in array_keys:
            arrays[f"optimizer.{key}"] = state[key]
        description["optimizer"] = {"name": optimizer.name, "config": config,
                                    "step_count": int(optimizer.step_count),
                                    "arrays": {key: list(state[key].shape) for key in array_keys}}
        try:
            known = type(get_optimizer(optimizer.name)) is type(optimizer)
        except ValueError:
            known = False
        if not known:
            raise TypeError(f"cannot save optimizer {optimizer!r}: {type(optimizer).__name__} is not "
                            "a registered ratenet optimizer")
    if rng is not None:
        description["rng"] = _generator_state(rng)
    return description, arrays


def _describe_network(net: Model) -> dict:
    """The network entry: class, loss(es), dtype, init and seed; an MLP's sizes; a graph's inputs,
    nodes (aligned with the layer list) and weighted losses."""
    if isinstance(net, Graph):
        main = net.losses[net.output_names[0]]
        graph = {"inputs": [[name, width] for name, width in net.input_widths.items()],
                 "nodes": [{"name": name, "inputs": list(net.node_inputs[name])} for name in net.node_names],
                 "losses": [{"output": name, "loss": _describe_loss(net.losses[name]),
                             "weight": net.loss_weights[name]} for name in net.output_names]}
        extra = {"graph": graph}
    else:
        main, extra = net.loss, {}
        if type(net) is MLP:
            extra["mlp"] = {"sizes": list(net.sizes), "output": net.output,
                            "activation": {"name": net.activation.name, "config": net.activation.config()}}
    kind = "Graph" if isinstance(net, Graph) else "MLP" if type(net) is MLP else "Network"
    return {"class": kind, "loss": _describe_loss(main), "dtype": np.dtype(net.dtype).name, "init": net.init,
            "seed": _describe_seed(net.seed), **extra}


def _describe_loss(loss: Loss) -> dict:
    try:
        rebuilt_loss = _rebuild_loss({"name": loss.name, "config": loss.config()})
    except (TypeError, ValueError):
        rebuilt_loss = None
    if type(rebuilt_loss) is not type(loss):
        raise TypeError(f"cannot save a network whose loss {loss!r} is not a registered ratenet loss")
    return {"name": loss.name, "config": loss.config()}


def _describe_layer(index: int, layer: Layer) -> dict:
    # A description that cannot be turned back into a layer is refused now, not at load time.
    try:
        if isinstance(layer, Activation):
            entry = {"type": "activation", "class": type(layer).__name__, "name": layer.name,
                     "config": layer.config()}
        else:
            entry = {"type": "layer", "class": type(layer).__name__, "config": layer.config()}
        json.dumps(entry["config"], allow_nan=False)
        rebuilt = _build_layer(index, entry)
    except (TypeError, ValueError) as error:
        raise TypeError(f"cannot save layer {index} ({layer!r}): it cannot be rebuilt from its "
                        f"config() ({error})") from error
    if type(rebuilt) is not type(layer):
        raise TypeError(f"cannot save layer {index} ({layer!r}): its description rebuilds a "
                        f"{type(rebuilt).__name__}")
    return entry


def _buffers(layer: Layer) -> dict[str, np.ndarray]:
    return dict(getattr(layer, "buffers", lambda: {})())


def _describe_seed(seed) -> dict:
    if isinstance(seed, np.random.Generator):
        return {"generator": _generator_state(seed)}
    if seed is None or isinstance(seed, int | np.integer):
        return {"int": None if seed is None else int(seed)}
    raise TypeError(f"cannot save a network whose seed is a {type(seed).__name__}")


def _generator_state(rng: np.random.Generator) -> dict:
    state = dict(rng.bit_generator.state)
    name = state.get("bit_generator")
    if name not in _BIT_GENERATORS:
        raise TypeError(f"cannot save the state of a {name} generator; supported: {_BIT_GENERATORS}")
    return _to_json(state)


def _to_json(value):
    """Bit-generator states hold nested dicts, Python ints (128-bit) and, for MT19937, an array."""
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"array", "dtype"}:
            return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
        return {key: _from_json(item) for key, item in value.items()}
    return value


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to a temporary file beside ``path``, then rename it onto ``path``.

    ``os.replace`` is atomic on POSIX and Windows when both names are in the same folder: readers
    see either the old file or the complete new one. On any failure the temporary file is removed
    and the old file is left as it was. As ``numpy.save`` and ordinary editors do, a symbolic link
    is written through (its target is replaced, the link stays), a replaced file keeps its
    permissions, and a new file gets the usual ``0666`` less the process's umask.
    """
    path = Path(os.path.realpath(path))
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: folder {folder} does not exist")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    """The process's file-creation mask, read without changing it where the system tells it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------- load

def load(path: str | os.PathLike) -> Model:
    """Rebuild the network saved by :func:`save` (or :meth:`Network.save`).

    The result predicts bit-identically to the saved network. A network saved from an
    :class:`~ratenet.MLP` comes back as an MLP, a :class:`~ratenet.Graph` as a Graph, any other as
    a :class:`~ratenet.Network`.
    Use :func:`load_checkpoint` to get the optimiser and generator back as well.

    Loading never unpickles, and trusts nothing in the file: the description is checked against
    the archive's member names, their ``.npy`` headers and declared sizes before anything is
    built, only the members it names are read, and values the network cannot use (NaN or
    infinite parameters, a negative batch-norm variance) are refused. A crafted file cannot make
    it allocate much more than the file's own size (see :mod:`ratenet._archive`).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    NetworkFileError
        (a ValueError) for every other failure to read the file, naming the part that is wrong:
        corrupted or truncated, not a ratenet network file, another format version, an unknown
        layer type, a description that does not match the arrays (count, names, shapes, dtypes,
        sizes), or unusable values.
    """
    return load_checkpoint(path).net


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Rebuild the network, optimiser and shuffling generator saved by :func:`save`.

    Resuming training exactly::

        rng = np.random.default_rng(7)
        opt = rn.Adam(lr=1e-3)
        net.fit(X, y, epochs=5, optimizer=opt, seed=rng)
        net.save("net.npz", optimizer=opt, rng=rng)
        ...
        ckpt = rn.load_checkpoint("net.npz")
        ckpt.net.fit(X, y, epochs=5, optimizer=ckpt.optimizer, seed=ckpt.rng)

    gives the weights of ``fit(epochs=10, optimizer=Adam(lr=1e-3), seed=default_rng(7))`` run
    without interruption (with no validation split and no schedule, which ``fit`` restarts at every
    call).

    Returns
    -------
    Checkpoint
        ``net``, ``optimizer`` (None when none was saved), ``rng`` (None when none was saved) and
        ``metadata``.

    Raises
    ------
    As :func:`load`.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"no network file at {path}")
    try:
        with Archive(path, _ARCHITECTURE_KEY) as archive:
            with _part("the architecture description"):
                description = _parse_description(archive.read_description())
            plan = _Plan(description)
            arrays = archive.read_arrays(plan.expected_arrays())
        return plan.build(arrays)
    except (NetworkFileError, ArchiveError) as error:
        raise NetworkFileError(f"{path}: {error}") from None
    except Exception as error:  # the contract: any failure to read the file is a NetworkFileError
        raise NetworkFileError(f"{path} cannot be read: {type(error).__name__}: {error}") from None


@contextmanager
def _part(name: str):
    """Turn any failure inside into a NetworkFileError naming ``name``, the part of the file."""
    try:
        yield
    except (NetworkFileError, ArchiveError):
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError,
            MemoryError, NotImplementedError) as error:
        detail = f"{type(error).__name__}: {error}" if not isinstance(error, ValueError) else str(error)
        raise NetworkFileError(f"{name} is invalid ({detail})") from None


def _parse_description(text: str) -> dict:
    try:
        description = json.loads(text)
    except RecursionError:
        raise NetworkFileError("the architecture description is nested too deeply to be a ratenet "
                               "network's") from None
    except json.JSONDecodeError as error:
        raise NetworkFileError(f"the architecture description is not valid JSON ({error})") from None
    if not isinstance(description, dict) or description.get("format") != FILE_FORMAT:
        raise NetworkFileError("not a ratenet network file (format "
                               f"{description.get('format') if isinstance(description, dict) else None!r})")
    version = description.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise NetworkFileError(f"format version {str(version)[:20]}; this ratenet reads versions "
                               f"{list(READABLE_VERSIONS)}")
    return description


def _shape(value, what: str) -> tuple[int, ...]:
    """A declared array shape: a short list of non-negative integers."""
    if not isinstance(value, list) or len(value) > 8 or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**40 for n in value):
        raise NetworkFileError(f"{what} has an invalid shape {str(value)[:80]}")
    return tuple(value)


class _Plan:
    """A description checked for consistency, before anything is allocated: the arrays it needs,
    and how to build the network, optimizer and generator from them."""

    def __init__(self, description: dict):
        with _part("the network entry"):
            network = description["network"]
            self.dtype = check_dtype(network["dtype"])
            self.network = network
        entries = description.get("layers")
        if not isinstance(entries, list) or not entries:
            raise NetworkFileError("the architecture description lists no layers")
        self.entries = entries
        self.graph = None
        if network.get("class") == "Graph":
            if description["format_version"] < GRAPH_FORMAT_VERSION:
                raise NetworkFileError(f"a graph needs format version {GRAPH_FORMAT_VERSION}, the file "
                                       f"says {description['format_version']}")
            with _part("the graph entry"):
                self.graph = _check_graph_entry(network.get("graph"), len(entries))
        self.layer_arrays = [self._layer_arrays(index, entry) for index, entry in enumerate(entries)]
        self.optimizer_entry = description.get("optimizer")
        self.optimizer_arrays = self._optimizer_arrays()
        self.rng_entry = description.get("rng")
        self.metadata = description.get("metadata") or {}
        if not isinstance(self.metadata, dict):
            raise NetworkFileError("the metadata entry is not a dict")

    def _layer_arrays(self, index: int, entry) -> tuple[list, dict]:
        """The parameter shapes and buffer shapes a layer entry declares, checked against what
        its class says a layer of that configuration holds."""
        with _part(f"layer {index}"):
            if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
                raise NetworkFileError(f"layer {index}: invalid description {str(entry)[:80]}")
            parameters = [_shape(shape, f"layer {index} parameter {position}")
                          for position, shape in enumerate(entry.get("parameters", []))]
            buffers = entry.get("buffers", {})
            if not isinstance(buffers, dict) or not all(isinstance(name, str) for name in buffers):
                raise NetworkFileError(f"layer {index}: invalid buffer list")
            buffers = {name: _shape(shape, f"layer {index} buffer {name!r}")
                       for name, shape in buffers.items()}
            cls = _entry_class(index, entry)
            expected = cls.array_shapes(entry["config"])
            if expected is not None:
                declared = {"parameters": parameters, "buffers": buffers}
                expected = {"parameters": [tuple(shape) for shape in expected["parameters"]],
                            "buffers": {name: tuple(shape) for name, shape in expected["buffers"].items()}}
                if declared != expected:
                    raise NetworkFileError(f"layer {index} ({entry.get('class')}): the arrays it declares "
                                           f"{str(declared)[:200]} do not match its configuration, which "
                                           f"needs {str(expected)[:200]}")
        return parameters, buffers

    def _optimizer_arrays(self) -> dict[str, tuple[int, ...]]:
        """The optimizer state's arrays (slot.index -> shape): one per slot and parameter, or none
        for an optimizer saved before its first step."""
        entry = self.optimizer_entry
        if entry is None:
            return {}
        shapes = [shape for parameters, _ in self.layer_arrays for shape in parameters]
        with _part("the optimizer entry"):
            cls = type(get_optimizer(entry["name"]))
            arrays = entry.get("arrays", {})
            if not isinstance(arrays, dict):
                raise TypeError("arrays must be a dict")
            if not arrays:
                return {}
            declared = {key: _shape(shape, f"optimizer array {key!r}") for key, shape in arrays.items()}
            needed = {f"{slot}.{index}": shape for slot in cls.slots for index, shape in enumerate(shapes)}
            if declared != needed:
                raise NetworkFileError(f"the optimizer state lists arrays {sorted(arrays)[:8]} that a "
                                       f"{cls.__name__} of this network does not hold")
        return needed

    def expected_arrays(self) -> dict[str, tuple[tuple[int, ...], np.dtype | None]]:
        """Every array member the file must hold: key -> (shape, dtype or None for any float)."""
        expected = {}
        for index, (parameters, buffers) in enumerate(self.layer_arrays):
            for position, shape in enumerate(parameters):
                expected[f"layers.{index}.parameter.{position}"] = (shape, self.dtype)
            for name, shape in buffers.items():
                expected[f"layers.{index}.buffer.{name}"] = (shape, None)
        for key, shape in self.optimizer_arrays.items():
            expected[f"optimizer.{key}"] = (shape, self.dtype)
        return expected

    def build(self, arrays: dict[str, np.ndarray]) -> Checkpoint:
        """The network, optimizer and generator, with the arrays copied in and checked."""
        net = self._build_network()
        for index, layer in enumerate(net.layers):
            with _part(f"layer {index} ({layer!r})"):
                _fill_layer(index, layer, arrays, *self.layer_arrays[index])
                if self.entries[index].get("rng") is not None:
                    layer.rng = _rebuild_generator(self.entries[index]["rng"])
                layer.check_state()
        optimizer = None
        if self.optimizer_entry is not None:
            with _part("the optimizer state"):
                optimizer = _rebuild_optimizer(self.optimizer_entry, arrays, net)
        rng = None
        if self.rng_entry is not None:
            with _part("the shuffling generator's state"):
                rng = _rebuild_generator(self.rng_entry)
        return Checkpoint(net=net, optimizer=optimizer, rng=rng, metadata=self.metadata)

    def _build_network(self) -> Model:
        network = self.network
        with _part("the network entry"):
            seed = _rebuild_seed(network["seed"])
            loss = _rebuild_loss(network["loss"])
            init = network.get("init")
            if self.graph is not None:
                net = self._build_graph(seed, init)
            elif network.get("class") == "MLP":
                mlp = network["mlp"]
                self._check_mlp_sizes(mlp["sizes"])
                activation = get_activation(mlp["activation"]["name"], **mlp["activation"]["config"])
                net = MLP(mlp["sizes"], activation=activation, output=mlp["output"], seed=seed,
                          dtype=self.dtype, init=init)
                entries = [(entry.get("class"), json.dumps(entry["config"], sort_keys=True))
                           for entry in self.entries]
                if [_layer_key(layer) for layer in net.layers] != entries:
                    raise NetworkFileError("the MLP description does not match its list of layers")
                net.loss = loss
            else:
                layers = []
                for index, entry in enumerate(self.entries):
                    with _part(f"layer {index}"):
                        layers.append(_build_layer(index, entry))
                net = Network(layers, loss=loss, seed=seed, dtype=self.dtype, init=init)
            if isinstance(seed, np.random.Generator):  # building the network drew from it: restore it
                net.seed = _rebuild_seed(network["seed"])
        return net

    def _build_graph(self, seed, init) -> Graph:
        inputs, nodes, losses = self.graph
        layers = []
        for index, entry in enumerate(self.entries):
            with _part(f"layer {index}"):
                layers.append(_build_layer(index, entry))
        with _part("the graph entry"):
            return Graph(inputs=inputs, nodes=[(name, layer, sources) for (name, sources), layer
                                               in zip(nodes, layers, strict=True)],
                         losses={output: _rebuild_loss(loss) for output, (loss, _) in losses.items()},
                         loss_weights={output: weight for output, (_, weight) in losses.items()},
                         seed=seed, dtype=self.dtype, init=init)

    def _check_mlp_sizes(self, sizes) -> None:
        """An MLP is built from its sizes: they must be those its Dense entries declare."""
        weights = [parameters[0] for (parameters, _), entry
                   in zip(self.layer_arrays, self.entries, strict=True) if entry.get("class") == "Dense"]
        declared = [weights[0][1], *(shape[0] for shape in weights)] if weights else []
        if sizes != declared:
            raise NetworkFileError(f"the MLP sizes {str(sizes)[:80]} do not match its Dense layers "
                                   f"{declared}")


def _check_graph_entry(graph, n_layers: int) -> tuple[dict, list, dict]:
    """``(inputs, nodes, losses)`` of a graph entry, its structure checked (names, references,
    order, no cycle) before anything is allocated: inputs name -> width, nodes [(name, inputs)]
    aligned with the layer list, losses output -> (loss entry, weight)."""
    if not isinstance(graph, dict):
        raise TypeError("the graph entry must be a dict")
    inputs = {}
    for pair in graph["inputs"]:
        if (not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str)
                or isinstance(pair[1], bool) or not isinstance(pair[1], int) or not 0 < pair[1] < 2**40):
            raise ValueError(f"an input must be [name, width], got {str(pair)[:80]}")
        if pair[0] in inputs:
            raise ValueError(f"the input {pair[0][:40]!r} is listed twice")
        inputs[pair[0]] = pair[1]
    nodes = []
    for node in graph["nodes"]:
        if (not isinstance(node, dict) or not isinstance(node.get("name"), str)
                or not isinstance(node.get("inputs"), list) or not node["inputs"]
                or not all(isinstance(source, str) for source in node["inputs"])):
            raise ValueError(f"a node must be {{'name': str, 'inputs': [str, ...]}}, got {str(node)[:80]}")
        nodes.append((node["name"], node["inputs"]))
    if len(nodes) != n_layers:
        raise ValueError(f"it lists {len(nodes)} nodes for {n_layers} layers")
    losses = {}
    for entry in graph["losses"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("output"), str) \
                or not isinstance(entry.get("loss"), dict):
            raise ValueError(f"a loss must be {{'output': str, 'loss': dict, 'weight': number}}, got "
                             f"{str(entry)[:80]}")
        weight = entry.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
            raise ValueError(f"the weight of a loss must be a number > 0, got {str(weight)[:40]}")
        if entry["output"] in losses:
            raise ValueError(f"two losses sit on {entry['output'][:40]!r}")
        losses[entry["output"]] = (entry["loss"], float(weight))
    if not losses:
        raise ValueError("it lists no loss")
    order = sort_nodes(list(inputs), nodes, list(losses))
    if order != [name for name, _ in nodes]:
        raise ValueError("its nodes are not listed in evaluation order")
    return inputs, nodes, losses


def _fill_layer(index: int, layer: Layer, arrays: dict, parameters: list, buffers: dict) -> None:
    """Copy a layer's saved arrays into it, after checking them against what it holds."""
    params = layer.parameters()
    if [param.shape for param in params] != parameters:
        raise NetworkFileError(f"layer {index} ({layer!r}) holds parameters of shapes "
                               f"{[param.shape for param in params]}, the description lists {parameters}")
    for position, param in enumerate(params):
        key = f"layers.{index}.parameter.{position}"
        _copy_into(param, arrays[key], key)
    own = _buffers(layer)
    if set(own) != set(buffers):
        raise NetworkFileError(f"layer {index} ({layer!r}) has buffers {sorted(own)}, the description "
                               f"lists {sorted(buffers)}")
    for name, buffer in own.items():
        _copy_into(buffer, arrays[f"layers.{index}.buffer.{name}"], f"layers.{index}.buffer.{name}")


def _layer_key(layer: Layer) -> tuple:
    return type(layer).__name__, json.dumps(layer.config(), sort_keys=True)


def _entry_class(index: int, entry: dict) -> type[Layer]:
    """The class a layer entry names (an activation's through the activation registry)."""
    kind = entry.get("type")
    if kind == "activation":
        try:
            return activation_class(entry.get("name", ""))
        except (TypeError, ValueError) as error:
            raise NetworkFileError(f"layer {index}: {error}") from None
    if kind != "layer":
        raise NetworkFileError(f"layer {index}: unknown layer kind {str(kind)[:40]!r}")
    cls = _layer_class(entry.get("class"))
    if cls is None:
        known = sorted(set(_LAYER_TYPES) | set(_public_layer_classes()))
        raise NetworkFileError(f"layer {index}: unknown layer type {str(entry.get('class'))[:40]!r}; "
                               f"known types: {known} (register others with ratenet.io.register_layer)")
    return cls


def _build_layer(index: int, entry: dict) -> Layer:
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise NetworkFileError(f"layer {index}: invalid description {str(entry)[:80]}")
    if entry.get("type") == "activation":
        try:
            layer = get_activation(entry.get("name", ""), **entry["config"])
        except ValueError as error:
            if "unknown activation" in str(error):
                raise NetworkFileError(f"layer {index}: {error}") from None
            raise
        if type(layer).__name__ != entry.get("class"):
            raise NetworkFileError(f"layer {index}: activation {entry.get('name')!r} is a "
                                   f"{type(layer).__name__}, the file says {str(entry.get('class'))[:40]}")
        return layer
    return _entry_class(index, entry)(**entry["config"])


def _public_layer_classes() -> dict[str, type[Layer]]:
    """Non-activation Layer classes exported by ``ratenet`` (the allow-list beside the registry)."""
    import ratenet

    found = {}
    for name in getattr(ratenet, "__all__", ()):
        obj = getattr(ratenet, name, None)
        if (isinstance(obj, type) and issubclass(obj, Layer) and not issubclass(obj, Activation)
                and obj is not Layer):
            found[name] = obj
    return found


def _layer_class(name) -> type[Layer] | None:
    if not isinstance(name, str):
        return None
    return _LAYER_TYPES.get(name) or _public_layer_classes().get(name)


def _copy_into(target: np.ndarray, saved: np.ndarray, key: str) -> None:
    if saved.dtype != target.dtype:
        raise NetworkFileError(f"array {key!r} has dtype {saved.dtype}, the network's is {target.dtype}")
    target[...] = saved


def _rebuild_loss(entry: dict) -> Loss:
    template = get_loss(entry["name"])
    return type(template)(**entry.get("config", {}))


def _rebuild_seed(entry: dict):
    if "generator" in entry:
        return _rebuild_generator(entry["generator"])
    seed = entry["int"]
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise TypeError(f"seed must be a non-negative integer, got {str(seed)[:40]}")
    return seed


def _rebuild_generator(entry: dict) -> np.random.Generator:
    state = _from_json(entry)
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise NetworkFileError(f"unknown bit generator {str(name)[:40]!r}; supported: {_BIT_GENERATORS}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except Exception as error:  # numpy raises TypeError, ValueError, KeyError, IndexError...
        raise NetworkFileError(f"invalid {name} generator state ({type(error).__name__}: "
                               f"{str(error)[:80]})") from None
    return np.random.Generator(bit_generator)


def _rebuild_optimizer(entry: dict, arrays: dict[str, np.ndarray], net: Model) -> Optimizer:
    optimizer = type(get_optimizer(entry["name"]))(**entry["config"])
    step_count = entry["step_count"]
    if not isinstance(step_count, int) or isinstance(step_count, bool) or step_count < 0:
        raise ValueError(f"step_count must be an integer >= 0, got {str(step_count)[:40]}")
    state = {"step_count": step_count, **entry["config"]}
    for key in entry.get("arrays", {}):
        state[key] = arrays[f"optimizer.{key}"]
    if entry.get("arrays"):
        optimizer.load_state_dict(state, net.parameters())
        optimizer.check_state()
    else:
        optimizer.step_count = step_count
    return optimizer
