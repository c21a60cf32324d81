"""The writeup: from the notebooks' saved figures and the student's code to a PDF, or to an Overleaf project.

Run it in the folder where the notebooks ran (the one holding ``outputs/``)::

    python -m helpers.core.writeup          # writeup.tex (copied from the template once), code listings, PDF
    python -m helpers.core.writeup --zip    # also writeup-overleaf.zip, a drop-in Overleaf project

In a notebook (e.g. on Colab, where the notebook file itself is not on the runtime's disk)::

    from helpers.core.writeup import writeup
    writeup(pdf=False, zip=True)       # extract this notebook's code and download the Overleaf zip

What it does: it copies ``writeup_template.tex`` to ``writeup.tex`` unless that exists (the student writes their
answers there); writes each graded code cell of every notebook it finds to ``outputs/<notebook>/code/<grade_id>.py``
and a ``listings.tex`` that the template includes; writes each written answer's question (the markdown cell
before it) as ``outputs/<notebook>/code/question-<grade_id>.tex`` for the template's ``\\kitquestion``; joins
each numbered series of sample grids or frames (``samples/sample-000200.png``, ...) into one
``<series>_over_training.png``; then runs latexmk and prints where the PDF is. A figure that is missing shows in
the PDF as a box naming the notebook cell that makes it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from helpers.core.latex import question_to_latex
from helpers.core.notebook_format import (
    BEGIN_HIDDEN_TESTS,
    CODE_MARKER_RE,
    MARKER_RE,
    OUT_RE,
    OUTPUTS_DIR,
    SOLUTION_LINE_RE,
    cell_source,
    is_test_id,
    nbgrader_metadata,
)
from helpers.core.runtime import KIT_ROOT, is_grading

TEMPLATE = KIT_ROOT / "writeup_template.tex"
WRITEUP_NAME = "writeup.tex"
ZIP_NAME = "writeup-overleaf.zip"
BUILD_DIR = ".writeup-build"  # latexmk's auxiliary files, inside the run folder
MONTAGE_FRAMES = 5
DEFINITION_RE = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.M)
SERIES_RE = re.compile(r"^([A-Za-z_]+)-(\d+)\.png$")  # sample-000200.png, frame-000010.png
# What goes into the Overleaf zip from outputs/: figures and the extracted code, not checkpoints or GIFs.
ZIP_SUFFIXES = {".png", ".jpg", ".jpeg", ".pdf", ".py", ".tex"}


@dataclass
class Listing:
    """One graded code cell of a notebook: its nbgrader ``grade_id``, what it defines, and the code."""

    grade_id: str
    title: str
    code: str


def read_notebook(path: str | Path) -> dict:
    """A notebook file as a JSON dict; a clear error when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    try:
        nb = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a notebook (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no list of cells)")
    return nb


def notebook_name(nb: dict, path: str | Path | None = None) -> str:
    """The notebook's name, from the ``OUT = "outputs/<name>"`` line of its imports cell."""
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            match = OUT_RE.search(cell_source(cell))
            if match:
                return match.group(1)
    where = f" {path}" if path else ""
    raise ValueError(f"notebook{where} has no line OUT = \"outputs/<name>\": is it one of the course's notebooks?")


def _graded_id(cell: dict) -> str | None:
    """The grade id of a student code cell (nbgrader ``solution: true``), else None.

    A cell whose metadata was stripped is recognised by its first-line ``#| kit: <grade_id>`` marker; the
    markers of test cells (``test_...``, or holding hidden tests) are skipped.
    """
    if cell.get("cell_type") != "code":
        return None
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and "solution" in meta:
        return meta.get("grade_id") if meta.get("solution") else None
    lines = cell_source(cell).lstrip().splitlines()
    match = CODE_MARKER_RE.match(lines[0]) if lines else None
    if not match or is_test_id(match.group(1)) or BEGIN_HIDDEN_TESTS in cell_source(cell):
        return None
    return match.group(1)


def _clean_code(source: str) -> str:
    """The code as shown in the PDF: no marker or solution-delimiter lines, tabs expanded, ASCII only.

    pdflatex's verbatim and listings cannot typeset arbitrary Unicode: accents are dropped and any other
    character is written as its Python escape (``\\u2192``), so no student's comment can break the build.
    """
    lines = [line.expandtabs(4).rstrip() for line in source.splitlines()
             if not CODE_MARKER_RE.match(line) and not SOLUTION_LINE_RE.match(line)]
    text = "\n".join(lines).strip("\n")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c if c.isascii() and (c.isprintable() or c == "\n") else f"\\u{ord(c):04x}" for c in text)


def graded_code_cells(nb: dict) -> list[Listing]:
    """The student's graded code cells of ``nb`` in notebook order; of a duplicated cell, the last copy."""
    found: dict[str, Listing] = {}
    for cell in nb["cells"]:
        grade_id = _graded_id(cell)
        if grade_id:
            code = _clean_code(cell_source(cell))
            found.pop(grade_id, None)  # a later copy replaces an earlier one and takes its place in the order
            found[grade_id] = Listing(grade_id, ", ".join(DEFINITION_RE.findall(code)), code)
    return list(found.values())


def write_listings(name: str, listings: list[Listing], outputs: Path) -> Path:
    """Write ``outputs/<name>/code/<grade_id>.py`` per listing and the ``listings.tex`` that includes them."""
    code_dir = outputs / name / "code"
    code_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"% Made by python -m helpers.core.writeup from {name}.ipynb: its graded code cells, in notebook order."]
    for listing in listings:
        (code_dir / f"{listing.grade_id}.py").write_text(listing.code + "\n", encoding="ascii")
        title = "" if listing.title == listing.grade_id else listing.title  # no "Cell get_action: get_action"
        lines.append(f"\\kitlisting{{{listing.grade_id}}}{{{title}}}"
                     f"{{outputs/{name}/code/{listing.grade_id}.py}}")
    if not listings:
        lines.append(f"\\kitmissing{{No graded code cell found in {name}.ipynb.}}")
    target = code_dir / "listings.tex"
    target.write_text("\n".join(lines) + "\n", encoding="ascii")
    return target


def _answer_id(cell: dict) -> str | None:
    """The grade id of a written-answer cell (markdown, nbgrader ``solution: true`` or its kit marker), else None."""
    if cell.get("cell_type") != "markdown":
        return None
    meta = nbgrader_metadata(cell)
    if "solution" in meta:
        return meta.get("grade_id") if meta.get("solution") else None
    match = MARKER_RE.match(cell_source(cell).lstrip())
    return match.group(1) if match else None


def questions(nb: dict) -> dict[str, str]:
    """``{answer grade id: question markdown}``: each written answer's question is the markdown cell just before it.

    The writeup prints these texts (``\\kitquestion{notebook}{grade id}``), so a question is written once, in its
    notebook.
    """
    found, cells = {}, nb["cells"]
    for before, cell in zip(cells, cells[1:]):
        answer = _answer_id(cell)
        if answer and before.get("cell_type") == "markdown" and _answer_id(before) is None:
            found[answer] = cell_source(before).strip()
    return found


def write_questions(name: str, asked: dict[str, str], outputs: Path) -> list[Path]:
    """Write ``outputs/<name>/code/question-<grade id>.tex`` for each question (LaTeX from its markdown)."""
    code_dir = outputs / name / "code"
    code_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for answer, markdown in asked.items():
        target = code_dir / f"question-{answer}.tex"
        target.write_text(f"% Made by python -m helpers.core.writeup from {name}.ipynb (the cell before {answer}).\n"
                          + question_to_latex(markdown) + "\n", encoding="ascii")
        written.append(target)
    return written


def colab_notebook() -> dict | None:
    """The notebook running in this Colab session (its file is not on the runtime's disk), or None elsewhere."""
    if "google.colab" not in sys.modules:
        return None
    from google.colab import _message  # Colab's own front-end API, the way Colab's tools read the notebook

    return _message.blocking_request("get_ipynb", request="", timeout_sec=120)["ipynb"]


def extract_code(notebooks: list[Path | dict], outputs: Path) -> dict[str, Path]:
    """Write the listings and question texts of each notebook (a path, or a notebook dict); returns
    ``{name: listings.tex}``."""
    written = {}
    for notebook in notebooks:
        nb = notebook if isinstance(notebook, dict) else read_notebook(notebook)
        name = notebook_name(nb, None if isinstance(notebook, dict) else notebook)
        written[name] = write_listings(name, graded_code_cells(nb), outputs)
        write_questions(name, questions(nb), outputs)
    return written


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def progress_montage(frames: list[Path], target: Path, count: int = MONTAGE_FRAMES) -> Path:
    """One image of ``count`` evenly spaced frames (first and last included), each labelled with its number."""
    if not frames:
        raise ValueError(f"no frames to join into {target}")
    frames = sorted(frames, key=lambda p: int(SERIES_RE.match(p.name).group(2)))
    shown = min(count, len(frames))
    picks = sorted({round(i * (len(frames) - 1) / max(shown - 1, 1)) for i in range(shown)})
    images = [Image.open(frames[i]).convert("RGB") for i in picks]
    height = images[0].height
    images = [im.resize((max(1, round(im.width * height / im.height)), height)) for im in images]
    label_height, gap = max(16, height // 10), max(4, height // 40)
    sheet = Image.new("RGB", (sum(im.width for im in images) + gap * (len(images) - 1), height + label_height),
                      "white")
    draw, font, x = ImageDraw.Draw(sheet), _font(round(label_height * 0.8)), 0
    for i, image in zip(picks, images):
        sheet.paste(image, (x, label_height))
        number = int(SERIES_RE.match(frames[i].name).group(2))
        draw.text((x + image.width // 2, label_height // 2), f"{number:,}", fill="black", font=font, anchor="mm")
        x += image.width + gap
    target.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(target)
    return target


def make_montages(outputs: Path) -> list[Path]:
    """``<series>_over_training.png`` beside every folder of numbered frames under ``outputs``."""
    made = []
    for folder in sorted({p.parent for p in outputs.rglob("*.png") if SERIES_RE.match(p.name)}):
        frames = [p for p in folder.glob("*.png") if SERIES_RE.match(p.name)]
        made.append(progress_montage(frames, folder.parent / f"{folder.name}_over_training.png"))
    return made


def _notebooks_in(folder: Path) -> list[Path]:
    """The course notebooks in ``folder`` (files without an ``OUT = "outputs/..."`` line are not)."""
    found = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            notebook_name(read_notebook(path), path)
        except ValueError:
            continue
        found.append(path)
    return found


def gather(sources: list[Path], run_dir: Path) -> list[Path]:
    """Copy the figures of executed-notebook folders (each holding ``outputs/`` and the executed ``.ipynb``,
    like ``build/executed/<notebook>/``) into ``run_dir/outputs``; returns their notebooks."""
    notebooks = []
    for source in sources:
        if not source.is_dir():
            raise FileNotFoundError(f"folder not found: {source}")
        folders = [source] if (source / OUTPUTS_DIR).is_dir() else sorted(p for p in source.iterdir()
                                                                        if (p / OUTPUTS_DIR).is_dir())
        if not folders:
            raise FileNotFoundError(f"no outputs/ folder in {source} or its sub-folders: run the notebooks first")
        for folder in folders:
            for file in (folder / OUTPUTS_DIR).rglob("*"):
                if file.is_file() and file.suffix.lower() in ZIP_SUFFIXES:
                    target = run_dir / file.relative_to(folder)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, target)
            notebooks += _notebooks_in(folder)
    return notebooks


def prepare(run_dir: Path, notebooks: list[Path | dict] | None = None, template: Path = TEMPLATE) -> Path:
    """Everything but the PDF: ``writeup.tex`` (from ``template`` when missing), code listings, montages.

    ``notebooks`` default to the course notebooks in ``run_dir`` (and on Colab, the running notebook).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    writeup_tex = run_dir / WRITEUP_NAME
    if not writeup_tex.exists():
        if not Path(template).is_file():
            raise FileNotFoundError(f"writeup template not found: {template}")
        shutil.copyfile(template, writeup_tex)
        print(f"Created {writeup_tex} from the template: write your answers there.")
    if notebooks is None:
        notebooks = list(_notebooks_in(run_dir))
        if not notebooks and (current := colab_notebook()) is not None:
            notebooks = [current]
    outputs = run_dir / OUTPUTS_DIR
    for name, listings in extract_code(notebooks, outputs).items():
        print(f"{name}: code listings in {listings.parent}")
    if not notebooks and not list(outputs.glob("*/code/listings.tex")):
        print(f"No course notebook found in {run_dir}: the PDF shows no code (pass --notebook NOTEBOOK.ipynb).")
    if outputs.is_dir():
        make_montages(outputs)
    return writeup_tex


def _first_error(log: Path) -> str:
    """The first LaTeX error of a log file with the lines after it, for a readable failure."""
    if not log.is_file():
        return ""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("!") or re.match(r"^\S+\.tex:\d+: ", line)]
    return "\n".join(lines[starts[0]:starts[0] + 6]) if starts else "\n".join(lines[-15:])


def build_pdf(writeup_tex: Path) -> Path:
    """Run latexmk on ``writeup_tex`` in its folder (where ``outputs/`` is) and return the PDF beside it."""
    writeup_tex = Path(writeup_tex).resolve()
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        raise FileNotFoundError("latexmk not found: install it (Debian, Ubuntu, Colab: apt-get install -y latexmk "
                                "texlive-latex-base texlive-latex-recommended), or upload the Overleaf zip "
                                "(python -m helpers.core.writeup --zip) to Overleaf")
    folder, build = writeup_tex.parent, writeup_tex.parent / BUILD_DIR
    # -g: a figure that appeared since the last run changes the document without latexmk knowing.
    command = [latexmk, "-pdf", "-g", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
               f"-outdir={build}", writeup_tex.name]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    built = build / writeup_tex.with_suffix(".pdf").name
    if done.returncode != 0 or not built.is_file():
        log = build / writeup_tex.with_suffix(".log").name
        raise RuntimeError(f"latexmk failed on {writeup_tex} (log: {log}):\n{_first_error(log)}")
    pdf = writeup_tex.with_suffix(".pdf")
    shutil.copyfile(built, pdf)
    return pdf


def overleaf_zip(run_dir: Path, target: Path | None = None) -> Path:
    """A zip that is a drop-in Overleaf project: ``writeup.tex`` and the figures and code under ``outputs/``.

    Numbered frames (``samples/sample-000200.png``, ...) go in only when ``writeup.tex`` names them: the
    ``*_over_training.png`` montage shows them, and all of them would exceed Overleaf's upload limits.
    """
    run_dir = Path(run_dir)
    writeup_tex = run_dir / WRITEUP_NAME
    if not writeup_tex.is_file():
        raise FileNotFoundError(f"{writeup_tex} not found: run prepare() (python -m helpers.core.writeup) first")
    text = writeup_tex.read_text(encoding="utf-8", errors="replace")
    target = Path(target) if target else run_dir / ZIP_NAME
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(writeup_tex, WRITEUP_NAME)
        for file in sorted((run_dir / OUTPUTS_DIR).rglob("*")):
            name = file.relative_to(run_dir).as_posix()
            if not file.is_file() or file.suffix.lower() not in ZIP_SUFFIXES:
                continue
            if SERIES_RE.match(file.name) and name not in text:
                continue
            archive.write(file, name)
    return target


def writeup(run_dir: str | Path = ".", notebooks: list[str | Path | dict] | None = None, pdf: bool = True,
            zip: bool = False, download: bool = True) -> dict[str, Path]:
    """Prepare the writeup in ``run_dir``, build the PDF and/or the Overleaf zip; returns their paths.

    On Colab the zip is also offered as a download (``download=True``). Does nothing while nbgrader grades.
    """
    if is_grading():
        print("Grading: no writeup is made.")
        return {}
    run_dir = Path(run_dir)
    paths = [nb if isinstance(nb, dict) else Path(nb) for nb in notebooks] if notebooks is not None else None
    made = {"tex": prepare(run_dir, paths)}
    if zip:
        made["zip"] = overleaf_zip(run_dir)
        print(f"Overleaf project: {made['zip'].resolve()} (Overleaf: New Project -> Upload Project)")
        if download and "google.colab" in sys.modules:
            from google.colab import files

            files.download(str(made["zip"]))
    if pdf:
        made["pdf"] = build_pdf(made["tex"])
        print(f"PDF: {made['pdf'].resolve()}")
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.core.writeup", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?", default=".", type=Path,
                        help="the folder where the notebooks ran, holding outputs/ (default: here)")
    parser.add_argument("--notebook", action="append", type=Path, default=None,
                        help="a notebook to take the code from (repeatable; default: the course notebooks in "
                             "RUN_DIR)")
    parser.add_argument("--gather", action="append", type=Path, default=[],
                        help="copy outputs/ and notebooks from this folder of executed notebooks (e.g. "
                             "build/executed) into RUN_DIR first (repeatable)")
    parser.add_argument("--zip", action="store_true", help=f"also write {ZIP_NAME}, a drop-in Overleaf project")
    parser.add_argument("--no-pdf", action="store_true", help="do not run latexmk")
    args = parser.parse_args(argv)
    try:
        notebooks = args.notebook
        if args.gather:
            notebooks = (notebooks or []) + gather(args.gather, args.run_dir)
        writeup(args.run_dir, notebooks, pdf=not args.no_pdf, zip=args.zip)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
