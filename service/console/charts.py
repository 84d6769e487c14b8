"""Server-side SVG charts from plain data (no CDN, no JavaScript); every label is escaped.

The SVG scales to its container through `viewBox`, so one drawing serves a 375-px phone and a desktop.
Colours and sizes use presentation attributes (not `style=`) so a strict Content-Security-Policy allows them.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ["#b4232a", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]
FONT = "12"


TICKS = 4


def _nice_max(value: float) -> float:
    """The axis top: TICKS grid steps of 1, 2 or 5 × 10ⁿ (2.5 × 10ⁿ from 25 up), so every grid line is a round
    number and small counts get whole-number lines."""
    if value <= 0:
        return TICKS
    raw = value / TICKS
    exponent = 10 ** math.floor(math.log10(raw))
    factors = (1, 2, 2.5, 5, 10) if exponent >= 10 else (1, 2, 5, 10)
    step = next(f * exponent for f in factors if raw <= f * exponent + 1e-12)
    if value >= 1 and step < 1:
        step = 1
    return step * TICKS


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _text_width(label: str) -> float:
    """Rough width in px at 12 px: CJK glyphs are square, Latin ones about half as wide."""
    return sum(12 if ord(ch) > 0x2E80 else 7 for ch in label)


def stacked_bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str = "",
                      width: int = 360, height: int = 220, colors: Sequence[str] = PALETTE) -> str:
    """Bars per label, each split into the named series (one series ⇒ a plain bar chart), coloured in order from
    `colors`. Returns SVG markup; `width` is the drawing's width in px at scale 1 (the viewBox)."""
    labels = [str(label) for label in labels]
    series = [(str(name), [float(v or 0) for v in values]) for name, values in series]
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    slot = (width - 36 - 8) / max(len(labels), 1)
    rotate = any(_text_width(label) > slot - 4 for label in labels)
    legend = 22 if len(series) > 1 else 0
    left, right, upper = 36, 8, 16 + legend
    lower = (max((_text_width(label) for label in labels), default=0) * 0.72 + 18) if rotate else 26
    plot_h = height - upper - lower
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {int(height)}" role="img" '
           f'aria-label="{escape(title)}" font-size="{FONT}" font-family="sans-serif">']
    if title:
        out.append(f"<title>{escape(title)}</title>")
    for k in range(TICKS + 1):  # horizontal grid with axis values
        value = top * k / TICKS
        y = upper + plot_h - plot_h * k / TICKS
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">{_fmt(value)}</text>')
    bar_w = max(slot * 0.6, 2)
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        y = upper + plot_h
        for s, (name, values) in enumerate(series):
            h = plot_h * values[i] / top
            if h > 0:
                y -= h
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                           f'fill="{colors[s % len(colors)]}"><title>{escape(label)} {escape(name)}: '
                           f'{_fmt(values[i])}</title></rect>')
        if totals[i]:
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                       f'fill="#1f2933">{_fmt(totals[i])}</text>')
        cx, ly = left + slot * i + slot / 2, upper + plot_h + 16
        if rotate:
            out.append(f'<text x="{cx:.1f}" y="{ly:.1f}" text-anchor="end" fill="#374151" '
                       f'transform="rotate(-45 {cx:.1f} {ly:.1f})">{escape(label)}</text>')
        else:
            out.append(f'<text x="{cx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#374151">{escape(label)}</text>')
    x = left
    for s, (name, _) in enumerate(series if legend else []):
        out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colors[s % len(colors)]}"/>')
        out.append(f'<text x="{x + 16}" y="14" fill="#374151">{escape(name)}</text>')
        x += 16 + _text_width(name) + 14
    out.append("</svg>")
    return "".join(out)


def bar_chart(items: Sequence[tuple[str, float]], *, title: str = "", width: int = 360, height: int = 220,
              series_name: str = "") -> str:
    """One bar per (label, value) pair."""
    return stacked_bar_chart([label for label, _ in items], [(series_name, [value for _, value in items])],
                             title=title, width=width, height=height)
