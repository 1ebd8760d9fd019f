"""Driver of benches/peers/tsne.sh (see there). Run through that script."""
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import openTSNE
import sklearn
from scipy.spatial.distance import pdist
from sklearn.datasets import make_blobs
from sklearn.manifold import TSNE
from sklearn.manifold._t_sne import _joint_probabilities
from sklearn.metrics import pairwise_distances

from peerlib import add_ratio

OUT = os.path.join("target", "peers", "tsne")
BIN = os.path.join("target", "release", "ddr-engine")
SKLEARN_EXACT_MAX_N = 2000  # exact scikit-learn needs minutes and GBs beyond this
PERPLEXITY, ITERS, EXAG_ITERS = 30.0, 1000, 250
THREADS = int(os.environ.get("THREADS", "2"))


def exact_kl(p_condensed, y):
    """KL(P || Q) of embedding y, Q as scikit-learn's exact method (floors included)."""
    w = 1.0 / (1.0 + pdist(np.asarray(y, dtype=np.float64), "sqeuclidean"))
    q = np.maximum(w / (2.0 * w.sum()), np.finfo(np.double).eps)
    p = p_condensed
    return float(2.0 * np.dot(p, np.log(np.maximum(p, np.finfo(np.double).eps) / q)))


def run_ours(xpath, n):
    out = os.path.join(OUT, f"ours_{n}.npy")
    m = os.path.join(OUT, f"ours_{n}.json")
    labels = os.path.join(OUT, f"labels_{n}.npy")
    cmd = [BIN, "tsne", "--device", "cpu", "--threads", str(THREADS), "--input", xpath,
           "--labels", labels, "--perplexity", str(PERPLEXITY), "--iters", str(ITERS),
           "--out", out, "--metrics-json", m, "--quiet"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    secs = time.perf_counter() - t
    return secs, np.load(out), json.load(open(m))["kl"]


def run_sklearn(x, method):
    t = TSNE(n_components=2, perplexity=PERPLEXITY, method=method, init="pca",
             learning_rate="auto", max_iter=ITERS, random_state=0, n_jobs=THREADS)
    s = time.perf_counter()
    y = t.fit_transform(x)
    return time.perf_counter() - s, y, t.kl_divergence_


def run_opentsne(x, method="auto"):
    """openTSNE with its defaults; 'auto' picks Barnes-Hut below 10,000 points, FFT above."""
    t = openTSNE.TSNE(perplexity=PERPLEXITY, n_iter=ITERS - EXAG_ITERS,
                      early_exaggeration_iter=EXAG_ITERS, n_jobs=THREADS, random_state=0,
                      negative_gradient_method=method)
    s = time.perf_counter()
    e = t.fit(x)
    return time.perf_counter() - s, np.asarray(e), e.kl_divergence


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [300, 1000, 2000, 5000]
    os.makedirs(OUT, exist_ok=True)
    # Warm-up: openTSNE's nearest-neighbour search is JIT-compiled (numba) on first use; keep
    # that one-off compilation out of the timings, and load every library once.
    xw, _ = make_blobs(n_samples=200, n_features=50, centers=5, random_state=1)
    run_opentsne(xw)
    run_opentsne(xw, "fft")
    run_sklearn(xw, "barnes_hut")
    rows = []
    for n in sizes:
        x, y = make_blobs(n_samples=n, n_features=50, centers=5, cluster_std=2.0,
                          random_state=n)
        xpath = os.path.join(OUT, f"x_{n}.npy")
        np.save(xpath, x)
        np.save(os.path.join(OUT, f"labels_{n}.npy"), y.astype(np.int64))
        p = np.asarray(_joint_probabilities(
            pairwise_distances(x, squared=True), PERPLEXITY, 0), dtype=np.float64)
        runs = [("ddr-engine (exact)", lambda: run_ours(xpath, n))]
        if n <= SKLEARN_EXACT_MAX_N:
            runs.append(("scikit-learn exact", lambda: run_sklearn(x, "exact")))
        runs.append(("scikit-learn Barnes-Hut", lambda: run_sklearn(x, "barnes_hut")))
        runs.append(("openTSNE default (BH below 10k points)", lambda: run_opentsne(x)))
        runs.append(("openTSNE FFT", lambda: run_opentsne(x, "fft")))
        results = {}
        for name, fn in runs:
            secs, emb, own_kl = fn()
            results[name] = (secs, exact_kl(p, emb), own_kl)
            print(f"N={n} {name}: {secs:.2f} s, exact KL {results[name][1]:.4f} "
                  f"(own report {own_kl:.4f})", flush=True)
        if n > SKLEARN_EXACT_MAX_N:
            results["scikit-learn exact"] = None
        ot = results["openTSNE default (BH below 10k points)"][0]
        ours_s, ours_kl = results["ddr-engine (exact)"][:2]
        for peer in ("openTSNE default (BH below 10k points)", "openTSNE FFT", "scikit-learn exact"):
            if results.get(peer):
                add_ratio(f"t-SNE N={n}, 1000 iterations", ours_s, peer, results[peer][0],
                           f"benches/peers/tsne.sh {n}",
                           f"exact KL {ours_kl:.4f} (ours) vs {results[peer][1]:.4f}")
        for name, r in results.items():
            rows.append((n, name, r, ot))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{THREADS} threads per method; {time.strftime('%Y-%m-%d')}",
        f"Versions: scikit-learn {sklearn.__version__}, openTSNE {openTSNE.__version__}, "
        f"numpy {np.__version__}, ddr-engine (this tree)",
        "",
        "| N | method | seconds | exact KL | time / openTSNE default |",
        "|---:|---|---:|---:|---:|",
    ]
    for n, name, r, ot in rows:
        if r is None:
            lines.append(f"| {n} | scikit-learn exact | skipped (N > {SKLEARN_EXACT_MAX_N}) | | |")
        else:
            lines.append(f"| {n} | {name} | {r[0]:.2f} | {r[1]:.4f} | {r[0] / ot:.3f} |")
    table = "\n".join(lines)
    print("\n" + table)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
