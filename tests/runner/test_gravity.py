"""The forward model behind synthetic-survey and inversion agrees with textbook limits."""

from __future__ import annotations

import numpy as np
import pytest
from nagelfluh_runner.bootstrap.gravity import MGAL, G, local_xy, prism_gz, sphere_gz


def test_small_prism_attracts_like_a_sphere_of_equal_mass():
    east = np.array([0.0, 500.0, -1500.0])
    north = np.array([0.0, 200.0, 800.0])
    side = 100.0
    prism = prism_gz(
        east, north, np.array([0.0]), np.array([0.0]), side / 2, side / 2, 950.0, 1050.0
    )
    radius = (3 / (4 * np.pi)) ** (1 / 3) * side
    sphere = sphere_gz(east, north, 0.0, 0.0, 1000.0, radius, 1.0)
    np.testing.assert_allclose(prism[:, 0], sphere, rtol=1e-4)


def test_wide_thin_prism_attracts_like_a_bouguer_slab():
    thickness, density = 100.0, 1000.0
    slab = prism_gz(
        np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 1e6, 1e6, 1000.0, 1000.0 + thickness
    )
    assert density * slab[0, 0] == pytest.approx(
        2 * np.pi * G * density * thickness * MGAL, rel=1e-3
    )


def test_sphere_anomaly_is_positive_for_excess_mass_and_peaks_above_it():
    east = np.linspace(-3000, 3000, 61)
    gz = sphere_gz(east, np.zeros_like(east), 0.0, 0.0, 800.0, 300.0, 400.0)
    assert np.argmax(gz) == 30
    assert gz.min() > 0
    assert gz[30] == pytest.approx(G * 4 / 3 * np.pi * 300.0**3 * 400.0 / 800.0**2 * MGAL)
    assert sphere_gz(east, np.zeros_like(east), 0.0, 0.0, 800.0, 300.0, -400.0).max() < 0


def test_local_coordinates_measure_degrees_in_metres():
    east, north = local_xy(np.array([48.0, 47.0]), np.array([8.5, 9.5]), 47.0, 8.5)
    assert north[0] == pytest.approx(111_195, rel=1e-4)
    assert east[1] == pytest.approx(111_195 * np.cos(np.radians(47.0)), rel=1e-4)
