"""The app's languages: English (the source strings) and Korean (`translator_ko.qm`, built from
`translator_ko.ts` by `python -m gui.i18n.update`).

`install(app, language)` loads the app's translation and Qt's own (standard dialog buttons) for
`language` and makes it the default locale; it must run before any widget is created, since
widgets translate their texts when they are built. The choice is stored in QSettings under
`KEY_LANGUAGE` ("system", "en" or "ko"); a change applies at the next start (the app asks for
no live re-translation of every widget).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QSettings, QTranslator

log = logging.getLogger(__name__)

FOLDER = Path(__file__).resolve().parent
KEY_LANGUAGE = "view/language"
SYSTEM = "system"
LANGUAGES: tuple[str, ...] = ("en", "ko")
"""The languages the app ships, English first (its source language)."""
SETTINGS_CHOICES: tuple[str, ...] = (SYSTEM, *LANGUAGES)

_installed: list[QTranslator] = []  # kept alive while installed (Qt holds only a pointer)
_current = "en"


def resolve(setting: object, system: QLocale | None = None) -> str:
    """The language to show for a stored `setting`: "en" or "ko" as chosen, else (system, or an
    unknown value) the system locale's language when the app ships it, else English."""
    if setting in LANGUAGES:
        return str(setting)
    if setting not in (None, SYSTEM):
        log.warning("settings: ignoring %s=%r (choose one of %s)", KEY_LANGUAGE, setting, ", ".join(SETTINGS_CHOICES))
    locale = system if system is not None else QLocale.system()
    return "ko" if locale.language() == QLocale.Language.Korean else "en"


def stored_setting(settings: QSettings) -> str:
    """The stored choice ("system", "en" or "ko"); "system" when absent or unknown."""
    value = settings.value(KEY_LANGUAGE)
    return str(value) if value in SETTINGS_CHOICES else SYSTEM


def install(app: QCoreApplication, language: str) -> str:
    """Show the app in `language` ("en" or "ko") from now on: remove the translators installed
    before, load the app's and Qt's for `language`, and set the default locale (numbers, dialogs).
    A missing translation file is logged and the app stays in English; returns the language shown."""
    global _current
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    _current = "en"
    if language == "en":
        QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
        return _current
    ours = QTranslator(app)
    if not ours.load(str(FOLDER / f"translator_{language}.qm")):
        log.warning("no translation for %r in %s; showing English", language, FOLDER)
        return _current
    qt = QTranslator(app)
    if qt.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        app.installTranslator(qt)
        _installed.append(qt)
    app.installTranslator(ours)
    _installed.append(ours)
    QLocale.setDefault(QLocale(language))
    _current = language
    return _current


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # noqa: N802 (the name lupdate looks for)
    """Marks `text` for translation in `context` where it is defined (a module constant) and
    returns it unchanged; `QCoreApplication.translate(context, text)` translates it where it is
    shown. (PySide6's own is typed as returning `object`.)"""
    return text


def fill(template: str, *values: object) -> str:
    """`template` (a translated string) with %1, %2, … replaced by `values`, in one pass (a value
    that itself contains "%2" is left as it is), like Qt's QString.arg."""
    return re.sub(r"%(\d+)", lambda m: str(values[int(m.group(1)) - 1]) if 0 < int(m.group(1)) <= len(values)
                  else m.group(0), template)


def current() -> str:
    """The language installed last ("en" until `install` loads another)."""
    return _current
