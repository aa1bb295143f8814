"""Draw the application icon with QPainter: ``python scripts/make_icon.py [OUT_DIR]``.

Writes ``resources/icons/``: ``brainfit-{16..512}.png``, ``brainfit.png`` (256 px, the window
icon), ``brainfit.ico`` (Windows; PNG entries 16-256) and ``brainfit.icns`` (macOS; PNG entries).
Every size is drawn from the vector description (not scaled from one bitmap), so small sizes stay
crisp. The ICO and ICNS containers are written by hand (both just wrap PNG data), so the script
needs nothing but PyQt6 and runs offscreen.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt  # noqa: E402
from PyQt6.QtGui import (  # noqa: E402
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
)

SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS PNG entry types by pixel size (ic11..ic14 are the @2x variants of 16..512)
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
              (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
              (b"ic14", 512))

# A recorded membrane trace with two action potentials (x, y in a 0..1 box, y up).
TRACE = [(0.00, 0.30), (0.14, 0.31), (0.24, 0.36), (0.30, 0.42), (0.33, 0.92), (0.36, 0.18),
         (0.42, 0.26), (0.54, 0.34), (0.60, 0.42), (0.63, 0.92), (0.66, 0.18), (0.72, 0.26),
         (0.86, 0.30), (1.00, 0.31)]


def draw(size: int) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    m = size * 0.04
    tile = QRectF(m, m, size - 2 * m, size - 2 * m)
    grad = QLinearGradient(tile.topLeft(), tile.bottomRight())
    grad.setColorAt(0.0, QColor("#1f3b73"))
    grad.setColorAt(1.0, QColor("#0e1a33"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(grad)
    p.drawRoundedRect(tile, size * 0.2, size * 0.2)

    box = tile.adjusted(size * 0.12, size * 0.16, -size * 0.12, -size * 0.2)

    def pt(x: float, y: float) -> QPointF:
        return QPointF(box.left() + x * box.width(), box.bottom() - y * box.height())

    # faint baseline grid: the "plot" the trace lives in
    if size >= 48:
        p.setPen(QPen(QColor(255, 255, 255, 40), max(1.0, size / 128)))
        for y in (0.0, 0.5, 1.0):
            p.drawLine(pt(0, y), pt(1, y))

    # the model fit (warm, dashed at large sizes) drawn under the recorded trace
    fit = QPainterPath(pt(*TRACE[0]))
    for x, y in TRACE[1:]:
        fit.lineTo(pt(x + 0.015, y * 0.97))
    pen = QPen(QColor("#ffb347"), max(1.2, size * 0.055))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(fit)

    trace = QPainterPath(pt(*TRACE[0]))
    for x, y in TRACE[1:]:
        trace.lineTo(pt(x, y))
    pen = QPen(QColor("#ffffff"), max(1.0, size * 0.035))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.drawPath(trace)

    # a gradient marker: a small descending arrow in the corner (the "fit" in Brainfit)
    if size >= 32:
        c = QPointF(tile.right() - size * 0.17, tile.bottom() - size * 0.14)
        r = size * 0.07
        arrow = QPainterPath(QPointF(c.x() - r, c.y() - r))
        arrow.lineTo(QPointF(c.x() + r, c.y() - r))
        arrow.lineTo(QPointF(c.x(), c.y() + r * 0.8))
        arrow.closeSubpath()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#7fd1ff"))
        p.drawPath(arrow)
    p.end()
    return img


def png_bytes(img: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise RuntimeError("Qt could not encode PNG")
    buf.close()
    return bytes(data)


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """ICO with PNG-compressed entries (Windows Vista and later read these)."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for s in sizes:
        blob = pngs[s]
        dim = 0 if s >= 256 else s  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        offset += len(blob)
        blobs += blob
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[s])) + pngs[s]
                    for kind, s in ICNS_TYPES if s in pngs)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main(out_dir: str | None = None) -> Path:
    out = Path(out_dir) if out_dir else Path(__file__).resolve().parents[1] / "resources" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - fonts/paint
    pngs = {s: png_bytes(draw(s)) for s in SIZES}
    for s, blob in pngs.items():
        if s <= 512:  # 1024 px lives only inside the .icns
            (out / f"brainfit-{s}.png").write_bytes(blob)
    (out / "brainfit.png").write_bytes(pngs[256])
    (out / "brainfit.ico").write_bytes(ico_bytes(pngs))
    (out / "brainfit.icns").write_bytes(icns_bytes(pngs))
    return out


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else None))
