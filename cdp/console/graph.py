"""The identity graph of one customer as a server-rendered SVG picture.

The customer sits in the middle; each source record is a node on a ring around it, grouped by
channel; each edge is labelled with the rule that linked the record and the kinds of evidence
(never values). Drawn with presentation attributes and CSS classes only: the console's
Content Security Policy allows no inline style. The same facts go into a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 580
CX, CY = WIDTH / 2, HEIGHT / 2
RING = 190
# Colour-blind-safe hues (Okabe-Ito), dark enough for text on white.
PALETTE = ["#0060a8", "#a34d00", "#007a5a", "#a8326e", "#5b4a9e", "#6b6b00", "#00708a"]


@dataclass(frozen=True)
class Edge:
    source: str
    source_record_id: str
    rule: str
    evidence: tuple[str, ...]
    identifiers: int


def edges_of(view: Mapping[str, Any]) -> list[Edge]:
    """One edge per source record: its current link's rule and evidence kinds."""
    links = {(lk.get("source"), lk.get("source_record_id")): lk for lk in view.get("links") or []}
    out = []
    for ident in view.get("identities") or []:
        key = (ident.get("source"), ident.get("source_record_id"))
        link = links.get(key, {})
        out.append(
            Edge(
                source=str(key[0] or "?"),
                source_record_id=str(key[1] or "?"),
                rule=str(link.get("rule") or "?"),
                evidence=tuple(str(e) for e in link.get("evidence") or ()),
                identifiers=len(ident.get("identifiers") or ()),
            )
        )
    out.sort(key=lambda e: (e.source, e.source_record_id))
    return out


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# Up to this many records each gets its own node; beyond, records are drawn as dots around
# one node per channel, and each channel's edge lists its rules with counts.
MAX_RECORD_NODES = 12


def render_svg(customer_label: str, edges: Sequence[Edge], *, title_id: str = "graph-title") -> Markup:
    """The picture as an inline <svg> element (already escaped)."""
    if len(edges) > MAX_RECORD_NODES:
        return _render_by_channel(customer_label, edges, title_id)
    channels = sorted({e.source for e in edges})
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(channels)}
    n = max(len(edges), 1)
    parts: list[str] = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
         f'class="identity-graph" role="img" aria-labelledby="{title_id}">'),
        (f'<title id="{title_id}">{escape(customer_label)}: {len(edges)} source records '
         f"in {len(channels)} channels</title>"),
    ]
    # Edges first so nodes are drawn over them.
    positions = []
    for i, e in enumerate(edges):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        x, y = CX + RING * math.cos(angle), CY + RING * math.sin(angle)
        positions.append((x, y, angle))
        parts.append(
            f'<line x1="{CX:.1f}" y1="{CY:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
            f'stroke="{colour[e.source]}" stroke-width="2" class="graph-edge"/>'
        )
        mx, my = CX + (x - CX) * 0.5, CY + (y - CY) * 0.5
        label = e.rule + (f" [{', '.join(e.evidence)}]" if e.evidence else "")
        parts.append(
            f'<text x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle" class="graph-edge-label" '
            f'fill="#222222" font-size="11">{escape(_short(label, 34))}</text>'
        )
    parts.append(
        f'<circle cx="{CX:.1f}" cy="{CY:.1f}" r="44" fill="#ffffff" stroke="#1a1a1a" '
        f'stroke-width="3" class="graph-customer"/>'
        f'<text x="{CX:.1f}" y="{CY + 5:.1f}" text-anchor="middle" font-size="14" '
        f'font-weight="bold" fill="#1a1a1a">{escape(_short(customer_label, 14))}</text>'
    )
    for (x, y, angle), e in zip(positions, edges, strict=True):
        anchor = "start" if math.cos(angle) > 0.2 else "end" if math.cos(angle) < -0.2 else "middle"
        dx = 30 if anchor == "start" else -30 if anchor == "end" else 0
        dy = 38 if math.sin(angle) > 0.5 and anchor == "middle" else -30 if anchor == "middle" else 4
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="22" fill="#ffffff" '
            f'stroke="{colour[e.source]}" stroke-width="4" class="graph-record"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#1a1a1a">{e.identifiers}</text>'
            f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}" font-size="12" '
            f'fill="{colour[e.source]}" font-weight="bold">{escape(_short(e.source, 18))}</text>'
            f'<text x="{x + dx:.1f}" y="{y + dy + 14:.1f}" text-anchor="{anchor}" font-size="10" '
            f'fill="#333333">{escape(_short(e.source_record_id, 22))}</text>'
        )
    parts.append("</svg>")
    # every text in ``parts`` went through escape(); the rest are numbers, palette colours
    # and the caller's constant title_id
    return Markup("".join(parts))  # noqa: S704


def _render_by_channel(customer_label: str, edges: Sequence[Edge], title_id: str) -> Markup:
    """Many records: one node per channel (its record count inside, a dot per record around
    it), the edge to it labelled with each rule and evidence kinds and how many records."""
    by_channel: dict[str, list[Edge]] = {}
    for e in edges:
        by_channel.setdefault(e.source, []).append(e)
    channels = sorted(by_channel)
    n = len(channels)
    parts: list[str] = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
         f'class="identity-graph" role="img" aria-labelledby="{title_id}">'),
        (f'<title id="{title_id}">{escape(customer_label)}: {len(edges)} source records '
         f"in {n} channels</title>"),
    ]
    hubs = []
    ring = 215  # longer edges than the per-record picture: they carry the rule lines
    for i, channel in enumerate(channels):
        angle = -math.pi / 2 + 2 * math.pi * i / max(n, 1)
        x, y = CX + ring * math.cos(angle), CY + ring * math.sin(angle)
        hubs.append((x, y, angle, channel))
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<line x1="{CX:.1f}" y1="{CY:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                     f'stroke="{colour}" stroke-width="3" class="graph-edge"/>')
        rules: dict[str, int] = {}
        for e in by_channel[channel]:
            key = e.rule + (f" [{', '.join(e.evidence)}]" if e.evidence else "")
            rules[key] = rules.get(key, 0) + 1
        lines = [f"{k} ×{v}" for k, v in sorted(rules.items(), key=lambda kv: -kv[1])]
        if len(lines) > 3:
            lines = lines[:2] + [f"+{len(lines) - 2} more rules"]
        # Written along the edge (turned so it never reads upside down): labels of
        # neighbouring channels then diverge instead of overlapping near the middle.
        middle = (44 + (ring - 26)) / 2 / ring  # halfway between the two circles
        mx, my = CX + (x - CX) * middle, CY + (y - CY) * middle
        deg = math.degrees(angle)
        if deg > 90 or deg < -90:
            deg += 180
        for j, line in enumerate(lines):
            off = -5 - 11 * (len(lines) - 1 - j)
            parts.append(f'<text x="{mx:.1f}" y="{my + off:.1f}" text-anchor="middle" '
                         f'font-size="9" fill="#222222" class="graph-edge-label" '
                         f'transform="rotate({deg:.1f} {mx:.1f} {my:.1f})">'
                         f"{escape(_short(line, 36))}</text>")
    parts.append(
        f'<circle cx="{CX:.1f}" cy="{CY:.1f}" r="44" fill="#ffffff" stroke="#1a1a1a" '
        f'stroke-width="3" class="graph-customer"/>'
        f'<text x="{CX:.1f}" y="{CY + 5:.1f}" text-anchor="middle" font-size="14" '
        f'font-weight="bold" fill="#1a1a1a">{escape(_short(customer_label, 14))}</text>'
    )
    for i, (x, y, angle, channel) in enumerate(hubs):
        colour = PALETTE[i % len(PALETTE)]
        recs = by_channel[channel]
        for k, e in enumerate(recs):
            a = 2 * math.pi * k / len(recs)
            dx, dy = x + 36 * math.cos(a), y + 36 * math.sin(a)
            parts.append(f'<circle cx="{dx:.1f}" cy="{dy:.1f}" r="4" fill="{colour}" '
                         f'class="graph-record"><title>{escape(e.source_record_id)}: '
                         f"{escape(e.rule)}</title></circle>")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="26" fill="#ffffff" stroke="{colour}" '
            f'stroke-width="4" class="graph-channel"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" font-size="13" '
            f'font-weight="bold" fill="#1a1a1a">{len(recs)}</text>'
        )
        anchor = "start" if math.cos(angle) > 0.2 else "end" if math.cos(angle) < -0.2 else "middle"
        lx = x + (48 if anchor == "start" else -48 if anchor == "end" else 0)
        ly = y + (4 if anchor != "middle" else (58 if math.sin(angle) > 0 else -48))
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" font-size="13" '
                     f'font-weight="bold" fill="{colour}">{escape(_short(channel, 18))}</text>')
    parts.append("</svg>")
    # every text in ``parts`` went through escape(); the rest are numbers, palette colours
    # and the caller's constant title_id
    return Markup("".join(parts))  # noqa: S704
