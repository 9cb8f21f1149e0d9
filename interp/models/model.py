"""``interp.Model``: one hooked model over TransformerLens 4's ``TransformerBridge``.

The bridge wraps any Hugging Face causal LM with TransformerLens hook points (``hook_embed``,
``blocks.{l}.hook_resid_post``, ``blocks.{l}.attn.hook_pattern``, ...); those names are interp's
public vocabulary too. ``Model`` adds what analyses need on top:

- batched tokenization with padding and attention masks, where results do not depend on batch
  size or padding side (causal models never attend to right padding; left padding is masked);
- ``run_with_cache`` that keeps only the requested activations, on CPU, and stops the forward pass
  after the deepest block it needs;
- ``hooks(...)``, a context manager that always removes its hooks;
- ``top_next_tokens``, ``generate`` and ``chat`` (the tokenizer's chat template);
- ``lock``: one model can serve many threads (the explorer's sessions); its forward passes and hook
  blocks take turns, so every caller gets what it would get alone.

Example:
    >>> import interp
    >>> model = interp.load_model("tiny-gpt2")
    >>> cache = model.run_with_cache(["Hello world", "Hi"], names=["blocks.0.hook_resid_post"])
    >>> cache["blocks.0.hook_resid_post"].shape  # (batch, pos, d_model)
    torch.Size([2, 3, 64])
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from interp._params import Attr, Interval, validate_params
from interp._validation import check_choice, check_int, check_texts
from interp.errors import InvalidParameterError, NoChatTemplateError, PromptTooLongError, UnknownHookError
from interp.models import engine
from interp.models.engine import TOKENS_PER_BATCH, PassCount, plan_batches
from interp.results import Result

if TYPE_CHECKING:
    from pandas import DataFrame
    from plotly.graph_objects import Figure

    from interp.progress import ProgressCallback

__all__ = ["Model", "ModelLock", "TokenBatch", "ActivationCache", "TopTokensResult", "plan_batches", "PassCount",
           "TOKENS_PER_BATCH"]

NamesArg = str | Sequence[str] | Callable[[str], bool]
_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.")
# the engine's budgets (interp/models/engine.py), named here for older callers
LOGITS_BYTES_PER_BATCH = engine.DEFAULT_BUDGET_BYTES


@dataclasses.dataclass
class TokenBatch:
    """Token ids of several texts, padded to one length.

    Attributes:
        tokens: (batch, pos) int64 token ids, padded with the tokenizer's pad token.
        attention_mask: (batch, pos) int64, 1 on real tokens and 0 on padding.
        lengths: number of real tokens of each text.
        padding_side: "right" or "left".
    """

    tokens: torch.Tensor
    attention_mask: torch.Tensor
    lengths: list[int]
    padding_side: str

    def __len__(self) -> int:
        return len(self.lengths)

    def last_positions(self) -> torch.Tensor:
        """(batch,) index of each text's last real token."""
        if self.padding_side == "left":
            return torch.full((len(self),), self.tokens.shape[1] - 1, dtype=torch.long)
        return torch.tensor(self.lengths, dtype=torch.long) - 1

    def real_slice(self, i: int) -> slice:
        """The positions of text ``i``'s real tokens along the pos axis."""
        if self.padding_side == "left":
            return slice(self.tokens.shape[1] - self.lengths[i], self.tokens.shape[1])
        return slice(0, self.lengths[i])


class ActivationCache(dict):
    """Activations by hook name, on CPU, batch first, plus the batch they came from.

    ``cache[name]`` is a tensor whose first axis is the text index and whose position axes are padded
    like ``cache.batch`` (e.g. ``blocks.3.hook_resid_post``: (batch, pos, d_model);
    ``blocks.3.attn.hook_pattern``: (batch, head, query_pos, key_pos)).
    """

    def __init__(self, activations: dict[str, torch.Tensor], batch: TokenBatch, str_tokens: list[list[str]]):
        super().__init__(activations)
        self.batch = batch
        self.str_tokens = str_tokens

    def real(self, name: str, i: int) -> torch.Tensor:
        """Activation ``name`` of text ``i`` with padding removed from its first position axis."""
        return self[name][i][self.batch.real_slice(i)]


@dataclasses.dataclass(eq=False)
class TopTokensResult(Result):
    """The model's most likely next tokens after a prompt.

    Attributes:
        prompt: the text the model saw (after the chat template, if one was applied).
        tokens: the k most likely next tokens, as strings, most likely first.
        token_ids: (k,) their ids.
        probs: (k,) their probabilities (softmax over the whole vocabulary).
        logits: (k,) their logits.
        model_name: the model that produced them.
    """

    prompt: str
    tokens: list[str]
    token_ids: np.ndarray
    probs: np.ndarray
    logits: np.ndarray
    model_name: str = ""

    title: ClassVar[str] = "Top next tokens"

    def summary(self) -> str:
        return f"{self.model_name}: after {self.prompt!r}, most likely {self.tokens[0]!r} (p={float(self.probs[0]):.3f})"

    def to_frame(self) -> DataFrame:
        import pandas as pd

        return pd.DataFrame({"rank": np.arange(1, len(self.tokens) + 1), "token": self.tokens,
                             "token_id": self.token_ids, "prob": self.probs, "logit": self.logits})

    def plot(self) -> Figure:
        import plotly.graph_objects as go

        labels = [repr(t) for t in self.tokens]
        fig = go.Figure(go.Bar(x=self.probs[::-1], y=labels[::-1], orientation="h",
                               text=[f"{p:.3f}" for p in self.probs[::-1]], textposition="auto",
                               hovertemplate="%{y}: p=%{x:.4f}<extra></extra>"))
        fig.update_layout(title=f"Next token after {self.prompt[-60:]!r}", xaxis_title="probability",
                          yaxis_title="token", height=max(250, 28 * len(self.tokens) + 100), margin={"l": 10})
        return fig


class ModelLock:
    """A re-entrant lock that one model's forward passes and hook blocks hold (``model.lock``).

    ``with model.lock:`` holds the model for several calls; the thread that holds it may call the
    model again (re-entrant). It is per model, never process-wide. A copy (``copy.deepcopy`` of the
    bridge, or pickling) gets a new lock of its own.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> ModelLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __reduce__(self) -> tuple:  # a copy (pickle, deepcopy) gets a lock of its own, never the held state
        return (ModelLock, ())

    def __repr__(self) -> str:
        return f"ModelLock({self._lock!r})"


class _Locked:
    """``bridge.<name>(...)`` holding the model's lock: an instance attribute over the class's method.

    The bridge's own entry points (``forward``, which both ``bridge(...)`` and TransformerLens's
    ``run_with_cache`` / ``generate`` end in, and those high-level calls themselves) take the lock, so
    an analysis that calls ``model.bridge`` directly is serialised with every other caller.
    A plain object (not a closure), so a deep copy of the bridge calls the copy, under the copy's lock.
    """

    def __init__(self, owner: Any, name: str, lock: ModelLock):
        self.owner, self.name, self.lock = owner, name, lock

    def _method(self) -> Callable:
        return getattr(type(self.owner), self.name).__get__(self.owner)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return self._method()(*args, **kwargs)

    @property
    def __wrapped__(self) -> Callable:  # inspect.signature(bridge.forward) shows the real parameters
        return self._method()


class _LockedContext(_Locked):
    """``with bridge.hooks(...)``: the lock is held for the whole block, not only while hooks are added."""

    @contextlib.contextmanager
    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self.lock, self._method()(*args, **kwargs) as value:
            yield value


_LOCKED_METHODS = ("forward", "run_with_cache", "run_with_hooks", "generate")


def _lock_bridge(bridge: Any) -> ModelLock:
    """The bridge's lock, installed on its entry points the first time a Model wraps it."""
    installed = bridge.__dict__.get("forward")
    if isinstance(installed, _Locked) and installed.owner is bridge:
        return installed.lock
    lock = ModelLock()
    for name in _LOCKED_METHODS:
        if callable(getattr(type(bridge), name, None)):
            object.__setattr__(bridge, name, _Locked(bridge, name, lock))
    if callable(getattr(type(bridge), "hooks", None)):
        object.__setattr__(bridge, "hooks", _LockedContext(bridge, "hooks", lock))
    return lock


class Model:
    """A TransformerLens-hooked causal language model with batched, padding-safe helpers.

    Build one with :func:`interp.load_model`. The wrapped ``TransformerBridge`` is ``model.bridge``
    and the Hugging Face tokenizer ``model.tokenizer``, for anything this class does not cover.

    Threads: one Model may serve many threads at once (the explorer's sessions are threads of one
    process). TransformerLens hooks live on the shared modules, so every forward pass and every
    ``with model.hooks(...)`` block holds ``model.lock``, a per-model re-entrant lock: a hook acts
    only on the passes of the block that added it, and each caller gets exactly what it would get
    alone. Passes take turns (on a CPU one pass already uses every core, so little is lost; a long
    analysis makes the others wait). The bridge's own entry points (``model.bridge(...)``,
    ``bridge.forward``, ``bridge.run_with_cache``, ``bridge.run_with_hooks``, ``bridge.generate``,
    ``bridge.hooks``) take the lock too. Hold it yourself for work that spans several calls, or that
    calls a submodule directly (``model.bridge.embed(ids)``, ``model.bridge.blocks[0](x)``), or runs a
    backward pass that uses backward hooks::

        with model.lock:  # no other thread's hooks or passes in between
            with model.hooks([("blocks.0.hook_resid_post", zero)]):
                patched = model.logits("Hello")
            embeds = model.bridge.embed(model.to_tokens("Hello"))

    Holding two models' locks at once in different orders from two threads can deadlock.

    Attributes:
        name: the name it was loaded by (e.g. "SmolLM2-135M-Instruct-Q4_1", "tiny-gpt2").
        n_layers, n_heads, d_model, d_head, d_vocab, n_ctx: shape of the model.
        prepend_bos: whether a BOS token is put before every text (TransformerLens's default).
        lock: the :class:`ModelLock` above.
    """

    def __init__(self, bridge: Any, tokenizer: Any, *, name: str, source: str):
        cfg = bridge.cfg
        self.bridge = bridge
        self.tokenizer = tokenizer
        self.name = name
        self.source = source
        self.n_layers: int = int(cfg.n_layers)
        self.n_heads: int = int(cfg.n_heads)
        self.d_model: int = int(cfg.d_model)
        self.d_head: int = int(cfg.d_head)
        self.d_vocab: int = int(cfg.d_vocab)
        self.n_ctx: int = int(cfg.n_ctx)
        self.architecture: str = str(getattr(cfg, "architecture", None) or type(bridge.original_model).__name__)
        self.prepend_bos: bool = bool(getattr(cfg, "default_prepend_bos", True)) and tokenizer.bos_token_id is not None
        self.pad_token_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._hook_names: tuple[str, ...] = tuple(bridge.hook_dict)
        self._lock = _lock_bridge(bridge)
        bridge.eval()

    # ------------------------------------------------------------------ metadata
    @property
    def device(self) -> torch.device:
        return next(self.bridge.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.bridge.parameters()).dtype

    @property
    def lock(self) -> ModelLock:
        """The per-model re-entrant lock every forward pass and hook block holds (see the class docstring)."""
        return self._lock

    @property
    def hook_names(self) -> tuple[str, ...]:
        """Every TransformerLens hook point name of this model."""
        return self._hook_names

    @property
    def has_chat_template(self) -> bool:
        """Whether the tokenizer has a chat template (an instruct model; gemma-3-270m-Q4_K_M, a base model, has
        none). Chat-only analyses call :meth:`require_chat_template`, which raises a named error without one."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def is_chat(self) -> bool:
        """The same as :attr:`has_chat_template`."""
        return self.has_chat_template

    def require_chat_template(self, where: str, *, why: str = "it wraps prompts in the chat template") -> None:
        """Raise :class:`~interp.errors.NoChatTemplateError` (naming ``where`` and ``why``) unless the model has a
        chat template."""
        if not self.has_chat_template:
            raise NoChatTemplateError(
                f"{where} needs a model with a chat template ({why}), and {self.name} has none: it is a base model, "
                "not an instruct model. Use chat=False, or an instruct model such as the default "
                "SmolLM2-135M-Instruct-Q4_1.")

    @property
    def accepts_logits_to_keep(self) -> bool:
        """Whether the wrapped HF model's forward takes ``logits_to_keep`` (compute logits at some positions only)."""
        return engine.accepts_logits_to_keep(self)

    def logits_token_budget(self, budget_bytes: int | None = None) -> int:
        """Padded tokens per micro-batch of :meth:`logits` (every position's logits kept) within ``budget_bytes``
        (by default the engine's ``DEFAULT_BUDGET_BYTES``), as :func:`interp.models.engine.row_bytes` estimates
        one position: its activations and its ``d_vocab`` logits."""
        budget = engine.DEFAULT_BUDGET_BYTES if budget_bytes is None else budget_bytes
        return max(1, budget // engine.row_bytes(self, 1, keep=1))

    # ------------------------------------------------------------------ the engine
    def run(self, sequences: Sequence[Sequence[int] | str], *, keep: Any = "last", hooks: Any = None,
            grad: bool = False, each: Callable[[engine.Pass], Any] | None = None, batch_size: int | None = None,
            padding_side: str = "left", budget_bytes: int | None = None,
            progress: ProgressCallback | None = None, stage: str = "forward",
            stop_at_layer: int | None = None) -> Any:
        """Run many sequences in planned, padded micro-batches: the one engine every analysis uses.

        See :func:`interp.models.engine.run` for the parameters. In short: ``keep`` is ``"last"`` (default:
        (n, d_vocab) float32 logits on CPU), an int k (each row's last k positions: (n, k, d_vocab)), ``"all"``
        (a list of (len_i, d_vocab)) or None; ``hooks`` are TransformerLens hooks for every pass, or a callable
        ``(rows, batch) -> hooks`` for each micro-batch; ``each=fn(Pass)`` reduces every micro-batch inside its
        pass (then ``[(rows, value), ...]`` is returned); ``grad=True`` keeps autograd on; ``keep=None`` with
        ``stop_at_layer`` runs the first blocks only, for the hooks. Micro-batches fit
        ``budget_bytes`` (bytes, estimated from the model's shape and dtype) unless ``batch_size`` is given;
        one that runs out of memory is retried in halves. Count passes with :meth:`count_passes`.

        Example:
            >>> logits = model.run(["The capital of France is", "Hi"])  # (2, d_vocab)
        """
        return engine.run(self, sequences, keep=keep, hooks=hooks, grad=grad, each=each, batch_size=batch_size,
                          padding_side=padding_side, budget_bytes=budget_bytes, progress=progress, stage=stage,
                          stop_at_layer=stop_at_layer)

    @contextlib.contextmanager
    def count_passes(self) -> Iterator[PassCount]:
        """Count this model's engine passes inside a ``with`` block (any thread's, while it lasts).

        Example:
            >>> with model.count_passes() as count:
            ...     model.run(["Hello"] * 3)
            >>> (count.passes, count.rows, count.peak_bytes)
        """
        counter = PassCount()
        counters = self.__dict__.setdefault("_pass_counters", [])
        counters.append(counter)
        try:
            yield counter
        finally:
            counters.remove(counter)

    def info(self) -> dict[str, Any]:
        """The model card: name, source, the weights' file, quantization and fingerprint (see
        :func:`interp.models.card.model_card`), shape, parameter count, device and dtype, and for a packaged
        model its licence and the path of its terms."""
        from interp.models.card import model_card

        return {
            **model_card(self), "architecture": self.architecture,
            "n_layers": self.n_layers, "n_heads": self.n_heads, "d_model": self.d_model, "d_head": self.d_head,
            "d_vocab": self.d_vocab, "n_ctx": self.n_ctx,
            "n_params": int(sum(p.numel() for p in self.bridge.original_model.parameters())),
            "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
            "chat_template": self.is_chat, "prepend_bos": self.prepend_bos,
            # a packaged model's licence and the terms file its package ships (gemma: the Gemma Terms of Use)
            **{key: value for key, value in (getattr(self, "provenance", None) or {}).items() if key in ("licence", "terms")},
        }

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, n_layers={self.n_layers}, n_heads={self.n_heads}, d_model={self.d_model}, "
                f"n_ctx={self.n_ctx}, device={str(self.device)!r})")

    # ------------------------------------------------------------------ tokenization
    def encode(self, text: str, *, prepend_bos: bool | None = None, where: str = "Model.encode") -> list[int]:
        """Token ids of one text (BOS first if ``prepend_bos``); checks it fits in n_ctx."""
        (text,), _ = check_texts(text, where=where)
        bos = self.prepend_bos if prepend_bos is None else prepend_bos
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if bos:
            ids = [self.tokenizer.bos_token_id, *ids]
        if len(ids) > self.n_ctx:
            raise PromptTooLongError(
                f"The prompt given to {where} is {len(ids)} tokens long, but {self.name} accepts at most "
                f"n_ctx={self.n_ctx} tokens{' (BOS included)' if bos else ''}. Shorten it or split it. "
                f"It starts with {text[:40]!r}.")
        return ids

    def tokenize(self, texts: str | Sequence[str], *, padding_side: str = "right",
                 prepend_bos: bool | None = None) -> TokenBatch:
        """Tokenize one text or many into a padded :class:`TokenBatch`."""
        items, _ = check_texts(texts, where="Model.tokenize")
        check_choice(padding_side, ("right", "left"), name="padding_side", where="Model.tokenize")
        ids = [self.encode(t, prepend_bos=prepend_bos, where="Model.tokenize") for t in items]
        return self._pad(ids, padding_side)

    def _pad(self, ids: list[list[int]], padding_side: str) -> TokenBatch:
        width = max(len(x) for x in ids)
        tokens = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, row in enumerate(ids):
            span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
            tokens[i, span] = torch.tensor(row, dtype=torch.long)
            mask[i, span] = 1
        return TokenBatch(tokens, mask, [len(x) for x in ids], padding_side)

    def to_tokens(self, text: str | Sequence[str], *, prepend_bos: bool | None = None) -> torch.Tensor:
        """(batch, pos) token ids, as TransformerLens's ``to_tokens``; lists are right-padded."""
        return self.tokenize(text, prepend_bos=prepend_bos).tokens

    def to_str_tokens(self, text: str | Sequence[str], *, prepend_bos: bool | None = None) -> list[str] | list[list[str]]:
        """Each token of a text as a string (a list of lists for a list of texts)."""
        items, single = check_texts(text, where="Model.to_str_tokens")
        out = [self.ids_to_str(self.encode(t, prepend_bos=prepend_bos, where="Model.to_str_tokens")) for t in items]
        return out[0] if single else out

    def ids_to_str(self, ids: Sequence[int]) -> list[str]:
        """Decode each id on its own (a token that is part of a multi-byte character shows as '�')."""
        return [self.tokenizer.decode([int(i)]) for i in ids]

    # ------------------------------------------------------------------ forward passes
    def _micro_batches(self, lengths: Sequence[int], batch_size: int | None, *, keep: Any = "all") -> list[list[int]]:
        if batch_size is not None:
            check_int(batch_size, name="batch_size", where="Model", low=1)
        return engine.plan(self, lengths, keep=keep, batch_size=batch_size)

    def _forward(self, batch: TokenBatch, **kwargs: Any) -> torch.Tensor:
        with self._lock:
            return self.bridge(batch.tokens.to(self.device), attention_mask=batch.attention_mask.to(self.device), **kwargs)

    def logits(self, texts: str | Sequence[str], *, batch_size: int | None = None,
               padding_side: str = "right", last_only: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Logits of every position of each text, on CPU (:meth:`run` with ``keep="all"`` or ``"last"``).

        Returns:
            For one text, a (pos, d_vocab) tensor; for a list, a list of (pos_i, d_vocab) tensors with
            padding removed, so the values do not depend on batch size or padding side. With
            ``last_only=True``, only the last position: (d_vocab,) or (batch, d_vocab).

        By default a micro-batch holds as many texts as fit in the engine's byte budget (activations and
        float32 logits of every position; see :func:`interp.models.engine.row_bytes`).
        """
        items, single = check_texts(texts, where="Model.logits")
        check_choice(padding_side, ("right", "left"), name="padding_side", where="Model.logits")
        ids = [self.encode(t, where="Model.logits") for t in items]
        out = engine.run(self, ids, keep="last" if last_only else "all", batch_size=batch_size,
                         padding_side=padding_side, where="Model.logits")
        return out[0] if single else out

    def check_hook_names(self, names: NamesArg, *, where: str = "Model.run_with_cache") -> list[str] | Callable[[str], bool]:
        """Validate hook names (or pass a filter function through); raise UnknownHookError with suggestions."""
        if callable(names):
            return names
        items = [names] if isinstance(names, str) else list(names)
        if not items:
            raise InvalidParameterError(f"The 'names' parameter of {where} is empty: name at least one hook, "
                                        "e.g. 'blocks.0.hook_resid_post'.")
        known = set(self._hook_names)
        for name in items:
            if not isinstance(name, str) or name not in known:
                close = difflib.get_close_matches(str(name), self._hook_names, n=3)
                raise UnknownHookError(
                    f"{name!r} is not a hook point of {self.name} (given to {where}). "
                    f"{'Did you mean ' + ', '.join(map(repr, close)) + '? ' if close else ''}"
                    f"Hook names look like 'hook_embed', 'blocks.{{l}}.hook_resid_post' or "
                    f"'blocks.{{l}}.attn.hook_pattern' with l in [0, {self.n_layers}); see Model.hook_names.")
        return items

    def layers_needed(self, names: Sequence[str]) -> int | None:
        """The number of blocks a forward pass must run to reach every hook in ``names``.

        ``None`` means the whole model (a hook after the last block, such as ``ln_final``).
        """
        needed = 0
        for name in names:
            match = _BLOCK_RE.match(name)
            if match:
                needed = max(needed, int(match.group(1)) + 1)
            elif not (name.startswith("embed") or name.startswith("hook_embed") or name.startswith("hook_pos_embed")
                      or name.startswith("pos_embed") or name.startswith("rotary_emb") or name == "hook_tokens"):
                return None
        return max(needed, 1)

    def run_with_cache(self, texts: str | Sequence[str], names: NamesArg, *, stop_at_layer: int | None = None,
                       batch_size: int | None = None, padding_side: str = "right") -> ActivationCache:
        """Run the model and keep only the activations named, on CPU.

        Args:
            texts: a text or a list of texts (padded together; see :class:`TokenBatch`).
            names: hook names, one name, or a filter function ``name -> bool``.
            stop_at_layer: run only blocks [0, stop_at_layer). By default it is worked out from
                ``names``: caching ``blocks.3.hook_resid_post`` runs 4 blocks of 30.
            batch_size: texts per forward pass; by default about 4,096 padded tokens per pass.
            padding_side: "right" (default) or "left".

        Returns:
            :class:`ActivationCache`: ``cache[name]`` is (batch, pos, ...), on CPU, padded like
            ``cache.batch`` (the whole call's longest text). Each micro-batch runs padded only to its
            own longest text, so ``batch_size``'s token budget holds for texts of mixed lengths; a
            position past a text's real tokens is padding (zero, or the model's output on pad tokens).
        """
        where = "Model.run_with_cache"
        items, _ = check_texts(texts, where=where)
        check_choice(padding_side, ("right", "left"), name="padding_side", where=where)
        checked = self.check_hook_names(names, where=where)
        if stop_at_layer is None:
            stop_at_layer = None if callable(checked) else self.layers_needed(checked)
        else:
            check_int(stop_at_layer, name="stop_at_layer", where=where, low=1, high=self.n_layers + 1)
        if stop_at_layer is not None and stop_at_layer >= self.n_layers:
            stop_at_layer = None
        ids = [self.encode(t, where=where) for t in items]
        full = self._pad(ids, padding_side)  # the call's batch: what the returned tensors are padded like
        collected: dict[str, list[torch.Tensor]] = {}
        order: list[int] = []
        wanted = checked if callable(checked) else set(checked)

        def keep(name: str) -> bool:
            return wanted(name) if callable(wanted) else name in wanted

        with self._lock, torch.inference_mode():
            for group in self._micro_batches(full.lengths, batch_size):
                batch = self._pad([ids[i] for i in group], padding_side)  # as wide as its own longest text
                _, cache = self.bridge.run_with_cache(
                    batch.tokens.to(self.device), attention_mask=batch.attention_mask.to(self.device),
                    names_filter=keep, stop_at_layer=stop_at_layer, return_cache_object=False)
                engine._record(self, len(group), batch.tokens.shape[1],
                               len(group) * engine.row_bytes(self, batch.tokens.shape[1], keep=batch.tokens.shape[1]))
                for name, value in cache.items():
                    value = self._widen(name, value.detach().to("cpu"), batch.tokens.shape[1], full.tokens.shape[1],
                                        padding_side)
                    collected.setdefault(name, []).append(value)
                order.extend(group)
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        activations = {name: torch.cat(parts)[inverse] for name, parts in collected.items()}
        str_tokens = [self.ids_to_str(x) for x in ids]
        return ActivationCache(activations, full, str_tokens)

    def _widen(self, name: str, value: torch.Tensor, width: int, full: int, padding_side: str) -> torch.Tensor:
        """``value`` of a micro-batch padded to ``width`` positions, zero-padded to the call's ``full`` width
        on ``padding_side`` along its position axes (1, or query and key of an attention pattern)."""
        if width == full:
            return value
        hook_point = self.bridge.hook_dict.get(name)
        pos_dim = getattr(hook_point, "pos_dim", None)
        if pos_dim is None:
            pos_dim = -2 if name.endswith(("hook_pattern", "hook_attn_scores")) else 1
        dims = [value.dim() - 2, value.dim() - 1] if pos_dim == -2 else [pos_dim % value.dim()]  # -2: (.., q, k)
        pad: list[int] = [0] * (2 * value.dim())  # F.pad order: last axis first, (before, after) each
        for dim in dims:
            if value.shape[dim] == width:
                pad[2 * (value.dim() - 1 - dim) + (0 if padding_side == "left" else 1)] = full - width
        return torch.nn.functional.pad(value, pad) if any(pad) else value

    @contextlib.contextmanager
    def hooks(self, fwd_hooks: Sequence[tuple[NamesArg, Callable]] = (),
              bwd_hooks: Sequence[tuple[NamesArg, Callable]] = ()) -> Iterator[Model]:
        """Add TransformerLens hooks for the duration of a ``with`` block; they are always removed.

        Each hook is ``(name_or_filter, fn)`` with ``fn(tensor, hook) -> tensor | None``. The block holds
        ``model.lock``: other threads' passes wait until it ends, so the hooks act only on this block's
        passes. A backward pass that relies on ``bwd_hooks`` must run inside the block.

        Example:
            >>> def zero(x, hook): return torch.zeros_like(x)
            >>> with model.hooks([("blocks.0.hook_resid_post", zero)]):
            ...     patched = model.logits("Hello")
        """
        for name, fn in [*fwd_hooks, *bwd_hooks]:
            if not callable(name):
                self.check_hook_names(name, where="Model.hooks")
            if not callable(fn):
                raise InvalidParameterError(f"Hook functions given to Model.hooks must be callable; got {fn!r} for {name!r}.")
        with self._lock, self.bridge.hooks(fwd_hooks=list(fwd_hooks), bwd_hooks=list(bwd_hooks)):
            yield self

    # ------------------------------------------------------------------ prediction and generation
    def chat_prompt(self, prompt: str, *, system: str | None = None) -> str:
        """``prompt`` wrapped in the tokenizer's chat template, ready for the assistant's answer."""
        (prompt,), _ = check_texts(prompt, where="Model.chat_prompt")
        self.require_chat_template("chat=True (Model.chat_prompt)")
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    @validate_params({"prompt": ["text"], "k": [Interval(int, 1, Attr("d_vocab", of="self", plus=1))],
                      "chat": ["boolean"]})
    def top_next_tokens(self, prompt: str, k: int = 10, *, chat: bool = False) -> TopTokensResult:
        """The ``k`` most likely next tokens after ``prompt`` (wrapped in the chat template if ``chat``)."""
        from interp.models.card import model_card

        text = self.chat_prompt(prompt) if chat else prompt
        ids = self.encode(text, prepend_bos=False if chat else None, where="Model.top_next_tokens")
        logits = self.run([ids], keep="last")[0]  # (d_vocab,): only the last position's logits are computed
        probs = torch.softmax(logits, dim=-1)
        top = torch.topk(probs, k)
        return TopTokensResult(prompt=text, tokens=self.ids_to_str(top.indices.tolist()),
                               token_ids=top.indices.numpy(), probs=top.values.numpy(),
                               logits=logits[top.indices].numpy(), model_name=self.name,
                               model_card=model_card(self))

    def generate(self, prompt: str, max_new_tokens: int = 32, *, temperature: float = 0.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = 0,
                 chat: bool = False, system: str | None = None) -> str:
        """Continue ``prompt`` and return only the new text.

        ``temperature=0`` (the default) decodes greedily; above 0 it samples, reproducibly for a
        given ``seed``. With ``chat=True`` the prompt is wrapped in the chat template first and
        generation stops at the end-of-turn token.
        """
        where = "Model.generate"
        check_int(max_new_tokens, name="max_new_tokens", where=where, low=1, high=self.n_ctx)
        if not isinstance(temperature, (int, float)) or temperature < 0:
            raise InvalidParameterError(f"The 'temperature' parameter of {where} must be a float >= 0. "
                                        f"Got {temperature!r} instead.")
        text = self.chat_prompt(prompt, system=system) if chat else prompt
        ids = self.encode(text, prepend_bos=False if chat else None, where=where)
        if len(ids) + max_new_tokens > self.n_ctx:
            raise PromptTooLongError(f"{where}: the prompt ({len(ids)} tokens) plus max_new_tokens={max_new_tokens} "
                                     f"exceeds n_ctx={self.n_ctx} of {self.name}.")
        tokens = torch.tensor([ids], device=self.device)
        with self._lock, torch.random.fork_rng(devices=[]), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.bridge.generate(tokens, max_new_tokens=max_new_tokens, do_sample=temperature > 0,
                                       temperature=max(float(temperature), 1e-5), top_k=top_k, top_p=top_p,
                                       stop_at_eos=True, eos_token_id=self.tokenizer.eos_token_id,
                                       verbose=False, return_type="tokens")
        new = out[0, len(ids):].tolist()
        return self.tokenizer.decode(new, skip_special_tokens=True)

    def chat(self, prompt: str, *, system: str | None = None, max_new_tokens: int = 128, **kwargs: Any) -> str:
        """Ask an instruct model: the chat template is applied and only the answer is returned."""
        return self.generate(prompt, max_new_tokens, chat=True, system=system, **kwargs)
