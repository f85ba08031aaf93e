# Vision Beyond Classification: one Makefile for students, instructors and CI.
# Needs Python 3.10+ with pip and venv, and make. Everything else is installed into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
MASTERS := $(wildcard course/[0-9][0-9]_*.py)
SUBMISSIONS ?= submissions
TIMEOUT ?= 300
JOBS ?= 1

.PHONY: install lab test lint unit notebooks browser sandbox site student check-student grade bench data clean

install: $(STAMP)

# Reinstall when the dependency list changes. torch/torchvision come from whatever pip
# resolves (CPU or CUDA build); the kernel is registered inside the venv so Jupyter, nbval
# and otter all run this Python.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (visioncourse)"
	touch $(STAMP)

# --allow-root only when run as root (containers), where JupyterLab otherwise refuses to start.
lab: install
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root,) course/student

test: install sandbox lint unit check-student notebooks

lint: install
	$(BIN)/ruff check lib tests tools data_scripts course/[0-9][0-9]_*.py
	$(BIN)/ruff format --check lib tests tools data_scripts

unit: install
	$(BIN)/pytest -m "not notebook" -q

# Masters (solution versions) executed top to bottom in fast mode into build/executed (the
# site's pages), student versions run with every exercise unfinished, then the slow tests:
# grading a folder of perfect, partial, crashing, looping and non-notebook submissions, the
# website built from the executed masters, and chapter 00 in a real browser.
# The student runs see stand-in photos (tools/stand_in_photos.py) where the real datasets
# would be, so the real-photo cells run too; the masters, which become the site's pages, run
# without them and show the "not downloaded" message.
STAND_IN := $(CURDIR)/build/stand_in_photos
NBVAL := COURSE_MODE=fast VISIONCOURSE_DATA=$(STAND_IN) $(BIN)/pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=300 -p no:cacheprovider

notebooks: install browser
	COURSE_MODE=fast $(PY) tools/site.py execute
	rm -rf $(STAND_IN) && $(PY) tools/stand_in_photos.py $(STAND_IN)
	@# one notebook at a time, and a second try for one that fails: a kernel and its client can
	@# both wait on a message neither sends (see tools/site.py); a real failure fails twice
	@for nb in course/student/*/*.ipynb; do \
	  $(NBVAL) $$nb || { echo "$$nb failed; running it once more"; $(NBVAL) $$nb; } || exit 1; \
	done
	$(BIN)/pytest -m notebook -q

# The browser test needs Chromium: Debian's package where apt-get works (as root), else the
# test skips and says why. Playwright drives it and downloads no browser of its own.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	        echo "could not install chromium (offline?): the browser test will be skipped"; \
	    else echo "no chromium and no way to install it here: the browser test will be skipped"; fi; }

# The course website (build/site/html/index.html): the executed solution notebooks, offline.
site: install
	COURSE_MODE=fast $(PY) tools/site.py build

student: install
	$(PY) tools/course.py student

check-student: install
	$(PY) tools/course.py check

# Each submission is graded in a bubblewrap sandbox (see the README's instructor section).
# UNSAFE=1 grades without one, where bubblewrap cannot run.
grade: install sandbox
	$(PY) tools/course.py grade $(SUBMISSIONS) --timeout $(TIMEOUT) --jobs $(JOBS) $(if $(UNSAFE),--unsafe,)

# bubblewrap for the grading sandbox: Debian's package where apt-get works (as root); else
# `make grade` refuses and says why, and the sandbox tests are skipped.
sandbox:
	@command -v bwrap >/dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || \
	        echo "could not install bubblewrap (offline?): grading needs it or UNSAFE=1"; \
	    else echo "no bubblewrap (bwrap) and no way to install it here: grading needs it or UNSAFE=1"; fi; }

bench: install
	$(PY) -m visioncourse.data.bench

# Optional real photos: make data NAME=pennfudan | oxford_pets | voc2007 (see data_scripts/).
# Any other NAME gets the list of datasets from the command itself (not a Python traceback).
data: install
	@test -n "$(NAME)" || { echo "usage: make data NAME=pennfudan|oxford_pets|voc2007 [ARGS=--trust-unverified]"; exit 2; }
	$(PY) -m visioncourse.data.real $(NAME) $(ARGS)

clean:
	rm -rf build .pytest_cache .ruff_cache
