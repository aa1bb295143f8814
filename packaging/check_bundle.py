"""Test the built archive as a user gets it: ``python packaging/check_bundle.py`` (``make package-test``).

Unpacks ``dist/BrainfitWorkbench-*.tar.gz`` (``.zip`` on Windows) into a temporary folder, then,
in an environment without the project's venv or sources (fresh HOME, system PATH, from a
different working directory):

1. ``brainfit --version`` (start-up of the bundle and its command line),
2. ``brainfit --self-test`` offscreen with an empty JAX compilation cache (cold start), then
   again with the cache the first run filled (warm start),
3. with ``--screenshot OUT.png`` (Linux, needs Xvfb and ImageMagick's ``import``): starts the
   bundled app on a private Xvfb display, times until its window is mapped, saves a screenshot.

Prints the two self-test verdicts (cold, warm) and a summary JSON line; exits non-zero if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
NAME = "BrainfitWorkbench"


def find_archive() -> Path:
    archives = sorted(DIST.glob(f"{NAME}-*.tar.gz")) + sorted(DIST.glob(f"{NAME}-*.zip"))
    if not archives:
        sys.exit(f"no {NAME}-*.tar.gz/.zip in {DIST}: run `make package` first")
    return max(archives, key=lambda p: p.stat().st_mtime)


def unpack(archive: Path, into: Path) -> Path:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            t.extractall(into, filter="tar") if hasattr(tarfile, "tar_filter") else t.extractall(into)
    exe = into / NAME / ("brainfit.exe" if sys.platform == "win32" else "brainfit")
    if not exe.exists():
        sys.exit(f"{archive.name} holds no {exe.relative_to(into)}")
    return exe


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No venv, no PYTHONPATH, a fresh HOME: nothing of the build machine's Python leaks in."""
    if sys.platform == "win32":
        env = {k: v for k, v in os.environ.items()
               if not k.upper().startswith(("PYTHON", "VIRTUAL_ENV", "CONDA"))}
        env["USERPROFILE"] = str(home)
    else:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
               "TMPDIR": str(home)}
    env["BRAINFIT_JAX_CACHE"] = str(home / "jax-cache")
    env.update(extra)
    return env


def run(cmd: list[str], env: dict, cwd: Path, timeout: float = 300) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - t0, proc


def self_test(exe: Path, env: dict, cwd: Path) -> tuple[float, dict | None, subprocess.CompletedProcess]:
    seconds, proc = run([str(exe), "--self-test"], {**env, "QT_QPA_PLATFORM": "offscreen"}, cwd)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    verdict = json.loads(lines[-1]) if lines else None
    return seconds, verdict, proc


def missing_xcb_libraries(exe: Path) -> list[str]:
    """Libraries Qt's xcb platform plugin needs that are neither in the bundle nor on the system
    (Qt then only says "xcb-cursor0 or libxcb-cursor0 is needed", whichever one is missing)."""
    internal = exe.parent / "_internal"
    plugin = internal / "PyQt6" / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists() or shutil.which("ldd") is None:
        return []
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(internal)}).stdout
    return sorted({line.split()[0] for line in out.splitlines() if "not found" in line})


def screenshot(exe: Path, env: dict, cwd: Path, out: Path, display: str = ":87",
               screen: str = "1400x900") -> tuple[float | None, str | None]:
    """Start the app on a private Xvfb display (1400x900, a small laptop screen);
    seconds until its window is mapped, and the window's geometry as xwininfo gives it."""
    if not (shutil.which("Xvfb") and shutil.which("xwininfo") and shutil.which("import")):
        print("screenshot skipped: needs Xvfb, xwininfo and ImageMagick's import")
        return None, None
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{screen}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = None
    try:
        time.sleep(1.0)
        xenv = {**env, "DISPLAY": display}
        t0 = time.perf_counter()
        app = subprocess.Popen([str(exe)], env=xenv, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        mapped = geometry = None
        while time.perf_counter() - t0 < 120 and app.poll() is None:
            tree = subprocess.run(["xwininfo", "-root", "-tree"], env=xenv, capture_output=True,
                                  text=True).stdout
            if "Brainfit Workbench" in tree:
                mapped = time.perf_counter() - t0
                break
            time.sleep(0.1)
        if mapped is not None:  # the main window: its title carries the version
            time.sleep(1.0)
            tree = subprocess.run(["xwininfo", "-root", "-tree"], env=xenv, capture_output=True,
                                  text=True).stdout
            for line in tree.splitlines():
                if '"Brainfit Workbench ' in line and "x" in line.split(")")[-1]:
                    geometry = line.split(")")[-1].split()[0]
        if mapped is None:
            err = app.stderr.read() if app.poll() is not None else ""
            print(f"the window did not appear within 120 s {err[-2000:]}")
            missing = missing_xcb_libraries(exe)
            if missing:
                print("the bundled xcb platform plugin cannot load, neither the bundle nor this "
                      f"machine has: {', '.join(missing)} (install them, e.g. libxcb-icccm4 "
                      "libxcb-keysyms1 on Debian/Ubuntu, and rebuild so the bundle carries them)")
            return None, None
        time.sleep(6.0)  # let the example load and the model preview finish drawing
        subprocess.run(["import", "-window", "root", str(out)], env=xenv, check=True)
        print(f"screenshot: {out} (window {geometry} on a {screen} screen)")
        return mapped, geometry
    finally:
        if app is not None:
            app.terminate()
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()
        xvfb.terminate()
        xvfb.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="default: the newest in dist/")
    parser.add_argument("--screenshot", type=Path, help="also take a screenshot under Xvfb")
    args = parser.parse_args()
    archive = args.archive or find_archive()
    failed = []
    with tempfile.TemporaryDirectory(prefix="brainfit-bundle-") as tmp:
        tmp = Path(tmp)
        exe = unpack(archive, tmp)
        home = tmp / "home"
        home.mkdir()
        env = clean_env(home)
        summary: dict = {"archive": archive.name, "archive_mb": round(archive.stat().st_size / 1e6, 1)}
        size = sum(p.stat().st_size for p in exe.parent.rglob("*") if p.is_file() and not p.is_symlink())
        summary["bundle_mb"] = round(size / 1e6, 1)

        seconds, proc = run([str(exe), "--version"], env, home)
        summary["version_output"] = proc.stdout.strip()
        summary["start_to_exit_version_s"] = round(seconds, 2)
        if proc.returncode != 0:
            failed.append(f"--version exited {proc.returncode}: {proc.stderr[-2000:]}")

        for label in ("cold", "warm"):
            seconds, verdict, proc = self_test(exe, env, home)
            summary[f"self_test_{label}_s"] = round(seconds, 2)
            print(proc.stdout.strip())  # the verdict, cold (empty JAX cache) then warm
            noise = [line for line in proc.stderr.splitlines()
                     if "Traceback" in line or "Exception ignored" in line]
            if proc.returncode != 0 or not verdict or not verdict.get("ok"):
                failed.append(f"self-test ({label}) exited {proc.returncode}: "
                              f"{(verdict or {}).get('reason', proc.stderr[-2000:])}")
            elif noise:
                failed.append(f"self-test ({label}) printed errors on stderr: "
                              f"{proc.stderr[-2000:]}")
        if args.screenshot:
            mapped, geometry = screenshot(exe, env, home, args.screenshot.resolve())
            summary["start_to_window_s"] = None if mapped is None else round(mapped, 2)
            summary["window_geometry"] = geometry
            if mapped is None:
                failed.append("the bundled app's window did not appear under Xvfb")
    summary["ok"] = not failed
    print(json.dumps(summary))
    for reason in failed:
        print("FAILED:", reason, file=sys.stderr)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
