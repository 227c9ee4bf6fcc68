"""A self-contained HTML page: headings, tables, embedded PNG figures, preformatted text.

Figures are embedded as base64 ``data:`` URIs and the style sheet is inline, so the file opens
without network or the files beside it.  :class:`HtmlPage` only assembles markup; the content of
the run report is chosen in :mod:`opencapbench.report.results`.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["HtmlPage", "anchor_id"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1500px; padding: 0 24px 48px; color: #1a1a1a; line-height: 1.45; }
header { border-bottom: 2px solid #0072B2; margin-bottom: 8px; }
h1 { font-size: 1.6em; margin: 18px 0 4px; }
h2 { font-size: 1.3em; margin-top: 34px; border-bottom: 1px solid #ccc; padding-bottom: 3px; }
h3 { font-size: 1.08em; margin: 22px 0 6px; }
nav { font-size: 0.92em; margin: 6px 0 14px; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; font-size: 0.82em; margin: 6px 0 10px; }
th, td { padding: 3px 7px; border-bottom: 1px solid #e3e3e3; }
thead th { vertical-align: bottom; max-width: 7.5em; }
tbody th { text-align: left; white-space: nowrap; }
thead th { border-bottom: 2px solid #555; background: #f4f6f8; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; background: #e6f2fa; }
tbody tr:hover { background: #fafafa; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 12px 0 24px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #333; max-width: 1100px; }
pre { background: #f6f8fa; padding: 10px 14px; overflow-x: auto; font-size: 0.85em; }
p.note, p.missing { color: #555; font-size: 0.92em; }
p.missing { font-style: italic; }
"""


def anchor_id(*parts: str) -> str:
    """An HTML id from text parts: ``("curves", "subject1", "walking 1")`` → ``curves-subject1-walking_1``."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.]", "_", str(p)) for p in parts)


def _fmt(value: Any, digits: int) -> tuple[str, bool]:
    """Cell text and whether it is numeric."""
    if value is None or value is pd.NA:
        return "n/a", False
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), False
    if isinstance(value, (int, np.integer)):
        return str(int(value)), True
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            return "n/a", True
        if float(value).is_integer() and abs(value) < 1e15 and digits == 0:
            return str(int(value)), True
        return f"{float(value):.{digits}f}", True
    return str(value), False


class HtmlPage:
    """Accumulates sections of a report and renders one self-contained HTML document."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self._body: list[str] = []
        self._nav: list[tuple[str, str]] = []

    # -- structure ---------------------------------------------------------------------------

    def section(self, section_id: str, heading: str, level: int = 2, nav: bool = True) -> None:
        """Open a section (closed by the next section of the same or a higher level)."""
        self._body.append(
            f'<section id="{html.escape(section_id)}" data-level="{level}">'
            f"<h{level}>{html.escape(heading)}</h{level}>"
        )
        self._body.append("</section>")  # sections are flat: content goes before this marker
        if nav and level == 2:
            self._nav.append((section_id, heading))

    def _add(self, markup: str) -> None:
        # insert before the closing tag of the last section
        if self._body and self._body[-1] == "</section>":
            self._body.insert(len(self._body) - 1, markup)
        else:
            self._body.append(markup)

    def text(self, text: str, css: str = "note") -> None:
        self._add(f'<p class="{css}">{html.escape(text)}</p>')

    def missing(self, what: str) -> None:
        """A 'not recorded' line for a diagnostic the run did not record."""
        self._add(f'<p class="missing">{html.escape(what)}</p>')

    def preformatted(self, text: str, element_id: str | None = None) -> None:
        attr = f' id="{html.escape(element_id)}"' if element_id else ""
        self._add(f"<pre{attr}>{html.escape(text)}</pre>")

    def links(self, items: Sequence[tuple[str, str]]) -> None:
        """A line of links ``(text, href)``."""
        parts = [f'<a href="{html.escape(h)}">{html.escape(t)}</a>' for t, h in items]
        self._add('<p class="note">' + " · ".join(parts) + "</p>")

    # -- tables ------------------------------------------------------------------------------

    def table(
        self,
        table_id: str,
        df: pd.DataFrame,
        caption: str = "",
        digits: int = 2,
        bold: pd.DataFrame | None = None,
        row_links: Mapping[Any, str] | None = None,
        index: bool = True,
    ) -> None:
        """A table with the index levels first; ``bold`` marks cells; ``row_links`` maps an index
        label to an href put on the row's last index cell (e.g. the trial)."""
        mask = (
            bold.reindex(index=df.index, columns=df.columns, fill_value=False).to_numpy(bool)
            if bold is not None
            else np.zeros(df.shape, bool)
        )
        names = [n if n is not None else "" for n in df.index.names] if index else []
        # long DOF names may break after an underscore
        head = "".join(
            "<th>" + html.escape(str(n)).replace("_", "_<wbr>") + "</th>"
            for n in [*names, *df.columns]
        )
        body = []
        for i, (label, row) in enumerate(zip(df.index, df.itertuples(index=False), strict=True)):
            cells = []
            labels = (label if isinstance(label, tuple) else (label,)) if index else ()
            for k, part in enumerate(labels):
                text = html.escape(str(part))
                if k == len(labels) - 1 and row_links and label in row_links:
                    text = f'<a href="{html.escape(row_links[label])}">{text}</a>'
                cells.append(f"<th scope='row'>{text}</th>")
            for j, value in enumerate(row):
                text, numeric = _fmt(value, digits)
                classes = [c for c, on in (("num", numeric), ("best", mask[i, j])) if on]
                cls = f' class="{" ".join(classes)}"' if classes else ""
                cells.append(f"<td{cls}>{html.escape(text)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._add(
            f'<div class="scroll"><table id="{html.escape(table_id)}" class="results">{cap}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    # -- figures -----------------------------------------------------------------------------

    def figure(
        self,
        figure_id: str,
        png: str | os.PathLike,
        caption: str,
        files: Sequence[tuple[str, str]] = (),
        alt: str = "",
    ) -> None:
        """Embed a PNG as a base64 data URI; ``files`` are ``(label, relative href)`` links
        shown in the caption (e.g. the SVG and PDF beside it)."""
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        links = "".join(f' <a href="{html.escape(h)}">[{html.escape(t)}]</a>' for t, h in files)
        self._add(
            f'<figure id="{html.escape(figure_id)}"><img alt="{html.escape(alt or caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}{links}'
            "</figcaption></figure>"
        )

    # -- output ------------------------------------------------------------------------------

    def render(self) -> str:
        nav = "".join(f'<a href="#{html.escape(i)}">{html.escape(h)}</a>' for i, h in self._nav)
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>\n<body>"
            f"<header><h1>{html.escape(self.title)}</h1>{sub}</header><nav>{nav}</nav>\n"
            + "\n".join(self._body)
            + "\n</body></html>\n"
        )
