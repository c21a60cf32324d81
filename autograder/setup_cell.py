"""The first cell of every notebook: makes it run on Colab, in a local checkout, or from the bundle.

Its text lives here only; a test checks that every source notebook starts with it, and
``python -m autograder release`` writes the configured bundle location into it.
"""

BUNDLE_URL_LINE = "BUNDLE_URL = None  # where the course bundle is published; written by the release"

SETUP_CELL = '''\
# Run this cell first (nothing to edit). It finds the course's `helpers` package: in a local
# checkout of the kit, or else (e.g. on Colab) by downloading the course bundle once.
BUNDLE_URL = None  # where the course bundle is published; written by the release
import importlib.util, os, pathlib, subprocess, sys, urllib.request, zipfile

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

if importlib.util.find_spec("helpers") is None:
    sys.path.insert(0, str(_kit_root()))
'''
