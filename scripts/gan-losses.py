#!/usr/bin/env python3
"""Prints the SRGAN loss table of docs/RESULTS.md (section 3) from a run's metrics.jsonl: the mean
of each logged loss term and of D's mean logits over windows of iterations (both ends included).

    scripts/gan-losses.py out/ddr_cpu/runs/srgan_wgr [10-50 200-250 300-350 450-500]
"""
import json
import sys
from pathlib import Path

COLUMNS = [("l_g_pix", "l_g_pix (x1e-2 applied)", 4), ("l_g_percep", "l_g_percep", 2),
           ("l_g_gan", "l_g_gan", 4), ("l_d_real", "l_d_real", 3), ("l_d_fake", "l_d_fake", 3),
           ("out_d_real", "D(real) logit", 2), ("out_d_fake", "D(fake) logit", 2)]


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    rows = [json.loads(line) for line in (Path(sys.argv[1]) / "metrics.jsonl").read_text().splitlines()
            if line.strip()]
    rows = [r for r in rows if "l_d_real" in r]
    if not rows:
        sys.exit(f"{sys.argv[1]}/metrics.jsonl has no GAN loss terms")
    windows = sys.argv[2:] or ["10-50", "200-250", "300-350", "450-500"]
    print("| iterations | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for w in windows:
        lo, hi = (int(x) for x in w.split("-"))
        sel = [r for r in rows if lo <= r["step"] <= hi]
        if not sel:
            sys.exit(f"no logged iteration in {w}")
        cells = [f"{sum(r[k] for r in sel) / len(sel):.{d}f}" for k, _, d in COLUMNS]
        print(f"| {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
