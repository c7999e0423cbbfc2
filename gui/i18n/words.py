"""The app's words for the engine's choices (`translator.choices`): what a menu shows for each
value and its tooltip, translated. The values themselves (what the engine and settings take)
stay as the engine spells them; a value with no entry here shows as it is spelled."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from gui.i18n import QT_TRANSLATE_NOOP

_LABELS: dict[str, str] = {
    "auto": QT_TRANSLATE_NOOP("Choices", "auto"),
    "cpu": QT_TRANSLATE_NOOP("Choices", "cpu"),
    "cuda": QT_TRANSLATE_NOOP("Choices", "cuda"),
    "mps": QT_TRANSLATE_NOOP("Choices", "mps"),
    "off": QT_TRANSLATE_NOOP("Choices", "off"),
    "eval": QT_TRANSLATE_NOOP("Choices", "eval"),
    "reference": QT_TRANSLATE_NOOP("Choices", "reference"),
    "exact": QT_TRANSLATE_NOOP("Choices", "exact"),
    "fast": QT_TRANSLATE_NOOP("Choices", "fast"),
}

_HELP: dict[str, str] = {
    # precisions
    "precision:auto": QT_TRANSLATE_NOOP("Choices", "bf16 where the device computes it natively and it keeps this model's "
                                                   "pictures (checked once), else fp32"),
    "precision:fp32": QT_TRANSLATE_NOOP("Choices", "exact: the reference implementation's pixels"),
    "precision:bf16": QT_TRANSLATE_NOOP("Choices", "faster where the device computes it natively (recent GPUs, CPUs with "
                                                   "AVX512-BF16 or AMX); a little less exact"),
    "precision:fp16": QT_TRANSLATE_NOOP("Choices", "faster on GPUs; a little less exact (the CPU runs fp32 instead)"),
    # inference modes
    "mode:eval": QT_TRANSLATE_NOOP("Choices", "running statistics, no dropout: deterministic (default)"),
    "mode:reference": QT_TRANSLATE_NOOP("Choices", "batch statistics and dropout, as the reference's test.py; "
                                                   "repeatable with a seed"),
    # kinds of training pairs
    "pairs:lineart": QT_TRANSLATE_NOOP("Choices", "clean dark lines on white, like a pencil sketch"),
    "pairs:edges": QT_TRANSLATE_NOOP("Choices", "plain Canny edges, black on white (as the reference's edges2shoes)"),
    "pairs:gray": QT_TRANSLATE_NOOP("Choices", "the photo in gray, for colourising"),
    "pairs:blur": QT_TRANSLATE_NOOP("Choices", "the photo blurred, for sharpening"),
    "pairs:downscale": QT_TRANSLATE_NOOP("Choices", "the photo at a quarter of its resolution, for upscaling"),
}


_TASKS: frozenset[str] = frozenset((  # the zoo catalogue's tasks (`translator.zoo`): what each official model does
    QT_TRANSLATE_NOOP("ZooTasks", "shoe edges → shoe photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "satellite photo → map"),
    QT_TRANSLATE_NOOP("ZooTasks", "map → satellite photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "facade label map → facade photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "day photo → night photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "apple → orange"),
    QT_TRANSLATE_NOOP("ZooTasks", "orange → apple"),
    QT_TRANSLATE_NOOP("ZooTasks", "summer (Yosemite) → winter (Yosemite)"),
    QT_TRANSLATE_NOOP("ZooTasks", "winter (Yosemite) → summer (Yosemite)"),
    QT_TRANSLATE_NOOP("ZooTasks", "horse → zebra"),
    QT_TRANSLATE_NOOP("ZooTasks", "zebra → horse"),
    QT_TRANSLATE_NOOP("ZooTasks", "Monet painting → photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "photo → Monet painting"),
    QT_TRANSLATE_NOOP("ZooTasks", "photo → Cézanne painting"),
    QT_TRANSLATE_NOOP("ZooTasks", "photo → ukiyo-e print"),
    QT_TRANSLATE_NOOP("ZooTasks", "photo → Van Gogh painting"),
    QT_TRANSLATE_NOOP("ZooTasks", "street photo → label map"),
    QT_TRANSLATE_NOOP("ZooTasks", "label map → street photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "facade photo → label map"),
    QT_TRANSLATE_NOOP("ZooTasks", "label map → facade photo"),
    QT_TRANSLATE_NOOP("ZooTasks", "iPhone flower photo → DSLR flower photo"),
))


def label(value: str) -> str:
    """What a menu shows for the engine's `value` (e.g. "auto" → "자동" in Korean)."""
    source = _LABELS.get(value)
    return QCoreApplication.translate("Choices", source) if source is not None else value


def zoo_task(task: str) -> str:
    """The zoo catalogue's `task` in the app's language; a task added to the catalogue since
    shows as the catalogue spells it."""
    return QCoreApplication.translate("ZooTasks", task) if task in _TASKS else task


def help_text(group: str, value: str, fallback: str) -> str:
    """The tooltip for `value` of `group` ("precision", "mode", "pairs"), translated; `fallback`
    (the engine's own English help) for a value added to the engine since."""
    source = _HELP.get(f"{group}:{value}")
    return QCoreApplication.translate("Choices", source) if source is not None else fallback
