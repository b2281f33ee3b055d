"""Saving and loading weights: our own checkpoints and the official PySlowFast / PyTorchVideo files.

Formats that `load_weights(model, path)` recognises by their content (not their file name):

* ours: `torch.save` of a plain dict, readable with `torch.load(weights_only=True)`:
      {"format": "slowfast_lab", "version": 1, "config": {SlowFastConfig fields},
       "model_state": state_dict, "meta": {anything JSON-like: command, seed, accuracy, ...}}
* PySlowFast `.pyth`: {"model_state": {"s1.pathway0_stem.conv.weight": ..., ...}, "epoch": ..., ...}
* PyTorchVideo hub `.pyth`: {"model_state": {"blocks.0.multipathway_blocks.0.conv.weight": ...}};
  its detection models (`slowfast_r50_detection`) put the network under "model." and the RoI head's
  projection at "detection_head.proj". PySlowFast's AVA files keep "head.projection": the RoI
  head's other layers (pools, RoIAlign) hold no weights.
* PySlowFast Caffe2 `.pkl` (the model zoo): a pickle (latin1) of {"blobs": {"conv1_w": ndarray, ...}}

All four describe the same layers; `LAYERS` below is the one table that names each layer in every
format. Loading is safe for files from the internet: torch files go through
`torch.load(weights_only=True)` and pickles through `SafeUnpickler`, which builds numpy arrays and
plain containers only.

Caffe2 parameter suffixes: `_w` weight, `_b` bias, `_s` BN scale (gamma), `_rm` BN running mean,
`_riv` BN running variance (PySlowFast loads `_riv` into `running_var` as it is). Bookkeeping blobs
(`*_momentum`, `lr`, `model_iter`) are skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import http.client
import io
import math
import os
import pickle
import re
import shutil
import urllib.error
import urllib.request
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

try:  # a lock on the .part file tells a running download from a killed one
    import fcntl
except ImportError:  # Windows: no lock; a .part is simply overwritten
    fcntl = None  # type: ignore[assignment]

from .config import DEPTH_BLOCKS, PRESETS, SlowFastConfig, pathway_spec
from .model import VideoNet, build_model

FORMAT = "slowfast_lab"


# ------------------------------------------------------------------------------------------------
# Our own format
# ------------------------------------------------------------------------------------------------


def save_checkpoint(model: VideoNet, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write `model` (config + weights + meta) atomically: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": 1,
        "config": dataclasses.asdict(model.config),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Our checkpoint dict, loaded safely (tensors and plain containers only).

    Raises FileNotFoundError for a missing file and CheckpointError (naming the file) for anything
    that is not an intact slowfast_lab checkpoint.
    """
    path = _existing(path, "checkpoint")
    if path.stat().st_size == 0:
        raise _empty(path)
    if not _is_zip(path):
        raise CheckpointError(
            f"{path} is not a slowfast_lab checkpoint (those are torch zip files written by "
            "save_checkpoint / train --out). For PySlowFast or PyTorchVideo files use "
            "sfl.load_weights(sfl.build_model(PRESET), path); "
            f"`python -m slowfast_lab weights info {path}` names the preset"
        )
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a slowfast_lab checkpoint (no format={FORMAT!r} entry). For PySlowFast "
            "or PyTorchVideo files use sfl.load_weights(sfl.build_model(PRESET), path); "
            f"`python -m slowfast_lab weights info {path}` names the preset"
        )
    state, config = payload.get("model_state"), payload.get("config")
    if not _is_state_dict(state) or not isinstance(config, dict):
        raise CheckpointError(
            f"{path} is damaged: a slowfast_lab checkpoint holds a 'config' dict and a "
            "'model_state' dict of tensors; save the model again (save_checkpoint)"
        )
    return payload


def load_model(path: str | os.PathLike) -> VideoNet:
    """Build the model a slowfast_lab checkpoint describes and load its weights (in eval mode).

    Every problem with the file (damaged, not ours, a config this version cannot build, weights
    that do not fit the config, NaN/Inf weights) is a CheckpointError naming the file.
    """
    payload = read_checkpoint(path)
    path = Path(path)
    state = payload["model_state"]
    config = _config_of(path, payload["config"], state)
    with torch.device("meta"):  # the architecture, without allocating it
        skeleton = build_model(config)
    numel = sum(v.numel() for v in skeleton.state_dict().values())
    if numel > path.stat().st_size:  # a real checkpoint stores >= 2 bytes per weight
        raise CheckpointError(
            f"{path}: its config describes a model of {numel:,} weights but the file holds only "
            f"{path.stat().st_size:,} bytes; it is damaged or not what it claims (save it again)"
        )
    model = build_model(config)
    checkpoint = Converted(path, "ours", dict(state), {k: k for k in state}, config=config)
    _load_converted(model, checkpoint, load_head=True)
    model.checkpoint_meta = dict(payload.get("meta") or {})
    return model.eval()


# Fields added after version 1 files were written; their defaults rebuild those files' models.
_LATER_FIELDS = ("head", "res5_dilation", "roi_resolution", "roi_aligned")


def _config_of(path: Path, fields: dict, state: dict[str, torch.Tensor]) -> SlowFastConfig:
    """The SlowFastConfig a checkpoint names, or a CheckpointError saying what would load it."""
    known = {f.name for f in dataclasses.fields(SlowFastConfig)}
    defaults = {f.name: f.default for f in dataclasses.fields(SlowFastConfig)}
    fields = {**{k: defaults[k] for k in _LATER_FIELDS if k not in fields}, **fields}
    unknown = sorted(str(k) for k in fields if k not in known)
    missing = sorted(k for k in known if k not in fields)
    fits = fitting_presets(state) if unknown or missing else []
    instead = (
        f"its weights fit preset {fits[0]!r}: sfl.load_weights(sfl.build_model({fits[0]!r}, "
        f"num_classes={_num_classes(state)}), path)"
        if fits
        else "build the model with sfl.build_model(...) and sfl.load_weights(model, path)"
    )
    if unknown:
        raise CheckpointError(
            f"{path}: its config has field(s) {', '.join(unknown)} that this slowfast_lab does "
            f"not know (written by a newer version?). Upgrade slowfast_lab, or {instead}"
        )
    if missing:
        raise CheckpointError(
            f"{path}: its config lacks field(s) {', '.join(missing)} (written by an older "
            f"version, or edited?), so the model cannot be rebuilt exactly; {instead}"
        )
    huge = [k for k, v in fields.items() if _largest_int(v) > _MAX_CONFIG_INT]
    if huge:  # checked before SlowFastConfig sees them: sizes there drive loops and allocations
        raise CheckpointError(
            f"{path}: its config has implausible value(s) for {', '.join(huge)} (above "
            f"{_MAX_CONFIG_INT:,}); the file is damaged or edited; {instead}"
        )
    try:
        config = SlowFastConfig(**fields)
    except Exception as err:  # a ConfigError, or a TypeError for values of the wrong kind
        raise CheckpointError(
            f"{path}: its config cannot build a model ({err}); {instead}"
        ) from None
    blocks = sum(k.endswith(".a.conv.weight") for k in state)
    claimed = sum(config.blocks) * (2 if config.pathways == "slowfast" else 1)
    if claimed > blocks:  # refuse before building (a config can claim millions of blocks)
        raise CheckpointError(
            f"{path}: its config claims {claimed} residual blocks but the weights hold {blocks}; "
            f"the file is damaged or edited; {instead}"
        )
    return config


_MAX_CONFIG_INT = 1 << 20  # far above any real size (frames, channels, classes, blocks)


def _largest_int(value: object) -> int:
    if isinstance(value, (list, tuple)):
        return max((_largest_int(v) for v in value), default=0)
    return abs(value) if isinstance(value, int) else 0


def _is_state_dict(state: object) -> bool:
    return isinstance(state, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    )


def _existing(path: str | os.PathLike, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        extra = " (it is a folder)" if path.is_dir() else ""
        raise FileNotFoundError(
            f"{what} {path} does not exist{extra} (official files: "
            "python -m slowfast_lab weights download NAME --to DIR)"
        )
    return path


# ------------------------------------------------------------------------------------------------
# Safe unpickling of Caffe2 .pkl files
# ------------------------------------------------------------------------------------------------


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says what would."""


# Weights are numbers: arrays of bool / int / uint / float / complex, and strings (names). Object
# arrays are refused: their items are arbitrary objects, and numpy allocates them before filling.
_ARRAY_KINDS = "biufcSU"
_DTYPE_TEXT = re.compile(r"[<>|=]?[biufcSU]\d*\Z")
_reconstruct = np.zeros(1).__reduce__()[0]  # numpy's array-from-pickle constructor
_scalar = np.float32(0).__reduce__()[0]
_frombuffer = np.zeros(1).__reduce_ex__(5)[0]


def _refuse(what: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(
        f"refusing to load {what}: a weights file should hold only numpy arrays "
        "and plain containers (this one may be malicious or is not a model-zoo .pkl)"
    )


class SafeUnpickler(pickle._Unpickler):  # the Python unpickler: its opcodes can be checked
    """Unpickles numpy arrays, numpy scalars and plain containers; refuses every other global.

    A pickle can name any importable callable (`os.system`, ...) and have it called while loading;
    this unpickler only resolves a handful of numpy / container names, and checks the arguments
    of each call and each array's state before numpy sees them: dtypes must be numeric or text,
    and no array may claim more bytes than the file holds (a 111-byte pickle could otherwise make
    numpy allocate gigabytes). Any breach raises pickle.UnpicklingError.
    """

    def __init__(self, file, *, encoding: str = "ASCII", max_bytes: int | None = None) -> None:
        super().__init__(file, encoding=encoding)
        if max_bytes is None:  # the file's size: an array's bytes are stored in the file
            max_bytes = len(file.getbuffer()) if isinstance(file, io.BytesIO) else 1 << 30
        self.max_bytes = max_bytes + (1 << 16)
        self.allowed: dict[tuple[str, str], object] = {
            ("numpy", "ndarray"): np.ndarray,  # only as _reconstruct's first argument
            ("numpy", "dtype"): self._dtype,
            ("collections", "OrderedDict"): OrderedDict,
            ("_codecs", "encode"): self._encode,
        }
        for core in ("numpy.core", "numpy._core"):  # numpy 1 and numpy 2 module names
            self.allowed[(f"{core}.multiarray", "_reconstruct")] = self._reconstruct
            self.allowed[(f"{core}.multiarray", "scalar")] = self._scalar
            self.allowed[(f"{core}.numeric", "_frombuffer")] = self._frombuffer

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise _refuse(f"{module}.{name}") from None

    # The callables a numpy pickle calls, each checking its arguments first.
    def _dtype(self, spec: object, align: object = False, copy: object = True) -> np.dtype:
        text = spec.decode("latin1") if isinstance(spec, bytes) else spec
        if not isinstance(text, str) or not _DTYPE_TEXT.match(text):
            raise _refuse(f"numpy dtype {spec!r} (weights are numeric arrays)")
        dtype = np.dtype(text, copy=True)  # BUILD may set its byte order: never numpy's own
        if dtype.itemsize > self.max_bytes:
            raise pickle.UnpicklingError(f"a dtype of {dtype.itemsize} bytes in a smaller file")
        return dtype

    def _as_dtype(self, dtype: object) -> np.dtype:
        return dtype if isinstance(dtype, np.dtype) else self._dtype(dtype)

    def _nbytes(self, shape: object, dtype: np.dtype) -> int:
        if not isinstance(shape, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        ):
            raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of sizes >= 0")
        nbytes = dtype.itemsize * math.prod(shape)
        if nbytes > self.max_bytes:
            raise pickle.UnpicklingError(
                f"an array claims {nbytes} bytes (shape {shape}, {dtype}) but the file holds "
                f"{self.max_bytes - (1 << 16)}: the file is corrupt or malicious; not allocated"
            )
        return nbytes

    def _reconstruct(self, subtype: object, shape: object, dtype: object) -> np.ndarray:
        if subtype is not np.ndarray:
            raise _refuse(f"an array of type {subtype!r}")
        dtype = self._as_dtype(dtype)
        self._nbytes(shape, dtype)
        return _reconstruct(np.ndarray, shape, dtype)

    def _scalar(self, dtype: object, data: object = None) -> object:
        dtype = self._as_dtype(dtype)
        if not isinstance(data, (bytes, str)) or len(data) != dtype.itemsize:
            raise pickle.UnpicklingError(f"a numpy {dtype} scalar needs {dtype.itemsize} bytes")
        return _scalar(dtype, data)

    def _frombuffer(self, buf: object, dtype: object, shape: object, order: object) -> np.ndarray:
        dtype = self._as_dtype(dtype)
        if not isinstance(buf, (bytes, bytearray)) or len(buf) != self._nbytes(shape, dtype):
            raise pickle.UnpicklingError(f"array data does not match its shape {shape!r}")
        return _frombuffer(buf, dtype, shape, order if order in ("C", "F") else "C")

    @staticmethod
    def _encode(obj: object, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        # Python 3 writes bytes into protocol 0-2 pickles as _codecs.encode(text, "latin1").
        if not isinstance(obj, str) or encoding.replace("-", "").lower() != "latin1":
            raise _refuse(f"_codecs.encode with encoding {encoding!r}")
        return obj.encode("latin1", errors)

    # Opcodes that call or mutate objects: only the checked callables, only numpy's states.
    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if func is np.ndarray or not isinstance(args, tuple):
            raise _refuse("numpy.ndarray(...) called directly (numpy never pickles that)")
        self.stack[-1] = func(*args)

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, np.dtype):
            self._check_dtype_state(inst, state)
        elif isinstance(inst, np.ndarray):
            self._check_array_state(state)
        else:
            raise _refuse(f"state for a {type(inst).__name__}")
        inst.__setstate__(state)

    @staticmethod
    def _check_dtype_state(dtype: np.dtype, state: object) -> None:
        # Only a byte order may change; sizes, fields and flags must be what numpy derived.
        ok = (
            isinstance(state, tuple)
            and len(state) in (8, 9)
            and state[0] in (3, 4)
            and state[1] in ("<", ">", "|", "=")
            and state[2:5] == (None, None, None)
            and state[5] in (-1, dtype.itemsize)
            and state[6] in (-1, dtype.alignment)
            and state[7] == dtype.flags
            and (len(state) == 8 or state[8] is None)
        )
        if not ok:
            raise _refuse(f"numpy dtype state {str(state)[:80]}")

    def _check_array_state(self, state: object) -> None:
        # ndarray.__setstate__((version, shape, dtype, is_fortran, data)); data holds the bytes.
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _refuse(f"numpy array state {str(state)[:80]}")
        shape, dtype, _, data = state[-4:]
        if not isinstance(dtype, np.dtype) or dtype.kind not in _ARRAY_KINDS:
            raise _refuse(f"an array of dtype {dtype!r} (weights are numeric arrays)")
        nbytes = self._nbytes(shape, dtype)
        if not isinstance(data, (bytes, str)) or len(data) != nbytes:
            got = len(data) if isinstance(data, (bytes, str)) else type(data).__name__
            raise pickle.UnpicklingError(
                f"an array of shape {shape} ({dtype}) needs {nbytes} bytes of data, got {got}"
            )

    def load_newobj(self) -> None:  # cls.__new__(cls, ...): numpy pickles never use it
        raise _refuse("an object built with NEWOBJ")

    def load_inst(self) -> None:
        raise _refuse("an object built with INST")

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj
    dispatch[pickle.INST[0]] = load_inst
    dispatch[pickle.OBJ[0]] = load_inst


def safe_unpickle(data: bytes) -> object:
    """The first object of a pickle, built with `SafeUnpickler` (latin1 for Python 2 pickles)."""
    return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()


# ------------------------------------------------------------------------------------------------
# One table of names: each parameterised layer, in our model and in each official format
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A placeholder in a name template: its regex, and what it tells about the layer."""

    pattern: str
    decode: Callable[[str], dict[str, object]]


PATHWAYS = ("slow", "fast")  # PySlowFast / PyTorchVideo pathway 0 is Slow, pathway 1 is Fast

FIELDS: dict[str, Field] = {
    "p": Field(r"[01]", lambda v: {"path": PATHWAYS[int(v)]}),  # PySlowFast pathway index
    "t": Field(r"(?:t_)?", lambda v: {"path": "fast" if v else "slow"}),  # Caffe2 Fast prefix
    "mp": Field(  # PyTorchVideo: "multipathway_blocks.{p}." in SlowFast, absent in a ResNet
        r"(?:multipathway_blocks\.[01]\.)?",
        lambda v: {"path": "fast" if v.endswith("1.") else "slow"},
    ),
    "s": Field(r"[2-5]", lambda v: {"s": int(v)}),  # stage res2..res5
    "s-1": Field(r"[1-4]", lambda v: {"s": int(v) + 1}),  # PyTorchVideo block index of stage s
    "j": Field(r"\d+", lambda v: {"j": int(v)}),  # bottleneck within the stage
    "x": Field(r"[abc]", lambda v: {"x": v}),  # the bottleneck's a, b or c conv
    "k": Field(r"[1-4]", lambda v: {"k": int(v)}),  # lateral 1..4
    "k-1": Field(r"[0-3]", lambda v: {"k": int(v) + 1}),
    # Caffe2 names a lateral after the layer it follows: pool1, or the last block of res2..res4.
    "after": Field(
        r"pool1|res[2-4]_\d+_branch2c_bn", lambda v: {"k": 1 if v == "pool1" else int(v[3])}
    ),
    # PyTorchVideo's head: block 6 in SlowFast, 5 in a ResNet, detection_head in a detector
    "head": Field(r"blocks\.[56]|detection_head", lambda v: {}),
}


@dataclass(frozen=True)
class Layer:
    """One parameterised layer named in every format (templates use the FIELDS placeholders)."""

    ours: str
    pyslowfast: str
    pytorchvideo: str
    caffe2: str


# fmt: off
LAYERS = (
    #     ours                            PySlowFast .pyth                     PyTorchVideo .pyth                                 Caffe2 .pkl blobs
    Layer("{path}.stem.conv.conv",        "s1.pathway{p}_stem.conv",           "blocks.0.{mp}conv",                               "{t}conv1"),
    Layer("{path}.stem.conv.bn",          "s1.pathway{p}_stem.bn",             "blocks.0.{mp}norm",                               "{t}res_conv1_bn"),
    Layer("{path}.res{s}.{j}.{x}.conv",   "s{s}.pathway{p}_res{j}.branch2.{x}",    "blocks.{s-1}.{mp}res_blocks.{j}.branch2.conv_{x}", "{t}res{s}_{j}_branch2{x}"),
    Layer("{path}.res{s}.{j}.{x}.bn",     "s{s}.pathway{p}_res{j}.branch2.{x}_bn", "blocks.{s-1}.{mp}res_blocks.{j}.branch2.norm_{x}", "{t}res{s}_{j}_branch2{x}_bn"),
    Layer("{path}.res{s}.{j}.shortcut.conv", "s{s}.pathway{p}_res{j}.branch1",    "blocks.{s-1}.{mp}res_blocks.{j}.branch1_conv",     "{t}res{s}_{j}_branch1"),
    Layer("{path}.res{s}.{j}.shortcut.bn",   "s{s}.pathway{p}_res{j}.branch1_bn", "blocks.{s-1}.{mp}res_blocks.{j}.branch1_norm",     "{t}res{s}_{j}_branch1_bn"),
    Layer("fuse{k}.conv",                 "s{k}_fuse.conv_f2s",                "blocks.{k-1}.multipathway_fusion.conv_fast_to_slow", "t_{after}_subsample"),
    Layer("fuse{k}.bn",                   "s{k}_fuse.bn",                      "blocks.{k-1}.multipathway_fusion.norm",           "t_{after}_subsample_bn"),
    Layer("head.fc",                      "head.projection",                   "{head}.proj",                                     "pred"),
)
# fmt: on

# Parameter names: torch formats append ".weight" etc.; Caffe2 appends "_w" etc.
TORCH_PARAMS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
CAFFE2_PARAMS = {
    "w": "weight",
    "b": "bias",
    "s": "weight",
    "rm": "running_mean",
    "riv": "running_var",
}
CAFFE2_BOOKKEEPING = re.compile(r".*_momentum\Z|lr\Z|model_iter\Z")
FORMAT_NAMES = {
    "ours": "slowfast_lab checkpoint",
    "pyslowfast": "PySlowFast .pyth",
    "pytorchvideo": "PyTorchVideo .pyth",
    "caffe2": "PySlowFast Caffe2 .pkl",
}


def _compile(template: str) -> tuple[re.Pattern, list[str]]:
    """A template such as "s{s}.pathway{p}_res{j}" as a full-match regex and its field names."""
    names = re.findall(r"\{([^}]+)\}", template)
    literals = re.split(r"\{[^}]+\}", template)  # one more than names
    pattern = re.escape(literals[0]) + "".join(
        f"({FIELDS[name].pattern})" + re.escape(text)
        for name, text in zip(names, literals[1:], strict=True)
    )
    return re.compile(pattern + r"\Z"), names


_COMPILED = {
    fmt: [(_compile(getattr(layer, fmt)), layer.ours) for layer in LAYERS]
    for fmt in ("pyslowfast", "pytorchvideo", "caffe2")
}


def _our_layer_name(fmt: str, layer: str) -> str | None:
    """Our module name for a layer name of format `fmt` (None when no rule matches)."""
    for (regex, names), ours in _COMPILED[fmt]:
        match = regex.match(layer)
        if match:
            fields: dict[str, object] = {}
            for name, value in zip(names, match.groups(), strict=True):
                fields.update(FIELDS[name].decode(value))
            return ours.format(**fields)
    return None


def _split_param(fmt: str, key: str) -> tuple[str, str] | None:
    """("s1.pathway0_stem.bn", "running_mean") from a full key; None for non-parameters."""
    if fmt == "caffe2":
        layer, _, suffix = key.rpartition("_")
        return (layer, CAFFE2_PARAMS[suffix]) if layer and suffix in CAFFE2_PARAMS else None
    layer, _, param = key.rpartition(".")
    return (layer, param) if layer and param in TORCH_PARAMS else None


# ------------------------------------------------------------------------------------------------
# Reading a file: detect its format, rename its entries to ours
# ------------------------------------------------------------------------------------------------


@dataclass
class Converted:
    """A checkpoint's weights under our names, with where each came from."""

    path: Path
    format: str  # one of FORMAT_NAMES
    state: dict[str, torch.Tensor]
    source_names: dict[str, str] = field(default_factory=dict)  # our key -> key in the file
    unused: list[str] = field(default_factory=list)  # file entries that name no layer of ours
    config: dict | None = None  # our format only: the saved SlowFastConfig fields
    meta: dict = field(default_factory=dict)  # our format only: task, classes, recorded test...
    detector: bool = False  # the file says it is a detection model (PyTorchVideo detection_head)

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES[self.format]


_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first object of a pre-1.6 torch.save file


def read_weights(path: str | os.PathLike) -> Converted:
    """Read any supported weights file safely and rename its entries to our module names.

    Raises FileNotFoundError for a missing file and CheckpointError, naming the file, for every
    file that is not an intact weights file (empty, truncated, corrupt, malicious, other zip).
    """
    path = _existing(path, "weights file")
    if path.stat().st_size == 0:
        raise _empty(path)
    if _is_zip(path):
        return _from_torch(path, _torch_load(path))
    data = path.read_bytes()
    try:
        obj = safe_unpickle(data)
    except pickle.UnpicklingError as err:
        if "refusing" in str(err):
            raise CheckpointError(f"{path}: {err}") from None
        raise CheckpointError(
            f"{path} is neither a torch checkpoint (.pyth/.pt) nor an intact pickle (.pkl): {err}"
        ) from None
    except Exception as err:  # truncated or corrupt files raise many kinds of errors
        raise CheckpointError(
            f"{path} could not be read as a weights file ({type(err).__name__}: "
            f"{str(err)[:200]}); it is truncated or corrupt: download or save it again"
        ) from None
    if isinstance(obj, int) and obj == _TORCH_LEGACY_MAGIC:
        return _from_torch(path, _torch_load(path))
    return _from_caffe2(path, obj)


def _empty(path: Path) -> CheckpointError:
    return CheckpointError(
        f"{path} is empty (0 bytes): an interrupted download or copy. Download it again "
        "(python -m slowfast_lab weights download NAME) or save it again"
    )


def _is_zip(path: Path) -> bool:
    """A zip archive (torch.save's format since torch 1.6), intact or not: it starts with PK."""
    with open(path, "rb") as f:
        return f.read(2) == b"PK"


def _check_torch_zip(path: Path) -> None:
    """Refuse zips torch would misread or that claim more than they hold, before torch.load."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            damaged = archive.testzip()  # CRC of every entry: catches flipped bytes
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise CheckpointError(
            f"{path} is a zip archive (the torch checkpoint format) that is truncated or corrupt "
            f"({err}); download or save it again"
        ) from None
    if damaged is not None:
        raise CheckpointError(
            f"{path}: entry {damaged!r} fails its checksum: the file is corrupt; download or "
            "save it again"
        )
    names = [e.filename for e in entries]
    if sum(n == "data.pkl" or n.endswith("/data.pkl") for n in names) != 1:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise CheckpointError(
            f"{path} is a zip archive but not a torch checkpoint (no single data.pkl; it holds "
            f"{shown or 'nothing'}). Weights files are .pt/.pyth files written by torch.save or "
            "PySlowFast .pkl files"
        )
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path}: entry {entry.filename!r} is compressed, which torch.save never does "
                "(torch would read it as garbage); save the weights again with torch.save"
            )
    if sum(e.file_size for e in entries) > size:
        raise CheckpointError(f"{path}: its zip entries claim more bytes than the file holds")


def _torch_load(path: Path) -> object:
    if _is_zip(path):
        _check_torch_zip(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds more than tensors and plain containers, so it is not loaded "
            f"(torch.load(weights_only=True) refused to run its code): "
            f"{str(err).splitlines()[0][:300]}"
        ) from None
    except Exception as err:  # torch reports damage as RuntimeError, EOFError, KeyError, ...
        first = (str(err).splitlines() or [""])[0][:300]
        raise CheckpointError(
            f"{path} could not be read as a torch checkpoint ({type(err).__name__}: {first}); "
            "it is truncated or corrupt: download or save it again"
        ) from None


def _from_torch(path: Path, obj: object) -> Converted:
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        state = obj.get("model_state")
        if not _is_state_dict(state):
            raise CheckpointError(
                f"{path} is a damaged slowfast_lab checkpoint: its 'model_state' is not a dict "
                "of tensors; save the model again"
            )
        meta = obj.get("meta")
        return Converted(
            path,
            "ours",
            state,
            {k: k for k in state},
            config=obj.get("config") if isinstance(obj.get("config"), dict) else None,
            meta=dict(meta) if isinstance(meta, dict) else {},
        )
    state = obj
    if isinstance(obj, dict):
        state = obj.get("model_state", obj.get("state_dict", obj))
    if not _is_state_dict(state):
        raise CheckpointError(
            f"{path} is a torch file but holds no state dict (expected a dict with 'model_state' "
            "as PySlowFast and PyTorchVideo save it)"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from DataParallel
    detector = any(k.startswith("detection_head.") for k in state)
    if detector:  # PyTorchVideo's DetectionBBoxNetwork: the network under "model."
        state = {k.removeprefix("model."): v for k, v in state.items()}
    if any(k.startswith("s1.") for k in state):
        fmt = "pyslowfast"
    elif any(k.startswith("blocks.") for k in state):
        fmt = "pytorchvideo"
    elif any(k.startswith(("slow.", "fast.")) for k in state):
        return Converted(path, "ours", state, {k: k for k in state})
    else:
        raise CheckpointError(
            f"{path}: unknown key names (first: {next(iter(state), 'none')!r}); expected "
            "PySlowFast 's1.pathway0_stem...', PyTorchVideo 'blocks.0...' or our 'slow.stem...'"
        )
    converted = _rename(path, fmt, state.items())
    converted.detector = detector
    return converted


def _from_caffe2(path: Path, obj: object) -> Converted:
    if not isinstance(obj, dict) or "blobs" not in obj:
        found = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(
            f"{path} unpickles to {found} but has no 'blobs' entry, so it is not a PySlowFast "
            "Caffe2 model-zoo file (those hold {'blobs': {'conv1_w': array, ...}}). "
            "If it is a .pyth saved by torch, keep it as it is: load_weights reads it directly"
        )
    blobs = obj["blobs"]
    if not isinstance(blobs, dict) or not all(isinstance(k, str) for k in blobs):
        what = type(blobs).__name__ if not isinstance(blobs, dict) else "a dict with non-text keys"
        raise CheckpointError(
            f"{path}: its 'blobs' is {what}; a PySlowFast Caffe2 .pkl maps blob names to arrays "
            "({'conv1_w': array, ...}). The file is damaged or not a model-zoo file"
        )
    tensors = {}
    for key, value in blobs.items():
        if CAFFE2_BOOKKEEPING.match(key) or not isinstance(value, np.ndarray):
            continue
        if value.dtype.kind not in "biufc":
            raise CheckpointError(
                f"{path}: blob {key!r} holds {value.dtype} values, not numbers; a model-zoo "
                "file holds numeric arrays only. The file is damaged or not a model-zoo file"
            )
        tensors[key] = torch.tensor(np.asarray(value, dtype=value.dtype.newbyteorder("=")))
    return _rename(path, "caffe2", tensors.items())


def _rename(path: Path, fmt: str, items) -> Converted:
    out = Converted(path, fmt, {})
    for key, value in items:
        split = _split_param(fmt, key)
        ours = _our_layer_name(fmt, split[0]) if split else None
        if ours is None:
            out.unused.append(key)
            continue
        our_key = f"{ours}.{split[1]}"
        out.state[our_key] = value
        out.source_names[our_key] = key
    return out


# ------------------------------------------------------------------------------------------------
# Fitting a checkpoint to a model, and saying which preset fits when it does not
# ------------------------------------------------------------------------------------------------


def _shapes(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _for_model(state: dict[str, torch.Tensor], has_slow: bool) -> dict[str, torch.Tensor]:
    """A single-pathway file names its pathway "pathway0" (read as slow); a Fast-only model
    calls it fast."""
    single = not any(k.startswith(("fast.", "fuse")) for k in state)
    if has_slow or not single:
        return state
    return {("fast." + k[5:] if k.startswith("slow.") else k): v for k, v in state.items()}


def _fit_shapes(
    state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]]
) -> dict[str, torch.Tensor]:
    """Reshape entries stored with extra singleton dims (e.g. an fc kept as a 1x1x1 conv)."""
    out = dict(state)
    for k, v in state.items():
        want = expected.get(k)
        if want and tuple(v.shape) != want and v.numel() == int(np.prod(want)):
            if tuple(s for s in v.shape if s != 1) == tuple(s for s in want if s != 1):
                out[k] = v.reshape(want)
    return out


def _problems(state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]]) -> list[str]:
    got = _shapes(state)
    problems = []
    shape_diff = [k for k in expected if k in got and got[k] != expected[k]]
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    for k in shape_diff[:4]:
        problems.append(f"{k} is {list(got[k])} in the file but {list(expected[k])} in the model")
    if len(shape_diff) > 4:
        problems.append(f"... and {len(shape_diff) - 4} more entries with other shapes")
    if missing:
        problems.append(f"{len(missing)} model entries are not in the file, e.g. {missing[0]}")
    if extra:
        problems.append(f"{len(extra)} file entries have no place in the model, e.g. {extra[0]}")
    return problems


def _num_classes(state: Mapping[str, torch.Tensor]) -> int | None:
    fc = state.get("head.fc.weight")
    return int(fc.shape[0]) if fc is not None else None


def _signature_of_state(state: Mapping[str, torch.Tensor]) -> dict[str, object]:
    """The architecture the weights imply: per pathway, stem (channels, temporal kernel) and per
    stage (out channels, temporal kernel of each block's first conv); the T-conv lateral kernel.
    A single-pathway file calls its pathway "slow"; a temporal stem kernel > 1 marks it Fast."""
    sig: dict[str, object] = {}
    for name in PATHWAYS:
        stem = state.get(f"{name}.stem.conv.conv.weight")
        if stem is None:
            continue
        stages = []
        for s in range(2, 6):
            kernels = []
            while (a := state.get(f"{name}.res{s}.{len(kernels)}.a.conv.weight")) is not None:
                kernels.append(int(a.shape[2]))
            c = state.get(f"{name}.res{s}.0.c.conv.weight")
            stages.append((int(c.shape[0]) if c is not None else 0, tuple(kernels)))
        sig[name] = (int(stem.shape[0]), int(stem.shape[2]), tuple(stages))
    if set(sig) == {"slow"} and sig["slow"][1] > 1:  # type: ignore[index]
        sig = {"fast": sig["slow"]}
    fuse = state.get("fuse1.conv.weight")
    if fuse is not None:
        sig["fusion"] = ("t_conv", int(fuse.shape[2]), int(fuse.shape[0]) // int(fuse.shape[1]))
    return sig


def _signature_of_config(cfg: SlowFastConfig) -> dict[str, object]:
    """The same signature, from a config's architecture table (no model is built)."""
    sig: dict[str, object] = {}
    for name in PATHWAYS:
        if (cfg.has_slow, cfg.has_fast)[name == "fast"]:
            spec = pathway_spec(cfg, name)
            stages = tuple(
                (st.out, tuple(st.kernel_of_block(j) for j in range(st.blocks)))
                for st in spec.stages
            )
            sig[name] = (spec.stem_channels, spec.stem_temporal_kernel, stages)
    if cfg.pathways == "slowfast" and cfg.fusion == "t_conv":
        sig["fusion"] = ("t_conv", cfg.fusion_kernel, cfg.fusion_ratio)
    return sig


def fitting_presets(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Presets whose architecture matches these (our-named) weights; use the file's num_classes.

    Weights cannot tell alpha or tau apart (they have no parameters): slow_4x16_r50 and
    slow_8x8_r50, for instance, both fit a Slow-only R50 file; nor a dilated res5 or a RoI head
    from the classifier. Presets with the file's number of classes come first (so a 600-class
    8x8 R50 file names slowfast_8x8_r50_k600 first, an 80-class one slowfast_8x8_r50_ava).
    """
    sig = _signature_of_state(state)
    fits = [name for name, cfg in PRESETS.items() if _signature_of_config(cfg) == sig]
    n = _num_classes(state)
    return sorted(fits, key=lambda name: PRESETS[name].num_classes != n)


def describe(state: Mapping[str, torch.Tensor]) -> str:
    """What the weights say about their architecture, in config-field words."""
    sig = _signature_of_state(state)
    paths = [p for p in PATHWAYS if p in sig]
    parts = ["SlowFast" if len(paths) == 2 else f"{'/'.join(paths) or 'no'} pathway only"]
    if paths:
        width, _, stages = sig[paths[0]]  # type: ignore[misc]
        blocks = tuple(len(kernels) for _, kernels in stages)
        depth = {v: k for k, v in DEPTH_BLOCKS.items()}.get(blocks)
        parts.append(f"depth {depth}" if depth else f"stage_blocks={blocks}")
        parts.append(f"{paths[0]} stem width {width}")
    if "fusion" in sig:
        parts.append(f"fusion_kernel={sig['fusion'][1]}")  # type: ignore[index]
    if _num_classes(state):
        parts.append(f"num_classes={_num_classes(state)}")
    return ", ".join(parts)


def _config_words(config: SlowFastConfig) -> str:
    words = f"pathways={config.pathways!r}, depth={config.depth}, num_classes={config.num_classes}"
    if config.pathways == "slowfast":
        words += f", fusion={config.fusion!r}, fusion_kernel={config.fusion_kernel}"
    if config.head != "classify":
        words += f", head={config.head!r}"
    return words


def load_weights(model: VideoNet, path: str | os.PathLike, load_head: bool = True) -> VideoNet:
    """Load a weights file of any supported format into `model` (in place); returns the model.

    Recognises our checkpoints, PySlowFast `.pyth` and Caffe2 `.pkl` (model zoo) and PyTorchVideo
    hub `.pyth` files by their content. Every entry of the model must come from the file and every
    weight in the file must find its place, with the same shape; otherwise a CheckpointError says
    what differs and which preset the file fits. `load_head=False` keeps the model's classifier
    (for fine-tuning on another number of classes). A file whose weights hold NaN or Inf is
    refused too (CheckpointError naming the entries): such a model outputs NaN everywhere.

    >>> model = build_model("slowfast_8x8_r50")                       # doctest: +SKIP
    >>> load_weights(model, "SLOWFAST_8x8_R50.pkl")                   # doctest: +SKIP
    """
    checkpoint = read_weights(path)
    _load_converted(model, checkpoint, load_head)
    # Our checkpoints keep their meta (task settings, class names, recorded accuracy), so that
    # evaluate / attribution treat the model as `load_model` would; not without the head, whose
    # classes the meta describes.
    model.checkpoint_meta = {
        **(checkpoint.meta if load_head else {}),
        "path": str(checkpoint.path),
        "format": checkpoint.format,
    }
    return model


def _load_converted(model: VideoNet, checkpoint: Converted, load_head: bool) -> None:
    """Copy a read checkpoint into `model`, or raise CheckpointError saying what differs."""
    target = model.state_dict()
    expected = _shapes(target)
    state = _fit_shapes(_for_model(checkpoint.state, model.config.has_slow), expected)
    if not load_head:
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
        expected = {k: v for k, v in expected.items() if not k.startswith("head.")}
    problems = _problems(state, expected)
    if checkpoint.unused:
        problems.append(
            f"{len(checkpoint.unused)} file entries name no layer slowfast_lab knows, e.g. "
            f"{checkpoint.unused[0]!r} (non-local blocks are not supported)"
        )
    if checkpoint.detector and model.config.head != "detect":
        problems.append(
            "the file is a detection model (its head reads person boxes) but this model has a "
            f"{model.config.head!r} head: build it with head='detect', res5_dilation=2 (preset "
            "'slowfast_8x8_r50_ava')"
        )
    if problems:
        raise CheckpointError(_mismatch_message(checkpoint, model, problems))
    _refuse_non_finite(checkpoint, state)
    for k, v in target.items():  # Caffe2 files have no BN step counters; head kept if asked
        state.setdefault(k, v)
    model.load_state_dict(state, strict=True)


def _refuse_non_finite(checkpoint: Converted, state: Mapping[str, torch.Tensor]) -> None:
    """NaN or Inf in any weight or BN statistic makes every output NaN: refuse such a file.

    A warning would be lost among notebook output while every later number is NaN; the error
    names the entries so that a user can pick an earlier checkpoint (a run that diverged) or
    fetch the file again (a corrupt one).
    """
    bad = [
        k
        for k, v in state.items()
        if (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all())
    ]
    if bad:
        names = ", ".join(checkpoint.source_names.get(k, k) for k in bad[:3])
        raise CheckpointError(
            f"{checkpoint.path}: {len(bad)} entries hold NaN or Inf values (e.g. {names}); a "
            "model with them outputs NaN. Use an earlier checkpoint of the run (training "
            "diverged) or download / copy the file again (it is corrupt)"
        )


def _mismatch_message(checkpoint: Converted, model: VideoNet, problems: list[str]) -> str:
    lines = [
        f"{checkpoint.path} ({checkpoint.format_name}) does not fit this model "
        f"({_config_words(model.config)}):",
        *(f"  - {p}" for p in problems),
        f"The file holds: {describe(checkpoint.state)}.",
    ]
    fits = fitting_presets(checkpoint.state)
    n = _num_classes(checkpoint.state)
    if n and n != model.config.num_classes:
        lines.append(
            f"To fine-tune on {model.config.num_classes} classes, keep this model's classifier: "
            "load_weights(model, path, load_head=False)"
        )
    if fits:
        names = " or ".join(repr(f) for f in fits)
        lines.append(
            f"It fits preset {names}: model = sfl.build_model({fits[0]!r}, num_classes={n})"
        )
    elif checkpoint.config:
        lines.append(
            "It is a slowfast_lab checkpoint: sfl.weights.load_model(path) rebuilds its model"
        )
    else:
        lines.append("No preset fits it; build a model with the config fields above")
    return "\n".join(lines)


def checkpoint_info(path: str | os.PathLike) -> dict:
    """Format, architecture and fitting presets of a weights file (for `weights info`)."""
    checkpoint = read_weights(path)
    return {
        "path": str(checkpoint.path),
        "format": checkpoint.format_name,
        "entries": len(checkpoint.state),
        "unused_entries": len(checkpoint.unused),
        "architecture": describe(checkpoint.state),
        "fits_presets": fitting_presets(checkpoint.state),
    }


# ------------------------------------------------------------------------------------------------
# Downloading the official files (for users with internet; the tests use a local server)
# ------------------------------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://dl.fbaipublicfiles.com/"
BASE_URL_ENV = "SLOWFAST_LAB_WEIGHTS_URL"  # a mirror, or a local server in the tests


@dataclass(frozen=True)
class OfficialFile:
    """A public checkpoint: where it lives (under the base URL) and which preset it fits.

    sha256 is None where no hash has been published or verified by us: we do not make one up.
    Such files are checked against the server's Content-Length, and their sha256 is recorded
    beside them (NAME.sha256, `sha256sum -c` format) so later runs can verify the copy.
    """

    name: str
    url_path: str
    preset: str
    sha256: str | None = None


_PYSLOWFAST_ZOO = "pyslowfast/model_zoo/kinetics400/"
_PYTORCHVIDEO_ZOO = "pytorchvideo/model_zoo/kinetics/"
OFFICIAL_FILES: dict[str, OfficialFile] = {
    f.name: f
    for f in (
        OfficialFile(
            "SLOWFAST_4x16_R50.pkl", _PYSLOWFAST_ZOO + "SLOWFAST_4x16_R50.pkl", "slowfast_4x16_r50"
        ),
        OfficialFile(
            "SLOWFAST_8x8_R50.pkl", _PYSLOWFAST_ZOO + "SLOWFAST_8x8_R50.pkl", "slowfast_8x8_r50"
        ),
        OfficialFile(
            "SLOWONLY_4x16_R50.pkl", _PYSLOWFAST_ZOO + "SLOWONLY_4x16_R50.pkl", "slow_4x16_r50"
        ),
        OfficialFile(
            "SLOWONLY_8x8_R50.pkl", _PYSLOWFAST_ZOO + "SLOWONLY_8x8_R50.pkl", "slow_8x8_r50"
        ),
        OfficialFile(
            "SLOWFAST_8x8_R50.pyth", _PYTORCHVIDEO_ZOO + "SLOWFAST_8x8_R50.pyth", "slowfast_8x8_r50"
        ),
        OfficialFile("SLOW_8x8_R50.pyth", _PYTORCHVIDEO_ZOO + "SLOW_8x8_R50.pyth", "slow_8x8_r50"),
        OfficialFile(
            "SLOWFAST_8x8_R101.pyth",
            _PYTORCHVIDEO_ZOO + "SLOWFAST_8x8_R101.pyth",
            "slowfast_8x8_r101",
        ),
    )
}


class DownloadError(OSError):
    """A download that failed or did not verify; the message says what to do instead."""


def official_file(name: str) -> OfficialFile:
    """The official file called `name` (case-insensitive), or a ValueError listing the names."""
    for known, entry in OFFICIAL_FILES.items():
        if known.lower() == name.lower():
            return entry
    raise ValueError(f"unknown official weights {name!r}; known: {', '.join(OFFICIAL_FILES)}")


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _recorded_sha256(path: Path) -> str | None:
    record = path.with_name(path.name + ".sha256")
    try:
        words = record.read_text().split()
    except (OSError, UnicodeDecodeError):
        return None
    return words[0].lower() if words and re.fullmatch(r"[0-9a-fA-F]{64}", words[0]) else None


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml", b"<body"))


def check_weights_file(path: str | os.PathLike) -> str | None:
    """None when `path` is an intact weights file; else what is wrong with it, in words.

    Intact means: it reads as one of the supported formats (every zip entry, every pickle opcode
    and array size checked) and at least one entry names a layer we know. An error page saved in
    its place, an empty or a cut file, or a file of some other kind is not intact.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as err:
        return f"it cannot be read ({err.strerror or err})"
    if not head:
        return "it is empty"
    if _looks_like_html(head):
        return "it is an HTML page (an error or login page saved in place of the file)"
    try:
        converted = read_weights(path)
    except (CheckpointError, OSError) as err:
        return str(err).replace(str(path), "it", 1)
    if not converted.state:
        return "it names no layer slowfast_lab knows (not a SlowFast weights file)"
    return None


def download(
    name: str,
    to: str | os.PathLike,
    *,
    base_url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    force: bool = False,
) -> Path:
    """Download official weights `name` into folder `to`; returns the file's path.

    Nothing already there is lost:
    * the download goes to `NAME.part` beside the destination (locked while it runs; a `.part`
      left by a killed run is reused from scratch) and replaces the destination (os.replace) only
      after it checks out: the byte count the server announced, no HTML page, an intact weights
      file (`check_weights_file`), and the sha256 when one is known or given. Then the sha256 is
      recorded beside it (NAME.sha256, `sha256sum -c` format).
    * a file already there whose recorded or expected sha256 matches is returned, not fetched.
    * a file already there without a hash to compare (copied by hand) is kept when it is an intact
      weights file (a warning says it was not verified); any other existing file is left alone
      and a DownloadError says so, unless `force=True`: then a download that checks out
      replaces it (and one that does not, does not).
    * `to` names a folder; an existing file there needs `force=True` and is then the destination.

    `base_url` (or $SLOWFAST_LAB_WEIGHTS_URL) replaces https://dl.fbaipublicfiles.com/.
    Raises DownloadError (an OSError) naming the URL or path and what to do, ValueError for an
    unknown name or a malformed `sha256`.
    """
    entry = official_file(name)
    expected = (sha256 or entry.sha256 or "").lower() or None
    if expected is not None and not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise ValueError(f"sha256={sha256!r} is not 64 hexadecimal digits (a sha256sum output)")
    target = Path(to)
    if target.is_file():
        if not force:
            raise DownloadError(
                f"--to {target} is an existing file, not a folder: give a folder (the file is "
                f"saved there as {entry.name}), or pass --force (force=True) to replace {target} "
                "with the download once it checks out"
            )
        dest = target
    else:
        dest = target / entry.name
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DownloadError(
                f"cannot create the folder {target} ({err.strerror or err}); choose another "
                "folder with --to"
            ) from None
    if dest.is_dir():
        raise DownloadError(f"{dest} is a folder; move it away or choose another --to")
    if dest.is_file():
        kept = _existing_copy(dest, expected, force)
        if kept is not None:
            return kept
    base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = base.rstrip("/") + "/" + entry.url_path
    part = dest.with_name(dest.name + ".part")
    for stale in dest.parent.glob(f".{dest.name}.*.part"):  # left by versions before NAME.part
        stale.unlink(missing_ok=True)
    with _part_file(part) as out:
        try:
            digest, received, total = _stream(url, out, entry.name, progress, timeout, dest)
            out.flush()
            os.fsync(out.fileno())
        except OSError as err:
            if isinstance(err, DownloadError):
                raise
            raise _write_error(err, part, dest) from None
        if total is not None and received != total:
            raise DownloadError(
                f"{url}: received {received} of {total} bytes (connection cut?); nothing was "
                "replaced: run the command again"
            )
        actual = digest.hexdigest()
        if expected and actual != expected:
            raise DownloadError(
                f"{url}: sha256 {actual} does not match the expected {expected}; the file was "
                "not kept (a corrupt download or a changed file on the server)"
            )
        problem = check_weights_file(part)
        if problem:
            raise DownloadError(
                f"{url}: the download is not an intact weights file: {problem}. Nothing was "
                f"replaced{' (' + str(dest) + ' is as it was)' if dest.exists() else ''}; check "
                f"the URL or mirror (${BASE_URL_ENV}) and run the command again"
            )
        record = dest.with_name(dest.name + ".sha256")
        record_part = record.with_name(record.name + ".part")
        try:
            record_part.write_text(f"{actual}  {dest.name}\n")
            os.replace(part, dest)
            os.replace(record_part, record)
        except OSError as err:
            record_part.unlink(missing_ok=True)
            raise _write_error(err, part, dest) from None
    return dest


def _existing_copy(dest: Path, expected: str | None, force: bool) -> Path | None:
    """`dest` when the file already there is the one asked for; None to download (force=True)."""
    known = expected or _recorded_sha256(dest)
    if known and sha256_of(dest) == known:
        return dest
    if force:
        return None
    if known:
        source = "the expected sha256" if expected else f"the sha256 recorded in {dest}.sha256"
        problem = f"its sha256 differs from {source}"
    else:
        problem = check_weights_file(dest)
        if problem is None:
            warnings.warn(
                f"{dest} is already there and reads as a weights file, so it is kept; it is not "
                "verified (no sha256 is published or recorded for it). --force downloads the "
                "official file and replaces it once the download checks out",
                stacklevel=3,
            )
            return dest
    raise DownloadError(
        f"{dest} already exists and {problem}; it was left as it is. Move it away, or pass "
        "--force (force=True) to replace it with the download once that checks out"
    )


@contextlib.contextmanager
def _part_file(part: Path) -> Iterator[io.BufferedWriter]:
    """`part` opened for writing from scratch and locked; removed unless it was renamed.

    A `.part` of a killed run holds no lock (the kernel drops it with the process), so it is
    simply overwritten; a lock held means another download of the same file is running.
    """
    try:
        fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise _write_error(err, part, part.with_suffix("")) from None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # the file is the other download's: leave it
            raise DownloadError(
                f"another download is writing {part}; wait for it to finish (or stop it)"
            ) from None
    try:
        os.ftruncate(fd, 0)
        with os.fdopen(fd, "wb", closefd=False) as out:
            yield out
    finally:
        part.unlink(missing_ok=True)  # still there: the download did not check out
        os.close(fd)


def _write_error(err: OSError, part: Path, dest: Path) -> DownloadError:
    folder = part.parent
    if err.errno == errno.ENOSPC:
        free = shutil.disk_usage(folder).free if folder.is_dir() else 0
        return DownloadError(
            f"the disk is full while writing {part} ({free / 1e6:.0f} MB free); nothing was "
            f"replaced. Free some space or choose another folder with --to"
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DownloadError(
            f"cannot write into {folder} ({err.strerror}); nothing was replaced. Choose a "
            "folder you can write to with --to"
        )
    return DownloadError(
        f"writing {part} for {dest} failed ({err.strerror or err}); nothing was replaced"
    )


def _write(out: io.BufferedWriter, block: bytes) -> None:
    """One block onto the .part file (a seam for the tests' full-disk simulation)."""
    out.write(block)


def _stream(url: str, out, label: str, progress: bool, timeout: float, dest: Path):
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: the server answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"could not reach {url} ({reason}). Without internet, download the file elsewhere "
            f"and copy it to {dest}, or point ${BASE_URL_ENV} at a mirror"
        ) from None
    digest, received = hashlib.sha256(), 0
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    if "html" in (response.headers.get("Content-Type") or "").lower():
        response.close()
        raise DownloadError(
            f"{url}: the server sent an HTML page (Content-Type "
            f"{response.headers.get('Content-Type')}), not the weights file: a login, error or "
            f"captive-portal page. Nothing was replaced; check the URL or mirror (${BASE_URL_ENV})"
        )
    with (
        response,
        tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress) as bar,
    ):
        while True:
            try:
                block = response.read(1 << 20)
            except (http.client.HTTPException, ConnectionError, TimeoutError) as err:
                raise DownloadError(
                    f"{url}: the connection broke after {received} bytes "
                    f"({type(err).__name__}); nothing was replaced: run the command again"
                ) from None
            if not block:
                break
            _write(out, block)
            digest.update(block)
            received += len(block)
            bar.update(len(block))
    return digest, received, total
