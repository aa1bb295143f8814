"""JAX (and optax) imported on first use, so the window's process never loads them.

The window builds jobs, reads results and shows model parameters through the same classes the
worker runs; those modules name ``jax``/``jnp``/``lax``/``optax`` through the stand-ins here,
which import the real module the first time an attribute is asked for (in the worker, or in a
script or test that computes). Work done at class-definition time that needs JAX, such as
registering a dataclass as a pytree, goes through :func:`when_imported`, which runs it as soon
as JAX is loaded by anyone (this module's stand-ins or a plain ``import jax``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module ``name``; importing it on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attr: str) -> Any:
        target = self.__dict__["_lazy_target"]
        if attr.startswith("__") and attr.endswith("__") and target not in sys.modules:
            raise AttributeError(attr)  # copy, pickle and inspect probe dunders: stay lazy
        module = importlib.import_module(target)
        # Later look-ups hit the copied names directly, not this method.
        self.__dict__.update({k: v for k, v in module.__dict__.items() if not k.startswith("__")})
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_target']!r}>"


jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")
lax = LazyModule("jax.lax")
optax = LazyModule("optax")


class Deferred:
    """A callable built on its first call (or attribute access): a JAX transform of a function
    defined at import time, made only when something runs it."""

    def __init__(self, build: Callable[[], Callable], like: Callable) -> None:
        self._build = build
        self._built: Callable | None = None
        functools.update_wrapper(self, like)

    def _target(self) -> Callable:
        if self._built is None:
            self._built = self._build()
        return self._built

    def __call__(self, *args, **kwargs):
        return self._target()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:  # .lower, .clear_cache, ... of the built transform
        if attr.startswith("__") or attr in ("_build", "_built"):
            raise AttributeError(attr)
        return getattr(self._target(), attr)


def jit(fn: Callable | None = None, **options) -> Any:
    """``jax.jit(fn, **options)``, built on first use; as ``@jit`` or ``@jit(static_...=...)``."""
    if fn is None:
        return functools.partial(jit, **options)
    return Deferred(lambda: jax.jit(fn, **options), fn)


def custom_vjp(primal: Callable, fwd: Callable, bwd: Callable, **options) -> Deferred:
    """``jax.custom_vjp(primal, **options)`` with ``defvjp(fwd, bwd)``, built on first use."""

    def build():
        f = jax.custom_vjp(primal, **options)
        f.defvjp(fwd, bwd)
        return f

    return Deferred(build, primal)


_pending: dict[str, list[Callable[[ModuleType], None]]] = {}
_lock = threading.RLock()


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Run ``callback(module)`` now if ``name`` is loaded, else right after it is imported."""
    with _lock:
        module = sys.modules.get(name)
        if module is None or name in _loading:
            _pending.setdefault(name, []).append(callback)
            if not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
                sys.meta_path.insert(0, _PostImportFinder())
            return
    callback(module)


def register_dataclass_pytree(cls: type, data_fields: list[str], meta_fields: list[str]) -> None:
    """``jax.tree_util.register_dataclass(cls, ...)`` once JAX is loaded."""
    when_imported(
        "jax",
        lambda jax_module: jax_module.tree_util.register_dataclass(
            cls, data_fields=data_fields, meta_fields=meta_fields
        ),
    )


_loading: set[str] = set()


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds a watched module through the other finders and runs the callbacks after it loads."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _pending or fullname in _loading:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        inner = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return inner.create_module(spec)

            def exec_module(self, module):
                _loading.add(fullname)
                try:
                    inner.exec_module(module)
                finally:
                    _loading.discard(fullname)
                with _lock:
                    callbacks = _pending.pop(fullname, [])
                for callback in callbacks:
                    callback(module)

            def __getattr__(self, attr):  # get_resource_reader, is_package, ... as the real one
                return getattr(inner, attr)

        spec.loader = _Loader()
        return spec
