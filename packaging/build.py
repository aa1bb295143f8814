"""Build the one-folder bundle and its archive: ``python packaging/build.py`` (``make package``).

1. PyInstaller with ``packaging/brainfit.spec`` -> ``dist/BrainfitWorkbench/`` (``brainfit`` /
   ``brainfit.exe`` inside; on macOS also ``dist/Brainfit Workbench.app``).
2. Linux only: strip the one big jaxlib library (~335 -> ~240 MB). Never strip globally: that
   breaks numpy's bundled OpenBLAS.
3. Linux: add the ``.desktop`` file and ``install-desktop-entry.sh`` to the bundle, and check
   with ``ldd`` that the Qt platform plugins (xcb, wayland) find all their libraries in the
   bundle: PyInstaller bundles only the system libraries it finds on the build machine, so a
   missing ``libxcb-icccm4`` there means a bundle whose window cannot open where that is missing
   too (warned about and listed in the report as ``unresolved_libraries``).
4. Archive: ``dist/BrainfitWorkbench-<version>-<os>-<arch>.tar.gz`` (``.zip`` on Windows).
5. Print and write ``dist/package-report.json``: sizes and build time.

Runs with the interpreter of the environment to freeze (the project's ``.venv``); works the same
on Windows and macOS (no shell tools needed there).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUILD = ROOT / "build" / "pyinstaller"
NAME = "BrainfitWorkbench"


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from core import __version__

    return __version__


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def strip_jaxlib(bundle: Path) -> None:
    if sys.platform != "linux" or shutil.which("strip") is None:
        return
    for lib in bundle.rglob("libjax_common*.so*"):
        if lib.is_symlink():
            continue
        before = lib.stat().st_size
        subprocess.run(["strip", "--strip-unneeded", str(lib)], check=True)
        print(f"stripped {lib.relative_to(bundle)}: {before / 2**20:.0f} -> "
              f"{lib.stat().st_size / 2**20:.0f} MiB")


def add_desktop_entry(bundle: Path) -> None:
    if sys.platform != "linux":
        return
    for name in ("brainfit.desktop", "install-desktop-entry.sh"):
        shutil.copy2(ROOT / "packaging" / name, bundle / name)
    (bundle / "install-desktop-entry.sh").chmod(0o755)


# Qt's platform plugins and the libraries they load, checked for libraries the bundle lacks.
QT_PLATFORM_FILES = ("PyQt6/Qt6/plugins/platforms/libqxcb.so",
                     "PyQt6/Qt6/plugins/platforms/libqwayland.so",
                     "PyQt6/Qt6/plugins/xcbglintegrations/*.so",
                     "PyQt6/Qt6/lib/libQt6XcbQpa.so*", "PyQt6/Qt6/lib/libQt6WaylandClient.so*")
# Debian/Ubuntu packages of the libraries Qt's xcb/wayland plugins need and not every system has
DEBIAN_PACKAGES = {"libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
                   "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-image.so.0": "libxcb-image0",
                   "libxcb-render-util.so.0": "libxcb-render-util0",
                   "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
                   "libwayland-cursor.so.0": "libwayland-cursor0",
                   "libwayland-egl.so.1": "libwayland-egl1"}


def unresolved_libraries(bundle: Path) -> dict[str, list[str]]:
    """Linux: libraries the Qt platform plugins need that neither the bundle nor the system has
    (``ldd`` with the bundle's library folder first, as the bootloader sets it up)."""
    if sys.platform != "linux" or shutil.which("ldd") is None:
        return {}
    internal = bundle / "_internal"
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(internal)}
    missing: dict[str, list[str]] = {}
    for pattern in QT_PLATFORM_FILES:
        for lib in sorted(internal.glob(pattern)):
            if lib.is_symlink():
                continue
            out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True,
                                 env=env).stdout
            for line in out.splitlines():
                if "not found" in line:
                    missing.setdefault(line.split()[0], []).append(lib.name)
    return missing


def archive(bundle: Path, ver: str) -> Path:
    osname = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform,
                                                                           sys.platform)
    stem = f"{NAME}-{ver}-{osname}-{platform.machine().lower()}"
    if sys.platform == "win32":
        out = DIST / f"{stem}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            for p in sorted(bundle.rglob("*")):
                z.write(p, Path(NAME) / p.relative_to(bundle))
    else:
        out = DIST / f"{stem}.tar.gz"
        with tarfile.open(out, "w:gz", compresslevel=6) as t:
            t.add(bundle, arcname=NAME)
    return out


def main() -> int:
    t0 = time.perf_counter()
    ver = version()
    bundle = DIST / NAME
    for old in (bundle, BUILD, DIST / "Brainfit Workbench.app"):
        shutil.rmtree(old, ignore_errors=True)
    for old in DIST.glob(f"{NAME}-*"):
        old.unlink()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(BUILD),
           str(ROOT / "packaging" / "brainfit.spec")]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    strip_jaxlib(bundle)
    add_desktop_entry(bundle)
    missing = unresolved_libraries(bundle)
    if missing:
        packages = sorted({DEBIAN_PACKAGES.get(lib, "?") for lib in missing})
        print("WARNING: the bundle lacks libraries Qt's platform plugins need, and this machine "
              "has none to copy in:", file=sys.stderr)
        for lib, users in sorted(missing.items()):
            print(f"  {lib} (needed by {', '.join(sorted(set(users)))})", file=sys.stderr)
        print("  the window will not open where they are missing too; install them on the build "
              f"machine (Debian/Ubuntu: apt-get install {' '.join(packages)}) and rebuild",
              file=sys.stderr)
    built = time.perf_counter() - t0
    out = archive(bundle, ver)
    report = {
        "version": ver,
        "bundle": str(bundle.relative_to(ROOT)),
        "executable": str(next(p for p in (bundle / "brainfit", bundle / "brainfit.exe")
                               if p.exists()).relative_to(ROOT)),
        "bundle_mb": round(folder_size(bundle) / 1e6, 1),
        "archive": str(out.relative_to(ROOT)),
        "archive_mb": round(out.stat().st_size / 1e6, 1),
        "unresolved_libraries": sorted(missing),
        "build_seconds": round(built, 1),
        "build_and_archive_seconds": round(time.perf_counter() - t0, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    (DIST / "package-report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
