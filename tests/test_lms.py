"""Real course exports, graded with the real nbgrader: identities from each LMS layout, a roster, grades back to the
LMS as CSV, and written answers graded in the formgrader from a real (headless) browser.

One course and one grading batch for the module: the reference answers laid out as nbgrader, Canvas and Moodle
give them. The course is the tiny notebook's (tests/tiny_course.py): what these checks are about (whose file is
whose, which file counts, names from the roster, the exports, the formgrader) does not depend on the assignment, and
its submissions grade in seconds through the same grader.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.__main__ import main as autograder_main
from autograder.config import KIT_ROOT
from autograder.grade import grade_folder
from autograder.roster import Roster
from tests.submissions import filled_release
from tests.tiny_course import ADD_ONE_BUG, ANSWERS, FULL, TINY, build_tiny_course

pytestmark = pytest.mark.slow
A = TINY
ROSTER = """id,name,email,SIS User ID,SIS Login ID,Section,ID number
alice,Alice Smith,alice@uni.edu,SIS-A,asmith,Sec 1,1001
4242,Bob Jones,bob@uni.edu,SIS-B,bjones,Sec 1,1002
carol,Carol Lee,carol@uni.edu,SIS-C,clee,Sec 2,1003
dave,Dave Park,dave@uni.edu,SIS-D,dpark,Sec 2,1004
erin,Erin Diaz,erin@uni.edu,SIS-E,ediaz,Sec 2,1005
frank,Frank Ode,frank@uni.edu,SIS-F,fode,Sec 1,1006
"""
# Another LMS's names, told by a [submissions] pattern in kit.toml (named groups as nbgrader's zip_collect takes).
PATTERN = r"(?:^|/)hw_(?P<student_id>[a-z]+)_attempt_(?P<timestamp>[0-9-]+)_"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    made = build_tiny_course(tmp_path_factory, submission_pattern=PATTERN)
    root, config = made["root"], made["config"]
    release, source = root / "release" / A / f"{A}.ipynb", config.source_notebook(A)
    reference = filled_release(release, source)
    bug = filled_release(release, source, ADD_ONE_BUG)  # loses add_one's 2 points
    folder = tmp_path_factory.mktemp("export")

    def put(relative: str, nb) -> None:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / relative)

    put(f"nbgrader/submitted/alice/{A}/{A}.ipynb", reference)
    (folder / f"nbgrader/submitted/alice/{A}/timestamp.txt").write_text("2026-11-30 09:00:00.000000 UTC")
    put(f"canvas/jonesbob_4242_500_{A}.ipynb", nbformat.read(release, 4))       # first hand-in: untouched
    put(f"canvas/jonesbob_LATE_4242_510_{A}-1.ipynb", reference)                 # the later, late one is graded
    put("moodle/Carol Lee_77_assignsubmission_file_/my homework.ipynb", bug)
    put(f"moodle/Mallory Stone_78_assignsubmission_file_/{A}.ipynb", reference)  # not on the roster
    put(f"Erin Diaz/Copy of {A} (1).ipynb", reference)                           # a folder per student
    put(f"other-lms/hw_frank_attempt_2026-11-30-10-00-00_{A}.ipynb", bug)        # the pattern's; the later one
    put(f"other-lms/hw_frank_attempt_2026-11-29-10-00-00_{A}.ipynb", reference)  # is graded
    put(f"{A}.ipynb", reference)                                                  # whose? nobody can tell
    roster_csv = folder.parent / "roster.csv"
    roster_csv.write_text(ROSTER)
    log: list[str] = []
    result = grade_folder(folder, config, root, log=log.append, roster=Roster.load(roster_csv))
    return {"root": root, "result": result, "log": log, "tmp": tmp_path_factory.mktemp("out"),
            "cli": ["--config", str(made["kit_toml"]), "--course-dir", str(root)]}


def test_every_layout_keeps_its_students_identity(graded):
    result = graded["result"]
    assert result["scores"] == {"alice": {A: FULL}, "4242": {A: FULL}, "carol": {A: FULL - 2},
                                "Mallory_Stone": {A: FULL}, "dave": {A: 0.0}, "erin": {A: FULL},
                                "frank": {A: FULL - 2}}, "\n".join(graded["log"])
    assert result["missing"] == [f"dave/{A}"]
    assert list(result["errors"]) == [f"{A}.ipynb"] and "cannot tell whose" in result["errors"][f"{A}.ipynb"]
    superseded = sorted(result["superseded"])
    assert len(superseded) == 2 and f"jonesbob_4242_500_{A}.ipynb" in superseded[0]
    assert "hw_frank_attempt_2026-11-29" in superseded[1] and "timestamp 2026-11-30 10:00:00" in superseded[1]
    assert len(result["not_on_roster"]) == 1 and "Mallory_Stone" in result["not_on_roster"][0]
    assert result["students"]["4242"]["late"] == [A]
    assert result["files"][f"carol/{A}"].endswith("my homework.ipynb")
    assert result["similar"] == [], "identical reference answers are not evidence of copying"
    with Gradebook(f"sqlite:///{graded['root'] / 'gradebook.db'}") as gb:
        names = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
    assert names["alice"] == ("Alice", "Smith", "alice@uni.edu")
    assert names["dave"] == ("Dave", "Park", "dave@uni.edu")
    assert names["Mallory_Stone"][:2] == ("Mallory", "Stone")
    assert (graded["root"] / "roster.csv").read_text().splitlines()[0].endswith("ID number")


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_writes_canvas_and_moodle_imports_with_manual_grades(graded):
    root = graded["root"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grade = gb.find_grade(ANSWERS[0], A, A, "alice")
        grade.manual_score = 2.0
        gb.db.commit()
    target = graded["tmp"] / "grades.csv"
    assert autograder_main([*graded["cli"], "export", "--to", str(target)]) == 0
    assert target.read_text().startswith("assignment,")
    canvas = (graded["tmp"] / "grades-canvas.csv").read_text().splitlines()
    assert canvas[0] == f"Student,ID,SIS User ID,SIS Login ID,Section,{A},Final Points"
    assert canvas[1] == "Points Possible,,,,,15,15"
    rows = {r["ID"]: r for r in _rows(graded["tmp"] / "grades-canvas.csv")[1:]}
    assert rows["alice"] == {"Student": "Smith, Alice", "ID": "alice", "SIS User ID": "SIS-A",
                             "SIS Login ID": "asmith", "Section": "Sec 1", A: "11", "Final Points": "11"}
    assert rows["dave"][A] == "0" and rows["carol"][A] == "7" and rows["4242"]["Section"] == "Sec 1"
    assert list(rows)[:6] == ["alice", "4242", "carol", "dave", "erin", "frank"], "roster order first"
    assert rows["erin"][A] == "9" and rows["frank"]["SIS User ID"] == "SIS-F"
    moodle = {r["Username"]: r for r in _rows(graded["tmp"] / "grades-moodle.csv")}
    assert list(next(iter(moodle.values()))) == ["First name", "Last name", "Username", "ID number", "Email address",
                                                 A, "Total"]
    assert moodle["alice"]["ID number"] == "1001" and moodle["alice"]["Email address"] == "alice@uni.edu"
    assert moodle["alice"][A] == "11" and moodle["Mallory_Stone"][A] == "9"


def test_grade_command_reports_identities(graded, tmp_path, capsys):
    folder = tmp_path / "subs"
    (folder / "gina").mkdir(parents=True)
    release = graded["root"] / "release" / A / f"{A}.ipynb"
    shutil.copy(release, folder / "gina" / f"Copy of {A} (1).ipynb")
    shutil.copy(release, folder / f"Copy of {A}.ipynb")
    assert autograder_main([*graded["cli"], "grade", str(folder)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("gina") for line in out) and out[-2].startswith("similar submissions")
    import json

    result = json.loads(out[-1])
    assert result["scores"] == {"gina": {A: 0.0}} and list(result["errors"]) == [f"Copy of {A}.ipynb"]


@pytest.mark.skipif(CHROMIUM is None or not os.path.exists(CHROMEDRIVER),
                    reason="Debian's chromium and chromium-driver are not installed (scripts/setup.sh installs them "
                           "when run as root): the formgrader browser test needs them")
def test_written_answer_graded_in_the_formgrader_from_a_browser(graded):
    selenium = pytest.importorskip("selenium", reason="selenium is not installed (requirements-dev.txt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from autograder.formgrader import Formgrader, submission_url

    assert selenium
    root = graded["root"]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1800", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 # Only the loopback interface: any other host fails to resolve.
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    comment = "Clear and to the point (formgrader test)"
    screenshot = KIT_ROOT / "build" / "formgrader-manual-grading.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with Formgrader(root, log=graded["tmp"] / "formgrader.log") as server:
        assert server.base.startswith("http://127.0.0.1:")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_page_load_timeout(60)
            driver.get(server.url)  # logs in with the token
            WebDriverWait(driver, 30).until(lambda d: "/formgrader" in d.current_url and "token" not in d.current_url)
            driver.get(submission_url(server.base, root, A, "4242"))
            score = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, ANSWERS[1]))
            # The page binds its inputs once it has fetched the grades and comments. (Its MathJax, from a CDN, does
            # not load here: the browser reaches 127.0.0.1 only, and the grading page works without it.)
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                "return !!(window.formgrader && formgrader.grades && formgrader.grades.loaded"
                " && formgrader.comments && formgrader.comments.loaded)"))
            score.clear()
            score.send_keys("1.5", Keys.TAB)
            box = driver.find_element(By.ID, f"{ANSWERS[1]}-comment")
            box.clear()
            box.send_keys(comment, Keys.TAB)

            def saved(_driver) -> bool:
                with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
                    got = gb.find_grade(ANSWERS[1], A, A, "4242").manual_score
                    note = gb.find_comment(ANSWERS[1], A, A, "4242").manual_comment
                return got == 1.5 and note == comment

            WebDriverWait(driver, 30).until(saved)
            driver.save_screenshot(str(screenshot))
        finally:
            driver.quit()
    assert server.proc.poll() is not None, "the server is stopped"
    assert screenshot.stat().st_size > 10_000
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "4242").score == FULL + 1.5
    target = graded["tmp"] / "after-formgrader.csv"
    assert autograder_main([*graded["cli"], "export", "--to", str(target)]) == 0
    rows = {r["ID"]: r for r in _rows(graded["tmp"] / "after-formgrader-canvas.csv")[1:]}
    assert rows["4242"][A] == "10.5"
    assert autograder_main([*graded["cli"], "feedback"]) == 0
    feedback = (root / "feedback" / "4242" / A / f"{A}.html").read_text()
    assert comment in feedback and "10.5" in feedback
