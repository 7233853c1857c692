"""Every loss of the compiled kernel: values against the textbook formulas,
gradients against central finite differences of the kernel's own loss
value, numerical stability for huge scores, and sparse input."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, logsumexp

from skgd import _kernel
from skgd._solver import (
    LOSSES,
    TARGET_MULTINOMIAL,
    TARGET_ONE_VS_REST,
    TARGET_REAL,
    KernelData,
)

REGRESSION = [
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
]
MARGIN = ["log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"]
EPSILON = 0.6

# (loss, target kind, number of outputs)
CASES = (
    [(loss, TARGET_REAL, K) for loss in REGRESSION for K in (1, 2)]
    + [(loss, TARGET_ONE_VS_REST, K) for loss in MARGIN for K in (1, 3)]
    + [(loss, TARGET_ONE_VS_REST, 3) for loss in REGRESSION]
    + [("multinomial", TARGET_MULTINOMIAL, 3)]
)
CASE_IDS = [f"{loss}-kind{kind}-K{K}" for loss, kind, K in CASES]
assert {case[0] for case in CASES} == set(LOSSES)
assert len(LOSSES) == 10


# --------------------------------------------------------------------------
# Independent formulas
# --------------------------------------------------------------------------


def targets_matrix(Y, kind, K):
    """Per-output targets (n, K): real values, or +-1 for one-vs-rest."""
    if kind == TARGET_REAL:
        return Y
    codes = Y[:, 0].astype(int)
    if K == 1:
        return np.where(codes == 1, 1.0, -1.0)[:, None]
    return np.where(codes[:, None] == np.arange(K), 1.0, -1.0)


def formula(loss, P, T, eps):
    """Elementwise loss of predictions P for targets T."""
    r = P - T
    z = P * T
    if loss == "squared_error":
        return 0.5 * r**2
    if loss == "huber":
        return np.where(np.abs(r) <= eps, 0.5 * r**2, eps * np.abs(r) - eps**2 / 2)
    if loss == "epsilon_insensitive":
        return np.maximum(np.abs(r) - eps, 0.0)
    if loss == "squared_epsilon_insensitive":
        return np.maximum(np.abs(r) - eps, 0.0) ** 2
    if loss == "log_loss":
        return np.logaddexp(0.0, -z)  # log(1 + exp(-z)) without overflow
    if loss == "hinge":
        return np.maximum(1.0 - z, 0.0)
    if loss == "squared_hinge":
        return np.maximum(1.0 - z, 0.0) ** 2
    if loss == "modified_huber":
        return np.where(z >= 1, 0.0, np.where(z >= -1, (1 - z) ** 2, -4.0 * z))
    if loss == "perceptron":
        return np.maximum(-z, 0.0)
    raise AssertionError(loss)


def row_losses(loss, kind, K, P, Y, eps):
    if kind == TARGET_MULTINOMIAL:
        labels = Y[:, 0].astype(int)
        return logsumexp(P, axis=1) - P[np.arange(P.shape[0]), labels]
    return formula(loss, P, targets_matrix(Y, kind, K), eps).sum(axis=1)


def distance_to_kink(loss, kind, K, P, Y, eps):
    """Per-row distance of the predictions to the nearest kink of the loss
    (inf for smooth losses)."""
    if kind == TARGET_MULTINOMIAL:
        return np.full(P.shape[0], np.inf)
    T = targets_matrix(Y, kind, K)
    r, z = P - T, P * T
    kinks = {
        "huber": [np.abs(np.abs(r) - eps)],
        "epsilon_insensitive": [np.abs(np.abs(r) - eps)],
        "squared_epsilon_insensitive": [np.abs(np.abs(r) - eps)],
        "hinge": [np.abs(z - 1)],
        "squared_hinge": [np.abs(z - 1)],
        "modified_huber": [np.abs(z - 1), np.abs(z + 1)],
        "perceptron": [np.abs(z)],
    }.get(loss)
    if kinks is None:
        return np.full(P.shape[0], np.inf)
    return np.min(np.minimum.reduce(kinks), axis=1)


def regimes(loss, kind, K, P, Y, eps):
    """Label of the branch of the loss each (row, output) falls in, to make
    sure a test covers every branch."""
    if kind == TARGET_MULTINOMIAL or loss == "squared_error":
        return {0}
    T = targets_matrix(Y, kind, K)
    r, z = P - T, P * T
    if loss in REGRESSION:
        return set(np.unique(np.abs(r) > eps).tolist())
    if loss == "log_loss":
        return set(np.unique(z > 0).tolist())
    if loss == "modified_huber":
        return set(np.unique(np.digitize(z, [-1.0, 1.0])).tolist())
    if loss == "perceptron":
        return set(np.unique(z > 0).tolist())
    return set(np.unique(z > 1).tolist())


# --------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------


def make_problem(loss, kind, K, seed=0, n=60, d=4, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    X[rng.rand(n, d) < 0.3] = 0.0  # some zeros, for the sparse variants
    if kind == TARGET_REAL:
        Y = 1.5 * rng.normal(size=(n, K))
    else:
        n_classes = 2 if K == 1 else K
        Y = rng.randint(n_classes, size=(n, 1)).astype(float)
    sw = rng.uniform(0.2, 2.0, size=n)
    W = rng.normal(scale=0.8, size=(K, d + 1))
    cast = [np.ascontiguousarray(a, dtype=dtype) for a in (X, Y, sw, W)]
    return tuple(cast)


def kernel_loss(
    X, Y, kind, sw, W, rows, loss, eps=EPSILON, gradient=True, function=None
):
    """Loss sum and gradient from the kernel's row-by-row objective, or from
    `function` with the same arguments (the full-batch oracle's pass)."""
    data = KernelData(X)
    return (function or _kernel.loss_and_gradient)(
        *data.args,
        Y,
        kind,
        sw,
        W,
        np.ascontiguousarray(rows, dtype=np.intp),
        LOSSES[loss].code,
        eps,
        gradient,
    )


def predictions(X, W):
    X = X.toarray() if sp.issparse(X) else X
    return X @ W[:, :-1].T + W[:, -1]


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
def test_loss_value_matches_formula(loss, kind, K):
    X, Y, sw, W = make_problem(loss, kind, K, seed=1)
    rows = np.arange(X.shape[0])
    total, _ = kernel_loss(X, Y, kind, sw, W, rows, loss, gradient=False)
    P = predictions(X, W)
    per_row = row_losses(loss, kind, K, P, Y, EPSILON)
    assert (
        len(regimes(loss, kind, K, P, Y, EPSILON))
        == (3 if loss == "modified_huber" else 1 if loss == "squared_error" else 2)
        or kind == TARGET_MULTINOMIAL
    )
    np.testing.assert_allclose(total, np.sum(sw * per_row), rtol=1e-12)


@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
def test_loss_over_a_subset_of_rows(loss, kind, K):
    X, Y, sw, W = make_problem(loss, kind, K, seed=2)
    rows = np.array([5, 3, 3, 40, 0, 59])  # any order, repeats count twice
    total, grad = kernel_loss(X, Y, kind, sw, W, rows, loss)
    per_row = row_losses(loss, kind, K, predictions(X, W), Y, EPSILON)
    np.testing.assert_allclose(total, np.sum(sw[rows] * per_row[rows]), rtol=1e-12)
    # The gradient of a subset is that of the rows stacked in that order.
    total2, grad2 = kernel_loss(
        X[rows].copy(), Y[rows].copy(), kind, sw[rows].copy(), W, np.arange(6), loss
    )
    np.testing.assert_allclose(total2, total, rtol=1e-13)
    np.testing.assert_allclose(grad2, grad, rtol=1e-12, atol=1e-14)


def test_no_rows_gives_zero():
    X, Y, sw, W = make_problem("squared_error", TARGET_REAL, 2)
    total, grad = kernel_loss(X, Y, TARGET_REAL, sw, W, np.arange(0), "squared_error")
    assert total == 0.0
    np.testing.assert_array_equal(grad, np.zeros_like(W))


@pytest.mark.parametrize("loss", REGRESSION + MARGIN)
def test_epsilon_is_used_only_by_epsilon_losses(loss):
    kind = TARGET_REAL if loss in REGRESSION else TARGET_ONE_VS_REST
    X, Y, sw, W = make_problem(loss, kind, 1, seed=3)
    rows = np.arange(X.shape[0])
    a, _ = kernel_loss(X, Y, kind, sw, W, rows, loss, eps=0.2, gradient=False)
    b, _ = kernel_loss(X, Y, kind, sw, W, rows, loss, eps=0.9, gradient=False)
    if loss in ("huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
        assert a != b
    else:
        assert a == b


# --------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------


def finite_difference_gradient(X, Y, kind, sw, W, rows, loss, h=1e-5):
    G = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += h
        Wm[idx] -= h
        fp, _ = kernel_loss(X, Y, kind, sw, Wp, rows, loss, gradient=False)
        fm, _ = kernel_loss(X, Y, kind, sw, Wm, rows, loss, gradient=False)
        G[idx] = (fp - fm) / (2 * h)
    return G


@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_finite_differences(loss, kind, K, seed):
    X, Y, sw, W = make_problem(loss, kind, K, seed=seed, n=80)
    P = predictions(X, W)
    # Rows far from every kink: a perturbation of 1e-5 in W moves a
    # prediction by at most ~1e-4, well inside the smooth piece.
    far = distance_to_kink(loss, kind, K, P, Y, EPSILON) > 1e-2
    rows = np.flatnonzero(far)
    assert rows.size >= 40
    # Every branch of the loss is represented among the rows used.
    expected_branches = {"modified_huber": 3, "squared_error": 1}.get(loss, 2)
    if kind != TARGET_MULTINOMIAL:
        assert (
            len(regimes(loss, kind, K, P[rows], Y[rows], EPSILON)) == expected_branches
        )
    total, grad = kernel_loss(X, Y, kind, sw, W, rows, loss)
    assert grad.shape == W.shape and grad.dtype == np.float64
    fd = finite_difference_gradient(X, Y, kind, sw, W, rows, loss)
    scale = np.max(np.abs(fd))
    assert scale > 0
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9 * scale)


def analytic_gradient(loss, kind, K, X, Y, sw, W, eps):
    """Gradient of sum_i s_i loss_i with respect to W, from the textbook
    derivatives (subgradient conventions at the kinks as in scikit-learn's
    SGD: hinge -y at yp == 1, perceptron -y at yp == 0)."""
    P = predictions(X, W)
    if kind == TARGET_MULTINOMIAL:
        labels = Y[:, 0].astype(int)
        D = np.exp(P - logsumexp(P, axis=1, keepdims=True))
        D[np.arange(P.shape[0]), labels] -= 1.0
    else:
        T = targets_matrix(Y, kind, K)
        r, z = P - T, P * T
        D = {
            "squared_error": lambda: r,
            "huber": lambda: np.clip(r, -eps, eps),
            "epsilon_insensitive": lambda: np.where(np.abs(r) > eps, np.sign(r), 0.0),
            "squared_epsilon_insensitive": lambda: (
                2 * np.sign(r) * np.maximum(np.abs(r) - eps, 0)
            ),
            "log_loss": lambda: -T / (1 + np.exp(z)),
            "hinge": lambda: np.where(z <= 1, -T, 0.0),
            "squared_hinge": lambda: -2 * T * np.maximum(1 - z, 0),
            "modified_huber": lambda: np.where(
                z >= 1, 0.0, np.where(z >= -1, -2 * T * (1 - z), -4 * T)
            ),
            "perceptron": lambda: np.where(z <= 0, -T, 0.0),
        }[loss]()
    C = sw[:, None] * D
    Xd = X.toarray() if sp.issparse(X) else X
    return np.hstack([C.T @ Xd, C.sum(axis=0)[:, None]])


@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
def test_gradient_matches_analytic_derivative(loss, kind, K):
    X, Y, sw, W = make_problem(loss, kind, K, seed=4)
    _, grad = kernel_loss(X, Y, kind, sw, W, np.arange(X.shape[0]), loss)
    expected = analytic_gradient(loss, kind, K, X, Y, sw, W, EPSILON)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "loss, p, y, expected_d",
    [
        ("hinge", 1.0, 1, -1.0),  # yp == 1: derivative -y
        ("hinge", -1.0, 0, 1.0),
        ("perceptron", 0.0, 1, -1.0),  # yp == 0: derivative -y
        ("perceptron", 0.0, 0, 1.0),
        ("modified_huber", 1.0, 1, 0.0),
        ("modified_huber", -1.0, 1, -4.0),
        ("squared_hinge", 1.0, 1, 0.0),
    ],
)
def test_subgradient_at_the_kink(loss, p, y, expected_d):
    # One row, no features: the prediction is the intercept.
    X = np.zeros((1, 1))
    W = np.array([[0.0, p]])
    Y = np.array([[float(y)]])
    _, grad = kernel_loss(X, Y, TARGET_ONE_VS_REST, np.ones(1), W, [0], loss)
    assert grad[0, 1] == expected_d
    assert grad[0, 0] == 0.0


# --------------------------------------------------------------------------
# Stability for huge scores
# --------------------------------------------------------------------------


def scores_problem(P, Y):
    """Rows whose predictions are exactly P: X = identity, W = P^T."""
    n, K = P.shape
    X = np.eye(n)
    W = np.hstack([P.T, np.zeros((K, 1))])
    return X, np.ascontiguousarray(Y, dtype=float), np.ones(n), np.ascontiguousarray(W)


@pytest.mark.parametrize("magnitude", [30.0, 800.0, 1e4, 1e12])
def test_log_loss_is_stable_for_huge_scores(magnitude):
    P = np.array([[magnitude], [-magnitude], [magnitude], [-magnitude]])
    Y = np.array([[1], [1], [0], [0]])  # class 1 means +1
    X, Y, sw, W = scores_problem(P, Y)
    for row, (value, d) in enumerate(
        [(0.0, 0.0), (magnitude, -1.0), (magnitude, 1.0), (0.0, 0.0)]
    ):
        total, grad = kernel_loss(X, Y, TARGET_ONE_VS_REST, sw, W, [row], "log_loss")
        assert np.isfinite(total) and np.all(np.isfinite(grad))
        # log(1 + exp(-z)) is exp(-z) within rounding for large z.
        np.testing.assert_allclose(total, value, rtol=1e-12, atol=np.exp(-magnitude))
        np.testing.assert_allclose(grad[0, row], d, rtol=1e-12, atol=np.exp(-magnitude))


@pytest.mark.parametrize("magnitude", [800.0, 1e4, 1e12])
def test_softmax_is_stable_for_huge_scores(magnitude):
    P = np.array(
        [
            [magnitude, -magnitude, 0.0],
            [magnitude, -magnitude, 0.0],
            [magnitude, magnitude, -magnitude],
            [-magnitude, -magnitude, -magnitude],
        ]
    )
    Y = np.array([[0], [1], [2], [1]])
    X, Y, sw, W = scores_problem(P, Y)
    expected = [
        (0.0, [0.0, 0.0, 0.0]),
        (2 * magnitude, [1.0, -1.0, 0.0]),
        (2 * magnitude + np.log(2), [0.5, 0.5, -1.0]),
        (np.log(3), [1 / 3, -2 / 3, 1 / 3]),
    ]
    for row, (value, d) in enumerate(expected):
        total, grad = kernel_loss(X, Y, TARGET_MULTINOMIAL, sw, W, [row], "multinomial")
        assert np.isfinite(total) and np.all(np.isfinite(grad))
        np.testing.assert_allclose(total, value, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(grad[:, row], d, rtol=1e-12, atol=1e-300)
        # Every other column of X is zero in this row, so only the
        # intercept column sees the same derivative.
        np.testing.assert_allclose(grad[:, -1], d, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("loss", MARGIN)
def test_margin_losses_finite_for_huge_scores(loss):
    P = np.array([[1e4], [-1e4]])
    X, Y, sw, W = scores_problem(P, np.array([[1], [1]]))
    total, grad = kernel_loss(X, Y, TARGET_ONE_VS_REST, sw, W, [0, 1], loss)
    assert np.isfinite(total) and np.all(np.isfinite(grad))
    expected = formula(loss, P, np.ones_like(P), EPSILON).sum()
    np.testing.assert_allclose(total, expected, rtol=1e-12)


# --------------------------------------------------------------------------
# Sparse input and float32
# --------------------------------------------------------------------------


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
def test_sparse_csr_equals_dense(loss, kind, K, index_dtype):
    X, Y, sw, W = make_problem(loss, kind, K, seed=5)
    X[7] = 0.0  # an empty row
    X[:, 2] = 0.0  # an empty column
    Xs = sp.csr_matrix(X)
    Xs.indices = Xs.indices.astype(index_dtype)
    Xs.indptr = Xs.indptr.astype(index_dtype)
    assert Xs.nnz < X.size
    rows = np.random.RandomState(0).permutation(X.shape[0])[:45]
    dense = kernel_loss(X, Y, kind, sw, W, rows, loss)
    sparse = kernel_loss(Xs, Y, kind, sw, W, rows, loss)
    np.testing.assert_allclose(sparse[0], dense[0], rtol=1e-13)
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(dense[1][:, 2], 0.0)


@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
def test_float32_close_to_float64(loss, kind, K):
    X, Y, sw, W = make_problem(loss, kind, K, seed=6)
    X32, Y32, sw32, W32 = make_problem(loss, kind, K, seed=6, dtype=np.float32)
    rows = np.arange(X.shape[0])
    # Compare at the same (float32-representable) point.
    X, Y, sw, W = (a.astype(np.float64) for a in (X32, Y32, sw32, W32))
    far = distance_to_kink(loss, kind, K, predictions(X, W), Y, EPSILON) > 1e-3
    rows = rows[far]
    t64, g64 = kernel_loss(X, Y, kind, sw, W, rows, loss)
    t32, g32 = kernel_loss(X32, Y32, kind, sw32, W32, rows, loss)
    assert g32.dtype == np.float64
    np.testing.assert_allclose(t32, t64, rtol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * np.max(np.abs(g64)))


# --------------------------------------------------------------------------
# The exponentials and logarithms of the log loss and the softmax
# --------------------------------------------------------------------------
# The kernel evaluates exp and log1p for these two losses with its own
# branch-free functions (skgd/_losses.pxd), which the full-batch passes run
# eight rows at a time in vector registers and every other path one row at
# a time.  Both are held to the textbook values at the last few bits, and to
# each other exactly.


def full_pass(X, Y, kind, sw, W, rows, loss, gradient=True):
    """The full-batch oracle's pass (rows taken in groups)."""
    return kernel_loss(
        X,
        Y,
        kind,
        sw,
        W,
        rows,
        loss,
        gradient=gradient,
        function=_kernel.full_loss_gradient,
    )


def identity_scores_problem(P, Y):
    """scores_problem with a sparse identity, for many rows."""
    n, K = P.shape
    X = sp.identity(n, format="csr")
    W = np.hstack([P.T, np.zeros((K, 1))])
    return X, np.ascontiguousarray(Y, dtype=float), np.ones(n), np.ascontiguousarray(W)


def margins():
    """Margins z = p y from the middle of the range to where exp(-|z|) is
    about to leave the normal numbers (|z| = 708), on both sides."""
    rng = np.random.RandomState(0)
    magnitudes = np.concatenate(
        [
            np.linspace(0.0, 40.0, 1601),
            np.logspace(-300, np.log10(708.0), 300),
            rng.uniform(0.0, 708.0, 300),
            [np.log(2) / 2, np.log(2), 0.5 * np.log(2) * 1021],
        ]
    )
    return np.concatenate([magnitudes, -magnitudes])


def test_log_loss_is_exact_to_the_last_bits():
    z = margins()
    n = z.size
    labels = np.random.RandomState(1).randint(2, size=n)
    y = np.where(labels == 1, 1.0, -1.0)
    # A last row whose loss and derivative are exactly zero (exp(-1e4)
    # underflows), to pad single rows into a full group.
    P = np.append(z * y, 1e4)[:, None]
    X, Y, sw, W = identity_scores_problem(P, np.append(labels, 1)[:, None])
    expected_loss = np.logaddexp(0.0, -z)
    expected_d = -y * expit(-z)

    _, grad = full_pass(X, Y, TARGET_ONE_VS_REST, sw, W, np.arange(n + 1), "log_loss")
    np.testing.assert_allclose(grad[0, :n], expected_d, rtol=1e-15, atol=0)
    assert grad[0, n] == 0.0

    pad = [n] * 7
    for i in range(n):
        alone = full_pass(
            X, Y, TARGET_ONE_VS_REST, sw, W, [i], "log_loss", gradient=False
        )[0]
        grouped = full_pass(
            X, Y, TARGET_ONE_VS_REST, sw, W, [i] + pad, "log_loss", gradient=False
        )[0]
        per_row = kernel_loss(
            X, Y, TARGET_ONE_VS_REST, sw, W, [i], "log_loss", gradient=False
        )[0]
        assert alone == grouped == per_row, (z[i], alone, grouped, per_row)
        np.testing.assert_allclose(alone, expected_loss[i], rtol=1e-15, atol=0)


def test_log_loss_special_values():
    P = np.array([[0.0], [-0.0], [np.inf], [-np.inf], [750.0], [-750.0]])
    X, Y, sw, W = identity_scores_problem(P, np.ones((6, 1)))
    expected = [np.log(2), np.log(2), 0.0, np.inf, 0.0, 750.0]
    for row, value in enumerate(expected):
        total, _ = full_pass(
            X, Y, TARGET_ONE_VS_REST, sw, W, [row], "log_loss", gradient=False
        )
        assert total == value or np.isclose(total, value, rtol=1e-16, atol=0)
    P[0, 0] = np.nan
    W = np.ascontiguousarray(np.hstack([P.T, np.zeros((1, 1))]))
    total, grad = full_pass(X, Y, TARGET_ONE_VS_REST, sw, W, np.arange(6), "log_loss")
    assert np.isnan(total) and np.isnan(grad[0, 0])


def test_softmax_is_exact_to_the_last_bits():
    rng = np.random.RandomState(2)
    n, K = 403, 5  # groups of eight and a remainder
    P = rng.normal(scale=4.0, size=(n, K))
    P[::7] *= 60.0  # exponentials down to the subnormal range
    labels = rng.randint(K, size=n)
    X, Y, sw, W = identity_scores_problem(P, labels[:, None])
    expected = logsumexp(P, axis=1) - P[np.arange(n), labels]
    softmax = np.exp(P - logsumexp(P, axis=1, keepdims=True))
    softmax[np.arange(n), labels] -= 1.0

    rows = np.arange(n)
    total, grad = full_pass(X, Y, TARGET_MULTINOMIAL, sw, W, rows, "multinomial")
    # The reference's own rounding grows with |P| (up to about 1e3 here).
    np.testing.assert_allclose(grad[:, :n].T, softmax, rtol=1e-13, atol=1e-13)
    per_row = [
        full_pass(X, Y, TARGET_MULTINOMIAL, sw, W, [i], "multinomial", False)[0]
        for i in range(n)
    ]
    np.testing.assert_allclose(per_row, expected, rtol=1e-14, atol=1e-13)
    # The grouped pass sums the rows' losses in row order.
    running = 0.0
    for value in per_row:
        running += value
    assert total == running


# --------------------------------------------------------------------------
# The full-batch pass's gradient terms, eight dense rows at a time
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss, kind, K", CASES, ids=CASE_IDS)
def test_grouped_gradient_terms_match_numpy(loss, kind, K, dtype):
    # The pass adds a group's nonzero terms eight, four or one at a time:
    # weights of zero (and the zero derivatives of the margin losses) leave
    # groups with every count of terms from 0 to 8, and 203 rows end on a
    # short group.  Rows in a shuffled order, so the grouping is not the
    # rows' storage order.
    X, Y, sw, W = make_problem(loss, kind, K, seed=8, n=203, d=37)
    rng = np.random.RandomState(3)
    sw[rng.rand(sw.shape[0]) < 0.35] = 0.0
    rows = rng.permutation(X.shape[0])[:190]
    expected = analytic_gradient(loss, kind, K, X[rows], Y[rows], sw[rows], W, EPSILON)
    cast = [np.ascontiguousarray(a, dtype=dtype) for a in (X, Y, sw, W)]
    if dtype == np.float32:
        # At the same float32-representable point, for rows away from a kink.
        X, Y, sw, W = (a.astype(np.float64) for a in cast)
        far = distance_to_kink(loss, kind, K, predictions(X, W), Y, EPSILON) > 1e-3
        rows = rows[far[rows]]
        expected = analytic_gradient(
            loss, kind, K, X[rows], Y[rows], sw[rows], W, EPSILON
        )
    _, grad = full_pass(*cast[:2], kind, cast[2], cast[3], rows, loss)
    if dtype == np.float64:
        np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-12)
    else:
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5 * scale)
