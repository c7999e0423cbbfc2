# The project's two entry points: `make test` (set up + type-check + tests) and `make run` (the app).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test typecheck pytest run bench weights samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q

test: typecheck pytest

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
	rm -rf $(VENV) .mypy_cache .pytest_cache
