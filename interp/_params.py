"""Validation declared once per function, as a table (scikit-learn's ``_parameter_constraints``).

A public function states what each parameter accepts in one dict and is decorated with
:func:`validate_params`; the decorator checks every argument against the table *before* the function
does any work, and raises the named error of :mod:`interp.errors` saying what was wrong, what is
allowed and what was given. The same table is read by the CLI (its choices and its checks before a
model loads), by the explorer's pages (their select boxes) and by ``tests/test_common.py`` (which
derives one bad value per constraint kind from it)::

    @validate_params({
        "model": ["model"],
        "prompt": ["text"],
        "layers": [Layers(allow_embed=True), None],
        "top_k": [Interval(int, 1, 51)],
        "unit": [Options(UNITS)],
    })
    def logit_lens(model, prompt, *, layers=None, top_k=5, unit="token"): ...

    constraints_of(logit_lens)["top_k"]  # [Interval(int, 1, 51, closed='left')]

A parameter's entry is a list of constraints, any one of which suffices. A constraint is one of:

- a :class:`Constraint` instance: :class:`Interval`, :class:`Options`, :class:`Subset`, :class:`Layer`,
  :class:`Layers`, :class:`Texts`, :class:`Text`, :class:`ModelArg`, :class:`InstanceOf`;
- ``None`` (the value ``None``), a class (an instance of it), or a name: ``"model"`` (an :class:`interp.Model`),
  ``"text"`` (one non-empty string), ``"texts"`` (a non-empty string or list of them), ``"boolean"``,
  ``"callable"``, ``"path"`` (a str or ``os.PathLike``), ``"progress"`` (None, a bool or a callable) and
  ``"no_validation"`` (anything; the function checks it itself).

Every parameter of a decorated function must have an entry (a forgotten one raises at import), and the
defaults must satisfy the table (``tests/test_common.py`` checks it).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from interp._validation import check_choice, check_layer, check_texts, parse_layers
from interp.errors import InvalidParameterError, LayerIndexError, choices_text

__all__ = ["Attr", "Constraint", "Interval", "Options", "Subset", "Layer", "Layers", "Text", "Texts", "ModelArg",
           "InstanceOf", "ListOf", "make_constraint", "validate_params", "constraints_of", "options_of", "check_param",
           "check_args"]

_CONSTRAINTS_ATTR = "__interp_constraints__"


class Constraint:
    """One thing a parameter may be. Subclasses say whether a value satisfies it and how to describe it."""

    error: type[Exception] = InvalidParameterError
    kind: str = "constraint"  # the name test_common.py keys its generated bad values on

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def claims(self, value: Any) -> bool:
        """Whether ``value`` is of the kind this constraint is about (then its own message is the clearest)."""
        return False

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        """Raise this constraint's error when ``value`` does not satisfy it; ``also`` names the other accepted values."""
        if not self.is_satisfied_by(value, context):
            allowed = _join([self.describe(), *also])
            raise self.error(f"The {name!r} parameter of {where} must be {allowed}. Got {_given(value)} instead.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _given(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    if isinstance(value, (str, int, float, list, tuple, type(None), bool)):
        return text
    return f"{text} of type {type(value).__name__}"


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Attr:
    """An interval bound read from another argument when the call is checked: ``Attr("d_vocab", of="self", plus=1)``
    is ``self.d_vocab + 1`` (a model's vocabulary size, known only once the model is)."""

    def __init__(self, name: str, *, of: str = "model", plus: int = 0):
        self.name, self.of, self.plus = name, of, plus

    def resolve(self, context: Mapping[str, Any]) -> float | None:
        owner = context.get(self.of)
        value = getattr(owner, self.name, None)
        return None if value is None else value + self.plus

    def __repr__(self) -> str:
        return f"{self.of}.{self.name}" + (f" + {self.plus}" if self.plus else "")


class Interval(Constraint):
    """A number of type ``int`` or ``float`` (a float parameter also takes ints) between ``left`` and ``right``.

    ``closed`` is ``"left"`` ([left, right), the default), ``"right"``, ``"both"`` or ``"neither"``; a bound of
    ``None`` is unbounded. ``Interval(int, 1, None)`` is "an int >= 1", ``Interval(float, 0, 1, closed="neither")``
    "a float in (0, 1)".
    """

    kind = "interval"

    def __init__(self, type: type, left: float | None, right: float | None, *, closed: str = "left"):  # noqa: A002
        if type not in (int, float):
            raise TypeError(f"Interval type must be int or float. Got {type!r}.")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"Interval closed must be 'left', 'right', 'both' or 'neither'. Got {closed!r}.")
        self.type, self.left, self.right, self.closed = type, left, right, closed

    def claims(self, value: Any) -> bool:
        return _is_real(value) if self.type is float else _is_int(value)

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        if not self.claims(value) or (self.type is float and math.isnan(float(value))):
            return False
        left, right = self.bounds(context)
        left_ok = left is None or (value >= left if self.closed in ("left", "both") else value > left)
        right_ok = right is None or (value <= right if self.closed in ("right", "both") else value < right)
        return left_ok and right_ok

    def bounds(self, context: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        """``(left, right)``, an :class:`Attr` bound read from ``context`` (left as it is without one)."""
        def one(bound: Any) -> Any:
            return bound.resolve(context) if isinstance(bound, Attr) and context is not None else bound

        return one(self.left), one(self.right)

    def describe(self, context: Mapping[str, Any] | None = None) -> str:
        noun = "an int" if self.type is int else "a float"
        lo_closed, hi_closed = self.closed in ("left", "both"), self.closed in ("right", "both")
        left, right = self.bounds(context)
        if left is not None and right is not None:
            return f"{noun} in {'[' if lo_closed else '('}{left}, {right}{']' if hi_closed else ')'}"
        if left is not None:
            return f"{noun} {'>=' if lo_closed else '>'} {left}"
        if right is not None:
            return f"{noun} {'<=' if hi_closed else '<'} {right}"
        return noun

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if not self.is_satisfied_by(value, context):
            allowed = _join([self.describe(context), *also])
            raise self.error(f"The {name!r} parameter of {where} must be {allowed}. Got {_given(value)} instead.")

    def __repr__(self) -> str:
        return f"Interval({self.type.__name__}, {self.left}, {self.right}, closed={self.closed!r})"


class Options(Constraint):
    """One of a set of values. ``choices`` may be a zero-argument callable (read when checked: a registry)."""

    kind = "options"

    def __init__(self, choices: Iterable[Any] | Callable[[], Iterable[Any]], *, error: type[Exception] | None = None,
                 noun: str | None = None, deprecated: Iterable[Any] = ()):
        self._choices = choices if callable(choices) else tuple(choices)
        self.noun = noun  # "attribution method": "Unknown attribution method: 'x'. Available methods: ..." (inseq)
        self.deprecated = tuple(deprecated)  # old names still accepted (the function warns), never listed
        if error is not None:
            self.error = error

    @property
    def choices(self) -> tuple[Any, ...]:
        return tuple(self._choices()) if callable(self._choices) else self._choices

    def claims(self, value: Any) -> bool:
        return isinstance(value, str) or any(type(value) is type(c) for c in self.choices)

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        try:
            return value in self.choices or value in self.deprecated
        except TypeError:  # unhashable compared to a set-like
            return False

    def describe(self) -> str:
        return f"one of {choices_text(self.choices)}"

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if self.is_satisfied_by(value, context):
            return
        if also:
            super().check(value, name=name, where=where, context=context, also=also)
        if self.noun:
            raise self.error(self.unknown(value, name=name, where=where))
        check_choice(value, self.choices, name=name, where=where, error=self.error)  # with its "Did you mean"

    def unknown(self, value: Any, *, name: str, where: str) -> str:
        """"Unknown <noun>: 'x'. Available <noun>s: ... (the 'name' parameter of where)." and a close match."""
        close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        plural = self.noun.split()[-1] + "s"
        return (f"Unknown {self.noun}: {value!r}. Available {plural}: {choices_text(self.choices)} "
                f"(the {name!r} parameter of {where}).{hint}")

    def __repr__(self) -> str:
        return f"Options({self.choices!r})"


class Subset(Constraint):
    """A non-empty list (or tuple) of values each one of ``choices``; with ``single=True`` also one value alone."""

    kind = "subset"

    def __init__(self, choices: Iterable[Any] | Callable[[], Iterable[Any]], *, single: bool = False,
                 noun: str | None = None, deprecated: Iterable[Any] = ()):
        self._options = Options(choices, noun=noun, deprecated=deprecated)
        self.single = single

    @property
    def choices(self) -> tuple[Any, ...]:
        return self._options.choices

    def claims(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) or (self.single and isinstance(value, str))

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        if self.single and self._options.is_satisfied_by(value):
            return True
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
            return False
        return all(self._options.is_satisfied_by(v) for v in value)

    def describe(self) -> str:
        if self.single:
            return f"one of {choices_text(self.choices)}, or a non-empty list of them"
        return f"a non-empty list drawn from {choices_text(self.choices)}"

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if self.is_satisfied_by(value, context):
            return
        wrong = ""
        if self.single and isinstance(value, str) and self._options.noun:
            raise self.error(self._options.unknown(value, name=name, where=where))
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            unknown = [v for v in value if not self._options.is_satisfied_by(v)]
            if unknown and self._options.noun:
                raise self.error(self._options.unknown(unknown[0], name=name, where=where))
            wrong = f" ({choices_text(unknown)} {'is' if len(unknown) == 1 else 'are'} not allowed)" if unknown else ""
        raise self.error(f"The {name!r} parameter of {where} must be {_join([self.describe(), *also])}. "
                         f"Got {_given(value)} instead{wrong}.")

    def __repr__(self) -> str:
        return f"Subset({self.choices!r}, single={self.single})"


def _model_of(context: Mapping[str, Any], param: str) -> Any:
    model = context.get(param)
    return model if _looks_like_model(model) else None


def _looks_like_model(value: Any) -> bool:
    return hasattr(value, "n_layers") and hasattr(value, "tokenizer") and not isinstance(value, type)


class Layer(Constraint):
    """A layer index of the model in parameter ``model``: [0, n_layers) or, with ``allow_embed``, [0, n_layers]
    (0 the embeddings); negative counts from the end. Raises :class:`LayerIndexError` (the message of
    :func:`interp._validation.check_layer`)."""

    kind = "layer"
    error = LayerIndexError

    def __init__(self, *, allow_embed: bool = True, model: str = "model"):
        self.allow_embed, self.model = allow_embed, model

    def claims(self, value: Any) -> bool:
        return _is_int(value)

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        if not _is_int(value):
            return False
        model = _model_of(context, self.model)
        if model is None:
            return True
        high = model.n_layers + (1 if self.allow_embed else 0)
        return -high <= value < high

    def describe(self) -> str:
        return "a layer index (an int; 0 = the embeddings)" if self.allow_embed else "a block index (an int)"

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if self.is_satisfied_by(value, context):
            return
        model = _model_of(context, self.model)
        if model is None or not _is_int(value):
            if also:
                raise InvalidParameterError(f"The {name!r} parameter of {where} must be "
                                            f"{_join(['an int', *also])}. Got {_given(value)} instead.")
            check_layer(value, 1, where=where, name=name)  # raises the type message
        check_layer(value, model.n_layers, where=where, name=name, allow_embed=self.allow_embed)

    def __repr__(self) -> str:
        return f"Layer(allow_embed={self.allow_embed})"


class Layers(Constraint):
    """A layer selection as :func:`interp._validation.parse_layers` reads it ("all", an int, a list, "0,3,6",
    "0:31:3"), each layer in the model's range (as :class:`Layer`)."""

    kind = "layers"
    error = LayerIndexError

    def __init__(self, *, allow_embed: bool = True, model: str = "model", text: bool = True):
        self.allow_embed, self.model, self.text = allow_embed, model, text

    def claims(self, value: Any) -> bool:
        return True

    def _parse(self, value: Any, name: str, where: str) -> str | list[int]:
        if not self.text and (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value
                              or not all(_is_int(v) for v in value)):
            raise InvalidParameterError(f"The {name!r} parameter of {where} must be {self.describe()}. "
                                        f"Got {_given(value)} instead.")
        return parse_layers(value, where=where, name=name)

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        try:
            layers = self._parse(value, "layers", "f")
        except InvalidParameterError:
            return False
        model = _model_of(context, self.model)
        if layers == "all" or model is None:
            return True
        high = model.n_layers + (1 if self.allow_embed else 0)
        return all(-high <= layer < high for layer in layers)

    def describe(self) -> str:
        if not self.text:
            return "a non-empty list of ints"
        return "'all', a layer, a list of layers, '0,3,6' or 'start:stop[:step]'"

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if self.is_satisfied_by(value, context):
            return
        layers = self._parse(value, name, where)  # raises InvalidParameterError on a bad form
        model = _model_of(context, self.model)
        for layer in layers:
            check_layer(layer, model.n_layers, where=where, name=name, allow_embed=self.allow_embed)

    def __repr__(self) -> str:
        return f"Layers(allow_embed={self.allow_embed}, text={self.text})"


class Texts(Constraint):
    """A non-empty string or a non-empty list of them (:func:`interp._validation.check_texts`: an empty one raises
    :class:`EmptyPromptError`)."""

    kind = "texts"

    def claims(self, value: Any) -> bool:
        return isinstance(value, (str, list, tuple))

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        try:
            check_texts(value, where="f")
        except InvalidParameterError:
            return False
        return True

    def describe(self) -> str:
        return "a non-empty str or a non-empty list of them"

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if self.is_satisfied_by(value, context):
            return
        if also and not self.claims(value):
            super().check(value, name=name, where=where, context=context, also=also)
        check_texts(value, where=where, name=name)

    def __repr__(self) -> str:
        return "Texts()"


class Text(Texts):
    """One non-empty string (an empty or all-whitespace one raises :class:`EmptyPromptError`)."""

    kind = "text"

    def claims(self, value: Any) -> bool:
        return isinstance(value, str)

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        return isinstance(value, str) and super().is_satisfied_by(value, context)

    def describe(self) -> str:
        return "a non-empty str"

    def check(self, value: Any, *, name: str, where: str, context: Mapping[str, Any], also: Sequence[str] = ()) -> None:
        if self.is_satisfied_by(value, context):
            return
        if not isinstance(value, str):
            Constraint.check(self, value, name=name, where=where, context=context, also=also)
        check_texts(value, where=where, name=name)

    def __repr__(self) -> str:
        return "Text()"


class ModelArg(Constraint):
    """An :class:`interp.Model` (anything with ``n_layers`` and ``tokenizer``: a loaded model)."""

    kind = "model"

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        return _looks_like_model(value)

    def describe(self) -> str:
        return "an interp.Model (from interp.load_model)"

    def __repr__(self) -> str:
        return "ModelArg()"


class InstanceOf(Constraint):
    """An instance of one of ``types`` (``bool`` is not taken as an int)."""

    kind = "type"

    def __init__(self, *types: type, name: str | None = None):
        self.types, self.name = types, name

    def claims(self, value: Any) -> bool:
        return False

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        if isinstance(value, bool) and bool not in self.types and int in self.types:
            return False
        return isinstance(value, self.types)

    def describe(self) -> str:
        if self.name:
            return self.name
        return _join([_article(t.__name__) for t in self.types])

    def __repr__(self) -> str:
        return f"InstanceOf({', '.join(t.__name__ for t in self.types)})"


class ListOf(Constraint):
    """A list (or tuple) of at least ``min_len`` values, each satisfying ``item`` (a constraint)."""

    kind = "list_of"

    def __init__(self, item: Any, *, min_len: int = 1):
        self.item, self.min_len = make_constraint(item), min_len

    def claims(self, value: Any) -> bool:
        return isinstance(value, (list, tuple))

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        return (isinstance(value, (list, tuple)) and len(value) >= self.min_len
                and all(self.item.is_satisfied_by(v, context) for v in value))

    def describe(self) -> str:
        size = "a non-empty list" if self.min_len == 1 else ("a list" if self.min_len == 0
                                                            else f"a list of at least {self.min_len}")
        return f"{size}, each {self.item.describe()}"

    def __repr__(self) -> str:
        return f"ListOf({self.item!r}, min_len={self.min_len})"


class _NoneConstraint(Constraint):
    kind = "none"

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        return value is None

    def describe(self) -> str:
        return "None"

    def __repr__(self) -> str:
        return "None"


class _Predicate(Constraint):
    def __init__(self, kind: str, test: Callable[[Any], bool], description: str):
        self.kind, self._test, self._description = kind, test, description

    def is_satisfied_by(self, value: Any, context: Mapping[str, Any] = {}) -> bool:  # noqa: B006
        return self._test(value)

    def describe(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return repr(self.kind)


_NAMED: dict[str, Callable[[], Constraint]] = {
    "model": ModelArg,
    "text": Text,
    "texts": Texts,
    "boolean": lambda: _Predicate("boolean", lambda v: isinstance(v, bool) or type(v).__name__ == "bool_",
                                  "a bool"),
    "callable": lambda: _Predicate("callable", callable, "a callable"),
    "path": lambda: _Predicate("path", lambda v: isinstance(v, (str, os.PathLike)), "a path (str or os.PathLike)"),
    "progress": lambda: _Predicate("progress", lambda v: v is None or isinstance(v, bool) or callable(v),
                                   "None, a bool or a callable progress(stage, done, total)"),
    "no_validation": lambda: _Predicate("no_validation", lambda v: True, "anything"),
}


def make_constraint(spec: Any) -> Constraint:
    """The :class:`Constraint` a table entry stands for (a Constraint, None, a class or a name)."""
    if isinstance(spec, Constraint):
        return spec
    if spec is None:
        return _NoneConstraint()
    if isinstance(spec, type):
        return InstanceOf(spec)
    if isinstance(spec, str) and spec in _NAMED:
        return _NAMED[spec]()
    raise TypeError(f"Unknown parameter constraint {spec!r}: give a Constraint, None, a class or one of "
                    f"{choices_text(_NAMED)}.")


def check_param(value: Any, constraints: Sequence[Any], *, name: str, where: str,
                context: Mapping[str, Any] | None = None) -> None:
    """Check one value against one table entry (any constraint suffices); raise the clearest named error."""
    context = {} if context is None else context
    made = [make_constraint(c) for c in constraints]
    if any(c.kind == "no_validation" or c.is_satisfied_by(value, context) for c in made):
        return
    informative = [c for c in made if c.kind != "none"]
    also = ["None"] if len(informative) < len(made) else []
    claiming = [c for c in informative if c.claims(value)]
    if len(informative) == 1 or len(claiming) == 1:
        chosen = informative[0] if len(informative) == 1 else claiming[0]
        others = [c.describe() for c in informative if c is not chosen] + also
        chosen.check(value, name=name, where=where, context=context, also=others)
    allowed = _join([c.describe() for c in informative] + also)
    raise InvalidParameterError(f"The {name!r} parameter of {where} must be {allowed}. Got {_given(value)} instead.")


def validate_params(constraints: dict[str, list[Any]], *, where: str | None = None) -> Callable:
    """Decorate a public function so that its arguments are checked against ``constraints`` before it runs.

    Args:
        constraints: parameter name -> list of accepted constraints (any one suffices); every parameter of the
            function must be named (``["no_validation"]`` for one the function checks itself).
        where: the function's name in messages (default its ``__qualname__``, e.g. ``"Model.top_next_tokens"``).

    Raises (at decoration): ``TypeError`` for a parameter missing from the table, a name in the table that is not a
    parameter, or an unknown constraint. Raises (at call) the named error of the first failing parameter, in
    signature order.
    """
    table = {name: [make_constraint(c) for c in entry] for name, entry in constraints.items()}

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        params = [p for p in signature.parameters.values()
                  if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        missing = [p.name for p in params if p.name not in table]
        unknown = [name for name in table if name not in signature.parameters]
        if missing or unknown:
            raise TypeError(f"validate_params table of {fn.__qualname__}: missing {missing}, unknown {unknown}.")
        label = where or fn.__qualname__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{label}: {error}") from None
            bound.apply_defaults()
            arguments = bound.arguments
            for name, entry in table.items():
                check_param(arguments[name], entry, name=name, where=label, context=arguments)
            return fn(*args, **kwargs)

        setattr(wrapper, _CONSTRAINTS_ATTR, table)
        return wrapper

    return decorate


def constraints_of(fn: Callable) -> dict[str, list[Constraint]]:
    """The validation table of a decorated function (a bound method's function too); ``{}`` if it has none."""
    fn = getattr(fn, "__func__", fn)
    return dict(getattr(inspect.unwrap(fn, stop=lambda f: hasattr(f, _CONSTRAINTS_ATTR)), _CONSTRAINTS_ATTR, {}))


def options_of(fn: Callable, name: str) -> tuple[Any, ...]:
    """The choices a parameter's table entry lists (its :class:`Options` or :class:`Subset`), for a CLI option or a
    select box; raises ``KeyError`` if the entry lists none."""
    for constraint in constraints_of(fn).get(name, []):
        if isinstance(constraint, (Options, Subset)):
            return constraint.choices
    raise KeyError(f"{getattr(fn, '__qualname__', fn)} has no choices for {name!r}")



def check_args(fn: Callable, *, where: str, options: Mapping[str, str] | None = None, **values: Any) -> None:
    """Check some arguments of ``fn`` against its table before calling it (a command, before its model loads).

    Each keyword is a parameter of ``fn``; messages name it as the command's option (``--max-sentences`` for
    ``max_sentences``, or ``options[name]``) and the command (``where``, e.g. ``"interp probe pos"``). A layer is
    checked for its form only (no model is known yet).

    Example:
        >>> check_args(pos_probe, where="interp probe pos", max_sentences=3)  # doctest: +SKIP
        InvalidParameterError: The '--max-sentences' parameter of interp probe pos must be an int >= 10 or None. ...
    """
    table = constraints_of(fn)
    for name, value in values.items():
        if name not in table:
            raise TypeError(f"{getattr(fn, '__qualname__', fn)} has no parameter {name!r} in its table")
        label = (options or {}).get(name, "--" + name.replace("_", "-"))
        check_param(value, table[name], name=label, where=where, context={})
