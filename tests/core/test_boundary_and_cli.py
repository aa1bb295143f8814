"""The architecture boundary (core never imports Qt and never prints; the command line runs
without Qt) and the registry listings of the CLI."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap

from core.integrate import SOLVERS
from core.models import MODELS
from core.surrogate import SURROGATES
from workbench.cli import main

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_core_imports_and_simulates_with_qt_unimportable():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('PyQt6', 'pyqtgraph', 'workbench'):
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, Block())
        import core, core.models, core.integrate, core.io
        import importlib
        for m in ('core.fitting', 'core.network', 'core.ops', 'core.training'):
            try:
                importlib.import_module(m)
            except ModuleNotFoundError as e:
                if e.name != m:
                    raise
        from core.integrate import simulate
        from core.models import GIF
        r = simulate(GIF(), [1.6] * 100, 0.1)
        assert r.ok
        print('ok')
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_command_line_runs_with_qt_unimportable():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('PyQt6', 'pyqtgraph'):
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, Block())
        from workbench.cli import main
        sys.exit(main(['list', 'solvers']))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) >= set(SOLVERS)


def test_core_never_prints():
    calls = []
    for path in sorted((REPO / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                calls.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not calls, f"core reports through job events, never print(): {calls}"


def test_import_linter_contract_holds():
    lint = REPO / ".venv" / "bin" / "lint-imports"
    exe = str(lint) if lint.exists() else "lint-imports"
    out = subprocess.run([exe], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "core never imports Qt or the workbench KEPT" in out.stdout
    assert "the command line never imports Qt KEPT" in out.stdout


def test_list_commands_print_every_registered_name(capsys):
    for what, registry in [("models", MODELS), ("solvers", SOLVERS), ("surrogates", SURROGATES)]:
        assert main(["list", what]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert [line.split()[0] for line in lines] == sorted(registry)
        assert main(["list", what, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert {r["name"] for r in rows} == set(registry)
        assert all(r["description"] for r in rows)


def test_list_models_json_carries_parameter_specs(capsys):
    main(["list", "models", "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    gif = {p["name"]: p for p in rows["gif"]["parameters"]}
    assert gif["tau_I1"]["unit"] == "ms" and gif["A1"]["fitted"] is True
    assert all(p["lower"] <= p["default"] <= p["upper"] for r in rows.values() for p in r["parameters"])
