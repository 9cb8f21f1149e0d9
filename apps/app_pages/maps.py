"""Maps page: projections of representation space, and the linear world map of place names.

A thin shell over :mod:`interp.projection`: :func:`~interp.projection.project` for a scatter of
your texts (or the built-in place list) at a layer with PCA, UMAP or t-SNE, and
:func:`~interp.projection.world_map` for held-out R^2 of latitude and longitude per layer, the map
of predictions on the shipped Natural Earth coastlines (nothing fetched) and the PCA view (or a
saved ``result.json`` from ``interp map world --out DIR``).
"""

import _common
import streamlit as st

import interp
from interp._params import options_of
from interp._validation import every_nth_layer
from interp.projection import WorldMapResult, load_places, parse_labelled_lines, project, world_map

DEFAULT_TEXTS = ("animal\tcat\nanimal\tdog\nanimal\thorse\ncity\tParis\ncity\tTokyo\ncity\tCairo\n"
                 "colour\tred\ncolour\tgreen\ncolour\tblue")


def run_project(model: interp.Model, texts: tuple[str, ...], labels: tuple[str, ...] | None, layer: int, method: str,
                components: int, seed: int):
    return _common.cached_result(
        "projection", model, (texts, labels, layer, method, components, seed),
        lambda: project(model, list(texts), layer=layer, method=method, labels=None if labels is None else list(labels),
                        n_components=components, seed=seed), spinner="Projecting…")


def run_world_map(model: interp.Model, n_places: int, prompt: str, position: str, step: int, random_baseline: bool,
                  probe: str = "linear") -> WorldMapResult:
    """From this process, else the explorer cache on disk, else computed with a progress bar of what runs."""
    layers = every_nth_layer(model.n_layers, step)
    request = (n_places, prompt, position, tuple(layers), random_baseline) + ((probe,) if probe != "linear" else ())

    def compute() -> WorldMapResult:
        with _common.progress_bar(f"World map of {n_places:,} places") as bar:
            return world_map(model, n_places=n_places, prompt=prompt, position=position, layers=layers,
                             random_baseline=random_baseline, probe=probe, progress=bar)

    return _common.cached_result("world_map", model, request, compute, disk=True)


def open_world_map(data: bytes) -> WorldMapResult:
    return _common.cached_result("world_map_upload", None, (data,),
                                 lambda: WorldMapResult.from_json(data, source="the uploaded file"))


def parse_texts(raw: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The texts box read as ``read_labelled_texts`` reads a file (labels on every line or on none)."""
    texts, labels = parse_labelled_lines(raw.splitlines(), source="The texts box")
    return tuple(texts), None if labels is None else tuple(labels)


loaded = _common.current_model()
model = loaded.model

st.title("Maps of representation space")
_common.defaults_note("maps")
scatter_tab, world_tab = st.tabs(["Scatter", "World map"])

with scatter_tab:
    with st.form("maps_project_form"):
        source = st.radio("Points", ["My texts", "Built-in places (coloured by continent)"], horizontal=True,
                          key="maps_source")
        raw = st.text_area("Texts, one per line (optionally label<TAB>text)", DEFAULT_TEXTS, height=180,
                           key="maps_texts")
        left, middle, right, last = st.columns(4)
        layer = left.number_input("Layer (0 = embeddings)", 0, model.n_layers, model.n_layers // 2, key="maps_layer")
        method = middle.selectbox("Method", options_of(project, "method"), key="maps_method")
        components = right.selectbox("Dimensions", options_of(project, "n_components"), key="maps_components")
        n_places = last.number_input("Places", 50, 5000, 500, step=50, key="maps_n_places")
        submitted = st.form_submit_button("Project", type="primary")
    request = None
    if submitted:
        if source == "My texts":
            parsed = _common.guarded(parse_texts, raw, hint="Label every line (label, a tab, the text) or none.")
        else:
            places = load_places(int(n_places))
            parsed = tuple(p["name"] for p in places), tuple(p["continent"] for p in places)
        request = None if parsed is None else (*parsed, int(layer), method, int(components), 0)
    result = _common.page_result("maps_projection", lambda *r: run_project(model, *r), request, submitted=submitted,
                                 loaded=loaded)
    if result is not None:
        _common.show_result(result, "projection")

with world_tab:
    with st.form("maps_world_form"):
        left, middle, right = st.columns(3)
        n_world = left.number_input("Cities (most populous first)", 100, 6000, 3000, step=100, key="maps_world_n")
        prompt = middle.text_input("Prompt template", "The city of {name}", key="maps_world_prompt",
                                   help="Must contain {name}; must not contain the answer (no country).")
        position = right.selectbox("Position", options_of(world_map, "position"), key="maps_world_position",
                                   help="Mean over the name's tokens, or the prompt's last token.")
        left, right = st.columns(2)
        step = left.number_input("Every n-th layer", 1, max(1, model.n_layers), max(1, model.n_layers // 10),
                                 key="maps_world_step")
        probe = right.selectbox("Probe", options_of(world_map, "probe"), key="maps_world_probe",
                                help="linear: ridge regression (Gurnee & Tegmark's probe); mlp: one hidden layer, "
                                     "their nonlinear comparison.")
        random_baseline = st.checkbox("Random-weights control", value=True, key="maps_world_random")
        run = st.form_submit_button("Draw the world map", type="primary")
    uploaded = st.file_uploader("…or open a saved result (DIR/result.json from `interp map world --out DIR`)", type=["json"],
                                key="maps_world_upload")
    world = _common.page_result("maps_world", lambda *r: run_world_map(model, *r),
                                (int(n_world), prompt, position, int(step), bool(random_baseline), probe), submitted=run,
                                loaded=loaded)
    if uploaded is not None:  # an open upload is shown, whatever ran
        world = _common.guarded(open_world_map, uploaded.getvalue(),
                                hint="Upload the result.json that `interp map world --out DIR` wrote.")
    if world is None:
        st.info("Press **Draw the world map** (the default model takes about a minute on a CPU), or open a saved "
                "result.", icon=":material/play_arrow:")
    else:
        _common.show_result(world, "world_map")
