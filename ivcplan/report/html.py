"""Self-contained HTML report: every image embedded (base64), no external resource.

Sections: disclaimer, input, plan with the fired rules and their sources, flags and warnings,
measurements, landmarks and segments, images. All text from the report is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivcplan.errors import InputError
from ivcplan.report import summary

log = logging.getLogger(__name__)

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;min-width:50%}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;
vertical-align:top;font-size:14px}th{background:#f0f3f7}
.disclaimer{background:#fff4d6;border:1px solid #e0b84c;padding:10px 14px;border-radius:4px}
.flag{color:#a33}.warn{color:#8a5a00}figure{display:inline-block;margin:8px;vertical-align:top;max-width:520px}
figure img{max-width:100%;border:1px solid #ccc}figcaption{font-size:13px;color:#555}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(rows, header=None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _image(path: Path, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def render_html(report: Mapping[str, Any], images: Mapping[str, str | Path] | None = None) -> str:
    """The report as one HTML document (string)."""
    images = dict(images or {})
    for key, path in images.items():
        if not Path(path).is_file():
            raise InputError(f"image {key!r} does not exist", path)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>IVC tumor planning report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>IVC tumor planning report</h1>",
             f'<p class="disclaimer"><b>Disclaimer.</b> {_e(summary.disclaimer(report))}</p>',
             "<h2>Input</h2>", _table(summary.input_rows(report))]
    parts.append("<h2>Plan (suggestion)</h2>")
    plan_rows = summary.plan_rows(report)
    parts.append(_table(plan_rows) if plan_rows else "<p>No plan was computed.</p>")
    rules = summary.fired_rules(report)
    parts.append("<h3>Fired rules</h3>")
    parts.append(_table([(r["id"], r["text"], r["source"]) for r in rules], ("Rule", "Suggestion", "Source"))
                 if rules else "<p>No rule fired.</p>")
    flags = summary.flags(report)
    if flags:
        parts.append("<h3>Flags</h3><ul>" + "".join(f'<li class="flag">{_e(f)}</li>' for f in flags) + "</ul>")
    warnings = summary.warnings(report)
    parts.append("<h2>Warnings</h2>")
    parts.append("<ul>" + "".join(f'<li class="warn">{_e(w)}</li>' for w in warnings) + "</ul>"
                 if warnings else "<p>None.</p>")
    parts.append("<h2>Measurements</h2>")
    parts.append(_table(summary.measurement_rows(report), ("Measurement", "Value")))
    parts.append("<h2>Landmarks and segments</h2>")
    parts.append(_table(summary.landmark_rows(report), ("Landmark", "Position (LPS)", "s along IVC", "Confidence")))
    if images:
        parts.append("<h2>Images</h2>")
        parts.extend(_image(Path(p), caption) for _, p, caption in summary.ordered_images(images))
    parts.append(f'<p class="disclaimer">{_e(summary.disclaimer(report))}</p>')
    parts.append(f"<p><small>{_e(report.get('schema', ''))}</small></p></body></html>")
    return "\n".join(parts)


def write_html(report: Mapping[str, Any], images: Mapping[str, str | Path] | None, path: str | Path) -> Path:
    """Write the self-contained HTML report to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, images), encoding="utf-8")
    return path
