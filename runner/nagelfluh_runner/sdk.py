"""What a process type is written against: ProcessType, InputDataset, ParameterError.

Importing this module must stay cheap (no numpy, no jsonschema): the runner
imports it on every start, including for types that never touch an array.
"""

from __future__ import annotations

from nagelfluh_runner.protocol import DATASET_FORMAT, DATASET_READABLE, DATASET_REF_PREFIX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn, TypeVar

    import xarray as xr

    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.netcdf import NetCDFData
    from nagelfluh_runner.storage import ByteReader, Storage

    _T = TypeVar("_T")


class ParameterError(ValueError):
    """Parameters the schema accepts but that make no sense together.

    Raised from ``run``, it ends the process like a schema violation: one line
    on stderr naming the parameter's JSON path, exit code 2.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class ProcessType:
    """Base class of every process type; subclasses are registered as entry points.

    ``schema`` is a draft 2020-12 JSON Schema of the parameters: an object whose
    properties all carry a title, a description and (except dataset inputs) a
    default, so forms can be generated and every run is reproducible from its
    parameter snapshot.
    """

    name: str = ""
    title: str = ""
    description: str = ""
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    # Part of the cache key of the type's results. Empty: the SHA-256 of the module that
    # defines the type, so that any change to it makes old results stale. Set it (and raise
    # it whenever results would change) where the code that matters lives elsewhere too.
    version: str = ""
    # False for a type whose results are not a function of its parameters and inputs alone
    # (randomness without a seed, the clock, the network): the server never reuses them.
    cacheable: bool = True

    def run(self, ctx: StorageContext, /, *args: Any, **params: Any) -> object:
        """Do the work: ``ctx`` is the run's ``StorageContext``, ``params`` the
        parameters, validated against ``schema`` (dataset inputs as ``InputDataset``).

        A subclass declares the parameters it takes by name, e.g.
        ``def run(self, ctx: StorageContext, seconds: float) -> None``: ``*args: Any,
        **params: Any`` here leaves their names and types to it (a type checker
        accepts any such override, and still checks ``ctx``). The runner calls
        ``run(ctx, **params)`` and ignores what it returns."""
        raise NotImplementedError

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The shape ``python -m nagelfluh_runner schema`` prints for each type."""
        return {
            "name": cls.name,
            "title": cls.title,
            "description": cls.description,
            "schema": cls.schema,
            "version": cls.type_version(),
            "cacheable": bool(cls.cacheable),
        }

    @classmethod
    def type_version(cls) -> str | None:
        """``version`` if set, else ``sha256:`` of the source file of the type's module;
        None if there is no such file (then its results are never cached)."""
        if cls.version:
            return str(cls.version)
        import hashlib
        import sys

        path = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if not path:
            return None
        try:
            with open(path, "rb") as handle:
                return "sha256:" + hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            return None


def dataset_parameter(title: str, description: str, *, readable: bool = False) -> dict[str, Any]:
    """Schema of a parameter that takes a dataset reference ``dataset:<id>``.

    ``readable``: the type reads the dataset's arrays (``load``/``arrays``), so the
    server refuses, at submit, a dataset it could not read as NetCDF-3, NetCDF-4, CSV
    or a Zarr store (schema keyword ``"x-nagelfluh-readable": true``); without it any
    dataset goes.
    """
    schema: dict[str, Any] = {
        "type": "string",
        "format": DATASET_FORMAT,
        "pattern": f"^{DATASET_REF_PREFIX}.+",
        "title": title,
        "description": description,
    }
    if readable:
        schema[DATASET_READABLE] = True
    return schema


class Dataset(str):
    """The annotation of a notebook's dataset parameter: ``survey: Dataset`` or, for one
    the notebook reads as arrays, ``survey: Dataset["netcdf"]`` (``"csv"``, ``"zarr"``);
    see ``notebook_schema``. ``from nagelfluh_runner import Dataset`` in the parameters
    cell makes the annotation run. In a run the parameter's value is the local path of
    the dataset's copy (a ``str``), so the annotation says what it is."""

    def __class_getitem__(cls, format: str) -> type[Dataset]:
        return cls


class InputDataset:
    """A dataset a ``"format": "nagelfluh-dataset"`` parameter refers to, ready to read.

    A dataset is one object (a NetCDF or CSV file, any upload) or a Zarr store, a
    folder of objects under a key ending in ``/`` (``is_store``): ``load()``,
    ``arrays()``, ``size()`` and ``local_path()`` take both; ``open()`` and
    ``read_bytes()`` read one object's bytes, so a store refuses them.
    """

    def __init__(
        self,
        id: str,
        key: str,
        mime_type: str,
        name: str,
        storage: Storage,
        metadata: dict[str, Any] | None = None,
        *,
        path: str | None = None,
    ) -> None:
        self.id = id
        self.key = key
        self.mime_type = mime_type
        self.name = name
        self.metadata = metadata or {}
        self.path = path  # the parameter's JSON pointer, e.g. "/signal"
        self._storage = storage
        self._local: str | None = None
        self._cleanup: Callable[[], object] | None = None

    def __repr__(self) -> str:
        return f"InputDataset(id={self.id!r}, key={self.key!r}, mime_type={self.mime_type!r})"

    @property
    def ref(self) -> str:
        return DATASET_REF_PREFIX + self.id

    @property
    def is_store(self) -> bool:
        """Whether the dataset is a Zarr store (a key prefix ending in ``/``)."""
        return self.key.endswith("/")

    def size(self) -> int:
        """Its size in bytes: a store's is the total of its objects."""
        if self.is_store:
            return sum(size for _, size in self._storage.list_sizes(self.key))
        return self._storage.size(self.key)

    def open(self, start: int = 0, end: int | None = None) -> ByteReader:
        """A streaming reader of the dataset's bytes ``[start, end)``."""
        self._one_object("open()")
        return self._storage.open_read(self.key, start, end)

    def read_bytes(self) -> bytes:
        self._one_object("read_bytes()")
        return self._storage.read_bytes(self.key)

    def local_path(self) -> str:
        """The path of a local copy: a store's directory (which xarray or zarr open),
        or the file. Copied once, on first use, into a temporary directory removed when
        the run ends (``close``); treat it as read-only."""
        if self._local is None:
            import atexit
            import functools
            import os
            import shutil
            import tempfile

            scratch = tempfile.mkdtemp(prefix="nagelfluh-input-")
            cleanup = functools.partial(shutil.rmtree, scratch, ignore_errors=True)
            atexit.register(cleanup)
            target = os.path.join(scratch, self.key.rstrip("/").rpartition("/")[2])
            try:
                if self.is_store:
                    os.mkdir(target)
                    self._fetch_store(target)
                else:
                    with self.open() as source, open(target, "wb") as sink:
                        shutil.copyfileobj(source, sink, 1 << 20)
            except BaseException:
                atexit.unregister(cleanup)
                cleanup()
                raise
            self._local, self._cleanup = target, cleanup
        return self._local

    def close(self) -> None:
        """Remove the local copy, if any: the runner does when the run's ``run`` returns,
        and whatever is left goes when the interpreter exits."""
        if self._cleanup is not None:
            import atexit

            atexit.unregister(self._cleanup)
            self._cleanup()
        self._local = self._cleanup = None

    def load(self, variables: list[str] | None = None) -> xr.Dataset:
        """The dataset as an in-memory ``xarray.Dataset``: NetCDF-3, NetCDF-4/HDF5, CSV
        (one ``row`` dimension; units from the header) or a Zarr store (v2 or v3).
        ``variables`` keeps only those (and their coordinates). Needs the ``data`` extra
        (xarray, zarr), imported only here."""
        if self.is_store:
            return self._read_store(variables)
        from nagelfluh_runner.datasets import read_xarray

        return self._read(read_xarray, variables)

    def arrays(self, variables: list[str] | None = None) -> NetCDFData:
        """The dataset as ``NetCDFData`` (``.dims``, ``.attrs``, ``[name]`` -> ``Variable``
        with ``.dims``, ``.data``, ``.attrs``, ``.units``), whatever its format. NetCDF-3
        needs only numpy; NetCDF-4, CSV and Zarr go through xarray."""
        if self.is_store:
            from nagelfluh_runner.datasets import netcdf_data

            return netcdf_data(self._read_store(variables), variables)
        from nagelfluh_runner.datasets import read_arrays

        return self._read(read_arrays, variables)

    def _one_object(self, method: str) -> None:
        if self.is_store:
            message = (
                f"dataset {self.id} ({self.name!r}) is a Zarr store, a folder of objects, "
                f"not one file: {method} reads one file's bytes; read a store with load() "
                "or arrays(), or open local_path() (a local copy of the folder)"
            )
            if self.path is None:
                raise IsADirectoryError(message)
            raise ParameterError(self.path, message)

    def _read(
        self, reader: Callable[[bytes, str, str, list[str] | None], _T], variables: list[str] | None
    ) -> _T:
        from nagelfluh_runner.datasets import DatasetFormatError

        try:
            return reader(self.read_bytes(), self.mime_type, self.name, variables)
        except DatasetFormatError as error:
            self._unreadable("is not a readable NetCDF/CSV file", error)

    def _read_store(self, variables: list[str] | None) -> xr.Dataset:
        """The store read from its local copy if there is one, else from a temporary
        copy removed at once (``load`` returns data in memory)."""
        from nagelfluh_runner.datasets import DatasetFormatError, read_zarr

        try:
            if self._local is not None:
                return read_zarr(self._local, variables)
            import tempfile

            with tempfile.TemporaryDirectory(prefix="nagelfluh-input-") as directory:
                self._fetch_store(directory)
                return read_zarr(directory, variables)
        except DatasetFormatError as error:
            self._unreadable("is not a readable Zarr store", error)

    def _fetch_store(self, directory: str) -> None:
        from nagelfluh_runner.datasets import DatasetFormatError
        from nagelfluh_runner.storage import StorageKeyError
        from nagelfluh_runner.stores import StoreError, fetch_store

        try:
            fetch_store(self._storage, self.key, directory)
        except (StoreError, StorageKeyError) as error:
            self._unreadable("is not a readable Zarr store", DatasetFormatError(str(error)))

    def _unreadable(self, what: str, error: Exception) -> NoReturn:
        from nagelfluh_runner.datasets import DatasetFormatError

        message = f"dataset {self.id} ({self.name!r}) {what}: {error}"
        if self.path is None:
            raise DatasetFormatError(message) from error
        raise ParameterError(self.path, message) from error


def parameter(
    kind: str, title: str, description: str, default: Any = None, **keywords: Any
) -> dict[str, Any]:
    """Schema of one parameter; ``default`` is left out only where it is None."""
    schema = {"type": kind, "title": title, "description": description, **keywords}
    if default is not None:
        schema["default"] = default
    return schema


def object_schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object schema refusing unknown keys, so a misspelt parameter is an error, not ignored."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def chunks(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``[start, stop)`` ranges covering ``range(total)``: progress steps."""
    from itertools import pairwise

    return list(pairwise(total * i // parts for i in range(parts + 1)))
