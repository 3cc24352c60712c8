"""Posterior samplers behind one interface (:mod:`.registry`), the counted prior they see (:mod:`.counting`),
and EPS's own methods (:mod:`.eps`, :mod:`.eps_trained`), registered through the ``eps.methods`` entry points
like every other method. Importing this package imports no method module."""
from .counting import CountingPrior
from .registry import (METHODS, Method, Prior, Problem, Samples, available_methods, get_method, load_plugins,
                       register_method, with_solver)

__all__ = ["CountingPrior", "METHODS", "Method", "Prior", "Problem", "Samples", "available_methods", "get_method",
           "load_plugins", "register_method", "with_solver"]
