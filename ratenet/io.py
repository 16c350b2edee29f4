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
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .activations import Activation, get_activation
from .layers import Dense, Layer
from .losses import Loss, get_loss
from .network import MLP, Network
from .optimizers import Optimizer, get_optimizer

#: Name written into every file, checked on load.
FILE_FORMAT = "ratenet.network"
#: Version of the layout above; a file with another version is refused.
FORMAT_VERSION = 1

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
    net : Network
        The network, with its parameters and buffers.
    optimizer : Optimizer or None
        The optimiser with its state (moments, velocities, step count), ready to continue
        training ``net``; None when the file holds none.
    rng : numpy.random.Generator or None
        The shuffling generator in the state it had when saved; None when the file holds none.
    metadata : dict
        The JSON-compatible ``metadata`` given to :func:`save` (empty by default).
    """

    net: Network
    optimizer: Optimizer | None = None
    rng: np.random.Generator | None = None
    metadata: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- save

def save(net: Network, path: str | os.PathLike, optimizer: Optimizer | None = None, *,
         rng: np.random.Generator | None = None, metadata: dict | None = None) -> Path:
    """Write ``net`` (and optionally its optimiser and shuffling generator) to one ``.npz`` file.

    Parameters
    ----------
    net : Network
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
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
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


def _describe(net: Network, optimizer, rng, metadata) -> tuple[dict, dict[str, np.ndarray]]:
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
    loss = net.loss
    try:
        rebuilt_loss = _rebuild_loss({"name": loss.name, "config": loss.config()})
    except (TypeError, ValueError):
        rebuilt_loss = None
    if type(rebuilt_loss) is not type(loss):
        raise TypeError(f"cannot save a network whose loss {loss!r} is not a registered ratenet loss")
    network = {"class": "MLP" if type(net) is MLP else "Network",
               "loss": {"name": loss.name, "config": loss.config()},
               "dtype": np.dtype(net.dtype).name, "init": net.init, "seed": _describe_seed(net.seed)}
    if type(net) is MLP:
        network["mlp"] = {"sizes": list(net.sizes), "output": net.output,
                          "activation": {"name": net.activation.name, "config": net.activation.config()}}
    description = {"format": FILE_FORMAT, "format_version": FORMAT_VERSION, "network": network,
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
    and the old file is left as it was.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


# ---------------------------------------------------------------------------------------- load

def load(path: str | os.PathLike) -> Network:
    """Rebuild the network saved by :func:`save` (or :meth:`Network.save`).

    The result predicts bit-identically to the saved network. A network saved from an
    :class:`~ratenet.MLP` comes back as an MLP, any other as a :class:`~ratenet.Network`.
    Use :func:`load_checkpoint` to get the optimiser and generator back as well.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    NetworkFileError
        (a ValueError) when the file is corrupted or truncated, is not a ratenet network file, has
        another format version, names an unknown layer type, or holds arrays that do not match its
        description (count, names, shapes, dtypes).
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
    description, arrays = _read(path)
    try:
        return _rebuild(description, arrays)
    except NetworkFileError as error:
        raise NetworkFileError(f"{path}: {error}") from None


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            # Read every array now: a corrupted member fails its CRC check here, not later.
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise NetworkFileError(f"{path} is not a readable ratenet network file (corrupted or "
                               f"truncated?): {type(error).__name__}: {error}") from error
    text = arrays.pop(_ARCHITECTURE_KEY, None)
    if text is None or text.shape != () or text.dtype.kind != "U":
        raise NetworkFileError(f"{path} is not a ratenet network file: it holds no architecture "
                               "description")
    try:
        description = json.loads(str(text))
    except json.JSONDecodeError as error:
        raise NetworkFileError(f"{path}: the architecture description is not valid JSON ({error})") from None
    if not isinstance(description, dict) or description.get("format") != FILE_FORMAT:
        raise NetworkFileError(f"{path} is not a ratenet network file (format "
                               f"{description.get('format') if isinstance(description, dict) else None!r})")
    version = description.get("format_version")
    if version != FORMAT_VERSION:
        raise NetworkFileError(f"{path} has format version {version!r}; this ratenet reads version "
                               f"{FORMAT_VERSION} only")
    return description, arrays


def _rebuild(description: dict, arrays: dict[str, np.ndarray]) -> Checkpoint:
    try:
        network = description["network"]
        layer_entries = description["layers"]
        dtype = np.dtype(network["dtype"])
        seed = _rebuild_seed(network["seed"])
        loss = _rebuild_loss(network["loss"])
    except (KeyError, TypeError, ValueError) as error:
        raise NetworkFileError(f"the architecture description is incomplete or invalid ({error!r})") from None
    if not isinstance(layer_entries, list) or not layer_entries:
        raise NetworkFileError("the architecture description lists no layers")
    try:
        layers = [_build_layer(index, entry) for index, entry in enumerate(layer_entries)]
    except NetworkFileError:
        raise
    except (TypeError, ValueError) as error:
        raise NetworkFileError(f"a layer cannot be rebuilt from its description ({error})") from None
    try:
        if network.get("class") == "MLP":
            mlp = network["mlp"]
            activation = get_activation(mlp["activation"]["name"], **mlp["activation"]["config"])
            net = MLP(mlp["sizes"], activation=activation, output=mlp["output"], seed=seed, dtype=dtype,
                      init=network.get("init"))
            if [_layer_key(a) for a in net.layers] != [_layer_key(b) for b in layers]:
                raise NetworkFileError("the MLP description does not match its list of layers")
            net.loss = loss
        else:
            net = Network(layers, loss=loss, seed=seed, dtype=dtype, init=network.get("init"))
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, NetworkFileError):
            raise
        raise NetworkFileError(f"the layers do not form a valid network ({error})") from None

    if isinstance(seed, np.random.Generator):  # building the network drew from it: restore it
        net.seed = _rebuild_seed(network["seed"])

    expected = set()
    for index, (layer, entry) in enumerate(zip(net.layers, layer_entries, strict=True)):
        params = layer.parameters()
        shapes = entry.get("parameters", [])
        if len(shapes) != len(params):
            raise NetworkFileError(f"layer {index} ({layer!r}) has {len(params)} parameter arrays, "
                                   f"the description lists {len(shapes)}")
        for position, param in enumerate(params):
            key = f"layers.{index}.parameter.{position}"
            _copy_into(param, arrays, key, f"layer {index} ({layer!r}) parameter {position}")
            expected.add(key)
        buffers = _buffers(layer)
        if set(buffers) != set(entry.get("buffers", {})):
            raise NetworkFileError(f"layer {index} ({layer!r}) has buffers {sorted(buffers)}, the "
                                   f"description lists {sorted(entry.get('buffers', {}))}")
        for name, buffer in buffers.items():
            key = f"layers.{index}.buffer.{name}"
            _copy_into(buffer, arrays, key, f"layer {index} ({layer!r}) buffer {name!r}")
            expected.add(key)

        if entry.get("rng") is not None:
            layer.rng = _rebuild_generator(entry["rng"])

    optimizer = None
    if description.get("optimizer") is not None:
        optimizer, keys = _rebuild_optimizer(description["optimizer"], arrays, net)
        expected.update(keys)
    unexpected = sorted(set(arrays) - expected)
    if unexpected:
        raise NetworkFileError(f"the file holds arrays its description does not mention: {unexpected[:5]}")
    rng = None
    if description.get("rng") is not None:
        rng = _rebuild_generator(description["rng"])
    return Checkpoint(net=net, optimizer=optimizer, rng=rng, metadata=description.get("metadata") or {})


def _layer_key(layer: Layer) -> tuple:
    return type(layer).__name__, json.dumps(layer.config(), sort_keys=True)


def _build_layer(index: int, entry: dict) -> Layer:
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise NetworkFileError(f"layer {index}: invalid description {entry!r}")
    kind, class_name, config = entry.get("type"), entry.get("class"), entry["config"]
    if kind == "activation":
        try:
            layer = get_activation(entry.get("name", ""), **config)
        except ValueError as error:
            if "unknown activation" in str(error):
                raise NetworkFileError(f"layer {index}: {error}") from None
            raise
        if type(layer).__name__ != class_name:
            raise NetworkFileError(f"layer {index}: activation {entry.get('name')!r} is a "
                                   f"{type(layer).__name__}, the file says {class_name}")
        return layer
    if kind != "layer":
        raise NetworkFileError(f"layer {index}: unknown layer kind {kind!r}")
    cls = _layer_class(class_name)
    if cls is None:
        known = sorted(set(_LAYER_TYPES) | set(_public_layer_classes()))
        raise NetworkFileError(f"layer {index}: unknown layer type {class_name!r}; known types: {known} "
                               "(register others with ratenet.io.register_layer)")
    return cls(**config)


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


def _copy_into(target: np.ndarray, arrays: dict[str, np.ndarray], key: str, what: str) -> None:
    saved = arrays.get(key)
    if saved is None:
        raise NetworkFileError(f"{what}: array {key!r} is missing from the file")
    if saved.shape != target.shape:
        raise NetworkFileError(f"{what}: array {key!r} has shape {saved.shape}, the architecture "
                               f"needs {target.shape}")
    if saved.dtype != target.dtype:
        raise NetworkFileError(f"{what}: array {key!r} has dtype {saved.dtype}, the network's is "
                               f"{target.dtype}")
    target[...] = saved


def _rebuild_loss(entry: dict) -> Loss:
    template = get_loss(entry["name"])
    return type(template)(**entry.get("config", {}))


def _rebuild_seed(entry: dict):
    if "generator" in entry:
        return _rebuild_generator(entry["generator"])
    seed = entry["int"]
    if seed is not None and not isinstance(seed, int):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    return seed


def _rebuild_generator(entry: dict) -> np.random.Generator:
    state = _from_json(entry)
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise NetworkFileError(f"unknown bit generator {name!r}; supported: {_BIT_GENERATORS}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise NetworkFileError(f"invalid {name} generator state ({error})") from None
    return np.random.Generator(bit_generator)


def _rebuild_optimizer(entry: dict, arrays: dict[str, np.ndarray],
                       net: Network) -> tuple[Optimizer, list[str]]:
    try:
        optimizer = type(get_optimizer(entry["name"]))(**entry["config"])
        shapes = entry["arrays"]
        step_count = int(entry["step_count"])
    except (KeyError, TypeError, ValueError) as error:
        raise NetworkFileError(f"invalid optimizer description {entry!r} ({error})") from None
    state = {"step_count": step_count, **entry["config"]}
    keys = []
    params = net.parameters()
    for key, shape in shapes.items():
        array_key = f"optimizer.{key}"
        saved = arrays.get(array_key)
        if saved is None:
            raise NetworkFileError(f"optimizer array {array_key!r} is missing from the file")
        slot, _, position = key.rpartition(".")
        if slot not in optimizer.slots or not position.isdigit() or int(position) >= len(params):
            raise NetworkFileError(f"optimizer array {array_key!r} does not belong to a "
                                   f"{type(optimizer).__name__} of this network")
        param = params[int(position)]
        if saved.shape != param.shape or list(saved.shape) != list(shape) or saved.dtype != param.dtype:
            raise NetworkFileError(f"optimizer array {array_key!r} has shape {saved.shape} and dtype "
                                   f"{saved.dtype}; parameter {position} has {param.shape}, {param.dtype}")
        state[key] = saved
        keys.append(array_key)
    if shapes:
        expected = {f"{slot}.{index}" for slot in optimizer.slots for index in range(len(params))}
        if set(shapes) != expected:
            raise NetworkFileError(f"the optimizer state lists arrays {sorted(shapes)}, a "
                                   f"{type(optimizer).__name__} of this network needs {sorted(expected)}")
        optimizer.load_state_dict(state, params)
    else:
        optimizer.step_count = step_count
    return optimizer, keys
