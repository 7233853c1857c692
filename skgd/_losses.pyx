# The loss codes of skgd/_losses.pxd as a Python module: the cpdef enum
# LossCode declared there becomes skgd._losses.LossCode, which the registry
# (skgd/_registry.py) reads.  The loss functions themselves are inline C
# functions of the .pxd, compiled into the kernel that cimports them.
