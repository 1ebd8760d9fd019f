"""Writes the "At a glance" section of docs/PERFORMANCE.md: one table of ours/peer time ratios
from the rows the peer scripts recorded (peerlib.py), slowest-for-us first, with the machine,
thread count, versions and date."""
import datetime
import os
import pathlib
import platform
import subprocess
import sys

from peerlib import ROWS, cpu_name, load_ratios, rustc_version


def version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def main():
    threads = sys.argv[1] if len(sys.argv) > 1 else str(os.cpu_count())
    rows = sorted(load_ratios(), key=lambda r: r["ours_s"] / r["peer_s"], reverse=True)
    cpu, rustc = cpu_name(), rustc_version()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = pathlib.Path("/proc/loadavg").read_text().split()[:3]
    lines = [
        f"Measured {datetime.date.today()} on {cpu} ({platform.machine()}, {os.cpu_count()} cores), "
        f"{threads} threads for ddr-engine and every peer; ddr-engine {commit} built by {rustc}; "
        f"PyTorch {version('torch')}, scikit-learn {version('sklearn')}, openTSNE {version('openTSNE')}, "
        f"numpy {version('numpy')}. Load average at the end of the run: {' '.join(load)}.",
        "",
        "Ratio = ddr-engine's time / the peer's time: below 1 means ddr-engine is faster. Rows where "
        "ddr-engine is slower come first. Each row's command reruns it (and rewrites its own section below).",
        "",
        "| workload | peer | ddr-engine s | peer s | ratio | note | command |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        ratio = r["ours_s"] / r["peer_s"]
        mark = f"**{ratio:.2f}**" if ratio > 1 else f"{ratio:.2f}"
        lines.append(f"| {r['workload']} | {r['peer']} | {r['ours_s']:.4g} | {r['peer_s']:.4g} | {mark} | "
                     f"{r['note']} | `{r['command']}` |")
    out = ROWS.parent / "summary.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
