"""Training a TopK SAE on the default model's middle layer on a CPU: speed against the forward-pass floor, quality
with intervals, and (when installed) the same configuration trained by EleutherAI's ``sparsify``.

Figures (through the harness, each beside its reference from the same run):

- tokens harvested and trained per second by ``train_sae`` (forward passes to the layer + shards + SAE steps),
  against the floor: one forward pass to that layer over the same tokens (``collect`` in memory);
- where the time goes: seconds in forward passes (harvest) and in SAE steps;
- on held-out built-in text (``evaluate_sae``): explained variance, L0, CE loss recovered, dead fraction, each
  with its bootstrap interval over texts (printed, and in the record's notes);
- with ``sparsify`` importable (``pip install --no-deps eai-sparsify`` plus its small pure-Python dependencies
  natsort, simple-parsing, schedulefree; it needs no second torch): the same k, width, batch size and learning
  rate trained on the same activations, its seconds and its held-out explained variance / CE recovered, evaluated
  by the same ``evaluate_sae`` (its weights wrapped as a ``SparseAutoencoder``).

Targets of issue 29 (quiet machine, the default model): explained variance >= 0.80 at L0 32, CE loss recovered
>= 0.85, dead <= 5 %, 2M tokens in <= 60 minutes.

Run: ``.venv/bin/python benchmarks/bench_sae.py [--texts 20000] [--heldout 200] [--layer L] [--out PATH]``;
``--texts 40 --heldout 8`` is a quick check that it works (numbers meaningless).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from _harness import run


def args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=20000, help="training passages of the built-in corpus")
    parser.add_argument("--heldout", type=int, default=200, help="held-out passages for the evaluation")
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--width", type=int, default=None, help="latents (default 8 x d_model)")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--model", default=None)
    return parser.parse_known_args(sys.argv[1:])[0]


def fmt(metrics: dict, name: str) -> str:
    m = metrics[name]
    return f"{m['estimate']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def sparsify_reference(model, texts, layer, k, width, batch_size, lr):
    """Train sparsify's SparseCoder (TopK + AuxK) on the same activations; (seconds, our SparseAutoencoder) or None."""
    try:
        from sparsify import SparseCoder, SparseCoderConfig
    except ImportError as exc:
        print(f"sparsify reference skipped: {exc}")
        return None
    import torch

    from interp.activations import collect
    from interp.features import SparseAutoencoder
    from interp.layers import layer_hook_name

    x = torch.from_numpy(collect(model, texts, layers=[layer], position="all", progress=False)[layer])
    torch.manual_seed(0)
    sae = SparseCoder(model.d_model, SparseCoderConfig(num_latents=width, k=k), device="cpu")
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    since = torch.zeros(width, dtype=torch.long)
    start = time.perf_counter()
    order = torch.randperm(len(x))
    for a in range(0, len(x), batch_size):
        batch = x[order[a:a + batch_size]]
        out = sae(batch, dead_mask=since > 200_000)
        loss = out.fvu + out.auxk_loss / 32
        loss.backward()
        since += len(batch)
        since[out.latent_indices.flatten()] = 0
        sae.remove_gradient_parallel_to_decoder_directions()
        optimizer.step()
        optimizer.zero_grad()
        sae.set_decoder_norm_to_unit_norm()
    seconds = time.perf_counter() - start
    ours = SparseAutoencoder(sae.encoder.weight.detach().T.contiguous(), sae.encoder.bias.detach(),
                             sae.W_dec.detach(), sae.b_dec.detach(), architecture="topk", k=k,
                             hook_name=layer_hook_name(layer), layer=layer)
    return seconds, ours


def main(bench) -> None:
    a = args()
    import interp
    from interp.activations import collect
    from interp.features import default_texts, evaluate_sae, train_sae
    from interp.features.train import default_lr

    model = interp.load_model(a.model, quiet=True)
    layer = model.n_layers // 2 if a.layer is None else a.layer
    width = a.width or 8 * model.d_model
    texts = default_texts(max_texts=a.texts)
    heldout = default_texts(split="heldout", max_texts=a.heldout)

    start = time.perf_counter()
    acts = collect(model, texts, layers=[layer], position="all", progress=False)
    floor = time.perf_counter() - start
    n_tokens = len(acts)
    del acts
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = train_sae(model, texts, layer, k=a.k, width=width, batch_size=a.batch_size, out=folder,
                           progress=False)
        total = time.perf_counter() - start
        sae = result.sae
    bench.figure("train_sae tokens/s", result.n_tokens / total, unit="tok/s", reference=n_tokens / floor,
                 reference_label="one forward pass to the layer (collect)",
                 note=f"{result.n_tokens:,} tokens; layer {layer}; {width} latents, k={a.k}")
    bench.figure("train_sae seconds", total, reference=floor, reference_label="forward floor",
                 note=f"harvest {result.harvest_seconds:.1f} s + SAE steps {result.train_seconds:.1f} s")
    bench.figure("SAE steps seconds", result.train_seconds, reference=result.harvest_seconds,
                 reference_label="harvest (forward + shards)")
    ev = evaluate_sae(model, sae, heldout, max_texts=None, progress=False)
    m = ev.metrics
    print(f"held-out ({ev.n_tokens:,} tokens): explained variance {fmt(m, 'explained_variance')}, L0 {fmt(m, 'l0')}, "
          f"CE loss recovered {fmt(m, 'ce_loss_recovered')}, dead {fmt(m, 'dead_fraction')}, "
          f"dense {fmt(m, 'dense_fraction')}")
    reference = sparsify_reference(model, texts, layer, a.k, width, a.batch_size, default_lr(width))
    note = {name: fmt(m, name) for name in m}
    if reference is None:
        bench.figure("explained variance (held-out)", m["explained_variance"]["estimate"], unit="",
                     note=str(note))
        return
    seconds, theirs = reference
    ref = evaluate_sae(model, theirs, heldout, max_texts=None, progress=False)
    print(f"sparsify: {seconds:.1f} s of SAE steps; held-out explained variance {fmt(ref.metrics, 'explained_variance')}"
          f", CE loss recovered {fmt(ref.metrics, 'ce_loss_recovered')}, dead {fmt(ref.metrics, 'dead_fraction')}")
    bench.figure("explained variance (held-out)", m["explained_variance"]["estimate"], unit="",
                 reference=ref.metrics["explained_variance"]["estimate"], reference_label="sparsify, same config",
                 note=str(note))
    bench.figure("SAE steps seconds vs sparsify", result.train_seconds, reference=seconds,
                 reference_label="sparsify, same activations")


if __name__ == "__main__":
    run("sae", main)
