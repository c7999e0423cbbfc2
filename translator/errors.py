"""Exception types the engine raises.

Every message names the file (or setting) at fault, what is wrong and what to do, so the CLI and
the GUI can show it to a user as it is, without a traceback.
"""
from __future__ import annotations


class TranslatorError(Exception):
    """Base of every error the engine raises on purpose."""


class ImageError(TranslatorError):
    """An image file could not be read or written."""


class UnsupportedImage(ImageError):
    """The file is an image (or claims to be) in a format or mode the tool cannot handle."""


class CheckpointError(TranslatorError):
    """A model file or reference checkpoint is unreadable, unsafe, or of an unknown layout."""


class ArchitectureMismatch(CheckpointError):
    """A state dict does not fit the architecture its card (or the caller) describes."""


class JobCancelled(TranslatorError):
    """A job was cancelled through its cancel token."""


class OutputError(TranslatorError):
    """The output folder cannot take any more files (disk full, read-only, deleted): the job stops,
    keeping every output finished so far."""


class BadName(TranslatorError, ValueError):
    """A name that becomes a file name (a model's) is not one plain path component. Also a
    `ValueError`, as a name the caller passed is a bad argument."""
