"""interp explorer: the Streamlit app over the interp library.

Run it with ``streamlit run apps/explorer.py`` (or ``make explore``). ``INTERP_MODEL`` picks the
starting model (``tiny-gpt2``, a model directory, ...); the default is SmolLM2-135M-Instruct.

This file is the single entrypoint: it registers the pages with ``st.navigation`` + ``st.Page``
and draws the sidebar model picker that every page shares. A page is a script in ``app_pages/``
that only calls library functions and renders their ``result.plot()`` / ``result.to_frame()``; to
add one, add one line to ``PAGES``. (The folder is not called ``pages/``: Streamlit still treats a
``pages/`` folder next to the entrypoint as a legacy multipage app, and ``AppTest`` then reruns the
page without this file, so without the sidebar.)
"""

from pathlib import Path

import _common
import streamlit as st

PAGES = [
    st.Page("app_pages/model.py", title="Model", icon=":material/memory:", default=True),
    st.Page("app_pages/attribution.py", title="Attribution", icon=":material/highlight:"),
    st.Page("app_pages/probing.py", title="Probing", icon=":material/science:"),
    st.Page("app_pages/maps.py", title="Maps", icon=":material/public:"),
    st.Page("app_pages/lie_detector.py", title="Lie detector", icon=":material/fact_check:"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("app_pages/inside.py", title="Inside the model", icon=":material/account_tree:"),
    st.Page("app_pages/ask.py", title="Ask the model", icon=":material/quiz:"),
    st.Page("app_pages/training_data.py", title="Training data", icon=":material/dataset:"),
    st.Page("app_pages/replication.py", title="Replication", icon=":material/verified:"),
    st.Page("app_pages/features.py", title="Features", icon=":material/scatter_plot:"),
    st.Page("app_pages/steering.py", title="Steering", icon=":material/tune:"),
]

# A local favicon: without one the favicon is the page's icon, and for a Material icon or an emoji
# the browser fetches that from a CDN (tests/test_browser.py checks that nothing leaves the machine).
st.set_page_config(page_title="interp explorer", page_icon=Path(__file__).parent / "assets" / "favicon.png",
                   layout="wide")
page = st.navigation(PAGES)
_common.model_sidebar()
page.run()
