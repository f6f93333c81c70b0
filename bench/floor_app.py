"""The first-view floor of a Streamlit page on this machine, for bench/browser.py (not part of the app).

`?charts=0`: a title and a sentence. `?charts=N`: the same and N small Plotly heatmaps (3×3), so the first
view pays Streamlit's own JavaScript and, with N ≥ 1, Plotly's bundle, and nothing of cnnviz.
"""

import plotly.graph_objects as go
import streamlit as st

st.title("Floor")
st.write("A Streamlit page with nothing of cnnviz on it.")
for k in range(int(st.query_params.get("charts", "0"))):
    st.plotly_chart(go.Figure(go.Heatmap(z=[[0, 1, 2], [3, 4, 5], [6, 7, 8]])), key=f"chart{k}")
