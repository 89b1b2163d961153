"""inversion: density contrasts in a layer of cells that explain a gravity survey."""

from __future__ import annotations

from nagelfluh_runner.sdk import (
    ParameterError,
    ProcessType,
    chunks,
    dataset_parameter,
    object_schema,
    parameter,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.sdk import InputDataset

_ROW_CHUNKS = 10
OUTPUT_FORMATS = ("netcdf3", "netcdf4", "zarr")


def _roughening(nx: int, ny: int, kind: str) -> np.ndarray:
    """L of the regularisation term: identity (damping) or first differences along x and y."""
    import numpy as np

    if kind == "damping":
        return np.eye(nx * ny)
    index = np.arange(nx * ny).reshape(ny, nx)
    pairs = [(index[:, :-1].ravel(), index[:, 1:].ravel()), (index[:-1].ravel(), index[1:].ravel())]
    rows = []
    for left, right in pairs:
        block = np.zeros((left.size, nx * ny))
        block[np.arange(left.size), left] = -1.0
        block[np.arange(left.size), right] = 1.0
        rows.append(block)
    return np.vstack(rows)


class Inversion(ProcessType):
    name = "inversion"
    title = "Gravity inversion (Tikhonov)"
    description = (
        "Regularised least-squares inversion of a gravity survey for the density "
        "contrast of a horizontal layer of rectangular prisms: solves "
        "(G^T G + lambda^2 s L^T L) m = G^T d, with L the identity (damping) or first "
        "differences (smoothness) and s = trace(G^T G) / trace(L^T L) making lambda "
        "dimensionless."
    )
    schema = object_schema(
        {
            "survey": dataset_parameter(
                "Survey", "NetCDF survey: latitude, longitude and an anomaly in mGal per station.",
                readable=True,
            ),
            "variable": parameter(
                "string", "Anomaly variable", "Variable holding the anomaly, in mGal.",
                "gravity_anomaly", minLength=1, maxLength=256,
            ),
            "nx": parameter("integer", "Columns", "Cells west to east.", 15, minimum=1, maximum=80),
            "ny": parameter("integer", "Rows", "Cells south to north.", 15, minimum=1, maximum=80),
            "depth": parameter(
                "number", "Depth", "Depth of the centre of the cell layer, metres.", 1000.0,
                exclusiveMinimum=0, maximum=100000,
            ),
            "thickness": parameter(
                "number", "Thickness", "Vertical size of the cells, in metres.",
                500.0, exclusiveMinimum=0, maximum=100000,
            ),
            "padding": parameter(
                "number", "Padding", "Extension of the cell grid beyond the stations on each "
                "side, as a fraction of the survey's extent.", 0.1, minimum=0, maximum=2,
            ),
            "regularization": parameter(
                "string", "Regularisation", "Penalise the model's size (damping) or roughness "
                "(smoothness).", "smoothness", enum=["smoothness", "damping"],
            ),
            "regularization_weight": parameter(
                "number", "Regularisation weight (lambda)", "Trade-off between fitting the data "
                "and the regularisation; larger is smoother or smaller.", 0.05,
                minimum=0, maximum=1000,
            ),
            "output_format": parameter(
                "string", "Output format", "How the model and misfit grids are stored: "
                "NetCDF-3 (model.nc; opens everywhere), gzip-compressed NetCDF-4 (model.nc) "
                "or a Zarr store (model.zarr, a folder of compressed chunks).", "netcdf3",
                enum=list(OUTPUT_FORMATS),
            ),
        },
        required=["survey"],
    )  # fmt: skip

    def run(
        self,
        ctx: StorageContext,
        survey: InputDataset,
        variable: str,
        nx: int,
        ny: int,
        depth: float,
        thickness: float,
        padding: float,
        regularization: str,
        regularization_weight: float,
        output_format: str = "netcdf3",
    ) -> None:
        import numpy as np

        if thickness >= 2 * depth:
            raise ParameterError(
                "/thickness", f"{thickness:g} m cells at {depth:g} m reach the surface"
            )
        stations = _Stations.read(ctx, survey, variable)
        grid = _Grid(stations, nx, ny, padding)
        ctx.log(
            f"{stations.observed.size} stations, {nx * ny} cells of {2 * grid.half_east:.0f} m x "
            f"{2 * grid.half_north:.0f} m x {thickness:g} m centred at {depth:g} m depth"
        )
        kernel = grid.sensitivity(ctx, stations, depth - thickness / 2, depth + thickness / 2)
        ctx.log("sensitivity matrix built")
        model = _solve(kernel, stations.observed, _roughening(nx, ny, regularization),
                       regularization_weight)  # fmt: skip
        ctx.progress(0.8)
        predicted = kernel @ model
        residual = stations.observed - predicted
        rms = float(np.sqrt(np.mean(residual**2)))
        data_rms = float(np.sqrt(np.mean(stations.observed**2)))
        ctx.log(
            f"{regularization} regularisation, lambda {regularization_weight:g}: "
            f"RMS misfit {rms:.4g} mGal (data RMS {data_rms:.4g} mGal)"
        )
        ctx.log(f"density contrast from {model.min():+.1f} to {model.max():+.1f} kg/m^3")
        summary = {
            "depth": depth,
            "thickness": thickness,
            "regularization": regularization,
            "regularization_weight": regularization_weight,
            "rms_misfit": rms,
        }
        model_name = _write(
            ctx,
            output_format,
            "model",
            {"latitude": ny, "longitude": nx},
            {
                "latitude": (("latitude",), grid.cell_lat, {"units": "degrees_north"}),
                "longitude": (("longitude",), grid.cell_lon, {"units": "degrees_east"}),
                "density_contrast": (
                    ("latitude", "longitude"),
                    model.reshape(ny, nx),
                    {"units": "kg/m^3", "long_name": "Density contrast"},
                ),
            },
            summary,
            "Density contrast model",
        )
        station = ("station",)
        mgal = {"units": "mGal"}
        misfit_name = _write(
            ctx,
            output_format,
            "misfit",
            {"station": stations.observed.size},
            {
                "latitude": (station, stations.latitude, {"units": "degrees_north"}),
                "longitude": (station, stations.longitude, {"units": "degrees_east"}),
                "observed": (station, stations.observed, {**mgal, "long_name": "Observed anomaly"}),
                "predicted": (station, predicted, {**mgal, "long_name": "Predicted anomaly"}),
                "residual": (station, residual, {**mgal, "long_name": "Observed - predicted"}),
            },
            summary,
            "Inversion misfit",
        )
        ctx.log(f"wrote {model_name} and {misfit_name}")


class _Stations:
    """The survey's stations: where they are and the anomaly observed there (mGal)."""

    def __init__(self, latitude: np.ndarray, longitude: np.ndarray, observed: np.ndarray) -> None:
        self.latitude, self.longitude, self.observed = latitude, longitude, observed

    @classmethod
    def read(cls, ctx: StorageContext, survey: InputDataset, variable: str) -> _Stations:
        ctx.log(f"reading {survey.name} (dataset {survey.id})")
        data = survey.arrays(["latitude", "longitude", variable])
        if variable not in data.variables:
            raise ParameterError("/variable", f"{survey.name} has no variable {variable!r}")
        units = data[variable].units
        if units != "mGal":
            ctx.log(f"warning: {variable!r} is in {units!r}, treated as mGal")
        return cls(
            *(data[name].data.astype(float).ravel() for name in ("latitude", "longitude", variable))
        )


class _Grid:
    """The layer's cells: a regular latitude/longitude grid over the stations, widened by
    ``padding`` of the survey's extent on each side, in local metres around its centre."""

    def __init__(self, stations: _Stations, nx: int, ny: int, padding: float) -> None:
        import numpy as np

        from nagelfluh_runner.bootstrap.gravity import local_xy

        latitude, longitude = stations.latitude, stations.longitude
        pad_lat = padding * np.ptp(latitude)
        pad_lon = padding * np.ptp(longitude)
        lat_edges = np.linspace(latitude.min() - pad_lat, latitude.max() + pad_lat, ny + 1)
        lon_edges = np.linspace(longitude.min() - pad_lon, longitude.max() + pad_lon, nx + 1)
        self.cell_lat = (lat_edges[:-1] + lat_edges[1:]) / 2
        self.cell_lon = (lon_edges[:-1] + lon_edges[1:]) / 2
        lat0, lon0 = float(np.mean(lat_edges)), float(np.mean(lon_edges))
        self.station_east, self.station_north = local_xy(latitude, longitude, lat0, lon0)
        grid_lat, grid_lon = np.meshgrid(self.cell_lat, self.cell_lon, indexing="ij")
        self.east, self.north = local_xy(grid_lat.ravel(), grid_lon.ravel(), lat0, lon0)
        edge_east, edge_north = local_xy(lat_edges, lon_edges, lat0, lon0)
        self.half_east = float(np.ptp(edge_east)) / nx / 2
        self.half_north = float(np.ptp(edge_north)) / ny / 2

    def sensitivity(
        self, ctx: StorageContext, stations: _Stations, top: float, bottom: float
    ) -> np.ndarray:
        """G: the anomaly at each station of a unit density contrast in each cell, built
        in row chunks that report progress up to 0.6."""
        import numpy as np

        from nagelfluh_runner.bootstrap.gravity import prism_gz

        east, north = self.station_east, self.station_north
        kernel = np.empty((stations.observed.size, self.east.size))
        for step, (lo, hi) in enumerate(chunks(stations.observed.size, _ROW_CHUNKS), 1):
            kernel[lo:hi] = prism_gz(
                east[lo:hi], north[lo:hi], self.east, self.north, self.half_east,
                self.half_north, top, bottom,
            )  # fmt: skip
            ctx.progress(0.6 * step / _ROW_CHUNKS)
        return kernel


def _solve(
    kernel: np.ndarray, observed: np.ndarray, rough: np.ndarray, weight: float
) -> np.ndarray:
    """m of (G^T G + lambda^2 s L^T L) m = G^T d, s making lambda dimensionless."""
    import numpy as np

    gtg = kernel.T @ kernel
    ltl = rough.T @ rough
    scale = np.trace(gtg) / np.trace(ltl)
    size = kernel.shape[1]
    return np.linalg.solve(
        gtg + weight**2 * scale * ltl + 1e-12 * scale * np.eye(size), kernel.T @ observed
    )


def _write(
    ctx: StorageContext,
    output_format: str,
    stem: str,
    dims: dict[str, int],
    variables: dict[str, tuple[Any, ...]],
    attrs: dict[str, Any],
    title: str,
) -> str:
    """Variables as ``stem.nc`` (NetCDF-3 or -4) or the Zarr store ``stem.zarr``; its name."""
    if output_format == "zarr":
        import xarray as xr

        data = {name: xr.Variable(*spec) for name, spec in variables.items()}
        dataset = xr.Dataset(data, attrs=attrs)
        return ctx.write_zarr(f"{stem}.zarr", dataset, title=title)["key"]
    return ctx.write_netcdf(
        f"{stem}.nc", dims, variables, attrs, title=title, format=output_format
    )["key"]
