"""``@nagel.process_type`` without a server: a function's schema from its signature and
docstring, the source capture of what it uses, and the notebook generated from both (whose
schema, as the runner infers it, is exactly the function's)."""

from __future__ import annotations

import json
import linecache
import sys
from itertools import count

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from nagelfluh_magics import CaptureError, FunctionTypeError
from nagelfluh_magics.capture import capture, free_names
from nagelfluh_magics.functions import (
    function_notebook,
    function_schema,
    merge_patch_between,
    nagelfluh_save,
    parse_docstring,
)
from nagelfluh_runner.notebook_schema import notebook_schema

_cells = count(1)


def notebook(*cells: str) -> dict:
    """A namespace in which ``cells`` ran as a kernel runs them: module ``__main__``, each
    cell's source in ``linecache`` under its own file name (as IPython keeps them)."""
    namespace: dict = {"__name__": "__main__"}
    for source in cells:
        name = f"<ipython-input-{next(_cells)}>"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), namespace)
    return namespace


def defined(source: str, name: str = "f"):
    return notebook("import nagelfluh_magics as nagel\nfrom typing import *\n", source)[name]


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("x: int = 3", {"type": "integer", "default": 3}),
        ("x: float", {"type": "number"}),
        ("x: bool = False", {"type": "boolean", "default": False}),
        (
            "x: list[float] = [1.0]",
            {"type": "array", "items": {"type": "number"}, "default": [1.0]},
        ),
        (
            "x: dict[str, int] = {}",
            {"type": "object", "additionalProperties": {"type": "integer"}, "default": {}},
        ),
        ("x: Literal['a', 'b'] = 'b'", {"type": "string", "enum": ["a", "b"], "default": "b"}),
        ("x: Optional[int] = None", {"type": ["integer", "null"], "default": None}),
        ("x: int | str = 1", {"type": ["integer", "string"], "default": 1}),
        (
            "x: Optional[Literal['a']] = None",
            {"type": ["string", "null"], "enum": ["a", None], "default": None},
        ),
        ("x=None", {"default": None}),
        (
            "x: tuple[int, ...] = (1, 2)",
            {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
        ),
        (
            "x: 'Annotated[float, __import__(\"pydantic\").Field(gt=0, le=1)]' = 0.5",
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5},
        ),
        (
            "x: nagel.Dataset",
            {"type": "string", "format": "nagelfluh-dataset", "pattern": "^dataset:.+"},
        ),
        (
            "x: nagel.Dataset['NetCDF']",
            {
                "type": "string",
                "format": "nagelfluh-dataset",
                "pattern": "^dataset:.+",
                "x-nagelfluh-readable": True,
            },
        ),
        (
            "x: Optional[nagel.Dataset['csv']] = None",
            {
                "type": ["string", "null"],
                "format": "nagelfluh-dataset",
                "pattern": "^dataset:.+",
                "x-nagelfluh-readable": True,
                "default": None,
            },
        ),
    ],
)
def test_type_hints_and_defaults_give_each_parameters_schema(signature, expected):
    function = defined(f"def f({signature}):\n    pass\n")
    schema = function_schema(function)
    prop = dict(schema["properties"]["x"])
    assert prop.pop("title") == "X"
    assert prop.pop("description") == "'x', a parameter of f."
    assert prop == expected
    assert schema["additionalProperties"] is False
    assert schema.get("required") == (None if "default" in expected else ["x"])
    # and the runner reads the very same schema from the generated notebook
    assert notebook_schema(function_notebook(function)) == schema


NUMPY_DOC = '''
def f(signal: nagel.Dataset["netcdf"], window_size: int = 256, *, detrend: bool = True):
    """Power spectrum of a signal.

    Welch's method, over
    overlapping windows.

    Parameters
    ----------
    signal : Dataset
        The seismogram.
    window_size : int
        Samples per window:
        a power of two is fastest.
    detrend
        Remove the mean first.

    Returns
    -------
    xarray.Dataset
    """
'''

GOOGLE_DOC = '''
def f(signal: nagel.Dataset["netcdf"], window_size: int = 256, *, detrend: bool = True):
    """Power spectrum of a signal.

    Welch's method, over overlapping windows.

    Args:
        signal (Dataset): The seismogram.
        window_size: Samples per window:
            a power of two is fastest.
        detrend: Remove the mean first.

    Returns:
        The spectrum.
    """
'''


@pytest.mark.parametrize("source", [NUMPY_DOC, GOOGLE_DOC], ids=["numpy", "google"])
def test_the_docstring_titles_and_describes_the_type_and_each_parameter(source):
    function = defined(source)
    title, description, _ = parse_docstring(function.__doc__)  # indented: cleaned
    assert title == "Power spectrum of a signal"
    assert description == "Welch's method, over overlapping windows."
    properties = function_schema(function)["properties"]
    described = {name: prop["description"] for name, prop in properties.items()}
    assert described == {
        "signal": "The seismogram.",
        "window_size": "Samples per window: a power of two is fastest.",
        "detrend": "Remove the mean first.",
    }
    assert properties["window_size"]["title"] == "Window size"
    settings = function_notebook(function)["metadata"]["nagelfluh"]
    assert (settings["title"], settings["description"]) == (title, description)
    assert settings["kind"] == "function" and settings["function"] == "f"


def test_field_titles_and_descriptions_are_kept_and_a_docstring_wins_over_a_field():
    function = defined(
        "from pydantic import Field\n"
        "def f(depth: Annotated[float, Field(title='Depth (m)', description='Below ground')] = 1.0,\n"  # noqa: E501
        "      other: Annotated[int, Field(description='From the field')] = 2):\n"
        '    """Args:\n        other: From the docstring."""\n'
    )
    properties = function_schema(function)["properties"]
    assert properties["depth"]["title"] == "Depth (m)"
    assert properties["depth"]["description"] == "Below ground"
    assert properties["other"]["description"] == "From the docstring."


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("def f(*values: float): pass", "*values cannot be a parameter"),
        ("def f(x: int, /): pass", "x is positional-only"),
        ("def f(nagelfluh_output_dir: str = 'x'): pass", "'nagelfluh_output_dir' is the variable"),
        ("def f(x: object = object()): pass", "the default of x (<object object at"),
        ("def f(x: 'NoSuchType' = 1): pass", "its annotations cannot be read"),
        ("def f(x: int = None): pass", "its default None does not fit its schema"),
    ],
)
def test_a_signature_that_cannot_be_a_form_is_refused_saying_why(source, says):
    with pytest.raises(FunctionTypeError, match=r"^f: ") as refused:
        function_notebook(defined(source))
    assert says in str(refused.value)


def test_the_code_travels_with_its_imports_constants_and_notebook_helpers():
    namespace = notebook(
        "import numpy as np\nimport os.path\nfrom math import tau as TAU, hypot\n"
        "from os.path import join as pjoin\n"
        "import numpy.linalg as la\n",
        "SCALE = 2.5\nNAMES = ('north', 'east')\nLIMITS = {'low': [0, 1e-3], 'high': None}\n",
        "class Scaler:\n    factor = SCALE\n    def __call__(self, x):\n        return x * self.factor\n",  # noqa: E501
        "def helper(values):\n    return Scaler()(np.asarray(values)) + recurse(0)\n\n"
        "def recurse(n):\n    return 0 if n <= 0 else recurse(n - 1)\n",
        "twice = helper\n",
        "unused = open(__file__) if False else None\n",
        "def f(values: list[float], k: int = 1) -> float:\n"
        "    total = sum(twice(values)) * TAU / hypot(3, 4)  # a comment, kept\n"
        "    os.path.join('a', pjoin('b', 'c'))\n"
        "    return float(total + la.norm([k]) + len(NAMES) + LIMITS['low'][1])\n",
    )
    captured = capture(namespace["f"], drop_decorator="process_type")
    assert captured.imports == [
        "from math import hypot",
        "import numpy.linalg as la",
        "import os",
        "from posixpath import join as pjoin",
        "import numpy as np",
    ]
    assert "TAU = 6.283185307179586" in captured.constants  # a float: a literal
    assert "LIMITS = {'low': [0, 0.001], 'high': None}" in captured.constants
    assert "twice = helper\n" in captured.definitions
    assert "# a comment, kept" in captured.source  # source, not a pickle: readable
    assert "unused" not in captured.source
    fresh: dict = {"__name__": "__main__"}
    exec(captured.source, fresh)  # a new interpreter's namespace has only the cell
    assert fresh["f"]([1.0, 2.0], k=2) == namespace["f"]([1.0, 2.0], k=2)


def test_the_decorator_is_left_out_of_the_captured_source_and_others_are_kept():
    namespace = notebook(
        "import functools, types\n"
        "nagel = types.SimpleNamespace(process_type=lambda **kw: (lambda f: f))\n"
        "def noted(f):\n    return f\n",
        "@functools.lru_cache\ndef cached(x):\n    return x\n",
        "@nagel.process_type(\n    name='g',\n)\n@noted\ndef f(x: int = 1):\n    return cached(x)\n",  # noqa: E501
    )
    captured = capture(namespace["f"], drop_decorator="process_type")
    assert "process_type" not in captured.source and "name='g'" not in captured.source
    assert "@noted\ndef f(x: int = 1):" in captured.source
    assert "@functools.lru_cache\ndef cached(x):" in captured.source
    assert "import functools" in captured.imports and "nagel" not in captured.source


def test_names_in_annotations_need_not_exist_in_the_run():
    assert free_names(
        "def f(x: Dataset['csv'], y: Annotated[float, Field(gt=0)]) -> Foo:\n    return np.abs(y)\n"
    ) == ["np"]


@pytest.mark.parametrize(
    ("cells", "says"),
    [
        (
            ("log = open(__import__('os').devnull, 'w')\n", "def f():\n    print(1, file=log)\n"),
            "f uses the global 'log' (a _io.TextIOWrapper), which cannot be captured for the run",
        ),
        (
            (
                "import numpy as np\nrng = np.random.default_rng(0)\n",
                "def h():\n    return rng.random()\n",
                "def f():\n    return h()\n",
            ),
            "h uses the global 'rng' (a numpy.random._generator.Generator)",
        ),
        (
            ("def f():\n    return missing + 1\n",),
            "f uses the global 'missing', which is not defined",
        ),
        (
            ("square = lambda x: x * x\n", "def f():\n    return square(2)\n"),
            "'square', a lambda: define it with def",
        ),
        (
            (
                "def outer():\n    k = 2\n    def inner():\n        return k\n    return inner\n",
                "g = outer()\n",
                "def f():\n    return g()\n",
            ),
            "f uses 'g', which is defined inside a function or class",
        ),
        (
            ("NAN = float('nan')\n", "def f():\n    return NAN\n"),
            "f uses the global 'NAN' (a float)",
        ),
        (("async def f():\n    return 1\n",), "f is async or a generator"),
    ],
)
def test_a_global_that_cannot_travel_is_an_error_naming_it_and_what_to_do(cells, says):
    with pytest.raises(CaptureError) as refused:
        capture(notebook(*cells)["f"])
    assert says in str(refused.value)
    if "cannot be captured" in says:
        assert "create it inside the function" in str(refused.value)


def test_a_module_beside_the_notebook_is_refused_as_the_run_has_no_such_file(tmp_path, monkeypatch):
    (tmp_path / "mylocal_helpers.py").write_text("def smooth(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        namespace = notebook(
            "from mylocal_helpers import smooth\n", "def f():\n    return smooth(1)\n"
        )
        with pytest.raises(
            CaptureError, match="a file beside the notebook that the run does not have"
        ):
            capture(namespace["f"])
    finally:
        sys.modules.pop("mylocal_helpers", None)


def test_a_parameter_named_like_a_global_the_code_uses_is_refused():
    namespace = notebook(
        "scale = 2\n",
        "def helper(x):\n    return x * scale\n",
        "def f(scale: int = 1):\n    return helper(scale)\n",
    )
    with pytest.raises(FunctionTypeError, match="parameter 'scale' has the name of a global"):
        function_notebook(namespace["f"])


def test_an_unchanged_function_gives_the_same_notebook_and_a_changed_one_another():
    source = "def f(x: int = 1):\n    return x\n"
    first, again = function_notebook(defined(source)), function_notebook(defined(source))
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    changed = function_notebook(defined(source.replace("return x", "return x + 1")))
    assert changed["cells"][2]["source"] != first["cells"][2]["source"]


def test_the_generated_notebook_reads_as_a_notebook_a_user_could_have_written():
    nb = function_notebook(defined(NUMPY_DOC), name="spectrum", title="Spectrum")
    title, parameters, code, call = nb["cells"]
    assert title["source"].startswith("# Spectrum\n\nWelch's method")
    assert parameters["metadata"]["tags"] == ["parameters"]
    assert parameters["source"] == (
        "signal: \"nagel.Dataset['netcdf']\"\nwindow_size: int = 256\ndetrend: bool = True\n"
    )
    assert code["source"].startswith("from __future__ import annotations\n")
    assert "f(signal=signal, window_size=window_size, detrend=detrend)" in call["source"]
    assert nb["metadata"]["nagelfluh"]["name"] == "spectrum"


def test_merge_patch_between_two_schemas_is_the_smallest_rfc_7396_patch():
    source = {"a": 1, "b": {"c": 1.0, "d": [1]}, "e": True}
    target = {"a": 1, "b": {"c": 1, "f": "new"}, "e": 1}
    assert merge_patch_between(source, target) == {"b": {"c": 1, "d": None, "f": "new"}, "e": 1}


def test_what_a_function_returns_is_saved_as_files_by_its_kind(tmp_path):
    frame = pd.DataFrame({"t": [0.0, 1.0], "v": [2.0, 3.0]})
    dataset = xr.Dataset({"v": ("t", np.arange(3.0), {"units": "mm/s"})})
    assert nagelfluh_save(dataset, str(tmp_path), "spectrum") == ["spectrum.nc"]
    assert xr.load_dataset(tmp_path / "spectrum.nc")["v"].attrs["units"] == "mm/s"
    written = nagelfluh_save(
        {"table.csv": frame, "grid": np.eye(2), "series": frame["v"]}, str(tmp_path), "f"
    )
    assert written == ["table.csv", "grid.npy", "series.csv"]
    assert (tmp_path / "table.csv").read_text().splitlines() == ["t,v", "0.0,2.0", "1.0,3.0"]
    assert np.load(tmp_path / "grid.npy").tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert nagelfluh_save(None, str(tmp_path), "f") == []
    with pytest.raises(TypeError, match=r"f returned builtins\.list: return an xarray Dataset"):
        nagelfluh_save([1, 2], str(tmp_path), "f")
    with pytest.raises(ValueError, match=r"output name '\.\./x'"):
        nagelfluh_save({"../x": frame}, str(tmp_path), "f")
