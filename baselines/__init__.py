"""The baselines: one module per method, each registering itself with ``@eps.methods.register_method``.

Each module is advertised under the ``eps.methods`` entry-point group in pyproject.toml (``name = baselines.name``):
adding a baseline is one file here and one line there; ``eps`` itself never imports this package by name.
"""
