"""Load time of the default model once its libraries are imported, against a plain Hugging Face load of the same
cached files (tokenizer + ``from_pretrained``), and the imports against the floor ``import torch``.

The load figure excludes the imports (they are timed in fresh processes); the target is <= 1.5 s. ``--build``
also times the first build (GGUF de-quantization into a temporary cache, ~20 s). Through the harness: the
figures, their references and ratios, the machine, its load and a JSON record in benchmarks/results/.

Run: ``.venv/bin/python benchmarks/bench_load.py [--build] [--out PATH]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from _harness import fresh_process_seconds, run, seconds


def main(bench) -> None:
    py = sys.executable
    floor = fresh_process_seconds([py, "-c", "import torch"])
    bench.figure("import interp (lazy, fresh process)", fresh_process_seconds([py, "-c", "import interp"]),
                 reference=fresh_process_seconds([py, "-c", "pass"]), reference_label="python -c pass")
    bench.figure("import torch+transformers+bridge", fresh_process_seconds(
        [py, "-c", "import torch, transformers.modeling_utils, transformer_lens.model_bridge"]),
        reference=floor, reference_label="import torch")

    import transformer_lens.model_bridge  # noqa: F401  (imports excluded from the timings below)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import interp
    from interp.models import _cache

    interp.load_model(quiet=True)  # builds the user cache if it is missing (not timed)
    directory = str(_cache.default_model_dir())
    ours = seconds(lambda: interp.load_model(quiet=True))
    plain = seconds(lambda: (AutoTokenizer.from_pretrained(directory),
                             AutoModelForCausalLM.from_pretrained(directory, attn_implementation="eager")))
    bench.figure("cached load_model() after imports", ours, reference=plain,
                 reference_label="HF tokenizer + from_pretrained", target=1.5)
    if "--build" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            previous = os.environ.get("INTERP_CACHE")
            os.environ["INTERP_CACHE"] = tmp  # a script's own process: a fresh cache folder for the build
            try:
                start = time.perf_counter()
                interp.load_model(quiet=True)
                first = time.perf_counter() - start
            finally:
                if previous is None:
                    del os.environ["INTERP_CACHE"]
                else:
                    os.environ["INTERP_CACHE"] = previous
        bench.figure("first load (GGUF build + load)", first, reference=ours, reference_label="cached load")


if __name__ == "__main__":
    run("load", main)
