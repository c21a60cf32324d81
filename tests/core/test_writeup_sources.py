"""The writeup template follows the notebooks: the folders and code listings it reads are the notebooks' own."""

from __future__ import annotations

import re

import nbformat

from autograder.config import load_config
from helpers.core import notebook_format as fmt
from helpers.core.writeup import TEMPLATE

CONFIG = load_config()


def _notebook_text(name: str) -> str:
    nb = nbformat.read(CONFIG.source_notebook(name), 4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_every_folder_the_template_reads_is_a_notebooks_out_folder():
    template = "\n".join(line for line in TEMPLATE.read_text().splitlines() if not line.lstrip().startswith("%"))
    folders = set(re.findall(r"outputs/([A-Za-z0-9_]+)/", template))
    assert folders <= set(CONFIG.assignments), f"not a notebook: {folders - set(CONFIG.assignments)}"
    for name in CONFIG.assignments:
        assert f'OUT = "{fmt.out_folder(name)}"' in _notebook_text(name), name
    assert set(re.findall(r"\\kitcode\{([A-Za-z0-9_]+)\}", template)) <= set(CONFIG.assignments)


def _answers(name: str) -> list[str]:
    nb = nbformat.read(CONFIG.source_notebook(name), 4)
    return [fmt.grade_id(c) for c in nb.cells if c.cell_type == "markdown" and fmt.cell_role(c) == fmt.ANSWER]


def test_every_written_answer_has_its_question_in_the_template_once():
    """The template asks each notebook's questions (text from the notebook), each once, and no other."""
    template = "\n".join(line for line in TEMPLATE.read_text().splitlines() if not line.lstrip().startswith("%"))
    asked = re.findall(r"\\kitquestion\{([A-Za-z0-9_]+)\}\{([A-Za-z0-9_\-]+)\}", template)
    expected = [(name, answer) for name in CONFIG.assignments for answer in _answers(name)]
    assert sorted(asked) == sorted(expected)
    assert "\\begin{question}" not in template.split("\\begin{document}")[1], "a question typed into the template"


def test_every_question_is_the_markdown_cell_before_its_answer():
    from helpers.core.writeup import questions

    for name in CONFIG.assignments:
        nb = nbformat.read(CONFIG.source_notebook(name), 4)
        asked = questions(nb)
        for answer in _answers(name):
            assert re.match(r"\*\*Question( \d+)?\.\*\*", asked.get(answer, "")), (name, answer)
