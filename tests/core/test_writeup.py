"""The writeup: code extraction, montages, the Overleaf zip, and PDFs built with latexmk (read back with poppler)."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from helpers.core import writeup
from helpers.core.runtime import KIT_ROOT

DCGAN_NOTEBOOK = KIT_ROOT / "notebooks" / "dcgan.ipynb"
HAS_LATEX = all(shutil.which(tool) for tool in ("latexmk", "pdflatex", "pdftotext", "pdfimages"))
needs_latex = pytest.mark.skipif(not HAS_LATEX, reason="latexmk/pdflatex/poppler-utils not installed "
                                                       "(scripts/setup.sh installs them)")


def figure_slots(tex: str) -> int:
    """How many \\kitfigure / \\kitpanel figure slots ``tex`` has outside comments."""
    return len(re.findall(r"^[^%\n]*\\kit(?:panel|figure)(?:\[[^\]]*\])?\{outputs/", tex, re.M))


TEMPLATE_TEXT = writeup.TEMPLATE.read_text()
FIGURE_SLOTS = figure_slots(TEMPLATE_TEXT)
GRADED_SLOTS = figure_slots(TEMPLATE_TEXT.split("\n\\ifshowlabtoygan\n")[0])  # the labs' sections come last
DCGAN_FIGURES = 16  # real emojis; losses, SWD and samples montage of each of the five runs
ALL_LABS = r"\showlabtoygantrue\showlabdigitstrue\showlabimageganstrue\showlabfacestrue"


def code_cell(source: str, nbgrader: dict | None = None) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"nbgrader": nbgrader} if nbgrader else {},
            "outputs": [], "execution_count": None}


def notebook(*cells: dict, name: str = "dcgan") -> dict:
    imports = code_cell(f'from helpers import pick_device\nOUT = "outputs/{name}"')
    return {"cells": [imports, *cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def pdf_image_count(pdf: Path) -> int:
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in listing.splitlines()[2:] if line.split()[2] == "image")  # not the alpha masks


# ---- extracting the graded code ---------------------------------------------------------------------------------

def test_source_notebook_gives_its_solution_cells_without_delimiters():
    listings = writeup.graded_code_cells(writeup.read_notebook(DCGAN_NOTEBOOK))
    assert [x.grade_id for x in listings] == ["generator", "training_step"]
    assert listings[0].title == "DCGenerator"
    assert listings[1].title == "discriminator_step, generator_step, training_iteration"
    assert all("### BEGIN SOLUTION" not in x.code and "### END SOLUTION" not in x.code for x in listings)
    assert "def forward(self, z" in listings[0].code


def test_cells_that_lost_their_metadata_are_found_by_their_kit_marker():
    nb = notebook(
        code_cell("#| kit: generator\nclass DCGenerator:\n    pass  # first try"),
        code_cell("#| kit: test_generator\nassert True"),
        code_cell("#| kit: training_step\n# YOUR CODE HERE\nraise NotImplementedError()",
                  {"grade": False, "solution": False, "grade_id": "training_step"}),  # metadata says: not graded
        {"cell_type": "markdown", "source": "<!-- kit: answer_gp -->\nPenalty.", "metadata": {}},
        code_cell("#| kit: generator\nclass DCGenerator:\n\tpass  # second try \u2192 caf\u00e9"),
        code_cell("print('scratch')"),
    )
    listings = writeup.graded_code_cells(nb)
    assert [x.grade_id for x in listings] == ["generator"], "tests, answers and ungraded cells are not code"
    assert listings[0].code == "class DCGenerator:\n    pass  # second try \\u2192 cafe", "last copy, ASCII, no tabs"


def test_listings_are_written_as_python_files_and_a_tex_index(tmp_path):
    nb = notebook(code_cell("def get_action(agent, state, epsilon):\n    return 0",
                            {"solution": True, "grade": False, "grade_id": "get_action"}), name="dqn")
    index = writeup.extract_code([nb], tmp_path / "outputs")["dqn"]
    assert index == tmp_path / "outputs" / "dqn" / "code" / "listings.tex"
    assert (index.parent / "get_action.py").read_text() == "def get_action(agent, state, epsilon):\n    return 0\n"
    assert r"\kitlisting{get_action}{}{outputs/dqn/code/get_action.py}" in index.read_text(), "no title = id"


def test_notebook_name_comes_from_the_out_line_and_bad_files_are_named(tmp_path):
    assert writeup.notebook_name(notebook(name="toy_gan")) == "toy_gan"
    with pytest.raises(ValueError, match="OUT"):
        writeup.notebook_name({"cells": [code_cell("x = 1")]}, "scratch.ipynb")
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match="broken.ipynb is not a notebook"):
        writeup.read_notebook(tmp_path / "broken.ipynb")
    with pytest.raises(FileNotFoundError, match="missing.ipynb"):
        writeup.read_notebook(tmp_path / "missing.ipynb")


# ---- figures, gathering, the zip --------------------------------------------------------------------------------

def save_frames(folder: Path, iterations: list[int], size: int = 20) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, it in enumerate(iterations):
        path = folder / f"sample-{it:06d}.png"
        Image.new("RGB", (size, size), (10 * k, 255 - 10 * k, 0)).save(path)
        paths.append(path)
    return paths


def test_montage_shows_evenly_spaced_frames_from_first_to_last(tmp_path):
    frames = save_frames(tmp_path / "run" / "samples", [0, 100, 200, 300, 400, 500, 600, 700, 800])
    made = writeup.make_montages(tmp_path)
    assert made == [tmp_path / "run" / "samples_over_training.png"]
    sheet = Image.open(made[0]).convert("RGB")
    gap = 4
    assert sheet.width == 5 * 20 + 4 * gap
    # Frames 0, 2, 4, 6, 8 of nine, left to right, under the label band.
    for column, k in enumerate([0, 2, 4, 6, 8]):
        assert sheet.getpixel((column * (20 + gap) + 10, sheet.height - 5)) == (10 * k, 255 - 10 * k, 0)
    two = writeup.progress_montage(frames[:2], tmp_path / "two.png")
    assert Image.open(two).width == 2 * 20 + gap, "with fewer frames than slots, each shows once"


def test_gather_copies_figures_of_executed_notebooks_not_checkpoints(tmp_path):
    executed = tmp_path / "executed" / "dcgan"
    (executed / "outputs" / "dcgan" / "vanilla").mkdir(parents=True)
    (executed / "outputs" / "dcgan" / "vanilla" / "losses.png").write_bytes(b"png")
    (executed / "outputs" / "dcgan" / "vanilla" / "checkpoint.pt").write_bytes(b"pt")
    shutil.copy(DCGAN_NOTEBOOK, executed / "dcgan.ipynb")
    (executed / "scratch.ipynb").write_text('{"cells": []}')
    notebooks = writeup.gather([tmp_path / "executed"], tmp_path / "writeup")
    assert notebooks == [executed / "dcgan.ipynb"]
    assert (tmp_path / "writeup" / "outputs" / "dcgan" / "vanilla" / "losses.png").read_bytes() == b"png"
    assert not (tmp_path / "writeup" / "outputs" / "dcgan" / "vanilla" / "checkpoint.pt").exists()
    with pytest.raises(FileNotFoundError, match="no outputs/ folder"):
        writeup.gather([tmp_path / "writeup" / "outputs"], tmp_path / "elsewhere")


def test_overleaf_zip_holds_the_writeup_figures_and_code_but_not_every_frame(tmp_path):
    run = tmp_path / "run"
    save_frames(run / "outputs" / "dcgan" / "vanilla" / "samples", [3, 6, 9])
    (run / "outputs" / "dcgan" / "vanilla" / "checkpoint.pt").write_bytes(b"pt")
    (run / "outputs" / "dcgan" / "vanilla" / "samples.gif").write_bytes(b"gif")
    writeup.prepare(run, [DCGAN_NOTEBOOK])
    writeup_tex = run / "writeup.tex"
    writeup_tex.write_text(writeup_tex.read_text().replace(
        r"\end{document}", r"\kitfigure{outputs/dcgan/vanilla/samples/sample-000006.png}{x}" "\n" r"\end{document}"))
    names = set(zipfile.ZipFile(writeup.overleaf_zip(run)).namelist())
    assert names == {"writeup.tex", "outputs/dcgan/vanilla/samples_over_training.png",
                     "outputs/dcgan/vanilla/samples/sample-000006.png", "outputs/dcgan/code/listings.tex",
                     "outputs/dcgan/code/generator.py", "outputs/dcgan/code/training_step.py",
                     *(f"outputs/dcgan/code/question-{a}.tex" for a in ("answer_vanilla", "answer_gp",
                                                                        "answer_experiments"))}


def test_prepare_keeps_the_students_writeup(tmp_path):
    (tmp_path / "writeup.tex").write_text("my answers")
    writeup.prepare(tmp_path, [])
    assert (tmp_path / "writeup.tex").read_text() == "my answers"


def test_nothing_is_made_while_nbgrader_grades(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert writeup.writeup(tmp_path / "run", zip=True) == {}
    assert not (tmp_path / "run").exists()


def test_command_line_names_a_missing_notebook(tmp_path, capsys):
    assert writeup.main([str(tmp_path), "--notebook", str(tmp_path / "nope.ipynb"), "--no-pdf"]) == 1
    assert "nope.ipynb" in capsys.readouterr().err


# ---- PDFs ---------------------------------------------------------------------------------------------------------

@needs_latex
def test_builds_with_no_figures_and_no_code(tmp_path):
    writeup_tex = writeup.prepare(tmp_path, [])
    writeup_tex.write_text(writeup_tex.read_text().replace(r"\begin{document}", ALL_LABS + r"\begin{document}"))
    pdf = writeup.build_pdf(writeup_tex)
    assert pdf == tmp_path / "writeup.pdf"
    text = pdf_text(pdf)
    for section in ["DCGAN on emojis", "StyleGAN2", "Deep Q-learning on CartPole", "Lab: GAN training dynamics",
                    "Lab: a GAN for one digit", "Lab: vanilla GAN and DCGAN", "Lab: a face GAN",
                    "Question 1: the vanilla DCGAN", "Question 3: style mixing",
                    "Question 2: exploration, hyperparameters"]:
        assert section in text, f"section {section!r} missing"
    assert text.count("Missing figure") == FIGURE_SLOTS > 30
    assert text.count("Missing code") == 7, "one box per notebook without code"
    assert "made by: dcgan, Experiment 1" in text, "the placeholder names the cell that makes the figure"
    assert pdf_image_count(pdf) == 0


@needs_latex
@pytest.mark.parametrize("plain", [False, True], ids=["listings", "verbatim"])
def test_code_listings_build_with_listings_and_with_plain_verbatim(tmp_path, plain):
    if not plain and not subprocess.run(["kpsewhich", "listings.sty"], capture_output=True, text=True).stdout:
        pytest.skip("listings.sty not installed (texlive-latex-recommended)")
    awkward = code_cell("#| kit: training_step\ndef training_iteration():\n    # a long line: " + "x" * 150 +
                        "\n    return '{}_%$#&~^\\\\' # \u03b3 \u2192 \u00e9\n")
    listings = writeup.graded_code_cells(writeup.read_notebook(DCGAN_NOTEBOOK))[:1]
    listings += writeup.graded_code_cells(notebook(awkward))
    writeup.write_listings("dcgan", listings, tmp_path / "outputs")
    writeup_tex = writeup.prepare(tmp_path, [])
    if plain:
        writeup_tex.write_text(r"\def\kitplainlistings{}" + writeup_tex.read_text())
    text = pdf_text(writeup.build_pdf(writeup_tex))
    assert "Cell generator: DCGenerator" in text
    assert "class DCGenerator(nn.Module):" in text and "return torch.tanh(self.stage4(out))" in text
    assert "Cell training_step: training_iteration" in text
    assert "\\u03b3 \\u2192 e" in text
    assert text.count("Missing code") == 2, "stylegan2 and dqn have no code here"


@needs_latex
def test_a_latex_error_is_reported_with_its_line(tmp_path):
    (tmp_path / "writeup.tex").write_text(r"\documentclass{article}\begin{document}" "\n" r"\undefinedmacro" "\n"
                                          r"\end{document}")
    with pytest.raises(RuntimeError, match=r"writeup.tex:2: Undefined control sequence"):
        writeup.build_pdf(tmp_path / "writeup.tex")


@pytest.fixture(scope="module")
def executed_dcgan(executed_notebooks, tmp_path_factory) -> Path:
    """notebooks/dcgan.ipynb (the reference solution) executed in fast mode; its folder holds outputs/."""
    run = tmp_path_factory.mktemp("dcgan-run") / "dcgan"
    shutil.copytree(executed_notebooks / "dcgan", run)
    return run


@pytest.mark.slow
@needs_latex
def test_pdf_and_overleaf_zip_from_the_reference_solution(executed_dcgan, capsys):
    assert writeup.main([str(executed_dcgan), "--zip"]) == 0
    out = capsys.readouterr().out
    pdf = executed_dcgan / "writeup.pdf"
    assert f"PDF: {pdf.resolve()}" in out
    text = pdf_text(pdf)
    for expected in ["DCGAN on emojis", "Question 1: the vanilla DCGAN", "Question 2: the gradient penalty",
                     "Question 3: spectral normalisation", "Cell generator: DCGenerator",
                     "Cell training_step: discriminator_step, generator_step, training_iteration",
                     "fakes = G(noise).detach()", "100 training emojis"]:
        assert expected in text, f"{expected!r} missing from the PDF"
    assert pdf_image_count(pdf) == DCGAN_FIGURES
    assert text.count("Missing figure") == GRADED_SLOTS - DCGAN_FIGURES, "every DCGAN figure is in, no lab shows"
    assert "made by: dcgan" not in text

    # The zip is a drop-in project: unpacked anywhere, latexmk alone builds the same document.
    project = executed_dcgan.parent / "overleaf"
    zipfile.ZipFile(executed_dcgan / writeup.ZIP_NAME).extractall(project)
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "writeup.tex"], cwd=project,
                   capture_output=True, check=True)
    assert pdf_image_count(project / "writeup.pdf") == DCGAN_FIGURES
    assert "fakes = G(noise).detach()" in pdf_text(project / "writeup.pdf")


@pytest.mark.slow
@needs_latex
def test_the_writeup_of_every_notebooks_fast_run_misses_no_section_question_or_figure(executed_notebooks,
                                                                                       tmp_path):
    """From every notebook's fast-mode outputs (as ``make writeup`` does): every section, every question (its
    text from the notebook), every figure slot filled, every graded code cell listed."""
    from autograder.config import load_config
    from helpers.core.latex import QUESTION_LABEL_RE

    run = tmp_path / "writeup"
    assert writeup.main([str(run), "--gather", str(executed_notebooks)]) == 0
    text = pdf_text(run / "writeup.pdf")
    flat = " ".join(text.split())
    assert "Missing figure" not in text, re.findall(r"Missing figure\s+(\S+)", text)
    assert "Missing code" not in text and "appears here once" not in text
    assert pdf_image_count(run / "writeup.pdf") >= FIGURE_SLOTS
    for name in load_config().assignments:
        nb = writeup.read_notebook(executed_notebooks / name / f"{name}.ipynb")
        assert re.sub(r"[^a-z0-9]", "", f"{name}.ipynb") in re.sub(r"[^a-z0-9]", "", flat), f"no section for {name}"
        for listing in writeup.graded_code_cells(nb):
            assert f"Cell {listing.grade_id}" in flat, (name, listing.grade_id)
        for answer, question in writeup.questions(nb).items():
            words = re.sub(r"[^a-z0-9]", "", " ".join(QUESTION_LABEL_RE.sub("", question).split()[:4]).lower())
            assert words in re.sub(r"[^a-z0-9]", "", flat.lower()), f"{name}: question of {answer} not in the PDF"
