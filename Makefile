# The project's two entry points: `make test` (set up + type-check + tests) and `make run` (the app).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test typecheck pytest run clean

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

# Opens the desktop app; on a machine without a display it says so instead.
run: $(STAMP)
	@if [ "$$(uname)" = Linux ] && [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "No display available: run 'make run' on a desktop, or use the command line: $(BIN)/translator --help"; \
	else \
		$(BIN)/translator-gui; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache
