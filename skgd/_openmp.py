"""Load the compiled kernel so that its OpenMP threads sleep when idle.

GNU OpenMP (libgomp, which the kernel links) reads ``OMP_WAIT_POLICY`` and
``GOMP_SPINCOUNT`` once, when the library is loaded.  Unset, its idle
threads spin for about 300 000 iterations (some milliseconds) after every
parallel region before they sleep: on a machine whose cores are shared
with other processes those spinning threads hold cores the neighbours
need, and a parallel region can wait on a thread that lost its core to
them.  skgd's parallel regions are long (see ``BLOCK_WORK`` in
``_kernel.pyx``), so waking a sleeping thread costs little beside them.

The kernel is therefore loaded with ``OMP_WAIT_POLICY=PASSIVE`` unless the
user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` themselves, and the
variable is removed again right after: other OpenMP runtimes in the
process (scikit-learn's wheels carry their own copy of libgomp, loaded with
scikit-learn's compiled modules), and child processes, see the environment
as the user left it.  A runtime already loaded by another library before
skgd keeps the policy it started with.

This module is imported first by ``skgd/__init__.py``, before any module
that imports the kernel.
"""

import os

__all__ = ["WAIT_POLICY_VARIABLES", "load_kernel"]

# Variables by which the user chooses libgomp's wait policy.
WAIT_POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def load_kernel():
    """Import ``skgd._kernel`` (once) with a passive wait policy unless the
    user chose one, and return the module."""
    if any(name in os.environ for name in WAIT_POLICY_VARIABLES):
        from skgd import _kernel

        return _kernel
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        from skgd import _kernel
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)
    return _kernel


load_kernel()
