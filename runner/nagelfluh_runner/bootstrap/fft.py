"""fft: the amplitude spectrum of a regularly sampled signal dataset."""

from __future__ import annotations

from nagelfluh_runner.sdk import (
    ParameterError,
    ProcessType,
    dataset_parameter,
    object_schema,
    parameter,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import numpy as np

    from nagelfluh_runner.context import StorageContext
    from nagelfluh_runner.netcdf import NetCDFData
    from nagelfluh_runner.sdk import InputDataset

WINDOWS = ["none", "hann", "hamming", "blackman"]


def _window(name: str, n: int) -> np.ndarray:
    import numpy as np

    if name == "none":
        return np.ones(n)
    return getattr(np, name if name != "hann" else "hanning")(n)


def _sample_interval(data: NetCDFData, variable: str) -> float:
    """Seconds between samples, from the coordinate variable or a sample_rate attribute."""
    import numpy as np

    (dim,) = data[variable].dims
    if dim in data.variables:
        axis = data[dim].data.astype(float)
        steps = np.diff(axis)
        if steps.size == 0 or not np.all(steps > 0):
            raise ValueError(f"coordinate {dim!r} is not strictly increasing")
        step = float(np.median(steps))
        if np.max(np.abs(steps - step)) > 1e-6 * step:
            raise ValueError(f"coordinate {dim!r} is not regularly sampled")
        return step
    rate = data[variable].attrs.get("sample_rate", data.attrs.get("sample_rate"))
    if not rate:
        raise ValueError(f"no coordinate {dim!r} and no sample_rate attribute: spacing unknown")
    return 1.0 / float(rate)


class FFT(ProcessType):
    name = "fft"
    title = "Amplitude spectrum (FFT)"
    description = (
        "Fourier amplitude spectrum of a regularly sampled 1-D signal, optionally "
        "detrended and tapered by a window; amplitudes keep the signal's units and "
        "are corrected for the window's coherent gain, so a sinusoid of amplitude A "
        "peaks at about A."
    )
    schema = object_schema(
        {
            "signal": dataset_parameter(
                "Signal",
                "NetCDF dataset holding a 1-D time series (e.g. a synthetic-signal output).",
                readable=True,
            ),
            "variable": parameter(
                "string",
                "Variable",
                "Variable to transform; empty for the first variable that is not a coordinate.",
                "",
                maxLength=256,
            ),
            "window": parameter(
                "string",
                "Window",
                "Taper applied before the transform, to reduce spectral leakage.",
                "hann",
                enum=WINDOWS,
            ),
            "detrend": parameter(
                "boolean",
                "Detrend",
                "Remove the least-squares linear trend (and mean) before the transform.",
                True,
            ),
        },
        required=["signal"],
    )

    def run(
        self,
        ctx: StorageContext,
        signal: InputDataset,
        variable: str,
        window: str,
        detrend: bool,
    ) -> None:
        import numpy as np

        ctx.log(f"reading {signal.name} (dataset {signal.id})")
        data = signal.arrays()
        candidates = [name for name in data.data_variables() if len(data[name].dims) == 1]
        if variable and variable not in candidates:
            raise ParameterError(
                "/variable", f"{variable!r} is not a 1-D variable of the dataset ({candidates})"
            )
        if not candidates:
            raise ValueError(f"{signal.name} has no 1-D data variable to transform")
        variable = variable or candidates[0]
        units = data[variable].units or "1"
        values = data[variable].data.astype(float)
        dt = _sample_interval(data, variable)
        n = values.size
        ctx.log(f"{n} samples of {variable!r} ({units}) at {1 / dt:g} Hz")
        ctx.progress(0.2)
        if detrend:
            t = np.arange(n)
            slope, intercept = np.polyfit(t, values, 1)
            values = values - (slope * t + intercept)
            ctx.log(f"removed linear trend: mean {intercept + slope * (n - 1) / 2:.4g} {units}")
        taper = _window(window, n)
        spectrum = np.abs(np.fft.rfft(values * taper)) / taper.sum()
        spectrum[1 : (n + 1) // 2] *= 2  # one-sided: fold the negative frequencies in
        frequency = np.fft.rfftfreq(n, dt)
        ctx.progress(0.7)
        top = np.argsort(spectrum)[::-1][:3]
        for rank, index in enumerate(top, 1):
            ctx.log(
                f"peak {rank}: {frequency[index]:.4g} Hz, amplitude {spectrum[index]:.4g} {units}"
            )
        entry = ctx.write_netcdf(
            "spectrum.nc",
            {"frequency": frequency.size},
            {
                "frequency": (("frequency",), frequency, {"units": "Hz", "long_name": "Frequency"}),
                "amplitude": (
                    ("frequency",),
                    spectrum,
                    {"units": units, "long_name": f"Amplitude spectrum of {variable}"},
                ),
            },
            {
                "input_variable": variable,
                "window": window,
                "detrend": int(detrend),
                "peak_frequency": float(frequency[top[0]]),
            },
            title=f"Amplitude spectrum of {variable}",
        )
        ctx.log(
            f"wrote spectrum.nc: {frequency.size} frequencies up to {frequency[-1]:g} Hz "
            f"({entry['size']} bytes)"
        )
