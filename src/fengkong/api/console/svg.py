"""Charts and the entity graph drawn on the server as SVG: no script library, no CDN.

The graph is laid out by igraph (Fruchterman-Reingold, seeded, so a case looks the same
each time it is opened); bars and histograms are plain rectangles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from fengkong.api.masking import mask_value
from fengkong.graph.neighbourhood import Neighbourhood

_KIND_COLOUR = {
    "a": "#4a78c2",  # account
    "d": "#8a6d3b",
    "k": "#8a6d3b",  # devices
    "p": "#2e8b57",  # phone
    "x": "#6a5acd",  # id number
    "c": "#c76f00",
    "q": "#c76f00",  # cards
    "r": "#c76f00",
}
_KIND_NAME = {
    "a": "account",
    "d": "device",
    "k": "device",
    "p": "phone",
    "x": "id",
    "c": "card",
    "q": "payee card",
    "r": "payee",
}
RING = "#d62728"


def _short(key: str) -> str:
    body = key[2:]
    return body if len(body) <= 14 else body[:6] + "…" + body[-5:]


def shown(key: str) -> str:
    """A node key as an analyst may see it: accounts and merchants whole, identifiers masked."""
    if key[:2] in ("a:", "m:", "L:"):
        return key
    return key[:2] + str(mask_value(key[2:]))


def graph_svg(hood: Neighbourhood, width: int = 720, height: int = 460) -> str:
    """The neighbourhood: accounts as circles (ring members red), identifiers as squares."""
    import igraph  # seconds to import: only when a case page draws its first graph

    keys = list(hood.nodes)
    index = {k: i for i, k in enumerate(keys)}
    g = igraph.Graph(n=len(keys), edges=[(index[a], index[b]) for a, b in hood.edges])
    layout = g.layout_fruchterman_reingold(seed=[[i % 7, i // 7] for i in range(len(keys))])
    xs, ys = zip(*layout.coords, strict=True) if keys else ((), ())
    pad = 40

    def scale(v: float, lo: float, hi: float, size: int) -> float:
        return pad + (v - lo) / ((hi - lo) or 1.0) * (size - 2 * pad)

    px = {k: scale(x, min(xs), max(xs), width) for k, x in zip(keys, xs, strict=True)}
    py = {k: scale(y, min(ys), max(ys), height) for k, y in zip(keys, ys, strict=True)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img" aria-label="linked entities">'
    ]
    for a, b in hood.edges:
        both = a in hood.ring and b in hood.ring
        colour = RING if a in hood.ring or both else "#bbb"
        parts.append(
            f'<line x1="{px[a]:.1f}" y1="{py[a]:.1f}" x2="{px[b]:.1f}" y2="{py[b]:.1f}"'
            f' stroke="{colour}" stroke-width="1.2" opacity="0.7"/>'
        )
    for k in keys:
        kind = hood.nodes[k]
        x, y = px[k], py[k]
        label = escape(_short(k))
        title = escape(f"{_KIND_NAME.get(kind, kind)} {shown(k)[2:]}")
        if kind == "a":
            ring = k in hood.ring
            fill = RING if ring else _KIND_COLOUR["a"]
            r = 11 if k == hood.centre else 8
            cls = "node account ring" if ring else "node account"
            parts.append(
                f'<g class="{cls}" data-key="{escape(k)}"><title>{title}</title>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}"'
                f' stroke="{"#000" if k == hood.centre else "#fff"}" stroke-width="2"/>'
                f'<text x="{x + 12:.1f}" y="{y + 4:.1f}" font-size="10">{label}</text></g>'
            )
        else:
            colour = _KIND_COLOUR.get(kind, "#777")
            parts.append(
                f'<g class="node ident" data-key="{escape(shown(k))}"><title>{title}</title>'
                f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{colour}"/>'
                f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" font-size="9" fill="#555">'
                f"{escape(_KIND_NAME.get(kind, kind))}</text></g>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(
    rows: Sequence[tuple[str, Mapping[str, float]]],
    series: Sequence[tuple[str, str]],
    width: int = 720,
    height: int = 220,
) -> str:
    """Stacked bars: one bar per row label, one colour per ``(series, colour)``."""
    if not rows:
        return '<p class="muted">—</p>'
    top = max(sum(v.get(s, 0.0) for s, _ in series) for _, v in rows) or 1.0
    bw = (width - 60) / len(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}">'
    ]
    base = height - 30
    for i, (label, values) in enumerate(rows):
        x = 50 + i * bw
        y = float(base)
        for name, colour in series:
            v = values.get(name, 0.0)
            h = v / top * (base - 10)
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" height="{h:.1f}"'
                f' fill="{colour}"><title>{escape(label)} {escape(name)}: {v:g}</title></rect>'
            )
        if len(rows) <= 31:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{height - 12}" font-size="9"'
                f' text-anchor="middle">{escape(label[-5:])}</text>'
            )
    parts.append(f'<text x="4" y="14" font-size="10">{top:g}</text>')
    x = 50
    for name, colour in series:
        parts.append(f'<rect x="{x}" y="{height - 9}" width="8" height="8" fill="{colour}"/>')
        parts.append(f'<text x="{x + 11}" y="{height - 1}" font-size="9">{escape(name)}</text>')
        x += 14 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)
