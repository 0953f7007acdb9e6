"""Reads PyTorch `.pth` state dicts into numpy arrays without importing torch.

Two on-disk formats exist: the zip format (torch >= 1.6: `archive/data.pkl` plus one raw
file per storage) and the legacy format (a sequence of pickles followed by the raw
storages), which is what torchvision's `mobilenet_v2-b0353104.pth` uses. Both carry a
pickle; it is read with a *restricted* unpickler that resolves only the handful of
globals a state dict needs (OrderedDict, tensor rebuild helpers, storage types) and
refuses everything else, so a malicious file cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from firewatch.errors import ModelError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class TorchWeightsError(ModelError):
    """The file is not a state dict this reader understands (or tries something unsafe)."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass
class _LazyTensor:
    key: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage: Any, storage_offset: int, size: Any, stride: Any, *_: Any) -> _LazyTensor:
    return _LazyTensor(str(storage), int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, np.dtype]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise TorchWeightsError(f"refusing to load global {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> str:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise TorchWeightsError(f"unsupported persistent id {pid!r}")
        key = str(pid[2])
        self.storages[key] = pid[1].dtype
        return key


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return {name: float/int numpy array} for a `.pth` state dict (zip or legacy format)."""
    path = Path(path)
    if not path.is_file():
        raise TorchWeightsError(f"weights file {path} does not exist")
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(path)


def _materialize(obj: Any, buffers: dict[str, bytes], storages: dict[str, np.dtype]) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise TorchWeightsError(f"expected a state dict, found {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            continue
        dtype = storages[value.key]
        flat = np.frombuffer(buffers[value.key], dtype=dtype)
        if not value.size:
            out[name] = flat[value.offset].copy()
            continue
        strides = tuple(s * dtype.itemsize for s in value.stride)
        view = np.lib.stride_tricks.as_strided(flat[value.offset :], shape=value.size, strides=strides)
        out[name] = np.array(view, dtype=dtype.newbyteorder("="))
    return out


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise TorchWeightsError(f"{path}: zip without data.pkl, not a torch checkpoint")
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, np.dtype] = {}
        obj = _RestrictedUnpickler(io.BytesIO(archive.read(pkl)), storages).load()
        buffers = {key: archive.read(f"{prefix}data/{key}") for key in storages}
    return _materialize(obj, buffers, storages)


def _load_legacy(path: Path) -> dict[str, np.ndarray]:
    with path.open("rb") as f:
        try:
            magic = _RestrictedUnpickler(f, {}).load()
            if magic != LEGACY_MAGIC:
                raise TorchWeightsError(f"{path}: not a torch checkpoint (bad magic number)")
            _protocol = _RestrictedUnpickler(f, {}).load()
            sys_info = _RestrictedUnpickler(f, {}).load()
        except (pickle.UnpicklingError, EOFError) as exc:
            raise TorchWeightsError(f"{path}: not a torch checkpoint ({exc})") from None
        if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
            raise TorchWeightsError(f"{path}: big-endian checkpoints are not supported")
        storages: dict[str, np.dtype] = {}
        obj = _RestrictedUnpickler(f, storages).load()
        keys = _RestrictedUnpickler(f, {}).load()
        buffers: dict[str, bytes] = {}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            nbytes = numel * storages[str(key)].itemsize
            data = f.read(nbytes)
            if len(data) != nbytes:
                raise TorchWeightsError(f"{path}: truncated storage {key}")
            buffers[str(key)] = data
    return _materialize(obj, buffers, storages)
