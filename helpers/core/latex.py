"""Notebook markdown as LaTeX, for the writeup: the question texts come from the notebooks, not a second copy.

Only what the kit's question cells use is understood: ``**bold**``, ``*emphasis*``/``_emphasis_``, ```code```,
``$math$`` and ``$$display math$$`` (kept as they are), ``[text](url)`` links, bullet lists and paragraphs. Every
other character is escaped, and non-ASCII characters become LaTeX (Greek letters, arrows, dashes) or are dropped,
so a question can never break a pdflatex build.
"""

from __future__ import annotations

import re
import unicodedata

# pdflatex with only texlive-latex-base: these characters get a math or text equivalent, others are dropped.
UNICODE_LATEX = {
    "\u2192": r"$\to$", "\u2190": r"$\leftarrow$", "\u00d7": r"$\times$", "\u2264": r"$\le$", "\u2265": r"$\ge$",
    "\u2248": r"$\approx$", "\u00b1": r"$\pm$", "\u2212": "-", "\u2013": "--", "\u2014": "---", "\u2026": r"\dots{}",
    "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''", "\u00a0": "~", "\u00b7": r"$\cdot$",
    "\u03b1": r"$\alpha$", "\u03b2": r"$\beta$", "\u03b3": r"$\gamma$", "\u03b4": r"$\delta$",
    "\u03b5": r"$\epsilon$", "\u03b8": r"$\theta$", "\u03bb": r"$\lambda$", "\u03bc": r"$\mu$",
    "\u03c0": r"$\pi$", "\u03c3": r"$\sigma$", "\u03c8": r"$\psi$", "\u03c4": r"$\tau$",
}
TEXT_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "%": r"\%", "&": r"\&", "_": r"\_",
    "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "$": r"\$",
}
# Inline pieces, tried in this order at each position: display math, math, code, link, bold, emphasis.
INLINE_RE = re.compile(
    r"(?P<dmath>\$\$.+?\$\$)|(?P<math>(?<!\\)\$[^$\n]+?\$)|(?P<code>`[^`\n]+`)"
    r"|\[(?P<text>[^\]\n]+)\]\((?P<url>[^)\s]+)\)|\*\*(?P<bold>.+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\n]+?)\*(?!\*)|(?<![\w_])_(?P<em2>[^_\n]+?)_(?![\w_])",
    re.S,
)
QUESTION_LABEL_RE = re.compile(r"^\s*\*\*Question(?:\s+\d+)?\.\*\*\s*")
BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


def escape_text(text: str) -> str:
    """Plain text as LaTeX: special characters escaped, non-ASCII mapped (see :data:`UNICODE_LATEX`) or dropped."""
    out = []
    for char in text:
        if char in TEXT_SPECIALS:
            out.append(TEXT_SPECIALS[char])
        elif char.isascii():
            out.append(char)
        elif char in UNICODE_LATEX:
            out.append(UNICODE_LATEX[char])
        else:  # an accented letter keeps its letter; anything else is dropped
            out.append("".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii()))
    return "".join(out)


def _ascii_math(math: str) -> str:
    """Math as written, with non-ASCII symbols made commands (``ψ`` in ``$ψ$`` becomes ``\\psi``)."""
    out = []
    for char in math:
        if char.isascii():
            out.append(char)
        elif char in UNICODE_LATEX and UNICODE_LATEX[char].startswith("$"):
            out.append(UNICODE_LATEX[char].strip("$") + " ")
        else:
            out.append("".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii()))
    return "".join(out)


def inline(text: str) -> str:
    """One paragraph's markdown (no block structure) as LaTeX."""
    out, position = [], 0
    for match in INLINE_RE.finditer(text):
        out.append(escape_text(text[position:match.start()]))
        if match.group("dmath"):
            out.append(r"\[" + _ascii_math(match.group("dmath")[2:-2]) + r"\]")
        elif match.group("math"):
            out.append(_ascii_math(match.group("math")))
        elif match.group("code"):
            out.append(r"\texttt{" + escape_text(match.group("code")[1:-1]) + "}")
        elif match.group("url"):
            url = match.group("url").replace("\\", "/").replace("%", r"\%").replace("#", r"\#")
            out.append(r"\href{" + url + "}{" + inline(match.group("text")) + "}")
        elif match.group("bold"):
            out.append(r"\textbf{" + inline(match.group("bold")) + "}")
        else:
            out.append(r"\emph{" + inline(match.group("em") or match.group("em2")) + "}")
        position = match.end()
    out.append(escape_text(text[position:]))
    return "".join(out)


def markdown_to_latex(markdown: str) -> str:
    """A markdown cell as LaTeX: paragraphs, bullet and numbered lists (as itemize), inline markup."""
    blocks, paragraph, items = [], [], []

    def flush() -> None:
        if paragraph:
            blocks.append(inline(" ".join(line.strip() for line in paragraph)))
            paragraph.clear()
        if items:
            blocks.append("\\begin{itemize}\n" + "\n".join(r"\item " + inline(i) for i in items)
                          + "\n\\end{itemize}")
            items.clear()

    for line in markdown.splitlines():
        if not line.strip():
            flush()
        elif BULLET_RE.match(line):
            if paragraph:
                flush()
            items.append(BULLET_RE.sub("", line, count=1).strip())
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            paragraph.append(line.lstrip("#").strip() if line.lstrip().startswith("#") else line)
    flush()
    return "\n\n".join(blocks)


def question_to_latex(markdown: str) -> str:
    """A question cell as LaTeX, without its ``**Question N.**`` label (the writeup's heading numbers it)."""
    return markdown_to_latex(QUESTION_LABEL_RE.sub("", markdown.strip(), count=1))
