#!/usr/bin/env python3
"""Gaussian blobs as a float32 .npy (standard library only), for timing `ddr-engine tsne` at
sizes without fixtures: like scikit-learn's make_blobs (centres uniform in [-10, 10]^D,
cluster_std 2, points dealt to the centres in turn), not the same numbers.

    scripts/tsne-blobs.py N D OUT.npy [--centres 5] [--seed 0]
"""
import argparse
import random
import struct


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("d", type=int)
    ap.add_argument("out")
    ap.add_argument("--centres", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    centres = [[rng.uniform(-10, 10) for _ in range(a.d)] for _ in range(a.centres)]
    values = []
    for i in range(a.n):
        c = centres[i % a.centres]
        values.extend(c[k] + rng.gauss(0.0, 2.0) for k in range(a.d))
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (a.n, a.d)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(a.out, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%df" % len(values), *values))


if __name__ == "__main__":
    main()
