"""Load times of the default model: first build (GGUF de-quantization) vs cached safetensors reload.

Prints each figure and ratios against a plain Hugging Face ``from_pretrained`` of the same cached
files measured in the same run. Imports are timed separately (a fresh interpreter) and excluded from
the load figures. Run: ``.venv/bin/python benchmarks/bench_load.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time


def fresh_import_seconds(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"import interp (lazy):            {fresh_import_seconds('import interp'):.2f} s")
    print(f"import interp.cli:               {fresh_import_seconds('import interp.cli'):.2f} s")
    heavy = fresh_import_seconds('import torch, transformers, transformer_lens.model_bridge')
    print(f"import torch+transformers+TL:    {heavy:.2f} s")

    import torch  # noqa: F401  (imports excluded from the timings below)
    import transformer_lens.model_bridge  # noqa: F401
    from transformers import AutoModelForCausalLM

    import interp
    from interp.models import _cache

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INTERP_CACHE"] = tmp
        start = time.perf_counter()
        interp.load_model(quiet=True)
        first = time.perf_counter() - start
        cached = []
        for _ in range(3):
            start = time.perf_counter()
            model = interp.load_model(quiet=True)
            cached.append(time.perf_counter() - start)
        hf = []
        for _ in range(3):
            start = time.perf_counter()
            AutoModelForCausalLM.from_pretrained(str(_cache.default_model_dir()), attn_implementation="eager")
            hf.append(time.perf_counter() - start)
        assert " Paris" in model.top_next_tokens("The capital of France is", k=3).tokens
    first_cached, hf_median = statistics.median(cached), statistics.median(hf)
    print(f"first load (GGUF build + load):  {first:.2f} s")
    print(f"cached load (median of 3):       {first_cached:.2f} s   (target <= 3 s)")
    print(f"plain HF from_pretrained:        {hf_median:.2f} s   (reference, same files)")
    print(f"ratio first / cached:            {first / first_cached:.1f}x")
    print(f"ratio cached / plain HF:         {first_cached / hf_median:.2f}x  (overhead of tokenizer + TransformerBridge)")


if __name__ == "__main__":
    main()
