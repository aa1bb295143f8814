"""What JAX computes on, as the worker process reports it when it is ready.

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


def engine_devices(engine) -> DeviceInfo | None:
    """What ``engine`` computes on: a worker-process engine's worker says so when it is ready
    (None until then); an in-process engine computes here, so this process asks JAX."""
    info = getattr(engine, "worker_info", None)
    if info is not None or hasattr(engine, "worker_pid"):
        return (info or {}).get("devices")
    return device_info()
