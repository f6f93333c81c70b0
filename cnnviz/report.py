"""One self-contained HTML file: headings, paragraphs, tables and PNG images embedded as data URLs.

A lecturer can hand the file out; it needs no server, no network and no script. The command line's
`explain`, `top-images` and `health` write their reports with it, and the app's "Download this view".
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

__all__ = ["Report", "png_bytes"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
body { color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0 1rem 1rem 0; vertical-align: top; }
figcaption { font-size: 0.85rem; color: #555; max-width: 40rem; }
img { image-rendering: pixelated; max-width: 100%; }
"""


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    """An image (PIL, or an (H, W[, C]) uint8 array) as PNG bytes."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Report:
    """An HTML report being written, part by part, in one language.

    Attributes:
        title: the page's title and first heading.
        lang: "en" or "ko", written into `<html lang=...>`.
    """

    title: str
    lang: str = "en"
    _parts: list[str] = field(default_factory=list, repr=False)

    def heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str) -> None:
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def image(
        self, image: Image.Image | np.ndarray | bytes, caption: str = "", width: int | None = None
    ) -> None:
        """A PNG embedded in the file (`bytes` are taken to be PNG already)."""
        data = image if isinstance(image, bytes) else png_bytes(image)
        src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        size = f' width="{int(width)}"' if width else ""
        alt = html.escape(caption)
        caption_html = f"<figcaption>{alt}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="{src}" alt="{alt}"{size}>{caption_html}</figure>')

    def bars(
        self, counts: Sequence[int] | np.ndarray, edges: Sequence[float] | np.ndarray, caption: str = ""
    ) -> None:
        """A histogram as an inline SVG (bin i spans edges[i]..edges[i + 1]), its range written under it."""
        values = np.asarray(counts, dtype=np.float64)
        width, height = 320, 80
        top = float(values.max()) if values.size and values.max() > 0 else 1.0
        step = width / max(1, len(values))
        bar = max(step - 0.5, 0.5)
        rects = "".join(
            f'<rect x="{i * step:.2f}" y="{height - h:.2f}" width="{bar:.2f}" height="{h:.2f}"/>'
            for i, h in enumerate(values / top * height)
        )
        low, high = (float(edges[0]), float(edges[-1])) if len(edges) else (0.0, 0.0)
        axis = f"{low:.3g} … {high:.3g}"
        self._parts.append(
            f'<figure><svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" fill="#4c78a8" '
            f'role="img" aria-label="{html.escape(caption)}">{rects}</svg>'
            f"<figcaption>{html.escape(caption)} ({html.escape(axis)})</figcaption></figure>"
        )

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = []
        for row in rows:
            cells = []
            for value in row:
                number = isinstance(value, int | float) and not isinstance(value, bool)
                cells.append(f"<td{' class=n' if number else ''}>{html.escape(_text(value))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def html(self) -> str:
        """The whole document."""
        title = html.escape(self.title)
        return (
            f'<!DOCTYPE html>\n<html lang="{html.escape(self.lang)}"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_STYLE}</style></head><body><h1>{title}</h1>"
            + "\n".join(self._parts)
            + "</body></html>\n"
        )


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)
