#!/usr/bin/env python3
"""Reference fits from scikit-learn, written as test fixtures.

For each C, on all rows of data/iris.csv, writes two files to test/fixtures/:

* sklearn-iris-logreg-C<C>.json: what LogisticRegression(C, tol=1e-12,
  max_iter=10000) returns (lbfgs, multinomial, L2 on the weights only),
  rounded to 8 decimals. With scikit-learn 1.2.1 this reproduces the
  committed C = 1 file byte for byte.

* sklearn-iris-logreg-C<C>-converged.json: the same objective, scikit-learn's
  own loss code (LinearModelLoss with HalfMultinomialLoss, l2_reg_strength =
  1/C), minimised until its gradient is at rounding level. scikit-learn
  1.2.1's lbfgs stops early: it does not pass `ftol` to scipy's L-BFGS-B, so
  scipy's default relative-decrease test (about 2.2e-9) ends the run while
  the gradient is still around 1e-3, leaving coefficients up to ~3e-2 (C=10)
  from the optimum. Here L-BFGS-B restarts from scikit-learn's answer with
  `ftol=0, gtol=0`, then Newton steps (Hessian from the loss's own
  Hessian-vector product, least-squares solve because the intercepts'
  common shift is a flat direction) polish it. Full precision.

The trainer's tests read the committed JSON files; they never need Python.

Usage (from the repository root; Debian's python3-sklearn is 1.2.1):

    python3 scripts/sklearn-reference.py            # C = 0.01 0.1 1 10 100
    python3 scripts/sklearn-reference.py 3.5        # any list of C values
"""

import csv
import json
import os
import sys

import numpy as np
import scipy.optimize
import sklearn
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
PROBES = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]
DEFAULT_CS = ["0.01", "0.1", "1", "10", "100"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(r[name]) for name in FEATURES] for r in rows])
    classes = sorted({r["species"] for r in rows})
    y = np.array([classes.index(r["species"]) for r in rows])
    return x, y, classes


def r8(values):
    """Rounds like the committed C = 1 fixture: 8 decimals, plain floats."""
    return [round(float(v), 8) for v in values]


def label(c):
    """File-name label of C: 1, 0.01, 100, 3.5 (no trailing .0)."""
    value = float(c)
    return str(int(value)) if value.is_integer() else repr(value)


def fit(x, y, classes, c):
    model = LogisticRegression(C=c, tol=1e-12, max_iter=10000)
    model.fit(x, y)
    # Softmax is unchanged by adding a constant to every intercept: centre them.
    intercepts = model.intercept_ - model.intercept_.mean()
    proba = model.predict_proba(x)
    log_loss = float(-np.mean(np.log(proba[np.arange(len(y)), y])))
    probes = np.array(PROBES)
    return model, {
        "what": (
            f"scikit-learn LogisticRegression(C={c!r}, lbfgs, multinomial, L2 on weights only), "
            f"fitted to full convergence (tol 1e-12) on all {len(y)} rows of data/iris.csv"
        ),
        "sklearn_version": sklearn.__version__,
        "feature_order": FEATURES,
        "class_order": classes,
        "C": c,
        "coefficients": [r8(row) for row in model.coef_],
        "intercepts": r8(intercepts),
        "train_log_loss": round(log_loss, 8),
        "train_accuracy": float(model.score(x, y)),
        "probes": {
            "inputs": PROBES,
            "predict_proba": [r8(row) for row in model.predict_proba(probes)],
            "predicted_class": [int(k) for k in model.predict(probes)],
        },
    }


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def converge(x, y, classes, c, model):
    """Minimises scikit-learn's own objective to rounding level from `model`'s answer."""
    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=len(classes)), fit_intercept=True)
    args = (x, y.astype(float), None, 1.0 / c)
    start = np.hstack([model.coef_, model.intercept_[:, None]]).ravel(order="F")
    res = scipy.optimize.minimize(
        loss.loss_gradient, start, jac=True, args=args, method="L-BFGS-B",
        options={"gtol": 0, "ftol": 0, "maxiter": 100000, "maxcor": 50, "maxls": 100},
    )
    w = res.x
    for _ in range(10):
        grad, hessp = loss.gradient_hessian_product(w, *args)
        h = np.column_stack([hessp(e) for e in np.eye(len(w))])
        w = w + np.linalg.lstsq((h + h.T) / 2, -grad, rcond=None)[0]
    grad, _ = loss.gradient_hessian_product(w, *args)
    params = w.reshape((len(classes), -1), order="F")
    coef, intercepts = params[:, :-1], params[:, -1] - params[:, -1].mean()
    proba = softmax(x @ coef.T + intercepts)
    probe_proba = softmax(np.array(PROBES) @ coef.T + intercepts)
    # scikit-learn 1.2.1's loss is (0.5·||W||² + C·Σ cross-entropy) / C; report the C-scaled value.
    objective = float(loss.loss(w, *args)) * c
    return {
        "what": (
            f"scikit-learn 1.2.1's LogisticRegression(C={c!r}) objective (its LinearModelLoss), minimised to "
            f"rounding level: L-BFGS-B (ftol=0, gtol=0) from LogisticRegression's answer, then Newton steps; "
            f"all {len(y)} rows of data/iris.csv; full precision"
        ),
        "sklearn_version": sklearn.__version__,
        "feature_order": FEATURES,
        "class_order": classes,
        "C": c,
        "coefficients": [[float(v) for v in row] for row in coef],
        "intercepts": [float(v) for v in intercepts],
        "train_log_loss": float(-np.mean(np.log(proba[np.arange(len(y)), y]))),
        "train_accuracy": float(np.mean(proba.argmax(axis=1) == y)),
        "probes": {
            "inputs": PROBES,
            "predict_proba": [[float(v) for v in row] for row in probe_proba],
            "predicted_class": [int(k) for k in probe_proba.argmax(axis=1)],
        },
        "objective": objective,
        "objective_at_lbfgs_answer": float(loss.loss(start, *args)) * c,
        "gradient_max_abs": float(np.abs(grad).max()) * c,
    }


def write(name, data):
    out = os.path.join(ROOT, "test", "fixtures", name)
    with open(out, "w") as f:
        json.dump(data, f, indent=1)
    print(f"wrote {os.path.relpath(out, ROOT)}")


def main(argv):
    x, y, classes = load(os.path.join(ROOT, "data", "iris.csv"))
    for raw in argv or DEFAULT_CS:
        c = float(raw)
        if not c > 0:
            sys.exit(f"C must be > 0, got {raw}")
        model, reference = fit(x, y, classes, c)
        write(f"sklearn-iris-logreg-C{label(raw)}.json", reference)
        write(f"sklearn-iris-logreg-C{label(raw)}-converged.json", converge(x, y, classes, c, model))


if __name__ == "__main__":
    main(sys.argv[1:])
