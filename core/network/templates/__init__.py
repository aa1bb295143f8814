"""Network templates: documented builders with their editable main parameters.

``TEMPLATES[name]`` is a :class:`Template`: ``params`` (ParamSpecs: the GUI builds its form from
them), ``doc`` (the builder's docstring), ``build(seed=..., **params) -> NetworkEngine`` and
sensible defaults for duration, chunk length and recorded neurons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ParameterError
from ...params import ParamSpec


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    params: tuple[ParamSpec, ...]
    build: Callable
    default_duration_ms: float
    default_chunk_ms: float
    default_record: tuple[int, ...] = ()

    @property
    def doc(self) -> str:
        import inspect

        module = inspect.getmodule(self.build)
        parts = [inspect.getdoc(module) if module else "", inspect.getdoc(self.build)]
        return "\n\n".join(p for p in parts if p)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def resolve(self, params: Mapping[str, Any] | None = None) -> dict:
        """The overrides in ``params`` (numbers or text) checked and typed by their ParamSpecs
        (:meth:`~core.params.ParamSpec.coerce`): what the window and the CLI both pass to
        ``build``. Unknown names and bad values raise :class:`ParameterError`."""
        specs = {p.name: p for p in self.params}
        unknown = sorted(set(params or {}) - set(specs))
        if unknown:
            raise ParameterError(f"template {self.name!r} has no parameter(s) "
                                 f"{', '.join(unknown)}; known: {', '.join(specs)}")
        return {name: specs[name].coerce(value, owner=self.name)
                for name, value in (params or {}).items()}


TEMPLATES: dict[str, Template] = {}


def register(t: Template) -> Template:
    TEMPLATES[t.name] = t
    return t


def get_template(name: str) -> Template:
    key = name.replace("_", "-").lower()
    aliases = {"ei-evidence": "ei", "locust": "antennal-lobe", "locust-al": "antennal-lobe"}
    key = aliases.get(key, key)
    try:
        return TEMPLATES[key]
    except KeyError:
        raise ParameterError(f"unknown network template {name!r}; known: "
                             f"{', '.join(sorted(TEMPLATES))}") from None


def _register_builtin() -> None:
    from . import coba

    register(Template("coba", "COBA benchmark (Vogels & Abbott 2005)", coba.PARAMS, coba.build,
                      1000.0, 1000.0, (0, 1, 3200)))
    try:
        from . import ei_evidence
    except ImportError:  # pragma: no cover - optional while under construction
        pass
    else:
        register(Template("ei", "EI evidence-accumulation network (seed, App. F)",
                          ei_evidence.PARAMS, ei_evidence.build, 2000.0, 500.0, (0, 1, 320)))
    try:
        from . import locust_al
    except ImportError:  # pragma: no cover
        pass
    else:
        register(Template("antennal-lobe", "Locust antennal lobe (Bazhenov et al. 2001)",
                          locust_al.PARAMS, locust_al.build, 1000.0, 100.0, (0, 1, 90)))


_register_builtin()

__all__ = ["TEMPLATES", "Template", "get_template", "register"]
