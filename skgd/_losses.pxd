# Loss functions of one prediction, shared by the epoch kernel and the
# Python-level objective.  Each returns the loss and writes its derivative with
# respect to the prediction `p` into `d`.  Definitions follow scikit-learn's
# SGD losses exactly (the same factors of 1/2 and 2), so a model trained here
# minimises the same objective as SGDRegressor / SGDClassifier.

from libc.math cimport exp, fabs, log, log1p

# cpdef: the module skgd._losses (skgd/_losses.pyx) exposes the codes to
# Python as skgd._losses.LossCode, which skgd/_registry.py reads.
cpdef enum LossCode:
    SQUARED_ERROR = 0
    HUBER = 1
    EPSILON_INSENSITIVE = 2
    SQUARED_EPSILON_INSENSITIVE = 3
    LOG_LOSS = 4
    HINGE = 5
    SQUARED_HINGE = 6
    MODIFIED_HUBER = 7
    PERCEPTRON = 8
    SOFTMAX = 9


cdef inline double point_loss(int loss, double p, double y, double eps,
                              double* d) noexcept nogil:
    """Loss of prediction p for target y (a real target, or +-1 for the
    margin losses) and its derivative d = dloss/dp."""
    cdef double r, z, e
    if loss == SQUARED_ERROR:
        r = p - y
        d[0] = r
        return 0.5 * r * r
    elif loss == HUBER:
        r = p - y
        if fabs(r) <= eps:
            d[0] = r
            return 0.5 * r * r
        d[0] = eps if r > 0 else -eps
        return eps * fabs(r) - 0.5 * eps * eps
    elif loss == EPSILON_INSENSITIVE:
        r = p - y
        if fabs(r) <= eps:
            d[0] = 0.0
            return 0.0
        d[0] = 1.0 if r > 0 else -1.0
        return fabs(r) - eps
    elif loss == SQUARED_EPSILON_INSENSITIVE:
        r = p - y
        z = fabs(r) - eps
        if z <= 0:
            d[0] = 0.0
            return 0.0
        d[0] = 2.0 * z if r > 0 else -2.0 * z
        return z * z
    elif loss == LOG_LOSS:
        # log(1 + exp(-z)) and its derivative written so that neither
        # overflows: for large |z| only exp(-|z|) is ever evaluated.
        z = p * y
        if z > 0:
            e = exp(-z)
            d[0] = -y * e / (1.0 + e)
            return log1p(e)
        e = exp(z)
        d[0] = -y / (1.0 + e)
        return -z + log1p(e)
    elif loss == HINGE:
        z = p * y
        if z <= 1.0:
            d[0] = -y
            return 1.0 - z
        d[0] = 0.0
        return 0.0
    elif loss == SQUARED_HINGE:
        z = 1.0 - p * y
        if z > 0:
            d[0] = -2.0 * y * z
            return z * z
        d[0] = 0.0
        return 0.0
    elif loss == MODIFIED_HUBER:
        z = p * y
        if z >= 1.0:
            d[0] = 0.0
            return 0.0
        if z >= -1.0:
            d[0] = -2.0 * y * (1.0 - z)
            return (1.0 - z) * (1.0 - z)
        d[0] = -4.0 * y
        return -4.0 * z
    elif loss == PERCEPTRON:
        z = p * y
        if z <= 0.0:
            d[0] = -y
            return -z
        d[0] = 0.0
        return 0.0
    d[0] = 0.0
    return 0.0


cdef inline double softmax_loss(const double* p, int n_classes, int label,
                                double* d) noexcept nogil:
    """Multinomial log loss -log softmax(p)[label] and its gradient
    softmax(p) - onehot(label).  The largest score is subtracted first so
    exp never overflows."""
    cdef int k
    cdef double pmax = p[0]
    cdef double total = 0.0
    for k in range(1, n_classes):
        if p[k] > pmax:
            pmax = p[k]
    for k in range(n_classes):
        d[k] = exp(p[k] - pmax)
        total += d[k]
    for k in range(n_classes):
        d[k] /= total
    d[label] -= 1.0
    return log(total) + pmax - p[label]
