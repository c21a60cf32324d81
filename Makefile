# Two commands on a fresh machine:
#   make all   - set up, render the data, execute every notebook (fast mode), build the student release
#   make test  - set up if needed, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: all setup data notebooks release test lint clean writeup

all: setup data notebooks release

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-local.txt requirements-dev.txt constraints-local.txt scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh

# Re-render the emoji data from the font (byte-identical to the shipped data/emojis.npz for the same font).
data: setup
	@if [ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then $(PY) scripts/build_emoji_data.py; \
	else echo "fonts-noto-color-emoji not installed: using the shipped data/emojis.npz"; fi

notebooks: setup
	$(PY) -m autograder execute

release: setup
	$(PY) -m autograder release

# The writeup PDF (and Overleaf zip) from the executed notebooks' figures and code, in build/writeup/ (runs the
# notebooks first when build/executed/ is missing). Students run `python -m helpers.core.writeup` in their run folder.
writeup: setup
	@[ -d build/executed ] || $(MAKE) notebooks
	rm -f build/writeup/writeup.tex
	$(PY) -m helpers.core.writeup build/writeup --gather build/executed --zip

test: setup
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

lint: setup
	$(PY) -m ruff check helpers autograder tests bench scripts

clean:
	rm -rf build dist outputs
