"""What JAX computes on, asked in the worker process.

The window must not ask JAX itself: creating a backend in the GUI process would, on a GPU host,
take the device (and by default most of its memory) away from the worker that runs the jobs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceInfo:
    platforms: tuple[str, ...]
    count: int
    kinds: tuple[str, ...] = ()

    def label(self) -> str:
        plural = "s" if self.count != 1 else ""
        return f"JAX: {', '.join(self.platforms)} ({self.count} device{plural})"


def device_info() -> DeviceInfo:
    import jax

    devices = jax.devices()
    return DeviceInfo(platforms=tuple(sorted({d.platform.upper() for d in devices})),
                      count=len(devices),
                      kinds=tuple(sorted({getattr(d, "device_kind", d.platform) for d in devices})))


class DeviceInfoJob:
    """A job answering :func:`device_info` from wherever it runs (the worker)."""

    name = "devices"

    def run(self, report=None, is_cancelled=None) -> DeviceInfo:
        return device_info()
