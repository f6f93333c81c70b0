"""Per-page parts of the one English/Korean table (merged into cnnviz.ui.text.TEXT)."""
