"""The only package that imports streamlit: cached loaders, the shared sidebar, English/Korean text."""
