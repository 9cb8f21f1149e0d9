"""``interp run SPEC.toml``: a batch run from a spec file (a thin shell over :func:`interp.batch.run_spec`).

    interp run probes/truth_sweep.toml --out runs/truth
    interp run probes/truth_sweep.toml --out runs/truth --resume        # continue after a crash or kill -9
    interp run probes/pos_sweep.toml --out /tmp/pos --set models='["tiny-gpt2"]' --set data.max_sentences=200
    interp run probes/truth_sweep.toml --out /shared/truth --executor ray --address 10.0.0.1:6379 --gpus-per-worker 1

It prints the best layer per model, dataset and probe and where the results, ``summary.csv`` and
``report.html`` are. ``--json`` prints the run's ``run.json`` instead.
"""

# No ``from __future__ import annotations``: Typer reads the annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, clean_errors, out, print_json, table

__all__ = ["app", "parse_override"]

app = typer.Typer()


def parse_override(text: str) -> tuple[str, object]:
    """``"data.max_pairs=50"`` -> ``("data.max_pairs", 50)``: the value is read as TOML (a bare word is a string)."""
    import tomllib

    from interp.errors import InvalidSpecError

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidSpecError(f"--set takes KEY=VALUE (e.g. data.max_pairs=50 or models='[\"tiny-gpt2\"]'). "
                               f"Got {text!r}.", key=key)
    try:
        return key, tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value.strip()


@app.command("run")
@clean_errors
def run(spec: Annotated[Path, typer.Argument(help="The spec file (TOML); see probes/*.toml.")],
        out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: the spec's "
                                                     "out).")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue an unfinished run of the same spec in "
                                             "the folder; nothing finished is recomputed.")] = False,
        overrides: Annotated[list[str] | None, typer.Option("--set", help="Change a spec key: KEY=VALUE "
                                                            "(TOML value), repeatable.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
        executor: Annotated[str | None, typer.Option("--executor", help="Where the jobs run: 'local' (this "
                                                     "process) or 'ray' (a Ray cluster; pip install "
                                                     "'interp[ray]'). Default: the spec's executor, else "
                                                     "local.")] = None,
        address: Annotated[str | None, typer.Option("--address", help="Ray: 'auto' (the cluster this machine "
                                                    "joined), HOST:PORT of a head node, or 'local'. Default: "
                                                    "$RAY_ADDRESS, else a new local instance.")] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Ray: model replicas (actors) for "
                                                    "extraction. Default: one per node (or per GPU "
                                                    "group).")] = None,
        gpus_per_worker: Annotated[float | None, typer.Option("--gpus-per-worker", help="Ray: GPUs per "
                                                              "replica (0: CPU).")] = None,
        as_json: JsonOpt = False) -> None:
    """Run a batch spec: extract activations, fit probes, write results, summary.csv and report.html."""
    from interp.batch.runner import run_spec

    changes = dict(parse_override(item) for item in overrides or [])
    for key, value in (("executor", executor), ("ray.address", address), ("ray.workers", workers),
                       ("ray.gpus_per_worker", gpus_per_worker)):
        if value is not None:  # flags win over the spec (and --set)
            changes[key] = value
    summary = run_spec(spec, out_dir, resume=resume, overrides=changes, progress=False if quiet else None)
    if as_json:
        print_json(summary.record)
        return
    attempt = summary.attempts[-1]
    out.print(f"{summary.task} run {summary.status} in {summary.directory}: "
              f"{attempt['shards_computed']} shards computed, {attempt['shards_reused']} reused; "
              f"{attempt['probes_computed']} probes fitted, {attempt['probes_reused']} reused.", highlight=False)
    metric = summary.record["summary"]["headline"]
    best = summary.best_layers()
    if "layer" in best and best["layer"].notna().any():
        out.print(table(best.to_dict(orient="records"), f"Best layer by {metric}"))
    else:  # a shard-map task (ask, data_attribution, ...): its rows have no layer
        out.print(table(summary.frame().to_dict(orient="records"), "Summary"))
    for entry in summary.record["results"]:
        out.print(entry["summary"], highlight=False)
    out.print(f"wrote {len(summary.result_paths)} result(s) to {summary.directory / 'results'}, "
              f"{summary.directory / 'summary.csv'} and {summary.report_path}", highlight=False)
