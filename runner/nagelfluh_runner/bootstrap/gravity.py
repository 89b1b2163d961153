"""Gravity forward modelling shared by synthetic-survey and inversion.

Surveys span kilometres, so a flat earth in local metres around the area's
centre is accurate to well below the noise; depths are positive downwards and
anomalies are the vertical component, positive for excess mass, in mGal.
"""

from __future__ import annotations

import numpy as np

G = 6.674e-11  # m^3 kg^-1 s^-2
MGAL = 1e5  # mGal per m/s^2
EARTH_RADIUS = 6_371_000.0  # m, mean radius


def local_xy(
    latitude: np.ndarray, longitude: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets in metres from (lat0, lon0) (equirectangular projection)."""
    metres_per_degree = np.pi * EARTH_RADIUS / 180.0
    east = (np.asarray(longitude) - lon0) * metres_per_degree * np.cos(np.radians(lat0))
    north = (np.asarray(latitude) - lat0) * metres_per_degree
    return east, north


def sphere_gz(
    east: np.ndarray,
    north: np.ndarray,
    sphere_east: float,
    sphere_north: float,
    depth: float,
    radius: float,
    density_contrast: float,
) -> np.ndarray:
    """Vertical attraction (mGal) at the surface of a buried uniform sphere: G M z / r^3."""
    mass = 4.0 / 3.0 * np.pi * radius**3 * density_contrast
    r2 = (east - sphere_east) ** 2 + (north - sphere_north) ** 2 + depth**2
    return G * mass * depth / r2**1.5 * MGAL


def prism_gz(
    east: np.ndarray,
    north: np.ndarray,
    cell_east: np.ndarray,
    cell_north: np.ndarray,
    half_width_east: float,
    half_width_north: float,
    top: float,
    bottom: float,
) -> np.ndarray:
    """Matrix (station x cell) of the attraction (mGal) of unit-density right prisms.

    Closed form of Plouff (1976) as given by Blakely (1995, eq. 9.12): a sum
    over the prism's eight corners, exact for any station-prism geometry.
    """
    dx = cell_east[None, :] - east[:, None]
    dy = cell_north[None, :] - north[:, None]
    total = np.zeros(dx.shape)
    for sign_x, x in ((-1, dx - half_width_east), (1, dx + half_width_east)):
        for sign_y, y in ((-1, dy - half_width_north), (1, dy + half_width_north)):
            for sign_z, z in ((-1, top), (1, bottom)):
                r = np.sqrt(x * x + y * y + z * z)
                term = z * np.arctan(x * y / (z * r)) - x * np.log(r + y) - y * np.log(r + x)
                total += sign_x * sign_y * sign_z * term
    return G * total * MGAL
