"""Options of a ``brainfit train`` task: ``{"--name": (argparse kwargs, default)}``.

Tasks share one parser, so an option two tasks both have is added once, with default None;
each task reads its own default when the user did not give the option."""

from __future__ import annotations


def _dest(option: str, kwargs: dict) -> str:
    return kwargs.get("dest", option.lstrip("-").replace("-", "_"))


def add_task_options(p, options: dict) -> None:
    """Add the options of ``options`` that ``p`` does not have yet."""
    existing = set(getattr(p, "_option_string_actions", {}))
    for option, (kwargs, _default) in options.items():
        if option in existing:
            continue
        kw = dict(kwargs)
        if kw.get("action") != "store_true":
            kw["default"] = None
        p.add_argument(option, **kw)


def task_value(args, options: dict, option: str):
    """The value of ``option``: what the user gave, else the task's own default."""
    kwargs, default = options[option]
    value = getattr(args, _dest(option, kwargs), None)
    return default if value is None else value
