"""What the peer scripts share on the reporting side: criterion's figures, the machine's name,
and the one table of ours/peer ratios.

Every peer script adds its rows with add_ratio(); summary.py turns them into the "At a glance"
section of docs/PERFORMANCE.md. Rows live in target/peers/ratios.jsonl, one JSON object per
line; a row for a (workload, peer) already there replaces it, so rerunning one script refreshes
its rows only.
"""
import json
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
ROWS = REPO / "target" / "peers" / "ratios.jsonl"


def criterion_seconds(group, bench):
    """The median of criterion's last run of group/bench, in seconds."""
    folder = bench.replace("/", "_")  # criterion's folder for a bench id with a slash
    est = REPO / "target" / "criterion" / group / folder / "new" / "estimates.json"
    return json.loads(est.read_text())["median"]["point_estimate"] / 1e9


def cpu_name():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def rustc_version():
    return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()


def add_ratio(workload, ours_s, peer, peer_s, command, note=""):
    """Records ddr-engine's and the peer's seconds for one workload."""
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for r in load_ratios() if (r["workload"], r["peer"]) != (workload, peer)]
    rows.append({"workload": workload, "ours_s": ours_s, "peer": peer, "peer_s": peer_s,
                 "command": command, "note": note})
    ROWS.write_text("".join(json.dumps(r) + "\n" for r in rows))


def load_ratios():
    if not ROWS.exists():
        return []
    return [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]
