"""Input from non-NumPy array libraries under scikit-learn's array API
dispatch.

skgd's solver is compiled code that reads NumPy buffers and CSR matrices.
With ``sklearn.set_config(array_api_dispatch=True)``, scikit-learn's input
validation keeps arrays in their own namespace (PyTorch, CuPy,
array-api-strict, ...) instead of converting them, and they would then
reach NumPy-only code with an obscure error deep inside validation.  The
estimators' entry points call :func:`check_array_api_input` first, which
names the problem and the fix.  Without dispatch, such arrays are converted
to NumPy like any other array-like, as everywhere in scikit-learn.
"""

import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils._array_api import _is_numpy_namespace, get_namespace

__all__ = ["check_array_api_input"]


def _foreign_namespace(array):
    """The array's namespace name when it is an array API array of another
    library than NumPy, else None."""
    if array is None or sp.issparse(array) or not hasattr(array, "__array_namespace__"):
        return None
    xp, compliant = get_namespace(array)
    if not compliant or _is_numpy_namespace(xp):
        return None
    return getattr(xp, "__name__", type(array).__module__)


def check_array_api_input(estimator, **arrays):
    """Raise TypeError when array API dispatch is on and one of ``arrays``
    (given by name) comes from a namespace other than NumPy."""
    if not get_config().get("array_api_dispatch", False):
        return
    for name, array in arrays.items():
        namespace = _foreign_namespace(array)
        if namespace is not None:
            raise TypeError(
                f"{type(estimator).__name__} does not support scikit-learn's "
                f"array API dispatch: {name} is an array of the {namespace!r} "
                "namespace, but skgd's solver runs on NumPy arrays only. "
                "Convert the inputs to NumPy first (e.g. numpy.asarray(X), or "
                "X.cpu().numpy() for PyTorch), or turn dispatch off with "
                "sklearn.set_config(array_api_dispatch=False)."
            )
