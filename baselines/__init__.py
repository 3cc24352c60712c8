"""The baselines: one module per method, each registering itself with ``@eps.methods.register_method``.

Importing this package imports every public module in it (``_``-prefixed helpers excepted), so adding a
baseline is adding one file here: the package is this distribution's single ``eps.methods`` entry point,
and ``eps`` itself never imports it by name. Other distributions advertise their own modules under the
same entry-point group.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
