"""Student identities from the layouts LMSs give (fast: no nbgrader; the notebook is told by a stub)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from autograder.identity import collect, flat_student_id, parse_timestamp
from autograder.roster import Roster

ASSIGNMENTS = ("dcgan", "dqn", "toy_gan")


def which(path: Path) -> str | None:
    """The stub notebook recogniser: a file's text is its notebook's name."""
    text = path.read_text().strip()
    return text if text in ASSIGNMENTS else None


def write(root: Path, relative: str, assignment: str, mtime: float | None = None) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(assignment)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def run(folder: Path, tmp_path: Path, **kwargs):
    got = collect(folder, ASSIGNMENTS, tmp_path / "scratch", which, **kwargs)
    return got, {(s, a): p for s, a, p in got.submissions}


def test_flat_names_keep_working_and_a_nameless_file_names_nobody():
    assert flat_student_id("Copy of alice_dcgan (1).ipynb", ASSIGNMENTS) == "alice"
    assert flat_student_id("Copy of renamed (2).ipynb", ASSIGNMENTS) == "renamed"
    assert flat_student_id("Bob Smith - DCGAN.ipynb", ASSIGNMENTS) == "Bob_Smith"
    assert flat_student_id("mutant_no_tanh.ipynb", ASSIGNMENTS) == "mutant_no_tanh"
    assert flat_student_id("dcgan.ipynb", ASSIGNMENTS) is None
    assert flat_student_id("toy_gan (3).ipynb", ASSIGNMENTS) is None


def test_flat_folder_and_zips(tmp_path):
    folder = tmp_path / "subs"
    write(folder, "alice_dcgan.ipynb", "dcgan")
    write(folder, "Copy of renamed (2).ipynb", "dcgan")
    write(folder, "dcgan.ipynb", "dcgan")  # whose? nobody can tell
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / "zipped.zip", "w") as archive:
        archive.writestr("submission/dcgan.ipynb", "dcgan")
        archive.writestr("__MACOSX/submission/._dcgan.ipynb", "junk")
    with zipfile.ZipFile(folder / "carol_dqn.zip", "w") as archive:
        archive.writestr("dqn.ipynb", "dqn")
    (folder / "bad.zip").write_text("not a zip")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("alice", "dcgan"), ("renamed", "dcgan"), ("zipped", "dcgan"), ("carol", "dqn")}
    assert set(got.errors) == {"dcgan.ipynb", "bad.zip"}
    assert "cannot tell whose" in got.errors["dcgan.ipynb"]
    assert not any("student" == s for s, _ in subs)


def test_nbgrader_layout_with_timestamps_and_inbound(tmp_path):
    folder = tmp_path / "course"
    write(folder, "submitted/alice/dcgan/dcgan.ipynb", "dcgan")
    (folder / "submitted/alice/dcgan/timestamp.txt").write_text("2026-11-30 10:00:00.000000 UTC")
    write(folder, "submitted/bob/dcgan/dcgan.ipynb", "dcgan")
    write(folder, "submitted/bob/dqn/dqn.ipynb", "dqn")
    write(folder, "carol/dcgan/dcgan.ipynb", "dcgan")
    # The exchange's inbound: alice again, later: that one is graded.
    write(folder, "inbound/alice+dcgan+2026-11-30 12:00:00.000000 UTC+abc123/dcgan.ipynb", "dcgan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("alice", "dcgan"), ("bob", "dcgan"), ("bob", "dqn"), ("carol", "dcgan")}
    assert "inbound" in str(subs[("alice", "dcgan")])
    assert len(got.superseded) == 1 and "timestamp 2026-11-30 12:00:00 after 2026-11-30 10:00:00" in got.superseded[0]
    assert not got.errors


def test_a_folder_per_student_and_a_wrapper_of_folders(tmp_path):
    folder = tmp_path / "subs"
    write(folder, "batch/Alice Smith/dcgan.ipynb", "dcgan", mtime=1000)
    write(folder, "batch/Alice Smith/Copy of dcgan (1).ipynb", "dcgan", mtime=2000)  # her later file
    write(folder, "batch/Alice Smith/dqn.ipynb", "dqn")
    write(folder, "batch/bob/work/dcgan.ipynb", "dcgan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("Alice_Smith", "dcgan"), ("Alice_Smith", "dqn"), ("bob", "dcgan")}
    assert subs[("Alice_Smith", "dcgan")].name == "Copy of dcgan (1).ipynb"
    assert len(got.superseded) == 1 and "modified later" in got.superseded[0]


def test_moodle_folders(tmp_path):
    folder = tmp_path / "subs"
    # Two Moodle downloads (two assignments): participant numbers differ per assignment, the name does not.
    write(folder, "dcgan-download/Alice Smith_101_assignsubmission_file_/my dcgan.ipynb", "dcgan")
    write(folder, "dqn-download/Alice Smith_977_assignsubmission_file_/dqn.ipynb", "dqn")
    write(folder, "dcgan-download/Bob Jones_102_assignsubmission_file_/dcgan.ipynb", "dcgan")
    # Two different people named John Lee in one download stay two.
    write(folder, "dcgan-download/John Lee_103_assignsubmission_file_/dcgan.ipynb", "dcgan")
    write(folder, "dcgan-download/John Lee_104_assignsubmission_file_/dcgan.ipynb", "dcgan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("Alice_Smith", "dcgan"), ("Alice_Smith", "dqn"), ("Bob_Jones", "dcgan"),
                         ("John_Lee_103", "dcgan"), ("John_Lee_104", "dcgan")}
    assert got.students["Alice_Smith"]["name"] == "Alice Smith"
    assert got.warnings and "John Lee" in got.warnings[0]


def test_canvas_names_late_or_not(tmp_path):
    folder = tmp_path / "subs"
    write(folder, "smithalice_4242_900_dcgan.ipynb", "dcgan")
    write(folder, "smithalice_LATE_4242_905_dqn-1.ipynb", "dqn")
    write(folder, "smithalice_4242_901_Copy of dqn.ipynb", "dqn")  # an earlier file of the same notebook
    write(folder, "jonesbob_17_950_dcgan.ipynb", "dcgan")
    with zipfile.ZipFile(folder / "leecarol_99_960_submission.zip", "w") as archive:
        archive.writestr("homework/toy_gan.ipynb", "toy_gan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("4242", "dcgan"), ("4242", "dqn"), ("17", "dcgan"), ("99", "toy_gan")}
    assert subs[("4242", "dqn")].name == "smithalice_LATE_4242_905_dqn-1.ipynb"
    assert "Canvas submission id 905 after 901" in got.superseded[0]
    assert got.students["4242"] == {"layout": "canvas", "name": "smithalice", "late": ["dqn"]}


def test_a_whole_bulk_zip_given_as_the_folder(tmp_path):
    bulk = tmp_path / "submissions.zip"
    with zipfile.ZipFile(bulk, "w") as archive:
        archive.writestr("smithalice_4242_900_dcgan.ipynb", "dcgan")
        archive.writestr("jonesbob_17_950_dcgan.ipynb", "dcgan")
    got, subs = run(bulk, tmp_path)
    assert set(subs) == {("4242", "dcgan"), ("17", "dcgan")}


def test_configured_pattern(tmp_path):
    folder = tmp_path / "subs"
    write(folder, "hw_bitdiddle_attempt_2026-01-30-15-00-00_dcgan.ipynb", "dcgan")
    write(folder, "hw_bitdiddle_attempt_2026-01-30-16-00-00_dcgan.ipynb", "dcgan")
    write(folder, "hw_hacker_attempt_2026-01-30-15-30-00_dcgan.ipynb", "dcgan")
    pattern = r".*_(?P<student_id>\w+?)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+)"
    got, subs = run(folder, tmp_path, pattern=pattern)
    assert set(subs) == {("bitdiddle", "dcgan"), ("hacker", "dcgan")}
    assert "16-00-00" in subs[("bitdiddle", "dcgan")].name
    assert parse_timestamp("2026-01-30-16-00-00").hour == 16


def test_case_variants_are_one_student(tmp_path):
    folder = tmp_path / "subs"
    write(folder, "Alice_dcgan.ipynb", "dcgan")
    write(folder, "alice_dqn.ipynb", "dqn")
    write(folder, "alice_toy_gan.ipynb", "toy_gan")
    _, subs = run(folder, tmp_path)
    assert set(subs) == {("alice", "dcgan"), ("alice", "dqn"), ("alice", "toy_gan")}


def test_roster_maps_layout_ids_and_reports_strangers(tmp_path):
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text("ID,Name,Email,Section\ns001,Alice Smith,alice@uni.edu,A\n"
                          "s002,Bob Jones,bjones@uni.edu,B\ns003,Carol Lee,carol@uni.edu,A\n"
                          "s004,John Lee,jlee@uni.edu,B\ns005,John Lee,jlee2@uni.edu,B\n")
    roster = Roster.load(roster_csv)
    assert roster.students["s001"].extra["Section"] == "A"
    folder = tmp_path / "subs"
    write(folder, "Alice Smith_101_assignsubmission_file_/dcgan.ipynb", "dcgan")   # by name
    write(folder, "submitted/bjones/dcgan/dcgan.ipynb", "dcgan")                     # by email's local part
    write(folder, "s003_dcgan.ipynb", "dcgan")                                       # by id
    write(folder, "John Lee_104_assignsubmission_file_/dcgan.ipynb", "dcgan")       # two John Lees: ambiguous
    write(folder, "mallory_dcgan.ipynb", "dcgan")                                    # a stranger
    got, subs = run(folder, tmp_path, roster=roster)
    assert set(subs) == {("s001", "dcgan"), ("s002", "dcgan"), ("s003", "dcgan"), ("John_Lee", "dcgan"),
                         ("mallory", "dcgan")}
    strangers = " ".join(got.not_on_roster)
    assert "mallory" in strangers and "several roster students" in strangers and "s004, s005" in strangers


def test_roster_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nAlice,a@b\n")
    with pytest.raises(ValueError, match="no id column"):
        Roster.load(bad)
    bad.write_text("id,name\na,A\nA,B\n")
    with pytest.raises(ValueError, match="twice"):
        Roster.load(bad)
    ok = tmp_path / "ok.csv"
    ok.write_text("username,First Name,Last Name,Email Address\nal,Alice,Smith,al@x\n")
    student = Roster.load(ok).students["al"]
    assert (student.name, student.email, student.first_last) == ("Alice Smith", "al@x", ("Alice", "Smith"))


# ------------------------------------------------------------------------ links: discovery never follows one

def test_discovery_never_follows_a_link_nor_reads_a_hard_link_or_special_file(tmp_path):
    outside = write(tmp_path, "course/source/dcgan/dcgan.ipynb", "dcgan")  # what a link would make graded
    folder = tmp_path / "subs"
    write(folder, "alice/dcgan.ipynb", "dcgan")
    (folder / "mallory").mkdir()
    (folder / "mallory" / "dcgan.ipynb").symlink_to(outside)
    (folder / "trudy").symlink_to(outside.parent, target_is_directory=True)
    (folder / "eve").mkdir()
    os.link(outside, folder / "eve" / "dcgan.ipynb")
    (folder / "oscar").mkdir()
    os.mkfifo(folder / "oscar" / "dcgan.ipynb")
    write(folder, "bob/dcgan/dcgan.ipynb", "dcgan")
    (folder / "bob" / "dcgan" / "timestamp.txt").symlink_to(outside)  # never read through the link either
    with zipfile.ZipFile(folder / "walter_dcgan.zip", "w") as archive:
        link = zipfile.ZipInfo("dcgan.ipynb")
        link.external_attr = (0o120777 << 16)  # a symbolic link member, as `zip -y` stores one
        archive.writestr(link, str(outside))
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("alice", "dcgan"), ("bob", "dcgan")}
    skipped = "\n".join(got.skipped)
    for name, why in (("mallory/dcgan.ipynb", "symbolic link"), ("trudy", "symbolic link"),
                      ("eve/dcgan.ipynb", "hard link"), ("oscar/dcgan.ipynb", "not a regular file"),
                      ("walter_dcgan.zip:dcgan.ipynb", "symbolic link inside a zip")):
        line = next((s for s in got.skipped if s.startswith(name + ":")), "")
        assert why in line, f"{name} not skipped as {why!r}:\n{skipped}"
    assert not any(p.is_symlink() for p in (tmp_path / "scratch").rglob("*")), "a zip made a link"


# ------------------------------------------------------------- identity from the uploader, never from a zip's inside

# Mallory's upload in each layout (her place), Alice's own upload beside it, and inner paths naming Alice.
UPLOADS = {
    "nbgrader": ("submitted/mallory/dcgan/work.zip", "submitted/alice/dcgan/dcgan.ipynb", "mallory", "alice", None),
    "moodle": ("Mallory Jones_555_assignsubmission_file_/work.zip",
               "Alice Smith_101_assignsubmission_file_/dcgan.ipynb", "Mallory_Jones", "Alice_Smith", None),
    "canvas": ("jonesmallory_77_999_work.zip", "smithalice_4242_900_dcgan.ipynb", "77", "4242", None),
    "folder": ("mallory/work.zip", "alice/dcgan.ipynb", "mallory", "alice", None),
    "pattern": ("hw_mallory_attempt_2026-01-30-15-00-00_dcgan.zip", "hw_alice_attempt_2026-01-30-14-00-00_dcgan.ipynb",
                "mallory", "alice", r"(?P<student_id>[a-z]+)_attempt_(?P<timestamp>[0-9\-]+)"),
    "file name": ("mallory_dcgan.zip", "alice_dcgan.ipynb", "mallory", "alice", None),
}
INSIDE = ("Alice Smith_101_assignsubmission_file_/dcgan.ipynb", "smithalice_4242_999999_dcgan.ipynb",
          "alice/dcgan/dcgan.ipynb", "hw_alice_attempt_2027-12-31-23-59-59_dcgan.ipynb", "alice/dcgan.ipynb",
          "Alice_Smith/dcgan/dcgan.ipynb", "4242/dcgan/dcgan.ipynb")


@pytest.mark.parametrize("layout", sorted(UPLOADS))
@pytest.mark.parametrize("inner", INSIDE)
def test_a_zip_belongs_to_its_uploader_whatever_its_inside_names(tmp_path, layout, inner):
    zip_path, alice_path, mallory, alice, pattern = UPLOADS[layout]
    folder = tmp_path / "subs"
    mine = write(folder, alice_path, "dcgan", mtime=1000)
    (folder / zip_path).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / zip_path, "w") as archive:
        info = zipfile.ZipInfo(inner, date_time=(2027, 12, 31, 23, 59, 59))  # "later" than Alice's file
        archive.writestr(info, "dcgan")
    os.utime(folder / zip_path, (2000, 2000))
    got, subs = run(folder, tmp_path, pattern=pattern)
    assert set(subs) == {(alice, "dcgan"), (mallory, "dcgan")}, got
    assert subs[(alice, "dcgan")] == mine and not got.superseded
    assert inner.split("/")[-1] == subs[(mallory, "dcgan")].name
    # A layout that names a person (Moodle, Canvas, nbgrader, the pattern) is a conflict; a plain folder only when
    # it is another student's id in the batch.
    expected = (inner.startswith("hw_") and pattern is not None) or inner not in ("alice/dcgan.ipynb", INSIDE[3]) \
        or (inner == "alice/dcgan.ipynb" and alice == "alice")
    assert len(got.conflicts) == expected, (layout, inner, got.conflicts)
    assert all(f"uploaded by {mallory}" in c and "a person should check" in c for c in got.conflicts)


def test_a_zip_with_no_uploader_alone_is_never_anyones(tmp_path):
    folder = tmp_path / "subs"
    write(folder, "alice/dcgan.ipynb", "dcgan")
    (folder / "bob").mkdir()
    with zipfile.ZipFile(folder / "bob" / "dcgan.zip", "w") as archive:  # Bob's folder: Bob's, whatever it holds
        archive.writestr("alice/dcgan/dcgan.ipynb", "dcgan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("alice", "dcgan"), ("bob", "dcgan")} and "alice" in got.conflicts[0]


def test_a_bulk_zip_is_read_by_its_layout_and_never_replaces_a_file_from_outside(tmp_path):
    folder = tmp_path / "subs"
    alice = write(folder, "Alice Smith_101_assignsubmission_file_/dcgan.ipynb", "dcgan", mtime=1000)
    with zipfile.ZipFile(folder / "dcgan-download.zip", "w") as archive:  # two students inside: a download
        for who in ("Alice Smith_101", "Bob Jones_102"):
            archive.writestr(zipfile.ZipInfo(f"{who}_assignsubmission_file_/dcgan.ipynb", (2027, 1, 1, 0, 0, 0)),
                             "dcgan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("Alice_Smith", "dcgan"), ("Bob_Jones", "dcgan")}
    assert subs[("Alice_Smith", "dcgan")] == alice and not got.superseded
    assert "dcgan-download.zip" in got.warnings[0] and "only by the inside of dcgan-download.zip" in got.conflicts[0]


def test_an_honest_zip_of_ones_own_folder_is_no_conflict(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    with zipfile.ZipFile(folder / "smithalice_4242_900_submission.zip", "w") as archive:
        archive.writestr("Alice Smith/dcgan/dcgan.ipynb", "dcgan")  # her own name, first-last
        archive.writestr("smithalice_dqn.ipynb", "dqn")
    write(folder, "jonesbob_17_950_dcgan.ipynb", "dcgan")
    got, subs = run(folder, tmp_path)
    assert set(subs) == {("4242", "dcgan"), ("4242", "dqn"), ("17", "dcgan")} and not got.conflicts


def test_the_roster_tells_who_a_zips_inside_names(tmp_path):
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text("id,name,email\ns001,Alice Smith,alice@uni.edu\ns002,Mallory Jones,mj@uni.edu\n")
    folder = tmp_path / "subs"
    (folder / "mj").mkdir(parents=True)
    with zipfile.ZipFile(folder / "mj" / "work.zip", "w") as archive:
        archive.writestr("alice/dcgan.ipynb", "dcgan")  # a folder naming Alice by her email's user name
    write(folder, "mj/dqn.ipynb", "dqn")
    got, subs = run(folder, tmp_path, roster=Roster.load(roster_csv))
    assert set(subs) == {("s002", "dcgan"), ("s002", "dqn")}
    assert len(got.conflicts) == 1 and "names s001" in got.conflicts[0]
