"""The engine never imports Qt (or the GUI): it must run on a headless server, installed without
the `gui` extra, and its tests must run there too."""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "shiboken6", "pytestqt")


def test_engine_is_qt_free() -> None:
    code = (
        "import sys, translator.cli, translator.inference, translator.evaluation, translator.reference; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'gui'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_engine_module_and_the_cli_work_where_pyside6_cannot_be_imported() -> None:
    # `sys.modules[name] = None` makes `import name` fail, as in an install without the gui extra.
    code = (
        "import sys, pkgutil, importlib, translator\n"
        "for name in ('PySide6', 'shiboken6'): sys.modules[name] = None\n"
        "for m in pkgutil.walk_packages(translator.__path__, 'translator.'):\n"
        "    if m.name != 'translator.__main__': importlib.import_module(m.name)\n"
        "from translator.cli import main\n"
        "sys.exit(main(['inspect', sys.argv[1]]))\n"
    )
    ref = ROOT / "tests" / "data" / "reference" / "unet_128_ngf8_batch_dropout_net_G.pth"
    proc = subprocess.run([sys.executable, "-c", code, str(ref)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "unet_128" in proc.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_tests_import_no_qt() -> None:
    """tests/engine runs in a virtualenv without PySide6 or pytest-qt (`make test`): none of its
    files, nor the shared tests/conftest.py, may import them. The one module of gui/ they use is
    `gui.launch`, `make run`'s Qt-free launcher (its headless path is an engine feature)."""
    files = [ROOT / "tests" / "conftest.py", *sorted((ROOT / "tests" / "engine").rglob("*.py"))]
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in QT or (name.split(".")[0] == "gui" and name not in ("gui", "gui.launch"))
    }
    assert not bad, sorted(bad)


def test_the_plain_install_pulls_in_no_qt() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]

    def qt(requirements: list[str]) -> list[str]:
        return [r for r in requirements if r.lower().startswith(("pyside6", "pytest-qt", "shiboken6"))]

    assert not qt(project["dependencies"])  # pip install image-translator: engine + CLI
    assert not qt(extras["test"])  # the engine tests' virtualenv
    assert qt(extras["gui"]) and qt(extras["gui-test"])
