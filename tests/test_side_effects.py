"""Importing and calling interp leaves the process as it found it.

A fresh interpreter records the process-wide state (environment, torch's thread counts and global
RNG, numpy's global RNG, logging levels, Hugging Face progress bars and verbosity, warning filters,
sys.stdout/stderr) before ``import interp``, then imports it, loads a tiny model, runs a forward
pass, a CCS fit, a truth sweep and a notebook view, and records the state again. Every entry must be
equal. The model is built in the child process (the default model's tokenizer comes from the user
cache the other tests fill).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, logging, os, sys, warnings
    import numpy as np
    import torch

    def snapshot():
        import transformers.utils.logging as hf_logging  # imported here, before interp, by the child itself
        loggers = {name: logging.getLogger(name).level for name in ("", "transformers", "torch", "py.warnings")}
        return {
            "environ": dict(os.environ),
            "threads": [torch.get_num_threads(), torch.get_num_interop_threads()],
            "torch_rng": torch.random.get_rng_state().sum().item(),
            "numpy_rng": str(np.random.get_state()[1][:4].tolist()),
            "loggers": loggers,
            "root_handlers": len(logging.getLogger().handlers),
            "hf_verbosity": hf_logging.get_verbosity(),
            "hf_progress_bars": hf_logging.is_progress_bar_enabled(),
            "warning_filters": [f"{f[0]} {getattr(f[1], 'pattern', f[1])} {f[2].__name__} {getattr(f[3], 'pattern', f[3])}"
                                for f in warnings.filters],
            "streams": [id(sys.stdout), id(sys.stderr)],
            "grad_enabled": torch.is_grad_enabled(),
            "default_dtype": str(torch.get_default_dtype()),
        }

    torch.set_num_threads(2)
    # plotly, scipy and sympy (through torch) add warning filters for their own deprecations when first
    # imported (default/once/always actions, nothing hidden): imported first, so only interp's effects count
    import plotly.express, plotly.graph_objects, plotly.graph_objs._deprecations, plotly.io
    import plotly.subplots, plotly.tools, scipy.special, scipy.stats, torch.optim
    before = snapshot()
    import interp

    model = interp.load_model("tiny-gpt2", quiet=True)
    model.logits("Hello world")
    from interp.ask.metrics import auroc  # scikit-learn's first import comes from a call, not a module import
    auroc(np.array([0.2, 0.9, 0.4]), np.array([0, 1, 1]))
    from interp.truth import truth_sweep
    from interp.truth.probes import CCSProbe

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 8))
    CCSProbe(n_restarts=2, n_steps=20).fit(X)
    sweep = truth_sweep(model, ["facts"], layers=[1], probes=["linear", "mm", "ccs"], max_pairs=12, progress=False)
    sweep._repr_html_()
    top = model.top_next_tokens("Hello", k=3)
    top._repr_html_()
    after = snapshot()
    print(json.dumps({"before": before, "after": after}))
""")


def test_import_and_calls_change_no_process_wide_state():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = json.loads(proc.stdout.strip().splitlines()[-1])
    before, after = states["before"], states["after"]
    changed_env = sorted(k for k in set(before["environ"]) | set(after["environ"])
                         if before["environ"].get(k) != after["environ"].get(k))
    assert changed_env == [], f"environment variables changed: {changed_env}"
    for key in before:
        if key != "environ":
            assert after[key] == before[key], f"{key} changed: {before[key]!r} -> {after[key]!r}"
