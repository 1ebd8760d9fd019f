//! `ddr-engine restore toolbox|agent|run|eval` on the built-in photos at smoke scale: the toolbox
//! trains twelve tools, the agent's training replays byte for byte for a seed (and differs for
//! another), `run` writes restored images and their chains, `eval` writes its table; bad inputs
//! are refused with clear messages.

mod common;

use common::cli::{ddr, err, ok};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A toolbox of twelve tools trained for two iterations each on the built-in photos.
fn smoke_toolbox(dir: &Path) -> std::path::PathBuf {
    let pack = dir.join("builtin.pack");
    ok(ddr(&["data", "pack", "--builtin", "-o", s(&pack)]));
    let tb = dir.join("toolbox");
    let args = ["--iterations", "2", "--batch", "2", "--patch", "24", "--quiet"];
    let out = ok(ddr(&[&["restore", "toolbox", "--train", s(&pack), "--out", s(&tb)][..], &args].concat()));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("tool 12") && text.contains("de-JPEG quality 10-20 (large)"), "{text}");
    for i in 1..=12 {
        assert!(tb.join(format!("runs/tool{i:02}/model.safetensors")).exists(), "tool {i} missing");
    }
    // A second call reuses the finished runs.
    let again = ok(ddr(&[&["restore", "toolbox", "--train", s(&pack), "--out", s(&tb)][..], &args].concat()));
    assert_eq!(String::from_utf8_lossy(&again.stdout).matches("reused").count(), 12);
    tb
}

fn restore_run(tb: &Path, agent: &Path, input: &Path, out: &Path) -> std::process::Output {
    ddr(&["restore", "run", "--toolbox", s(tb), "--agent", s(agent), "--input", s(input), "--out", s(out)])
}

fn train_agent(tb: &Path, out: &Path, seed: &str) {
    ok(ddr(&[
        "restore",
        "agent",
        "--toolbox",
        s(tb),
        "--train",
        "builtin",
        "--out",
        s(out),
        "--steps",
        "40",
        "--patches",
        "6",
        "--memory",
        "32",
        "--learn-start",
        "8",
        "--batch",
        "4",
        "--train-every",
        "2",
        "--target-every",
        "10",
        "--seed",
        seed,
        "--quiet",
        "--threads",
        "2",
    ]));
}

#[test]
fn toolbox_agent_run_and_eval_work_end_to_end_and_replay_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let tb = smoke_toolbox(dir.path());

    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    train_agent(&tb, &a, "7");
    train_agent(&tb, &b, "7");
    train_agent(&tb, &c, "8");
    let bytes = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert_eq!(bytes(&a, "agent.safetensors"), bytes(&b, "agent.safetensors"), "same seed, other agent");
    assert_eq!(bytes(&a, "metrics.jsonl"), bytes(&b, "metrics.jsonl"));
    assert_ne!(bytes(&a, "agent.safetensors"), bytes(&c, "agent.safetensors"), "the seed changes nothing");
    let metrics = String::from_utf8(bytes(&a, "metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"step\":40") && metrics.contains("mean_episode_gain"), "{metrics}");

    // run: one photo, restored at its size, with its chain.
    let photos = dir.path().join("photos");
    ok(ddr(&["data", "export-photos", s(&photos)]));
    let restored = dir.path().join("restored");
    let agent = a.join("agent.safetensors");
    let input = photos.join("chelsea.png");
    let out = ok(restore_run(&tb, &agent, &input, &restored));
    assert!(String::from_utf8_lossy(&out.stdout).contains("chelsea.png: "));
    let (w, h) = image::image_dimensions(&input).unwrap();
    assert_eq!(image::image_dimensions(restored.join("chelsea.png")).unwrap(), (w, h));
    let chains: serde_json::Value =
        serde_json::from_slice(&std::fs::read(restored.join("chains.json")).unwrap()).unwrap();
    let rec = &chains[0];
    let tools = rec["tools"].as_array().unwrap();
    assert!(tools.len() <= 3 && tools.iter().all(|t| (1..=12).contains(&t.as_u64().unwrap())), "{rec}");
    let q = rec["q"].as_array().unwrap();
    assert!(!q.is_empty() && q.iter().all(|row| row.as_array().unwrap().len() == 13), "{rec}");

    // eval: a one-tool search on two patches per severity.
    let ev = dir.path().join("eval");
    let out = ok(ddr(&[
        "restore",
        "eval",
        "--toolbox",
        s(&tb),
        "--agent",
        s(&agent),
        "--photos",
        "builtin",
        "--patches",
        "2",
        "--search-depth",
        "1",
        "--out",
        s(&ev),
    ]));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    for row in
        ["| input |", "| tool 12 |", "| best fixed chain |", "| random chain |", "| agent |", "| oracle"]
    {
        assert!(table.contains(row), "no row {row} in\n{table}");
    }
    let csv = std::fs::read_to_string(ev.join("eval.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 1 + 12 + 4, "{csv}");
    // The oracle picks per patch among the input and every tool: never below either.
    let col = |name: &str| -> Vec<f64> {
        let line = csv.lines().find(|l| l.starts_with(&format!("{name},"))).unwrap();
        line.split(',').skip(1).map(|v| v.parse().unwrap()).collect()
    };
    let (input_psnr, oracle) = (col("input"), col("oracle (best chain per patch)"));
    for (o, i) in oracle.iter().zip(&input_psnr) {
        assert!(o >= i, "oracle {o} below the input {i}");
    }
    for t in 1..=12 {
        for (o, v) in oracle.iter().zip(col(&format!("tool {t}"))) {
            assert!(*o >= v - 1e-9, "oracle {o} below tool {t}'s {v}");
        }
    }

    // Bad inputs: a tiny image, a missing toolbox, a file that is not an agent.
    let tiny = dir.path().join("tiny.png");
    image::RgbImage::new(40, 80).save(&tiny).unwrap();
    let e = err(restore_run(&tb, &agent, &tiny, &restored));
    assert!(e.contains("63x63") && e.contains("too small"), "{e}");
    let e = err(ddr(&[
        "restore",
        "eval",
        "--toolbox",
        s(&dir.path().join("nope")),
        "--photos",
        "builtin",
        "--out",
        s(&ev),
    ]));
    assert!(e.contains("no trained tool 1") && e.contains("restore toolbox"), "{e}");
    let not_agent = tb.join("runs/tool01/model.safetensors");
    let e = err(restore_run(&tb, &not_agent, &input, &restored));
    assert!(e.contains("no tensor conv1.weight"), "{e}");
}
