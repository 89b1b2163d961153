"""synthetic-survey: gravity stations over buried spheres, as a field crew would measure."""

from __future__ import annotations

from nagelfluh_runner.sdk import ParameterError, ProcessType, object_schema, parameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from nagelfluh_runner.context import StorageContext

SPHERE = object_schema(
    {
        "latitude": parameter(
            "number", "Latitude", "Latitude of the centre, degrees north.", 47.05,
            minimum=-90, maximum=90,
        ),
        "longitude": parameter(
            "number", "Longitude", "Longitude of the centre, degrees east.", 8.475,
            minimum=-180, maximum=180,
        ),
        "depth": parameter(
            "number", "Depth", "Depth of the centre below the stations, in metres.", 1000.0,
            exclusiveMinimum=0, maximum=100000,
        ),
        "radius": parameter(
            "number", "Radius", "Radius in metres (smaller than the depth).", 300.0,
            exclusiveMinimum=0, maximum=100000,
        ),
        "density_contrast": parameter(
            "number", "Density contrast", "Density minus that of the host rock, kg/m^3.", 300.0,
            minimum=-3000, maximum=3000,
        ),
    }
)  # fmt: skip


def _bound(title: str, description: str, default: float, limit: float) -> dict[str, Any]:
    return parameter("number", title, description, default, minimum=-limit, maximum=limit)


class SyntheticSurvey(ProcessType):
    name = "synthetic-survey"
    title = "Synthetic gravity survey"
    description = (
        "Vertical gravity anomaly (mGal) of buried spheres of anomalous density, sampled "
        "on a regular latitude/longitude grid of stations, with Gaussian noise. The "
        "default area lies over the Rigi, a Nagelfluh conglomerate massif."
    )
    schema = object_schema(
        {
            "lat_min": _bound("South bound", "Southernmost station row, degrees.", 47.0, 90),
            "lat_max": _bound("North bound", "Northernmost station row, degrees.", 47.1, 90),
            "lon_min": _bound("West bound", "Westernmost station column, degrees.", 8.4, 180),
            "lon_max": _bound("East bound", "Easternmost station column, degrees.", 8.55, 180),
            "nx": parameter(
                "integer", "Columns", "Stations west to east.", 25, minimum=2, maximum=500
            ),
            "ny": parameter(
                "integer", "Rows", "Stations south to north.", 20, minimum=2, maximum=500
            ),
            "bodies": {
                "type": "array",
                "title": "Buried spheres",
                "description": "Bodies whose attraction the stations measure.",
                "items": SPHERE,
                "maxItems": 100,
                "default": [
                    {
                        "latitude": 47.06,
                        "longitude": 8.45,
                        "depth": 800.0,
                        "radius": 350.0,
                        "density_contrast": 400.0,
                    },
                    {
                        "latitude": 47.035,
                        "longitude": 8.51,
                        "depth": 1200.0,
                        "radius": 500.0,
                        "density_contrast": -250.0,
                    },
                ],
            },
            "noise": parameter(
                "number",
                "Noise",
                "Standard deviation of the measurement noise, mGal.",
                0.005,
                minimum=0,
                maximum=100,
            ),
            "seed": parameter(
                "integer",
                "Random seed",
                "Seed of the noise generator.",
                0,
                minimum=0,
                maximum=4294967295,
            ),
        }
    )

    def run(
        self,
        ctx: StorageContext,
        lat_min: float,
        lat_max: float,
        lon_min: float,
        lon_max: float,
        nx: int,
        ny: int,
        bodies: list[dict[str, Any]],
        noise: float,
        seed: int,
    ) -> None:
        import numpy as np

        from nagelfluh_runner.bootstrap.gravity import local_xy, sphere_gz

        if lat_min >= lat_max:
            raise ParameterError("/lat_max", f"{lat_max:g} is not north of lat_min {lat_min:g}")
        if lon_min >= lon_max:
            raise ParameterError("/lon_max", f"{lon_max:g} is not east of lon_min {lon_min:g}")
        for index, body in enumerate(bodies):
            if body["radius"] >= body["depth"]:
                raise ParameterError(
                    f"/bodies/{index}/radius",
                    f"{body['radius']:g} m reaches the surface from {body['depth']:g} m depth",
                )
        lat0, lon0 = (lat_min + lat_max) / 2, (lon_min + lon_max) / 2
        lat_grid, lon_grid = np.meshgrid(
            np.linspace(lat_min, lat_max, ny), np.linspace(lon_min, lon_max, nx), indexing="ij"
        )
        latitude, longitude = lat_grid.ravel(), lon_grid.ravel()
        east, north = local_xy(latitude, longitude, lat0, lon0)
        ctx.log(
            f"{latitude.size} stations on a {ny} x {nx} grid covering "
            f"{np.ptp(east) / 1000:.1f} km x {np.ptp(north) / 1000:.1f} km"
        )
        anomaly = np.zeros(latitude.size)
        for index, body in enumerate(bodies, 1):
            body_east, body_north = local_xy(body["latitude"], body["longitude"], lat0, lon0)
            contribution = sphere_gz(
                east,
                north,
                float(body_east),
                float(body_north),
                body["depth"],
                body["radius"],
                body["density_contrast"],
            )
            anomaly += contribution
            peak = contribution[np.argmax(np.abs(contribution))]
            ctx.log(
                f"sphere {index}: {body['density_contrast']:+g} kg/m^3, "
                f"radius {body['radius']:g} m at {body['depth']:g} m: peak {peak:+.4f} mGal"
            )
            ctx.progress(0.8 * index / len(bodies))
        anomaly += np.random.default_rng(seed).normal(0.0, noise, anomaly.size) if noise else 0.0
        ctx.log(
            f"anomaly from {anomaly.min():+.4f} to {anomaly.max():+.4f} mGal (noise {noise:g} mGal)"
        )
        station = ("station",)
        ctx.write_netcdf(
            "survey.nc",
            {"station": latitude.size},
            {
                "latitude": (
                    station,
                    latitude,
                    {"units": "degrees_north", "long_name": "Latitude"},
                ),
                "longitude": (
                    station,
                    longitude,
                    {"units": "degrees_east", "long_name": "Longitude"},
                ),
                "gravity_anomaly": (
                    station,
                    anomaly,
                    {"units": "mGal", "long_name": "Vertical gravity anomaly"},
                ),
            },
            {"noise": noise, "seed": seed, "bodies": len(bodies)},
            title="Synthetic gravity survey",
        )
        ctx.log("wrote survey.nc")
