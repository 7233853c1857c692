"""The model follows from ``random_state`` alone, whatever the thread count.

Batches with enough work are cut into blocks of rows fixed by the work of
the batch, and the blocks' gradients are summed in block order, so that
``OMP_NUM_THREADS=1``, ``2`` and ``3`` must give bitwise the same
coefficients.  Each thread count runs in its own interpreter, since OpenMP
reads ``OMP_NUM_THREADS`` when it starts.  The data are large enough that
full batches and the large mini-batches span several blocks (the small
batches run on one thread anyway and are checked all the same).
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Run in a fresh interpreter: fits every configuration and prints, for each,
# the SHA-256 of the bytes of coef_ and intercept_ (and the raw bytes of the
# loss curve, which sums every row's loss in the blocks' order too).
FIT_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, warnings
    import numpy as np
    import scipy.sparse as sp
    from skgd import GDClassifier, GDRegressor

    warnings.simplefilter("ignore")
    configs = json.loads(sys.argv[1])
    rng = np.random.RandomState(0)
    n, d = 12_000, 60
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    labels = np.digitize(y, np.quantile(y, [0.3, 0.6]))
    # 20 stored values per row, one at a random column of each stripe of
    # 100 columns (built directly: scipy.sparse.random draws among all
    # n x d positions, which takes seconds).
    ns, ds, per_row = 40_000, 2_000, 20
    stripe = ds // per_row
    cols = rng.randint(0, stripe, (ns, per_row)) + stripe * np.arange(per_row)
    Xs = sp.csr_matrix(
        (rng.standard_normal(ns * per_row), cols.ravel(),
         np.arange(0, ns * per_row + 1, per_row)),
        shape=(ns, ds),
    )
    ys = Xs @ rng.standard_normal(2_000) + 0.1 * rng.standard_normal(40_000)
    labels_s = (ys > np.median(ys)).astype(int)
    data = {
        ("dense", "regressor"): (X, y),
        ("dense", "classifier"): (X, labels),
        ("sparse", "regressor"): (Xs, ys),
        ("sparse", "classifier"): (Xs, labels_s),
    }
    out = {}
    for name, cfg in configs.items():
        cfg = dict(cfg)
        layout, kind, dtype = cfg.pop("layout"), cfg.pop("kind"), cfg.pop("dtype")
        Xc, yc = data[(layout, kind)]
        Xc = Xc.astype(dtype)
        if kind == "regressor":
            yc = yc.astype(dtype)
        cls = GDRegressor if kind == "regressor" else GDClassifier
        est = cls(tol=None, random_state=0, **cfg).fit(Xc, yc)
        digest = hashlib.sha256()
        for array in (est.coef_, est.intercept_, np.asarray(est.loss_curve_)):
            digest.update(np.ascontiguousarray(array).tobytes())
        out[name] = digest.hexdigest()
    print(json.dumps(out))
    """
)


def configurations():
    """Every batch mode on dense and CSR data, float32 and float64, across
    losses, optimizers, penalties and averaging."""
    modes = {
        "full": dict(batch_size="full", max_iter=3),
        # 9000 rows: two blocks of dense rows; one block of sparse rows.
        "mini9000": dict(batch_size=9000, max_iter=2),
        # 30000 sparse rows (or the whole dense data): two blocks or more.
        "mini30000": dict(batch_size=30_000, max_iter=2),
        "mini256": dict(batch_size=256, max_iter=1),
        "sgd": dict(batch_size=1, max_iter=1, eta0=1e-3),
    }
    models = {
        "squared": dict(kind="regressor"),
        "huber-adam": dict(kind="regressor", loss="huber", optimizer="adam"),
        "enet-momentum": dict(
            kind="regressor",
            penalty="elasticnet",
            alpha=1e-3,
            l1_ratio=0.5,
            optimizer="momentum",
        ),
        "log-averaged": dict(kind="classifier", average=True),
        "hinge-nesterov": dict(kind="classifier", loss="hinge", optimizer="nesterov"),
        # Plain steps with the cumulative L1 penalty on stochastic batches
        # (lazy on sparse rows), the proximal step on the full batch.
        "l1-sgd": dict(kind="regressor", penalty="l1", alpha=1e-3, optimizer="sgd"),
    }
    configs = {}
    for layout in ("dense", "sparse"):
        for dtype in ("float64", "float32"):
            for mode, mode_params in modes.items():
                for model, model_params in models.items():
                    if mode in ("sgd", "mini256") and model not in (
                        "squared",
                        "log-averaged",
                        "l1-sgd",
                    ):
                        # Per-row paths never share work among threads;
                        # two models per mode keep them covered cheaply.
                        continue
                    name = f"{layout}-{dtype}-{mode}-{model}"
                    configs[name] = dict(
                        layout=layout, dtype=dtype, **mode_params, **model_params
                    )
    return configs


def start_fits(n_threads, configs):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(n_threads)
    # The equality must come from the kernel's blocks alone, whatever the
    # wait policy.
    env.pop("OMP_WAIT_POLICY", None)
    return subprocess.Popen(
        [sys.executable, "-c", FIT_SCRIPT, json.dumps(configs)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_model_is_bitwise_the_same_with_1_2_and_3_threads():
    configs = configurations()
    # The three interpreters run at once: the result of each must not
    # depend on the others, and the test takes a third of the time.
    runs = {n_threads: start_fits(n_threads, configs) for n_threads in (1, 2, 3)}
    digests = {}
    for n_threads, process in runs.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        digests[n_threads] = json.loads(stdout.strip().splitlines()[-1])
    assert set(digests[1]) == set(configs)
    for n_threads in (2, 3):
        differ = sorted(
            name for name in configs if digests[n_threads][name] != digests[1][name]
        )
        assert not differ, (
            f"{len(differ)} of {len(configs)} configurations differ between "
            f"OMP_NUM_THREADS=1 and {n_threads}: {differ}"
        )


def test_the_fingerprint_sees_a_change_in_the_last_bit():
    """The comparison above is of SHA-256 digests of the arrays' bytes: one
    ulp of difference in one coefficient must change the digest."""
    coef = np.linspace(-1.0, 1.0, 7)
    bumped = coef.copy()
    bumped[3] = np.nextafter(bumped[3], 2.0)
    assert (
        hashlib.sha256(coef.tobytes()).hexdigest()
        != hashlib.sha256(bumped.tobytes()).hexdigest()
    )


@pytest.mark.parametrize("sklearn_first", [True, False])
@pytest.mark.parametrize("user_policy", [None, "ACTIVE"])
def test_skgd_starts_its_openmp_runtime_with_a_passive_wait_policy(
    user_policy, sklearn_first
):
    """skgd's OpenMP runtime (the libgomp its kernel links) must not spin
    after a parallel region unless the user chose a wait policy;
    scikit-learn's runtime (its wheels carry their own libgomp), whether
    loaded before or after skgd's, and the environment seen by child
    processes stay as the user left them.  libgomp prints its settings as it
    starts under OMP_DISPLAY_ENV; the spin count it derives from the wait
    policy is 0 when passive, 300000 when unset, more when active."""
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    if user_policy is not None:
        env["OMP_WAIT_POLICY"] = user_policy
    env["OMP_DISPLAY_ENV"] = "VERBOSE"
    imports = (
        "import sklearn.utils._openmp_helpers; import skgd"
        if sklearn_first
        else "import skgd._openmp; import sklearn.utils._openmp_helpers"
    )
    script = f"import os; {imports}; print('POLICY', os.environ.get('OMP_WAIT_POLICY'))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"POLICY {user_policy}" in result.stdout
    spin_counts = [
        int(line.split("=")[1].strip().strip("'"))
        for line in result.stderr.splitlines()
        if line.strip().startswith("GOMP_SPINCOUNT")
    ]
    if len(spin_counts) != 2:
        pytest.skip(
            "scikit-learn and skgd share one OpenMP runtime here, so the "
            "order of the two runtimes' displays cannot tell them apart"
        )
    sklearn_spin, skgd_spin = spin_counts if sklearn_first else spin_counts[::-1]
    if user_policy is None:
        assert skgd_spin == 0
        assert sklearn_spin == 300_000
    else:
        assert skgd_spin == sklearn_spin > 300_000
