"""Build the compiled kernels.

Metadata lives in pyproject.toml; this file only declares the Cython
extensions, which need NumPy's headers.
"""

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# -O3 vectorises the axpys of the inner loops.  The dot products are
# reductions, which the compiler may only vectorise when it is allowed to
# reassociate the sum: -fassociative-math (with the two flags it requires)
# permits exactly that and nothing more; NaN and inf keep their meaning, so
# divergence is still detected.
compile_args = [
    "-O3",
    "-fassociative-math",
    "-fno-signed-zeros",
    "-fno-trapping-math",
]
# SKGD_NATIVE=1 tunes the kernels for the building machine's instruction set
# (wider vectors); off by default so a built wheel runs on any machine of its
# architecture.
if os.environ.get("SKGD_NATIVE") == "1":
    compile_args.append("-march=native")

extensions = [
    Extension(
        f"skgd.{name}",
        [f"skgd/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args + ["-fopenmp"],
        # OpenMP shares the gradient of large batches among threads.
        extra_link_args=["-fopenmp"],
    )
    for name in ("_kernel", "_losses")
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
