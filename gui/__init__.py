"""The PySide6 desktop app. All Qt lives here; the engine (`translator/`) never imports it.

`gui.jobs` is the one bridge from the engine's jobs to Qt signals; `gui.session` holds the UI
state that the widgets observe.
"""
