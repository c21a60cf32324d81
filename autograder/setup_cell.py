"""The first cell of every notebook: makes it run on Colab, in a local checkout, or from the bundle.

Its text lives here only; a test checks that every source notebook starts with it, and
``python -m autograder release`` writes the configured bundle location into it.
"""

BUNDLE_URL_LINE = "BUNDLE_URL = None  # where the course bundle is published; written by the release"

SETUP_CELL = '''\
# Run this cell first. It finds the course's `helpers` package: in a local checkout of the kit, or else
# (e.g. on Colab) by downloading the course bundle once.
# On Colab, set KEEP_OUTPUTS_ON_DRIVE = True to keep outputs/ (checkpoints, figures) on your Google Drive:
# a runtime recycled after a long disconnect loses its disk, and a re-run then resumes from Drive.
KEEP_OUTPUTS_ON_DRIVE = False
BUNDLE_URL = None  # where the course bundle is published; written by the release
import importlib.util, os, pathlib, shutil, subprocess, sys, urllib.request, zipfile

def _kit_root():
    for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]:
        if (folder / "helpers" / "__init__.py").is_file():
            return folder
    url = os.environ.get("KIT_BUNDLE_URL") or BUNDLE_URL
    if not url:
        raise RuntimeError("The course helpers were not found: open this notebook inside the kit's folder, "
                           "or set BUNDLE_URL to the course bundle's address.")
    target = pathlib.Path(os.environ.get("KIT_BUNDLE_DIR", pathlib.Path.home() / "gan-rl-kit"))
    if not (target / "helpers" / "__init__.py").is_file():
        print(f"Downloading the course bundle from {url} ...")
        if url.endswith(".git"):
            subprocess.run(["git", "clone", "--depth", "1", url, str(target)], check=True)
        else:
            archive, _ = urllib.request.urlretrieve(url)
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(target)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(target / "requirements.txt")],
                       check=True)
    return target

def _keep_outputs_in(folder):
    """Make ./outputs a link to `folder` (what is already in ./outputs moves there)."""
    folder, here = pathlib.Path(folder).expanduser(), pathlib.Path("outputs")
    folder.mkdir(parents=True, exist_ok=True)
    if here.is_symlink():
        here.unlink()
    elif here.is_dir():
        for item in here.iterdir():
            if not (folder / item.name).exists():
                shutil.move(str(item), str(folder / item.name))
        shutil.rmtree(here)
    here.symlink_to(folder.resolve(), target_is_directory=True)
    print(f"outputs/ is kept in {folder}")

if importlib.util.find_spec("helpers") is None:
    sys.path.insert(0, str(_kit_root()))
_outputs_root = os.environ.get("KIT_OUTPUTS_ROOT")
if KEEP_OUTPUTS_ON_DRIVE and not _outputs_root and not os.environ.get("NBGRADER_EXECUTION"):
    try:
        from google.colab import drive
    except ImportError:
        print("KEEP_OUTPUTS_ON_DRIVE is for Colab: outputs/ stays in this folder.")
    else:
        _drive = os.environ.get("KIT_DRIVE_MOUNT", "/content/drive")
        drive.mount(_drive)
        _outputs_root = f"{_drive}/MyDrive/gan-rl-kit/outputs"
if _outputs_root and not os.environ.get("NBGRADER_EXECUTION"):
    _keep_outputs_in(_outputs_root)
'''
