"""The linear lens: an affine map per layer to the final residual stream, fitted in closed form.

Din et al. 2023 ("Jump to conclusions: short-cutting transformers with linear transformations")
replace the logit lens's identity with a linear map ``A_l`` fitted by least squares from layer
``l``'s hidden states to the last layer's, then read the result through the model's own head.
This module does that, per layer, as an affine map ``h_L ~ h_l W_l + b_l``, and reads
``unembed(ln_final(h_l W_l + b_l))``. It is **not** Belrose et al.'s (2023) *tuned lens*: that one is
trained by SGD on KL to the final distribution over ~65M tokens; this one is a ridge regression on
the residual stream, solved once, in minutes on a CPU, from a few tens of thousands of tokens.

What is done, and how it deviates from Din et al.:

- **Data**: text interp ships (:func:`lens_texts`: the POS grammar corpus's sentences and the true
  statements of the truth sets), split **by template family** into a fit part and a held-out part
  used only to evaluate, so no template is on both sides (:func:`lens_corpus` names each text's
  family). A truth set is written from a few templates of its own, so each set is one family
  (``cities`` and ``neg_cities`` share one; ``facts`` has one per topic), and the families in
  :data:`HELDOUT_FAMILIES` (continents, larger_than, facts: history and science) are held out whole.
  A grammar sentence's template is its tag sequence (the grammar's slots); a quarter of the tag
  sequences, by hash, are held out. The grammar's sentences share one generator and vocabulary,
  so held-out grammar sentences stay close to fitted ones: the figure that says how the lens does
  on text it was not fitted on is the KL on prose interp did not write
  (:func:`interp.lens.evaluate.external_prose`, scikit-learn's dataset descriptions), which
  ``interp lens-fit`` reports first. A fit uses a seeded sample of the fit part.
- **The first position is left out of the fit** (``skip_first=1``): it is BOS (or the first word),
  the same vector for every text and with residual norms tens of times the others' (an attention
  sink); in the least squares it would dominate every other token. At position 0 the fitted map is
  applied like anywhere else, outside the data it was fitted on.
- **Standardised ridge, shrunk toward the identity**: with ``W = I + D``, the update ``D`` is fitted
  to ``h_L - h_l`` with the penalty ``lambda * sum_j var_j * |D_j|^2`` (ridge on standardised
  features: each input dimension's penalty is scaled by its variance, so huge-variance dimensions are
  not favoured). As ``lambda`` grows the lens tends to the logit lens (plus a mean shift); the
  logit lens itself (``W = I``, ``b = 0``) is one of the candidates. ``lambda`` is chosen per layer
  from :data:`RIDGES` by the squared error on a validation fifth of the fit texts, then refitted on
  all of them. Din et al. fit plain least squares toward zero.
- **Sufficient statistics**: the fit streams the texts once through the model and accumulates, per
  layer, ``sum x``, ``sum x^T x`` and ``sum x^T h_L`` (float64, on data shifted by a reference mean),
  so memory is ``O(n_layers * d_model^2)`` whatever the number of tokens.

Saved as one safetensors file per model under ``<interp cache>/lenses/`` (:func:`default_lens_path`),
named by the model and its weights' SHA-256 fingerprint (the model card's); loading checks the
fingerprint, so a lens is never read through other weights. Loading never runs code (safetensors
tensors plus JSON metadata).

Example:
    >>> import interp
    >>> from interp.lens import fit_linear_lens, linear_lens
    >>> model = interp.load_model()
    >>> lens = fit_linear_lens(model)  # minutes; saved, then found by linear_lens
    >>> linear_lens(model, "The Eiffel Tower is located in the city of", target=" Paris").plot()

(The example's fact is in none of the lens's texts: no shipped text it is fitted on mentions the Eiffel
Tower; "The capital of France is Paris." is one of them.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from interp._params import InstanceOf, validate_params
from interp._validation import check_choice, check_int, check_texts
from interp.errors import InvalidParameterError, InvalidProbeFileError, NotFittedError
from interp.layers import layer_hook_name
from interp.progress import ProgressArg, resolve_progress

if TYPE_CHECKING:
    from interp.lens.result import LensResult
    from interp.models.model import Model

__all__ = ["LinearLens", "LensStatus", "fit_linear_lens", "linear_lens", "load_linear_lens", "lens_texts",
           "lens_corpus", "default_lens_path", "lens_status", "lens_moments", "solve_lens", "RIDGES", "FORMAT",
           "HELDOUT_FAMILIES"]

#: Ridge strengths tried per layer (relative to each input dimension's variance); ``inf`` is the logit lens.
RIDGES: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, float("inf"))
FORMAT = "interp.linear_lens"
FORMAT_VERSION = 1
HELDOUT_EVERY = 4  # a grammar template (tag sequence) whose hash is 0 mod 4 is held out (25 %)
#: Truth-set template families held out whole (never fitted on).
HELDOUT_FAMILIES = ("truth:continents", "truth:larger_than", "truth:facts:history", "truth:facts:science")
VALIDATION_EVERY = 5  # of the fit part, hash 0 mod 5 chooses lambda (20 %)
DEFAULT_MAX_TEXTS = 1500  # ~20,000 tokens of the shipped text
TEXTS_PER_STEP = 32  # texts per forward pass of the fit (progress is reported per step)
_TRUTH_SETS = ("facts", "capitals", "cities", "continents", "sums", "larger_than", "neg_cities")
_SAME_TEMPLATE = {"neg_cities": "cities"}  # "The city of X is (not) in Y": one family


def _bucket(text: str, salt: str, every: int) -> bool:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % every == 0


def lens_corpus() -> list[tuple[str, str]]:
    """Every shipped lens text with its template family, ``[(text, family), ...]``, sorted by text.

    Families: ``truth:<set>`` for a truth set's true statements (``truth:facts:<topic>`` for the hand-written
    facts; ``neg_cities`` is ``truth:cities``, the same template negated), ``pos:<tag sequence>`` for a sentence
    of the POS grammar corpus (the grammar's slots). A text found in two families keeps the first.
    """
    import csv

    root = importlib.resources.files("interp") / "data"
    found: dict[str, str] = {}
    with (root / "pos" / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                found.setdefault(row["sentence"].strip(), "pos:" + " ".join(row["tags"]))
    for name in _TRUTH_SETS:
        with (root / "truth" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if str(row.get("label")) != "1" or not row["statement"].strip():
                    continue
                family = f"truth:{_SAME_TEMPLATE.get(name, name)}"
                if name == "facts":
                    topic = re.search(r"\(([^)]*)\)", row.get("provenance", ""))
                    family += f":{topic.group(1) if topic else 'other'}"
                found.setdefault(row["statement"].strip(), family)
    return sorted((t, f) for t, f in found.items() if t)


def heldout_family(family: str) -> bool:
    """Whether a template family is held out: listed in :data:`HELDOUT_FAMILIES`, or a grammar tag sequence
    whose hash falls in the held-out quarter."""
    if family.startswith("pos:"):
        return _bucket(family, "lens-heldout", HELDOUT_EVERY)
    return family in HELDOUT_FAMILIES


def lens_texts(split: str = "fit", *, max_texts: int | None = None, seed: int = 0) -> list[str]:
    """Text interp ships, for fitting and evaluating lenses: the POS corpus's sentences and the true
    statements of the truth sets (``facts``, ``capitals``, ``cities``, ``continents``, ``sums``,
    ``larger_than``, ``neg_cities``), de-duplicated.

    Args:
        split: "fit", "heldout" (never fitted on) or "all". The split is by template family
            (:func:`lens_corpus`, :func:`heldout_family`): no template is on both sides.
        max_texts: at most this many, a seeded sample (None: all of the split).
        seed: the sample's seed.

    Returns:
        The texts, in a seeded random order.
    """
    where = "lens_texts"
    check_choice(split, ("fit", "heldout", "all"), name="split", where=where)
    if max_texts is not None:
        check_int(max_texts, name="max_texts", where=where, low=1)
    corpus = lens_corpus()
    if split != "all":
        held = split == "heldout"
        corpus = [(t, f) for t, f in corpus if heldout_family(f) == held]
    texts = [t for t, _ in corpus]
    order = np.random.default_rng(seed).permutation(len(texts))
    texts = [texts[i] for i in order]
    return texts if max_texts is None else texts[:max_texts]


def default_lens_path(model: Model) -> Path:
    """Where :func:`fit_linear_lens` saves a model's lens: ``<interp cache>/lenses/<name>-<fingerprint>.safetensors``."""
    from interp.models._cache import cache_root
    from interp.models.card import weights_fingerprint

    digest = weights_fingerprint(model).split(":", 1)[-1][:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model.name)[-80:]
    return cache_root() / "lenses" / f"{safe}-{digest}.safetensors"


@dataclasses.dataclass(frozen=True)
class LensStatus:
    """Whether a model has a fitted linear lens at its default path (what the explorer shows).

    Attributes:
        fitted: a file exists there.
        path: the path.
        stamp: changes when the file does (size and modification time; "" if absent), for caches.
        estimate: how long a fit takes, in words.
    """

    fitted: bool
    path: str
    stamp: str
    estimate: str


def lens_status(model: Model) -> LensStatus:
    """Whether ``model`` has a saved linear lens at :func:`default_lens_path`."""
    path = default_lens_path(model)
    stat = path.stat() if path.is_file() else None
    estimate = ("about as long as plain forward passes over the ~17,000 tokens of 1,500 shipped texts (measured: 0.97x "
                "them, benchmarks/bench_lens.py); seconds for the tiny models")
    return LensStatus(stat is not None, str(path), f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "", estimate)


class _Moments:
    """Running sums of one layer's shifted inputs against the shifted final residual (float64)."""

    def __init__(self, d: int):
        self.n = 0
        self.sx = torch.zeros(d, dtype=torch.float64)
        self.sy = torch.zeros(d, dtype=torch.float64)
        self.sxx = torch.zeros(d, d, dtype=torch.float64)
        self.sxy = torch.zeros(d, d, dtype=torch.float64)
        self.syy = 0.0

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:  # x, y: (m, d) float32, already shifted
        self.n += x.shape[0]
        self.sx += x.sum(0, dtype=torch.float64)
        self.sy += y.sum(0, dtype=torch.float64)
        self.sxx += (x.T @ x).double()
        self.sxy += (x.T @ y).double()
        self.syy += float((y.double() ** 2).sum())

    def __add__(self, other: _Moments) -> _Moments:
        out = _Moments(self.sx.shape[0])
        out.n = self.n + other.n
        for name in ("sx", "sy", "sxx", "sxy", "syy"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out


def _solve(m: _Moments, ridge: float, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W, b)`` with ``y ~ x W + b`` in shifted coordinates; ``shift`` = ref_x - ref_y (the identity's bias)."""
    d = m.sx.shape[0]
    eye = torch.eye(d, dtype=torch.float64)
    if ridge == float("inf"):
        return eye, shift.clone()
    mx, my = m.sx / m.n, m.sy / m.n
    cxx = m.sxx / m.n - torch.outer(mx, mx)
    cxy = m.sxy / m.n - torch.outer(mx, my)
    cxt = cxy - cxx  # covariance of x with the update y - x
    scale = torch.diagonal(cxx).clamp_min(1e-12)
    delta = torch.linalg.solve(cxx + ridge * torch.diag(scale) + 1e-10 * scale.mean() * eye, cxt)
    weight = eye + delta
    bias = my - mx @ weight
    return weight, bias


def _mse(m: _Moments, weight: torch.Tensor, bias: torch.Tensor) -> float:
    """Mean over m's rows of |y - x W - b|^2, from the sums alone."""
    cross = torch.sum(weight * m.sxy) + bias @ m.sy
    quad = torch.sum(weight * (m.sxx @ weight)) + 2 * bias @ (m.sx @ weight) + m.n * bias @ bias
    return float(m.syy + quad - 2 * cross) / m.n


def lens_moments(model: Model, texts: Sequence[str], *, skip: int = 1, batch_size: int | None = None,
                 ref: torch.Tensor | None = None, report: Any = None
                 ) -> tuple[dict[bool, list[_Moments]], torch.Tensor | None]:
    """The lens fit's pass over ``texts``: per fold (False: fit, True: validation, by each text's hash) and layer
    ``0..n_layers - 1``, the sums of the layer's residual against the final one, shifted by ``ref``.

    The texts run :data:`TEXTS_PER_STEP` at a time; ``ref`` ((n_layers + 1, d_model) reference means) defaults to
    the means over the first step's tokens, so the sums over any texts cut at multiples of ``TEXTS_PER_STEP``, given
    the whole list's ``ref``, add up to the whole list's (what a batch run's shards do, ``task = "lens_fit"``).

    Returns:
        ``(moments, ref)``; ``ref`` is None only for texts without a token after the first ``skip``.
    """
    report = report or (lambda *args: None)
    n, d = model.n_layers, model.d_model
    names = [layer_hook_name(layer) for layer in range(n + 1)]
    items = list(texts)
    folds = [_bucket(t, "lens-validation", VALIDATION_EVERY) for t in items]
    moments = {fold: [_Moments(d) for _ in range(n)] for fold in (False, True)}
    n_texts = len(items)
    report("forward passes", 0, n_texts)
    with model.lock:
        for begin in range(0, n_texts, TEXTS_PER_STEP):
            chunk = items[begin:begin + TEXTS_PER_STEP]
            cache = model.run_with_cache(chunk, names, batch_size=batch_size)
            mask = cache.batch.attention_mask.bool().clone()  # (batch, pos)
            for row in range(len(chunk)):
                real = torch.nonzero(mask[row]).flatten()
                mask[row, real[:skip]] = False
            if ref is None:
                ref = torch.stack([cache[name][mask].float().mean(0) for name in names])
            fold_of_row = torch.tensor(folds[begin:begin + len(chunk)])[:, None].expand_as(mask)
            for fold in (False, True):
                keep = mask & (fold_of_row == fold)
                if not keep.any():
                    continue
                y = cache[names[n]][keep].float() - ref[n]
                for layer in range(n):
                    moments[fold][layer].add(cache[names[layer]][keep].float() - ref[layer], y)
            report("forward passes", min(begin + len(chunk), n_texts), n_texts)
    return moments, ref


def solve_lens(moments: dict[bool, list[_Moments]], ref: torch.Tensor | None, ridges: Sequence[float], *,
               report: Any = None, where: str = "LinearLens.fit", skip: int = 1) -> dict[str, Any]:
    """The lens from :func:`lens_moments`: per layer, the ridge of ``ridges`` with the least validation error, refitted
    on both folds; ``{"weight": (n_layers, d, d) float64, "bias": (n_layers, d), "ridge", "val_error",
    "val_error_identity"}`` (lists per layer).

    Raises:
        InvalidParameterError: too few tokens to fit and validate on.
    """
    report = report or (lambda *args: None)
    ridges = [float(r) for r in ridges]
    if ref is None or min(moments[False][0].n, moments[True][0].n) < 2:
        raise InvalidParameterError(f"The 'texts' given to {where} leave too few tokens to fit and validate on "
                                    f"(positions after the first {skip} of each text). Give more or longer texts.")
    n, d = len(moments[False]), ref.shape[1]
    weights = torch.zeros(n, d, d, dtype=torch.float64)
    biases = torch.zeros(n, d, dtype=torch.float64)
    chosen: list[float] = []
    val_error, val_identity = [], []
    report("solve", 0, n)
    for layer in range(n):
        shift = ref[layer].double() - ref[n].double()
        fit, val = moments[False][layer], moments[True][layer]
        scores = []
        for ridge in ridges:
            w, b = _solve(fit, ridge, shift)
            scores.append(_mse(val, w, b))
        best = int(np.argmin(scores))
        w, b = _solve(fit + val, ridges[best], shift)
        # back to unshifted coordinates: y = x W + (b + ref_y - ref_x W)
        weights[layer] = w
        biases[layer] = b + ref[n].double() - ref[layer].double() @ w
        chosen.append(ridges[best])
        val_error.append(scores[best])
        val_identity.append(scores[ridges.index(float("inf"))] if float("inf") in ridges
                            else _mse(val, *_solve(val, float("inf"), shift)))
        report("solve", layer + 1, n)
    return {"weight": weights, "bias": biases, "ridge": chosen, "val_error": val_error,
            "val_error_identity": val_identity}


class LinearLens:
    """An affine translator per layer to the final residual stream (Din et al. 2023; not the tuned lens).

    Follows scikit-learn's estimator contract: ``__init__`` only stores settings, :meth:`fit` returns
    ``self``, learned state ends in ``_``, and using it before ``fit`` raises
    :class:`~interp.errors.NotFittedError`. See the module docstring for the method.

    Args:
        ridges: ridge strengths tried per layer (``inf`` = the identity, i.e. the logit lens).
        skip_first: leading positions of each text left out of the fit (1: BOS / the first token).

    Attributes (after fit):
        weight_: (n_layers, d_model, d_model) float32; layer l's map is ``h @ weight_[l] + bias_[l]``.
        bias_: (n_layers, d_model) float32.
        ridge_: the strength chosen per layer (``inf``: the identity).
        model_name_, fingerprint_: the weights it was fitted for.
        n_tokens_, n_texts_, texts_sha256_: what it was fitted on.
        val_error_, val_error_identity_: per layer, mean squared error per token on the validation
            texts of the chosen map and of the identity (before the refit on all texts).
        fit_seconds_: how long the fit took.
    """

    def __init__(self, *, ridges: Sequence[float] = RIDGES, skip_first: int = 1):
        self.ridges = ridges
        self.skip_first = skip_first

    # ------------------------------------------------------------------ fitting
    def fit(self, model: Model, texts: Sequence[str], *, batch_size: int | None = None,
            progress: ProgressArg = None) -> LinearLens:
        """Fit one map per layer ``0..n_layers - 1`` on ``texts`` (see the module docstring).

        Args:
            model: the model.
            texts: at least 10 texts (a fifth, by hash, chooses the ridge per layer).
            batch_size: texts per forward pass (default: the model's token budget).
            progress: see :mod:`interp.progress`; stages "forward passes" (texts) and "solve" (layers).

        Returns:
            ``self``.
        """
        where = "LinearLens.fit"
        items, _ = check_texts(texts, where=where, name="texts")
        ridges = [float(r) for r in self.ridges]
        if not ridges or any(not r > 0 for r in ridges):
            raise InvalidParameterError(f"The 'ridges' parameter of LinearLens must be a non-empty list of floats > 0 "
                                        f"(inf for the identity). Got {list(self.ridges)!r} instead.")
        skip = check_int(self.skip_first, name="skip_first", where="LinearLens", low=0)
        if len(items) < 10:
            raise InvalidParameterError(f"The 'texts' parameter of {where} must hold at least 10 texts (a fifth of them "
                                        f"chooses the ridge). Got {len(items)}.")
        report = resolve_progress(progress, where=where)
        start = time.perf_counter()
        moments, ref = lens_moments(model, items, skip=skip, batch_size=batch_size, report=report)
        solved = solve_lens(moments, ref, ridges, report=report, where=where, skip=skip)
        return self.set_fitted(model, items, solved, moments, skip=skip, seconds=time.perf_counter() - start)

    def set_fitted(self, model: Model, texts: Sequence[str], solved: dict[str, Any], moments: dict[bool, list[_Moments]],
                   *, skip: int, seconds: float) -> LinearLens:
        """Store a fit (:func:`solve_lens` of ``moments`` over ``texts``) as this lens's learned state; returns ``self``."""
        from interp.models.card import weights_fingerprint

        self.weight_ = solved["weight"].float()
        self.bias_ = solved["bias"].float()
        self.ridge_ = solved["ridge"]
        self.model_name_ = model.name
        self.fingerprint_ = weights_fingerprint(model)
        self.n_layers_, self.d_model_ = model.n_layers, model.d_model
        self.n_texts_ = len(texts)
        self.n_tokens_ = int(moments[False][0].n + moments[True][0].n)
        self.texts_sha256_ = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
        self.val_error_ = solved["val_error"]
        self.val_error_identity_ = solved["val_error_identity"]
        self.skip_first_ = skip
        self.fit_seconds_ = seconds
        return self

    # ------------------------------------------------------------------ using it
    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "weight_"):
            raise NotFittedError(f"This LinearLens is not fitted yet: call fit(model, texts) (or fit_linear_lens(model)) "
                                 f"before {where}.")

    def check_model(self, model: Model, *, where: str = "linear_lens") -> None:
        """Raise :class:`~interp.errors.InvalidParameterError` unless the lens was fitted for ``model``'s weights."""
        from interp.models.card import weights_fingerprint

        self._check_fitted(where)
        given = weights_fingerprint(model)
        if given != self.fingerprint_:
            raise InvalidParameterError(
                f"The linear lens given to {where} was fitted for {self.model_name_} ({self.fingerprint_[:19]}…), not for "
                f"these weights of {model.name} ({given[:19]}…). Fit one for this model: fit_linear_lens(model).")

    def translate(self, layer: int, resid: torch.Tensor) -> torch.Tensor:
        """Layer ``layer``'s residual (pos, d_model) mapped to the final layer's space; layer n_layers is returned as is."""
        self._check_fitted("translate")
        if layer == self.n_layers_:
            return resid
        x = resid.float().cpu()
        return x @ self.weight_[layer] + self.bias_[layer]

    def info(self) -> dict[str, Any]:
        """What the lens is, JSON-ready (stored in every :class:`~interp.lens.LensResult` it produces)."""
        self._check_fitted("info")
        return {"method": "affine ridge least squares to the final residual (Din et al. 2023), shrunk toward the "
                          "identity", "model_name": self.model_name_, "fingerprint": self.fingerprint_,
                "n_texts": self.n_texts_, "n_tokens": self.n_tokens_, "texts_sha256": self.texts_sha256_,
                "skip_first": self.skip_first_, "ridge": [None if r == float("inf") else r for r in self.ridge_],
                "fit_seconds": round(self.fit_seconds_, 2),
                "path": getattr(self, "path_", None)}

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the lens to ``path`` (safetensors: weight, bias; JSON metadata), atomically."""
        from safetensors.torch import save as save_tensors

        from interp.results import atomic_write_bytes

        self._check_fitted("save")
        meta = {"format": FORMAT, "version": str(FORMAT_VERSION), "info": json.dumps(self.info() | {"path": None}),
                "val_error": json.dumps(self.val_error_), "val_error_identity": json.dumps(self.val_error_identity_)}
        blob = save_tensors({"weight": self.weight_.contiguous(), "bias": self.bias_.contiguous()}, metadata=meta)
        written = atomic_write_bytes(path, blob)
        self.path_ = str(written)
        return written

    @classmethod
    def load(cls, path: str | Path) -> LinearLens:
        """Read a lens :meth:`save` wrote; :class:`~interp.errors.InvalidProbeFileError` for anything else."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise InvalidProbeFileError(f"{path} is not a saved linear lens: no such file.")
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
                weight, bias = handle.get_tensor("weight"), handle.get_tensor("bias")
            info = json.loads(meta["info"])
            val_error, val_identity = json.loads(meta["val_error"]), json.loads(meta["val_error_identity"])
        except Exception as exc:  # SafetensorError, KeyError, JSONDecodeError: a broken or foreign file
            raise InvalidProbeFileError(f"{path} is not a saved linear lens ({type(exc).__name__}: {exc}).") from None
        if meta.get("format") != FORMAT or meta.get("version") != str(FORMAT_VERSION):
            raise InvalidProbeFileError(f"{path} is not a linear lens of format {FORMAT} version {FORMAT_VERSION} "
                                        f"(it says {meta.get('format')!r} {meta.get('version')!r}).")
        if weight.dim() != 3 or weight.shape[1] != weight.shape[2] or tuple(bias.shape) != tuple(weight.shape[:2]):
            raise InvalidProbeFileError(f"{path}: weight {tuple(weight.shape)} and bias {tuple(bias.shape)} do not make "
                                        "a lens ((n_layers, d, d) and (n_layers, d)).")
        lens = cls(skip_first=int(info["skip_first"]))
        lens.weight_, lens.bias_ = weight.float(), bias.float()
        lens.ridge_ = [float("inf") if r is None else float(r) for r in info["ridge"]]
        lens.model_name_, lens.fingerprint_ = info["model_name"], info["fingerprint"]
        lens.n_layers_, lens.d_model_ = int(weight.shape[0]), int(weight.shape[1])
        lens.n_texts_, lens.n_tokens_, lens.texts_sha256_ = info["n_texts"], info["n_tokens"], info["texts_sha256"]
        lens.skip_first_, lens.fit_seconds_ = int(info["skip_first"]), float(info["fit_seconds"])
        lens.val_error_, lens.val_error_identity_ = val_error, val_identity
        lens.path_ = str(path)
        return lens


def fit_linear_lens(model: Model, texts: Sequence[str] | None = None, *, max_texts: int = DEFAULT_MAX_TEXTS,
                    seed: int = 0, batch_size: int | None = None, save: bool = True, path: str | Path | None = None,
                    progress: ProgressArg = None) -> LinearLens:
    """Fit a :class:`LinearLens` for ``model`` and (by default) save it where :func:`linear_lens` finds it.

    Args:
        model: the model.
        texts: what to fit on (default: ``lens_texts("fit", max_texts=max_texts, seed=seed)``, text interp
            ships; the "heldout" part is never fitted on).
        max_texts: how many of the shipped texts by default (1,500: about 20,000 tokens).
        seed: the sample's seed.
        batch_size: texts per forward pass.
        save: write the lens to ``path`` (default :func:`default_lens_path`).
        progress: see :mod:`interp.progress`.

    Returns:
        The fitted lens.

    Example:
        >>> lens = fit_linear_lens(model, progress=True)
        >>> lens.ridge_[:3], lens.fit_seconds_
    """
    if texts is None:
        texts = lens_texts("fit", max_texts=max_texts, seed=seed)
    lens = LinearLens().fit(model, texts, batch_size=batch_size, progress=progress)
    if save:
        lens.save(default_lens_path(model) if path is None else path)
    return lens


def load_linear_lens(model: Model, path: str | Path | None = None) -> LinearLens:
    """The saved lens for ``model`` (default path: :func:`default_lens_path`); checks it fits these weights.

    Raises:
        NotFittedError: no lens is saved there (fit one with :func:`fit_linear_lens` or ``interp lens-fit``).
    """
    where = "load_linear_lens"
    target = default_lens_path(model) if path is None else Path(path)
    if not target.is_file():
        raise NotFittedError(f"No linear lens is saved for {model.name} at {target}. Fit one first: "
                             f"fit_linear_lens(model) or `interp lens-fit --model {model.name}` (minutes on a CPU).")
    lens = LinearLens.load(target)
    lens.check_model(model, where=where)
    return lens


def _lens_params() -> dict:
    from interp.lens.logit import LENS_PARAMS

    return LENS_PARAMS


@validate_params({**_lens_params(), "lens": [InstanceOf(LinearLens, name="a LinearLens"), "path", None]})
def linear_lens(model: Model, prompt: str, *, lens: LinearLens | str | Path | None = None,
                target: str | int | None = None, layers: Any = None, top_k: int = 5) -> LensResult:
    """The linear lens: each layer's residual through its fitted affine map, then the model's head.

    Args:
        model: the model.
        prompt: one text.
        lens: a fitted :class:`LinearLens`, a path to a saved one, or None for the model's saved lens
            (:func:`default_lens_path`; :class:`~interp.errors.NotFittedError` if there is none).
        target: a continuation (its first token is tracked), a token id, or None.
        layers: layers to read (``interp.layers``; default all of ``0..n_layers``; at ``n_layers`` the
            lens is the model's own output).
        top_k: top tokens kept per cell (1 to 50).

    Returns:
        :class:`~interp.lens.LensResult` with ``lens="linear"``.

    Example:
        >>> linear_lens(model, "The Eiffel Tower is located in the city of", target=" Paris").first_layer_in_top(10)
    """
    from interp.lens.logit import read_lens

    where = "linear_lens"
    if lens is None or isinstance(lens, (str, Path)):
        fitted = load_linear_lens(model, lens)
    else:
        fitted = lens
        fitted.check_model(model, where=where)
    return read_lens(model, prompt, translate=fitted.translate, lens="linear", target=target, layers=layers,
                     top_k=top_k, lens_info=fitted.info(), where=where)
