"""interp explorer: the Streamlit app over the interp library.

Run it with ``streamlit run apps/explorer.py`` (or ``make explore``). ``INTERP_MODEL`` picks the
starting model (``tiny-gpt2``, a model directory, ...); the default is SmolLM2-135M-Instruct.

This file is the single entrypoint: it registers the pages with ``st.navigation`` + ``st.Page``
and draws the sidebar model picker that every page shares. A page is a script in ``pages/`` that
only calls library functions and renders their ``result.plot()`` / ``result.to_frame()``; to add
one, add one line to ``PAGES``.
"""

import streamlit as st

import _common

PAGES = [
    st.Page("pages/model.py", title="Model", icon=":material/memory:", default=True),
]

st.set_page_config(page_title="interp explorer", page_icon=":material/psychology:", layout="wide")
page = st.navigation(PAGES)
_common.model_sidebar()
page.run()
