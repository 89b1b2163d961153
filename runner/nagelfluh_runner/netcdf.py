"""A small NetCDF-3 writer and reader that needs only numpy.

The runner goes into every environment image, so it cannot carry netCDF4/HDF5
or xarray; NetCDF-3 (classic, or 64-bit offset once a file passes 2 GiB) is
simple enough to write directly and opens everywhere (xarray, scipy, ncdump,
Panoply). Supported types: int8, char, int16, int32, float32, float64.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

_NC_DIMENSION = 10
_NC_VARIABLE = 11
_NC_ATTRIBUTE = 12
_STREAMING = 0xFFFFFFFF

NC_BYTE, NC_CHAR, NC_SHORT, NC_INT, NC_FLOAT, NC_DOUBLE = 1, 2, 3, 4, 5, 6
_DTYPE_OF = {
    NC_BYTE: np.dtype(">i1"),
    NC_CHAR: np.dtype("S1"),
    NC_SHORT: np.dtype(">i2"),
    NC_INT: np.dtype(">i4"),
    NC_FLOAT: np.dtype(">f4"),
    NC_DOUBLE: np.dtype(">f8"),
}
_TYPE_OF = {dtype.str[1:]: nc_type for nc_type, dtype in _DTYPE_OF.items()}
_INT32 = np.iinfo(np.int32)


@dataclass
class Variable:
    dims: tuple[str, ...]
    data: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def units(self) -> str | None:
        return self.attrs.get("units")


# What ``write_netcdf`` takes for a variable: a Variable, or ``(dims, data[, attrs])``
# with the dims as names (one name alone may be a plain string) and any array-like data.
VariableSpec: TypeAlias = (
    Variable
    | tuple[str | Sequence[str], ArrayLike]
    | tuple[str | Sequence[str], ArrayLike, Mapping[str, Any]]
)


@dataclass
class NetCDFData:
    dims: dict[str, int]
    variables: dict[str, Variable]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Variable:
        return self.variables[name]

    def data_variables(self) -> list[str]:
        """Names of the variables that are not coordinates (a coordinate shares its dim's name)."""
        return [name for name, var in self.variables.items() if var.dims != (name,)]


class NetCDFError(ValueError):
    """Data that cannot be stored as NetCDF-3, or a file that is not NetCDF-3."""


# ---------------------------------------------------------------- writing


def _int_fits(array: np.ndarray) -> bool:
    return array.size == 0 or (array.min() >= _INT32.min and array.max() <= _INT32.max)


def _storable(name: str, data: Any) -> np.ndarray:
    """``data`` as a big-endian array of a NetCDF-3 type, or NetCDFError."""
    array = np.asarray(data)
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        target = ">i1"
    elif kind == "i" and size <= 4:
        target = f">i{size}"
    elif kind == "u" and size <= 2:
        target = f">i{size * 2}"
    elif kind in "iu":
        if not _int_fits(array):
            raise NetCDFError(f"variable {name!r}: integers beyond int32 do not fit NetCDF-3")
        target = ">i4"
    elif kind == "f" and size <= 8:
        target = ">f4" if size <= 4 else ">f8"
    elif kind == "S" and size == 1:
        target = "S1"
    else:
        raise NetCDFError(f"variable {name!r}: dtype {array.dtype} is not a NetCDF-3 type")
    return np.ascontiguousarray(array, dtype=target)


def _chars(name: str, data: np.ndarray, width: int | None) -> np.ndarray:
    """A string array as the char array NetCDF-3 stores (last axis: the characters)."""
    encoded = np.char.encode(data, "utf-8") if data.dtype.kind == "U" else data
    longest = max((len(s) for s in encoded.ravel()), default=0)
    width = width or max(1, longest)
    if longest > width:
        raise NetCDFError(f"variable {name!r}: a string is longer than its {width} characters")
    fixed = encoded.astype(f"S{width}")
    return fixed.view("S1").reshape((*fixed.shape, width))


def _pad(n: int) -> bytes:
    return b"\x00" * (-n % 4)


def _name(name: str) -> bytes:
    if not name or "/" in name or "\x00" in name:
        raise NetCDFError(f"invalid NetCDF name {name!r}")
    raw = name.encode()
    return struct.pack(">I", len(raw)) + raw + _pad(len(raw))


def _attr_values(name: str, value: Any) -> tuple[int, bytes, int]:
    if isinstance(value, (str, bytes)):
        raw = value.encode() if isinstance(value, str) else value
        return NC_CHAR, raw, len(raw)
    array = np.asarray(value)
    if array.ndim > 1 or array.dtype.kind not in "biuf":
        raise NetCDFError(f"attribute {name!r}: {value!r} is neither text nor numbers")
    if array.dtype.kind in "biu":
        array = array.astype(">i4") if _int_fits(array) else array.astype(">f8")
    else:
        array = array.astype(">f4" if array.dtype.itemsize <= 4 else ">f8")
    return _TYPE_OF[array.dtype.str[1:]], array.tobytes(), array.size


def _attrs(attrs: dict[str, Any]) -> bytes:
    if not attrs:
        return struct.pack(">II", 0, 0)
    parts = [struct.pack(">II", _NC_ATTRIBUTE, len(attrs))]
    for name, value in attrs.items():
        nc_type, raw, count = _attr_values(name, value)
        parts += [_name(name), struct.pack(">II", nc_type, count), raw, _pad(len(raw))]
    return b"".join(parts)


def prepare(
    dims: Mapping[str, int] | None, variables: Mapping[str, VariableSpec]
) -> tuple[dict[str, int], dict[str, Variable]]:
    """Dim lengths and variables exactly as they will be stored, or NetCDFError.

    Preparing twice costs no copy, so callers may inspect the result before writing it.
    """
    sizes = dict(dims or {})
    result = {}
    for name, spec in variables.items():
        if isinstance(spec, Variable):
            var = spec
        else:
            loose: tuple[Any, ...] = spec  # its parts are checked and converted below
            var = Variable(*loose)
        given: str | Sequence[str] = var.dims  # a plain string too, as a spec may give it
        var_dims = (given,) if isinstance(given, str) else tuple(given)
        data = np.asarray(var.data)
        if data.dtype.kind in "US" and var_dims and data.ndim == len(var_dims) - 1:
            data = _chars(name, data, sizes.get(var_dims[-1]))
        data = _storable(name, data)
        if data.ndim != len(var_dims):
            raise NetCDFError(f"variable {name!r}: {data.ndim}-d data for dims {var_dims}")
        for dim, length in zip(var_dims, data.shape, strict=True):
            if sizes.setdefault(dim, length) != length:
                raise NetCDFError(
                    f"variable {name!r}: dim {dim!r} has length {length}, expected {sizes[dim]}"
                )
        result[name] = Variable(var_dims, data, dict(var.attrs))
    empty = [dim for dim, length in sizes.items() if length == 0]
    if empty:
        raise NetCDFError(f"dim {empty[0]!r} is empty: NetCDF-3 reserves length 0 for records")
    return sizes, result


def _header(
    dims: dict[str, int], variables: dict[str, Variable], attrs: dict[str, Any], version: int
) -> tuple[bytes, list[int]]:
    """The header bytes and where each variable's data begins."""
    dim_ids = {name: i for i, name in enumerate(dims)}
    head = [b"CDF" + bytes([version]), struct.pack(">I", 0)]
    if dims:
        head.append(struct.pack(">II", _NC_DIMENSION, len(dims)))
        head += [_name(name) + struct.pack(">I", length) for name, length in dims.items()]
    else:
        head.append(struct.pack(">II", 0, 0))
    head.append(_attrs(attrs))
    head.append(
        struct.pack(">II", _NC_VARIABLE, len(variables)) if variables else struct.pack(">II", 0, 0)
    )
    offset_format = ">I" if version == 1 else ">Q"
    var_heads = []
    for name, var in variables.items():
        vsize = min(var.data.nbytes + len(_pad(var.data.nbytes)), _STREAMING)
        var_heads.append(
            b"".join(
                [
                    _name(name),
                    struct.pack(f">I{len(var.dims)}I", len(var.dims), *map(dim_ids.get, var.dims)),
                    _attrs(var.attrs),
                    struct.pack(">II", _TYPE_OF[var.data.dtype.str[1:]], vsize),
                ]
            )
        )
    size = sum(map(len, head)) + sum(len(v) + struct.calcsize(offset_format) for v in var_heads)
    begins = []
    for var in variables.values():
        begins.append(size)
        size += var.data.nbytes + len(_pad(var.data.nbytes))
    for var_head, begin in zip(var_heads, begins, strict=True):
        head += [var_head, struct.pack(offset_format, begin)]
    return b"".join(head), begins


def write_netcdf(
    target: str | os.PathLike[str] | IO[bytes],
    dims: Mapping[str, int] | None,
    variables: Mapping[str, VariableSpec],
    attrs: dict[str, Any] | None = None,
    *,
    offset64: bool = False,
) -> int:
    """Write a NetCDF-3 file and return its size in bytes.

    ``variables`` maps names to :class:`Variable` or ``(dims, data[, attrs])``;
    ``dims`` (ordered name → length) may be omitted and is then read off the data.
    Strings become char arrays along a trailing character dim. Data is written
    variable by variable, so ``target`` may be a stream. The classic format is
    used unless ``offset64`` asks for the 64-bit offset one, or the file needs it
    (past 2 GiB).
    """
    sizes, normal = prepare(dims, variables)
    attrs = dict(attrs or {})
    header, begins = _header(sizes, normal, attrs, 2 if offset64 else 1)
    last = begins[-1] + next(reversed(normal.values())).data.nbytes if begins else len(header)
    if last > _INT32.max and not offset64:
        header, begins = _header(sizes, normal, attrs, 2)
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as handle:
            return _write_body(handle, header, normal)
    return _write_body(target, header, normal)


def _write_body(handle: IO[bytes], header: bytes, variables: dict[str, Variable]) -> int:
    handle.write(header)
    size = len(header)
    for var in variables.values():
        if var.data.nbytes:
            handle.write(var.data.data)
        padding = _pad(var.data.nbytes)
        handle.write(padding)
        size += var.data.nbytes + len(padding)
    return size


# ---------------------------------------------------------------- reading


class _Cursor:
    def __init__(self, buffer: memoryview, version: int) -> None:
        self.buffer = buffer
        self.pos = 4
        self.offset_format = ">I" if version == 1 else ">Q"

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def uint(self) -> int:
        return self.unpack(">I")[0]

    def offset(self) -> int:
        return self.unpack(self.offset_format)[0]

    def take(self, n: int) -> bytes:
        raw = bytes(self.buffer[self.pos : self.pos + n])
        if len(raw) != n:
            raise NetCDFError("truncated NetCDF header")
        self.pos += n + (-n % 4)
        return raw

    def name(self) -> str:
        return self.take(self.uint()).decode("utf-8", "replace")

    def list_header(self, tag: int) -> int:
        kind, count = self.unpack(">II")
        if kind not in (0, tag) or (kind == 0 and count):
            raise NetCDFError(f"malformed NetCDF header at byte {self.pos - 8}")
        return count

    def attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for _ in range(self.list_header(_NC_ATTRIBUTE)):
            name = self.name()
            nc_type, count = self.unpack(">II")
            if nc_type not in _DTYPE_OF:
                raise NetCDFError(f"attribute {name!r} has unsupported type {nc_type}")
            raw = self.take(count * _DTYPE_OF[nc_type].itemsize)
            if nc_type == NC_CHAR:
                attrs[name] = raw.rstrip(b"\x00").decode("utf-8", "replace")
            else:
                dtype = _DTYPE_OF[nc_type]
                values = np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))
                attrs[name] = values[0].item() if count == 1 else values
        return attrs


def _buffer(source: str | os.PathLike[str] | bytes | IO[bytes]) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return handle.read()
    return source.read()


def read_netcdf(
    source: str | os.PathLike[str] | bytes | IO[bytes], variables: list[str] | None = None
) -> NetCDFData:
    """Read a NetCDF-3 file (classic or 64-bit offset, with or without a record dim).

    ``variables`` restricts which variables' data is loaded; all are by default.
    """
    raw = _buffer(source)
    if raw[:4] == b"\x89HDF":
        raise NetCDFError("NetCDF-4/HDF5 files are not supported: save as NetCDF-3")
    if raw[:3] != b"CDF" or len(raw) < 8 or raw[3] not in (1, 2):
        raise NetCDFError("not a NetCDF-3 file (classic or 64-bit offset)")
    cur = _Cursor(memoryview(raw), raw[3])
    numrecs = cur.uint()
    dim_list = [(cur.name(), cur.uint()) for _ in range(cur.list_header(_NC_DIMENSION))]
    record_dim = next((name for name, length in dim_list if length == 0), None)
    global_attrs = cur.attrs()
    lengths = dict(dim_list)
    headers = [_var_header(cur, dim_list) for _ in range(cur.list_header(_NC_VARIABLE))]
    record_vars = [h for h in headers if _is_record(h, record_dim)]
    stride = sum(h.vsize for h in record_vars)
    if len(record_vars) == 1:  # the one case the format stores records unpadded
        only = record_vars[0]
        stride = _DTYPE_OF[only.nc_type].itemsize * _count(only.dims[1:], lengths)
    if numrecs == _STREAMING:
        first = min((h.begin for h in record_vars), default=len(raw))
        numrecs = (len(raw) - first) // stride if stride else 0
    dims = {name: (numrecs if name == record_dim else length) for name, length in dim_list}
    result = {}
    for h in headers:
        if variables is not None and h.name not in variables:
            continue
        dtype = _DTYPE_OF[h.nc_type]
        shape = tuple(dims[d] for d in h.dims)
        strides = None
        if _is_record(h, record_dim):
            strides = (stride, *np.empty(shape[1:], dtype).strides)
        array = np.ndarray(shape, dtype, raw, h.begin, strides)
        result[h.name] = Variable(h.dims, array.astype(dtype.newbyteorder("=")), h.attrs)
    return NetCDFData(dims, result, global_attrs)


@dataclass
class _VarHeader:
    name: str
    dims: tuple[str, ...]
    attrs: dict[str, Any]
    nc_type: int
    vsize: int
    begin: int


def _is_record(header: _VarHeader, record_dim: str | None) -> bool:
    return record_dim is not None and header.dims[:1] == (record_dim,)


def _var_header(cur: _Cursor, dim_list: list[tuple[str, int]]) -> _VarHeader:
    name = cur.name()
    dim_ids = cur.unpack(f">{cur.uint()}I")
    attrs = cur.attrs()
    nc_type, vsize = cur.unpack(">II")
    if nc_type not in _DTYPE_OF:
        raise NetCDFError(f"variable {name!r} has unsupported type {nc_type}")
    dims = tuple(dim_list[i][0] for i in dim_ids)
    return _VarHeader(name, dims, attrs, nc_type, vsize, cur.offset())


def _count(var_dims: tuple[str, ...], lengths: dict[str, int]) -> int:
    count = 1
    for dim in var_dims:
        count *= lengths[dim]
    return count
