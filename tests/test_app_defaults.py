"""One set of defaults: each explorer page starts from the library's and the CLI's defaults, or says why not.

For every analysis with a page, the widget defaults are read from the real entrypoint (``apps/explorer.py``
under Streamlit's AppTest, switched to the page), the library defaults from the function's signature
(``inspect.signature``) and the CLI defaults from the typer command's parameters. Any difference must be listed,
with its reason, in ``DEFAULTS_DIFFER`` of ``apps/_common.py``, and the page must show that note.

Two models: the tiny random GPT-2 (2 layers) and a random GPT-2 with 20 layers written to a model folder, because
some defaults depend on the model (``Every n-th layer`` starts at ``n_layers // 10``: every layer on a 2-layer
model, so the difference from the library's ``"all"`` only shows on a deeper one).
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
import streamlit as st
import typer
from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parents[1] / "apps"
TIMEOUT = 120
NOTE = "Defaults that differ from the library and the CLI"
SITES = {"residual stream": "resid", "attention output": "attn", "MLP output": "mlp", "heads": "head"}  # inside.py
DEEP_LAYERS = 20




def _library(path: str, param: str):
    """The default of ``param`` in the signature of ``module:function`` (or ``module:Class.method``)."""
    module_name, name = path.split(":")
    obj = importlib.import_module(module_name)
    for part in name.split("."):
        obj = getattr(obj, part)
    return inspect.signature(obj).parameters[param].default


def _cli(command: str, param: str):
    """The default of the typer command ``command`` (e.g. "probe pos") parameter ``param``."""
    from interp.cli import app

    group = typer.main.get_command(app)
    for name in command.split():
        group = group.commands[name]
    (option,) = [p for p in group.params if p.name == param]
    return option.default


def _split(value):
    """A CLI comma list as the library's tuple."""
    return tuple(value.split(",")) if isinstance(value, str) else value


def _layers(step: int) -> str:
    """What an 'Every n-th layer' widget asks for, in the library's and the CLI's words."""
    return "all" if step == 1 else f"every {step}th layer"


# page, widget (AppTest kind, key), its value in the library's words, the library's default, the CLI's default
# (None where the library function or the CLI command has no such parameter).
ROWS = [
    ("model", "slider", "model_k", None, ("interp.models.model:Model.top_next_tokens", "k"), ("predict", "k")),
    ("attribution", "selectbox", "attr_method", None, ("interp.attribution:attribute", "method"),
     ("attribute", "method")),
    ("attribution", "radio", "attr_unit", None, ("interp.attribution:compare_methods", "unit"), ("attribute", "unit")),
    ("attribution", "checkbox", "attr_chat", None, ("interp.attribution:compare_methods", "chat"),
     ("attribute", "chat")),
    ("attribution", "slider", "attr_steps", None, ("interp.attribution.gradient:gradient_saliency", "n_steps"),
     ("attribute", "steps")),
    ("attribution", "radio", "attr_baseline", None, ("interp.attribution.gradient:gradient_saliency", "baseline"),
     ("attribute", "baseline")),
    ("attribution", "radio", "attr_removal", {"replace with <unk>": "<unk>", "delete": None}.get,
     ("interp.attribution.ablation:token_ablation", "replace_with"), None),
    ("probing", "selectbox", "probing_probe", None, ("interp.probing.pos:pos_probe", "probe"), ("probe pos", "probe")),
    ("probing", "selectbox", "probing_corpus", None, ("interp.probing.pos:pos_probe", "corpus"),
     ("probe pos", "corpus")),
    ("probing", "checkbox", "probing_random", None, ("interp.probing.pos:pos_probe", "random_baseline"),
     ("probe pos", "random_baseline")),
    ("probing", "number_input", "probing_step", _layers, ("interp.probing.pos:pos_probe", "layers"),
     ("probe pos", "layers")),
    ("probing", "number_input", "probing_sentences", None, ("interp.probing.pos:pos_probe", "max_sentences"),
     ("probe pos", "max_sentences")),
    ("maps", "selectbox", "maps_method", None, ("interp.projection:project", "method"), ("project", "method")),
    ("maps", "selectbox", "maps_components", None, ("interp.projection:project", "n_components"),
     ("project", "components")),
    ("maps", "number_input", "maps_layer", None, ("interp.projection:project", "layer"), ("project", "layer")),
    ("maps", "number_input", "maps_world_n", None, ("interp.projection:world_map", "n_places"),
     ("map world", "n_places")),
    ("maps", "text_input", "maps_world_prompt", None, ("interp.projection:world_map", "prompt"),
     ("map world", "prompt")),
    ("maps", "selectbox", "maps_world_position", None, ("interp.projection:world_map", "position"),
     ("map world", "position")),
    ("maps", "selectbox", "maps_world_probe", None, ("interp.projection:world_map", "probe"), ("map world", "probe")),
    ("maps", "checkbox", "maps_world_random", None, ("interp.projection:world_map", "random_baseline"),
     ("map world", "random_baseline")),
    ("maps", "number_input", "maps_world_step", _layers, ("interp.projection:world_map", "layers"),
     ("map world", "layers")),
    ("lie_detector", "multiselect", "truth_sets", tuple, ("interp.truth:truth_report", "datasets"),
     ("probe truth", "datasets")),
    ("lie_detector", "multiselect", "truth_probes", tuple, ("interp.truth:truth_report", "probes"),
     ("probe truth", "probes")),
    ("lie_detector", "number_input", "truth_pairs", None, ("interp.truth:truth_report", "max_pairs"),
     ("probe truth", "max_pairs")),
    ("lie_detector", "number_input", "truth_step", _layers, ("interp.truth:truth_report", "layers"),
     ("probe truth", "layers")),
    ("inside", "number_input", "inside_lens_top_k", None, ("interp.lens:logit_lens", "top_k"), ("lens", "top_k")),
    ("inside", "radio", "inside_lens_kind", {"Logit lens": "logit", "Linear lens": "linear"}.get, None,
     ("lens", "kind")),
    ("inside", "radio", "inside_patch_metric", None, ("interp.patching:activation_patching", "metric"),
     ("patch", "metric")),
    ("inside", "multiselect", "inside_patch_sites", lambda v: tuple(SITES[s] for s in v),
     ("interp.patching:activation_patching", "sites"), ("patch", "sites")),
    ("inside", "number_input", "inside_trace_samples", None, ("interp.patching:causal_tracing", "samples"),
     ("trace", "samples")),
    ("inside", "multiselect", "inside_trace_kinds", tuple, ("interp.patching:causal_tracing", "kinds"),
     ("trace", "kinds")),
    ("inside", "radio", "inside_atp_metric", None, ("interp.patching:attribution_patching", "metric"),
     ("atp", "metric")),
    ("inside", "multiselect", "inside_atp_sites", lambda v: tuple(SITES[s] for s in v),
     ("interp.patching:attribution_patching", "sites"), ("atp", "sites")),
    ("inside", "number_input", "inside_atp_top", None, ("interp.patching:attribution_patching", "verify_top_k"),
     ("atp", "verify")),
    ("inside", "radio", "inside_atp_method", None, ("interp.patching:attribution_patching", "method"),
     ("atp", "method")),
    ("inside", "selectbox", "inside_circuits_task", None, None, ("circuit eap", "task")),
    ("inside", "number_input", "inside_circuits_pairs", None, ("interp.circuits:make_task", "n"),
     ("circuit eap", "pairs")),
    ("inside", "radio", "inside_circuits_method", None, ("interp.circuits:edge_attribution_patching", "method"),
     ("circuit eap", "method")),
    ("inside", "number_input", "inside_circuits_steps", None, ("interp.circuits:edge_attribution_patching", "steps"),
     ("circuit eap", "steps")),
    ("inside", "number_input", "inside_circuits_random", None,
     ("interp.circuits:edge_attribution_patching", "n_random"), ("circuit eap", "n_random")),
    ("ask", "selectbox", "ask_cal_set", None, ("interp.ask:calibrate", "questions"), ("ask calibrate", "questions")),
    ("replication", "checkbox", "replication_quick", None, ("interp.replication:replicate", "quick"),
     ("replicate", "quick")),
    ("replication", "multiselect", "replication_parts", tuple, ("interp.replication:replicate", "parts"),
     ("replicate", "parts")),
    ("replication", "number_input", "replication_seed", None, ("interp.replication:replicate", "seed"),
     ("replicate", "seed")),
    ("ask", "number_input", "ask_cal_n", None, ("interp.ask:calibrate", "n"), ("ask calibrate", "n")),
    ("ask", "multiselect", "ask_cal_signals", tuple, ("interp.ask:calibrate", "signals"),
     ("ask calibrate", "signals")),
    ("ask", "selectbox", "ask_hint_set", None, ("interp.ask:hint_faithfulness", "questions"),
     ("ask hints", "questions")),
    ("ask", "number_input", "ask_hint_n", None, ("interp.ask:hint_faithfulness", "n"), ("ask hints", "n")),
    ("ask", "number_input", "ask_hint_items", None, ("interp.ask:hint_faithfulness", "attribute_items"),
     ("ask hints", "attribute_items")),
    ("ask", "radio", "ask_cal_format", None, ("interp.ask:calibrate", "format"), ("ask calibrate", "answer_format")),
    ("ask", "radio", "ask_cal_style", None, ("interp.ask:calibrate", "prompt_style"),
     ("ask calibrate", "prompt_style")),
    ("ask", "radio", "ask_hint_format", None, ("interp.ask:hint_faithfulness", "format"),
     ("ask hints", "answer_format")),
    ("ask", "radio", "ask_hint_style", None, ("interp.ask:hint_faithfulness", "prompt_style"),
     ("ask hints", "prompt_style")),
    ("steering", "number_input", "steer_tokens", None, ("interp.steering:steer", "max_new_tokens"),
     ("steer apply", "max_new_tokens")),
    ("steering", "number_input", "steer_prompts", None, None, ("steer sweep", "max_prompts")),
    ("steering", "number_input", "steer_curve_tokens", None, ("interp.steering:steering_sweep", "max_new_tokens"),
     ("steer sweep", "max_new_tokens")),
    ("training_data", "selectbox", "td_dataset", None, ("interp.data_attribution:finetune", "dataset"),
     ("train-data finetune", "dataset")),
    ("training_data", "number_input", "td_blocks", None, ("interp.data_attribution:finetune", "blocks"),
     ("train-data finetune", "blocks")),
    ("training_data", "number_input", "td_epochs", None, ("interp.data_attribution:finetune", "epochs"),
     ("train-data finetune", "epochs")),
    ("training_data", "number_input", "td_lr", None, ("interp.data_attribution:finetune", "lr"),
     ("train-data finetune", "lr")),
    ("training_data", "multiselect", "td_methods", tuple, ("interp.data_attribution:attribute_training", "method"),
     ("train-data attribute", "method")),
    ("training_data", "slider", "td_top_k", None, ("interp.data_attribution:attribute_training", "top_k"),
     ("train-data attribute", "top_k")),
    ("training_data", "number_input", "td_lds", None, ("interp.data_attribution:evaluate_attribution", "lds_subsets"),
     ("train-data evaluate", "lds_subsets")),
]
# Defaults that follow the model: on the 2-layer model 'Every n-th layer' starts at 1 (= every layer, the library's
# "all"), so a listed difference may not show there; 'Top blocks trained' stops at n_layers - 1, which the library
# itself requires.
MODEL_DEPENDENT = {"probing_step", "maps_world_step", "truth_step"}


def _deep_model_dir(root: Path) -> Path:
    """A random GPT-2 with DEEP_LAYERS layers (tiny width, the default model's tokenizer), saved as a model folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config

    from interp.models import _cache

    tokenizer = AutoTokenizer.from_pretrained(str(_cache.ensure_default_tokenizer()), local_files_only=True)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=16, n_layer=DEEP_LAYERS, n_head=2,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    folder = root / "deep-gpt2"
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["tiny-gpt2", "deep"])
def model_choice(request, tmp_path_factory):
    if request.param == "tiny-gpt2":
        return "tiny-gpt2", 2
    root = tmp_path_factory.mktemp("models")
    return str(_deep_model_dir(root)), DEEP_LAYERS


def _page_defaults(monkeypatch, tmp_path, model: str) -> dict[tuple[str, str], object]:
    """(page, widget key) -> the widget's value when the page first draws."""
    monkeypatch.setenv("INTERP_MODEL", model)
    monkeypatch.setenv("INTERP_MODELS_DIR", str(Path(model).parent) if Path(model).is_dir() else str(tmp_path))
    monkeypatch.setenv("INTERP_EXPLORER_CACHE", str(tmp_path / "explorer-cache"))
    st.cache_data.clear()
    at = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    values, notes = {}, {}
    # Training data before Attribution: integrated gradients leaves the bridge's attention patterns holding their
    # autograd graph (TransformerLens keeps the last `_pattern`), and fine-tuning's deepcopy of the model then fails
    # (a library bug, reported; not what this test is about)
    for page in sorted(dict.fromkeys(row[0] for row in ROWS), key=lambda p: p != "training_data"):
        at.switch_page(f"app_pages/{page}.py").run(timeout=TIMEOUT)
        if page == "attribution":  # the integration steps and baseline show for integrated gradients only
            values[(page, "attr_removal")] = at.radio(key="attr_removal").value
            at.selectbox(key="attr_method").set_value("integrated_gradients").run(timeout=TIMEOUT)
        if page == "training_data":  # the query form shows after a fine-tune: the cheapest one
            for key in ("td_dataset", "td_blocks", "td_epochs", "td_lr"):
                values[(page, key)] = getattr(at, dict((r[2], r[1]) for r in ROWS)[key])(key=key).value
            at.number_input(key="td_blocks").set_value(1)
            at.number_input(key="td_epochs").set_value(1)
            next(b for b in at.button if b.label == "Fine-tune").click().run(timeout=TIMEOUT)
        assert not at.exception and not at.error, (page, [e.value for e in [*at.exception, *at.error]])
        for row_page, kind, key, *_ in ROWS:
            if row_page == page and (page, key) not in values:
                values[(page, key)] = getattr(at, kind)(key=key).value
        notes[page] = [e for e in at.expander if e.label == NOTE]
    # the method as a new session finds it (the one above was switched to integrated gradients)
    fresh = AppTest.from_file(str(APPS / "explorer.py"), default_timeout=TIMEOUT).run(timeout=TIMEOUT)
    fresh.switch_page("app_pages/attribution.py").run(timeout=TIMEOUT)
    values[("attribution", "attr_method")] = fresh.selectbox(key="attr_method").value
    return values, notes


def test_page_defaults_are_the_library_and_cli_defaults_or_a_listed_difference(model_choice, app_common, monkeypatch,
                                                                               tmp_path):
    model, n_layers = model_choice
    listed = app_common.DEFAULTS_DIFFER
    values, notes = _page_defaults(monkeypatch, tmp_path, model)
    unlisted, stale = [], []
    for page, _, key, convert, library, cli in ROWS:
        explorer = (convert or (lambda v: v))(values[(page, key)])
        found = {"explorer": explorer}
        if library is not None:
            found["library"] = _library(*library)
        if cli is not None:
            found["CLI"] = _cli(*cli)
        if key == "td_blocks":  # the library requires blocks < n_layers; the page's default stops there
            found = {k: min(v, n_layers - 1) for k, v in found.items()}
        if isinstance(found.get("library"), tuple) and "CLI" in found:
            found["CLI"] = _split(found["CLI"])
        if key in ("truth_sets", "truth_probes", "ask_cal_signals", "inside_trace_kinds", "inside_patch_sites",
                   "inside_atp_sites"):
            found = {k: tuple(_split(v)) for k, v in found.items()}
        differs = len({repr(v) for v in found.values()}) > 1
        if differs and (page, key) not in listed:
            unlisted.append(f"{page} / {key}: {found}")
        if not differs and (page, key) in listed and key not in MODEL_DEPENDENT:
            stale.append(f"{page} / {key}: listed as different, but {found}")
    assert not unlisted, ("defaults that differ without a reason in apps/_common.py DEFAULTS_DIFFER:\n"
                          + "\n".join(unlisted))
    assert not stale, "DEFAULTS_DIFFER lists defaults that no longer differ:\n" + "\n".join(stale)
    for (page, key), (label, why) in listed.items():  # each page states its differences
        assert (page, key) in {(r[0], r[2]) for r in ROWS}, f"DEFAULTS_DIFFER names an unknown widget {page}/{key}"
        (note,) = notes[page]
        shown = " ".join(m.value for m in note.markdown)
        assert label in shown and why.split(" ")[0] in shown, (page, key, shown)
