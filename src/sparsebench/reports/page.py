"""A report page as a list of blocks, rendered to Markdown and to self-contained HTML
(relative image links, inline CSS, no scripts), plus plain-text tables for the terminal."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

VERDICT_HEADERS = ("claim", "claimed", "measured", "verdict", "basis", "note")


@dataclass
class Page:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def h2(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, lines: list[str]) -> None:
        self.blocks.append(("ul", list(lines)))

    def pre(self, text: str) -> None:
        """Preformatted text (a method's fixed-width table), kept as written."""
        self.blocks.append(("pre", text))

    def image(self, path: str, caption: str) -> None:
        self.blocks.append(("img", path, caption))

    def table(self, headers, rows, name: str = "") -> None:
        """A table; ``name`` (a file stem) also saves it as <name>.csv beside the page (a second
        table of the same name is numbered) and links it."""
        csv_name = ""
        if name:
            taken = {b[3] for b in self.blocks if b[0] == "table"}
            csv_name, n = f"{name}.csv", 2
            while csv_name in taken:
                csv_name, n = f"{name}-{n}.csv", n + 1
        self.blocks.append(("table", list(headers), [list(map(str, r)) for r in rows], csv_name))

    def csv_files(self) -> dict[str, str]:
        """file name -> CSV text of every named table."""
        import csv
        import io

        out: dict[str, str] = {}
        for block in self.blocks:
            if block[0] == "table" and block[3]:
                buf = io.StringIO()
                w = csv.writer(buf, lineterminator="\n")
                w.writerow(block[1])
                w.writerows(block[2])
                out[block[3]] = buf.getvalue()
        return out


def claimed_cell(v) -> str:
    """The claimed number and the claim's own words, quoted in full."""
    wording = getattr(v, "wording", "")
    return f'{v.claimed}: "{wording}"' if wording else v.claimed


def verdict_rows(verdicts) -> list[list[str]]:
    return [[v.claim_id, claimed_cell(v), v.measured, v.verdict, v.basis or "-", v.note or "-"] for v in verdicts]


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(page: Page) -> str:
    out = [f"# {page.title}", ""]
    for b in page.blocks:
        if b[0] == "h2":
            out += [f"## {b[1]}", ""]
        elif b[0] == "p":
            out += [b[1], ""]
        elif b[0] == "ul":
            out += [f"- {line}" for line in b[1]] + [""]
        elif b[0] == "pre":  # a fence longer than any backtick run inside keeps the block closed
            fence = "`" * (max((len(r) for r in re.findall("`+", b[1])), default=0) + 3 if "`" in b[1] else 3)
            out += [fence, b[1], fence, ""]
        elif b[0] == "img":
            out += [f"![{_md_cell(b[2])}]({b[1]})", "", f"*{b[2]}*", ""]
        elif b[0] == "table":
            out.append("| " + " | ".join(map(_md_cell, b[1])) + " |")
            out.append("|" + "---|" * len(b[1]))
            out += ["| " + " | ".join(map(_md_cell, r)) + " |" for r in b[2]]
            out += ["", f"[{b[3]}]({b[3]})", ""] if b[3] else [""]
    return "\n".join(out)


_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f0f0f0}figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:12px;color:#555}.reproduced{background:#d8f5d0}.partly{background:#fff3c4}
.not-reproduced{background:#f8d0d0}.different-setup{background:#dde6f8}.not-measured{color:#777}"""


def to_html(page: Page) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(page.title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{e(page.title)}</h1>"]
    for b in page.blocks:
        if b[0] == "h2":
            out.append(f"<h2>{e(b[1])}</h2>")
        elif b[0] == "p":
            out.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "pre":
            out.append(f"<pre>{e(b[1])}</pre>")
        elif b[0] == "ul":
            out.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in b[1]) + "</ul>")
        elif b[0] == "img":
            out.append(f'<figure><img src="{e(b[1])}" alt="{e(b[2])}"><figcaption>{e(b[2])}</figcaption></figure>')
        elif b[0] == "table":
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in b[1]) + "</tr>")
            for r in b[2]:
                cls = ""
                if "verdict" in b[1]:  # colour claim rows by verdict
                    cls = f' class="{e(r[b[1].index("verdict")].replace(" ", "-"))}"'
                out.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
            out.append("</table>")
            if b[3]:
                out.append(f'<p><a href="{e(b[3])}">{e(b[3])}</a></p>')
    out.append("</body></html>")
    return "\n".join(out)


def text_table(headers, rows, max_width: int = 60) -> str:
    """Fixed-width table for the terminal; long cells are cut."""
    cells = [[str(c) if len(str(c)) <= max_width else str(c)[: max_width - 1] + "~" for c in r]
             for r in [list(headers), *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
