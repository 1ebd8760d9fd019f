"""The one table of ours/peer ratios: every peer script adds its rows here, and
`summary.py` turns them into the "At a glance" section of docs/PERFORMANCE.md.

Rows live in target/peers/ratios.jsonl, one JSON object per line; a row for a workload that is
and peer already there replaces it, so rerunning one script refreshes its rows only.
"""
import json
import pathlib

ROWS = pathlib.Path(__file__).resolve().parents[2] / "target" / "peers" / "ratios.jsonl"


def add(workload, ours_s, peer, peer_s, command, note=""):
    """Records ddr-engine's and the peer's seconds for one workload."""
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for r in load() if (r["workload"], r["peer"]) != (workload, peer)]
    rows.append({"workload": workload, "ours_s": ours_s, "peer": peer, "peer_s": peer_s,
                 "command": command, "note": note})
    ROWS.write_text("".join(json.dumps(r) + "\n" for r in rows))


def load():
    if not ROWS.exists():
        return []
    return [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]
