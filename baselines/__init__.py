"""The baselines: one module per method, named after it, each registering itself with ``@eps.methods.register_method``.

This package is one entry of the ``eps.methods`` entry-point group (pyproject.toml) standing for its public modules
(``_``-prefixed helpers excepted): adding a baseline is adding one file here, and a module is imported only when
its method is asked for. ``eps`` itself never imports this package by name.
"""
