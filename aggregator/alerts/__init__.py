"""Alert delivery: rendering (render.py), channels (channels.py and one module per type)."""
