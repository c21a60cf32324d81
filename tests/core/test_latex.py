"""Notebook markdown as LaTeX: the writeup's question texts."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from helpers.core.latex import escape_text, markdown_to_latex, question_to_latex


def test_special_characters_are_escaped_and_unicode_is_mapped_or_dropped():
    assert escape_text("50% of x_1 & #2 {a} ~ ^") == r"50\% of x\_1 \& \#2 \{a\} \~{} \^{}"
    assert escape_text("ψ → 0, café, 🙂") == r"$\psi$ $\to$ 0, cafe, "
    assert escape_text("a\\b") == r"a\textbackslash{}b"


def test_inline_markup_math_and_code():
    latex = markdown_to_latex("**Bold** and *it* and `col_styles[0]` with $\\psi < 1$ and $ψ$, see [paper](https://x.org/a_b)")
    assert r"\textbf{Bold}" in latex and r"\emph{it}" in latex
    assert r"\texttt{col\_styles[0]}" in latex
    assert r"$\psi < 1$" in latex and r"$\psi $" in latex
    assert r"\href{https://x.org/a_b}{paper}" in latex
    assert "snake_case_name" not in markdown_to_latex("a snake_case_name here")  # underscores escaped, not emphasis
    assert r"snake\_case\_name" in markdown_to_latex("a snake_case_name here")


def test_lists_and_paragraphs():
    latex = markdown_to_latex("Intro line\ncontinued.\n\n- one\n- two `x`\n  more\n\nAfter.")
    assert latex.startswith("Intro line continued.")
    assert "\\begin{itemize}\n\\item one\n\\item two \\texttt{x} more\n\\end{itemize}" in latex
    assert latex.endswith("After.")


def test_question_label_is_left_to_the_heading():
    assert question_to_latex("**Question 2.** Compare the runs.") == "Compare the runs."
    assert question_to_latex("**Question.** Why?") == "Why?"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_hostile_markdown_still_builds(tmp_path):
    body = question_to_latex("**Question.** 100% \\input{x} $$a^2$$ _under_ `a\\b{` ψ≤1 # & ~ [l](u%20#x) ∫")
    (tmp_path / "q.tex").write_text("\\documentclass{article}\\usepackage{hyperref}\\begin{document}\n" + body
                                    + "\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "q.tex"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
