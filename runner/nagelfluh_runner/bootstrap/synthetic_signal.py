"""synthetic-signal: a sum of sinusoids plus Gaussian noise, e.g. a seismometer trace."""

from __future__ import annotations

from nagelfluh_runner.sdk import ParameterError, ProcessType, chunks, object_schema, parameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from nagelfluh_runner.context import StorageContext

_CHUNKS = 10

COMPONENT = object_schema(
    {
        "frequency": parameter(
            "number", "Frequency", "Frequency in Hz (below half the sample rate).", 1.0, minimum=0
        ),
        "amplitude": parameter(
            "number", "Amplitude", "Peak amplitude, in the signal's units.", 1.0, minimum=0
        ),
        "phase": parameter(
            "number",
            "Phase",
            "Phase at t = 0, in radians.",
            0.0,
            minimum=-6.283185307179586,
            maximum=6.283185307179586,
        ),
    }
)


class SyntheticSignal(ProcessType):
    name = "synthetic-signal"
    title = "Synthetic signal"
    description = (
        "A time series made of sinusoidal components plus Gaussian noise, sampled "
        "regularly: a stand-in for a ground-motion record to try spectral analysis on."
    )
    schema = object_schema(
        {
            "duration": parameter(
                "number",
                "Duration",
                "Length of the record in seconds.",
                10.0,
                exclusiveMinimum=0,
                maximum=86400,
            ),
            "sample_rate": parameter(
                "number",
                "Sample rate",
                "Samples per second (Hz).",
                100.0,
                exclusiveMinimum=0,
                maximum=100000,
            ),
            "components": {
                "type": "array",
                "title": "Components",
                "description": "Sinusoids summed into the signal.",
                "items": COMPONENT,
                "maxItems": 50,
                "default": [
                    {"frequency": 5.0, "amplitude": 1.0, "phase": 0.0},
                    {"frequency": 12.5, "amplitude": 0.5, "phase": 0.785},
                    {"frequency": 31.0, "amplitude": 0.2, "phase": 1.571},
                ],
            },
            "noise_level": parameter(
                "number",
                "Noise level",
                "Standard deviation of the Gaussian noise, in the signal's units.",
                0.1,
                minimum=0,
            ),
            "seed": parameter(
                "integer",
                "Random seed",
                "Seed of the noise generator; the same seed gives the same noise.",
                0,
                minimum=0,
                maximum=4294967295,
            ),
            "units": parameter(
                "string",
                "Units",
                "Physical units of the amplitude (UDUNITS style, e.g. mm/s, nm, m/s^2).",
                "mm/s",
                minLength=1,
                maxLength=64,
            ),
        }
    )

    def run(
        self,
        ctx: StorageContext,
        duration: float,
        sample_rate: float,
        components: list[dict[str, Any]],
        noise_level: float,
        seed: int,
        units: str,
    ) -> None:
        import numpy as np

        nyquist = sample_rate / 2
        for index, component in enumerate(components):
            if component["frequency"] >= nyquist:
                raise ParameterError(
                    f"/components/{index}/frequency",
                    f"{component['frequency']:g} Hz is not below the Nyquist frequency "
                    f"{nyquist:g} Hz of a {sample_rate:g} Hz sample rate",
                )
        n = round(duration * sample_rate)
        if n < 2:
            raise ParameterError(
                "/duration", f"{duration:g} s at {sample_rate:g} Hz is < 2 samples"
            )
        ctx.log(
            f"generating {n} samples at {sample_rate:g} Hz ({duration:g} s) "
            f"from {len(components)} components, noise {noise_level:g} {units}"
        )
        for index, c in enumerate(components, 1):
            ctx.log(
                f"component {index}: {c['frequency']:g} Hz, amplitude {c['amplitude']:g} {units}, "
                f"phase {c['phase']:g} rad"
            )
        time = np.arange(n) / sample_rate
        signal = np.empty(n)
        rng = np.random.default_rng(seed)
        for step, (lo, hi) in enumerate(chunks(n, _CHUNKS), 1):
            t = time[lo:hi]
            chunk = rng.normal(0.0, noise_level, hi - lo) if noise_level else np.zeros(hi - lo)
            for c in components:
                chunk += c["amplitude"] * np.sin(2 * np.pi * c["frequency"] * t + c["phase"])
            signal[lo:hi] = chunk
            ctx.progress(0.9 * step / _CHUNKS)
        rms = float(np.sqrt(np.mean(signal**2))) if n else 0.0
        power = sum(c["amplitude"] ** 2 / 2 for c in components)
        snr = 10 * np.log10(power / noise_level**2) if noise_level and power else float("inf")
        ctx.log(f"signal RMS {rms:.4g} {units}, signal-to-noise ratio {snr:.1f} dB")
        entry = ctx.write_netcdf(
            "signal.nc",
            {"time": n},
            {
                "time": (("time",), time, {"units": "s", "long_name": "Time since start"}),
                "amplitude": (
                    ("time",),
                    signal,
                    {"units": units, "long_name": "Signal amplitude"},
                ),
            },
            {"sample_rate": sample_rate, "noise_level": noise_level, "seed": seed},
            title="Synthetic signal",
        )
        ctx.log(f"wrote signal.nc ({entry['size']} bytes)")
