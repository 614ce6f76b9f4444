"""One self-contained HTML page: inline CSS, plotly.js (from the plotly wheel), figures, tables.

Nothing is fetched when the page opens: plotly.js is inlined (``plotly.offline.get_plotlyjs()``,
about 4.8 MB), figures are JSON specs drawn by ``Plotly.newPlot``, tables are plain HTML sorted by a
few lines of JavaScript, and the map's hover panel reads contexts embedded in the page.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600} header p{margin:4px 0 0;color:#c6ccd8}
main{max-width:1180px;margin:0 auto;padding:8px 24px 48px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;margin:18px 0;padding:14px 20px}
h2{font-size:17px;margin:4px 0 8px} h3{font-size:15px;margin:14px 0 6px}
.note{color:#5b6475;font-size:13px;margin:4px 0 8px}
.kpi{display:flex;gap:28px;flex-wrap:wrap;margin:6px 0} .kpi div{min-width:120px}
.kpi b{display:block;font-size:22px;font-weight:600} .kpi span{color:#5b6475;font-size:12px}
table.sortable{border-collapse:collapse;font-size:13px;margin:6px 0;width:100%}
table.sortable th,table.sortable td{padding:3px 8px;border-bottom:1px solid #eceef2;text-align:right;white-space:nowrap}
table.sortable th{cursor:pointer;background:#f0f2f5;position:sticky;top:0;user-select:none}
table.sortable th.asc::after{content:" \\25B2";font-size:10px} table.sortable th.desc::after{content:" \\25BC";font-size:10px}
table.sortable td.t,table.sortable th.t{text-align:left;font-family:ui-monospace,Menlo,monospace}
.wrap table.sortable td{white-space:normal;min-width:5em} .wrap table.sortable td.t{text-align:left}
.scroll{max-height:420px;overflow:auto;border:1px solid #eceef2;border-radius:4px}
.up{color:#b4341f} .down{color:#1f5fb4} .flat{color:#5b6475}
.ctx{font-family:ui-monospace,Menlo,monospace;font-size:13px;background:#f6f7f9;border-radius:6px;padding:10px;
 min-height:3.2em;white-space:pre-wrap;word-break:break-word}
.ctx mark{background:#ffd54f;padding:0 2px;border-radius:2px;font-weight:600}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px} @media(max-width:900px){.grid2{grid-template-columns:1fr}}
.fig{width:100%;min-height:320px}
.warn{background:#fff4e0;border-left:4px solid #d9722b;padding:6px 10px;margin:6px 0;font-size:13px}
details{margin:8px 0;font-size:13px} details summary{cursor:pointer;color:#5b6475}
"""

JS = r"""
function sortTable(th){
  const table=th.closest('table'), tb=table.tBodies[0], i=[...th.parentNode.children].indexOf(th);
  const asc=!th.classList.contains('asc');
  [...th.parentNode.children].forEach(h=>h.classList.remove('asc','desc'));
  th.classList.add(asc?'asc':'desc');
  const key=td=>{const v=td.dataset.v; return v===undefined?td.textContent:(v===''?NaN:parseFloat(v));};
  const rows=[...tb.rows].sort((a,b)=>{const x=key(a.cells[i]),y=key(b.cells[i]);
    if(typeof x==='number'){if(isNaN(x))return 1; if(isNaN(y))return -1; return asc?x-y:y-x;}
    return asc?String(x).localeCompare(y):String(y).localeCompare(x);});
  rows.forEach(r=>tb.appendChild(r));
}
document.addEventListener('click',e=>{const th=e.target.closest('table.sortable th'); if(th) sortTable(th);});
function esc(s){return String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));}
function showContext(id,c){
  const el=document.getElementById(id); if(!el||!c) return;
  el.innerHTML='<b>'+esc(c[3])+'</b>  LID '+c[4].toFixed(2)+'\n'+esc(c[0])+'<mark>'+esc(c[1])+'</mark>'+esc(c[2])
    +(c[5]?'\n<span class="note">nearest: '+esc(c[5])+'</span>':'');
}
"""


def _clean(o: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy -> lists/scalars."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if hasattr(o, "to_numpy") and hasattr(o, "dtype"):   # pandas Series / Index
        return _clean(o.to_numpy().tolist())
    if isinstance(o, np.generic):
        return _clean(o.item())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def to_json(o: Any) -> str:
    # "</" must not close the script element that holds the JSON
    return json.dumps(_clean(o), separators=(",", ":")).replace("</", "<\\/")


class Page:
    """Collects sections and renders the page. Figure ids and table ids are stable (tests use them)."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self.parts: list[str] = []
        self.scripts: list[str] = []
        self.figures: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}  # id -> (data, layout)

    def section(self, title: str, note: str = "", sid: str | None = None) -> None:
        if self.parts and self.parts[-1] != "</section>":
            self.parts.append("</section>")
        ident = f' id="sec-{html.escape(sid)}"' if sid else ""
        self.parts.append(f"<section{ident}><h2>{html.escape(title)}</h2>")
        if note:
            self.note(note)

    def h3(self, text: str) -> None:
        self.parts.append(f"<h3>{html.escape(text)}</h3>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def kpis(self, items: list[tuple[str, str]]) -> None:
        self.parts.append('<div class="kpi">' + "".join(
            f"<div><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>" for k, v in items) + "</div>")

    def figure(self, fid: str, data: list[dict[str, Any]], layout: dict[str, Any], height: int = 340,
               on_hover: str | None = None) -> None:
        lay = {"margin": {"l": 60, "r": 20, "t": 30, "b": 45}, "height": height, "template": None,
               "font": {"family": "system-ui, sans-serif", "size": 12}, "paper_bgcolor": "#fff",
               "plot_bgcolor": "#fff", **layout}
        for ax in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
            if ax in lay:
                lay[ax] = {"gridcolor": "#eceef2", "zerolinecolor": "#d5d9e0", **lay[ax]}
        self.figures[fid] = (data, lay)
        self.parts.append(f'<div class="fig" id="{fid}"></div>')
        hook = f"document.getElementById('{fid}').on('plotly_hover',{on_hover});" if on_hover else ""
        self.scripts.append(
            f"Plotly.newPlot('{fid}',{to_json(data)},{to_json(lay)},{{responsive:true,displaylogo:false}})"
            f".then(()=>{{{hook}}});")

    def script(self, code: str) -> None:
        self.scripts.append(code)

    def table(self, tid: str, df: Any, columns: dict[str, str] | None = None, digits: int = 3,
              scroll: bool = True, classes: dict[str, Any] | None = None) -> None:
        """A sortable table of ``df``; ``columns`` maps column -> header (order kept); numeric cells keep
        their value in ``data-v`` so sorting is numeric; ``classes`` maps column -> fn(value) -> css class."""
        cols = columns or {c: c for c in df.columns}
        head = "".join(
            f'<th class="{"t" if df[c].dtype == object else ""}">{html.escape(h)}</th>' for c, h in cols.items())
        body = []
        for row in df[list(cols)].itertuples(index=False):
            cells = []
            for c, v in zip(cols, row):
                css = (classes or {}).get(c, lambda _: "")(v)
                if isinstance(v, (bool, np.bool_)):
                    cells.append(f'<td class="{css}">{"yes" if v else "no"}</td>')
                elif isinstance(v, (int, np.integer)):
                    cells.append(f'<td class="{css}" data-v="{int(v)}">{int(v):,}</td>')
                elif isinstance(v, (float, np.floating)):
                    fv = float(v)
                    shown = "" if not math.isfinite(fv) else f"{fv:.{digits}f}"
                    cells.append(f'<td class="{css}" data-v="{shown and repr(fv)}">{shown}</td>')
                else:
                    cells.append(f'<td class="t {css}">{html.escape(str(v))}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        wrap = ('<div class="scroll">', "</div>") if scroll else ("", "")
        self.parts.append(f'{wrap[0]}<table class="sortable" id="{tid}"><thead><tr>{head}</tr></thead>'
                          f'<tbody>{"".join(body)}</tbody></table>{wrap[1]}')

    def render(self) -> str:
        from plotly.offline import get_plotlyjs

        if self.parts and self.parts[-1] != "</section>":
            self.parts.append("</section>")
        return (
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style>"
            f"<script>{get_plotlyjs()}</script><script>{JS}</script></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1><p>{html.escape(self.subtitle)}</p></header><main>"
            + "".join(self.parts)
            + "</main><script>" + "\n".join(self.scripts) + "</script></body></html>"
        )
