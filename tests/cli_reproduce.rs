//! `ddr-engine reproduce ddr` end to end at a hidden seconds-long scale: all five networks are
//! trained and probed, the report has the paper's tables, claims and figures, a second call
//! reuses the finished runs, and a run with another configuration or missing inputs is refused.

mod common;

use common::cli::{ddr, stderr};
use std::path::Path;

fn tables(dir: &Path) -> String {
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let start = md.find("## Table 1").expect("report has Table 1");
    assert!(md.contains("## Sharpness of the outputs") && md.contains("| HR |"), "{md}");
    let end = md.find("## Figures").expect("report has figures");
    md[start..end].to_string()
}

#[test]
fn reproduce_trains_probes_reports_and_reuses_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ddr");
    let o = out.to_str().unwrap();
    let first = ddr(&["reproduce", "ddr", "--scale", "smoke", "--out", o, "--quiet"]);
    assert!(first.status.success(), "{}", stderr(&first));
    for net in ["srresnet_wgr", "srresnet_wogr", "srgan_wgr", "srgan_wogr", "srgan_wgr_noisy"] {
        assert!(out.join("runs").join(net).join("model.safetensors").exists(), "{net} not trained");
        assert!(out.join("probe").join(net).join("report.md").exists(), "{net} not probed");
        assert!(out.join("configs").join(format!("{net}.toml")).exists());
    }
    let noisy = std::fs::read_to_string(out.join("configs/srgan_wgr_noisy.toml")).unwrap();
    assert!(noisy.contains("noise:20") && noisy.contains("runs/srresnet_wgr/model.safetensors"), "{noisy}");
    for f in ["report.md", "fig_networks_by_layer.png", "fig_intra.png", "fig_generalisation.png"] {
        assert!(out.join(f).exists(), "no {f}");
    }
    let t = tables(&out);
    for want in [
        "SRResNet-woGR",
        "SRGAN-wGR, noisy data",
        "613.77",
        "831.35",
        "| conv1 | rb1 | rb2 |",
        "claims, checked",
    ] {
        assert!(t.contains(want), "report lacks {want}:\n{t}");
    }
    // Every claim has its line, and every line a verdict.
    for claim in 0..=5 {
        let line = t
            .lines()
            .find(|l| l.starts_with(&format!("{claim}. **")))
            .unwrap_or_else(|| panic!("no claim {claim}:\n{t}"));
        let block: String =
            t[t.find(line).unwrap()..].lines().take_while(|l| *l == line || l.starts_with("   - ")).collect();
        let verdicts = ["**holds**", "**does not hold**", "**not run**", "not testable", "not tested"];
        assert!(verdicts.iter().any(|v| block.contains(v)), "claim {claim} has no verdict:\n{block}");
    }

    // Second call: every run is reused, the probe reproduces the same numbers.
    let second = ddr(&["reproduce", "ddr", "--scale", "smoke", "--out", o, "--quiet"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stderr(&second).matches("reusing the finished run").count(), 5, "{}", stderr(&second));
    assert_eq!(tables(&out), t);

    // A finished run with another configuration is not overwritten.
    let cfg = out.join("runs/srgan_wogr/config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("iterations = 2", "iterations = 3")).unwrap();
    let third = ddr(&["reproduce", "ddr", "--scale", "smoke", "--out", o, "--quiet"]);
    assert!(!third.status.success());
    assert!(stderr(&third).contains("another configuration"), "{}", stderr(&third));
    assert!(!stderr(&third).contains("panicked"));
}

#[test]
fn reproduce_refuses_missing_inputs_with_a_way_forward() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x");
    let e = ddr(&["reproduce", "ddr", "--scale", "cpu", "--out", o.to_str().unwrap()]);
    assert!(!e.status.success() && stderr(&e).contains("--train"), "{}", stderr(&e));
    let pack = dir.path().join("p.pack");
    assert!(ddr(&["data", "pack", "--builtin", "-o", pack.to_str().unwrap()]).status.success());
    let e = ddr(&[
        "reproduce",
        "ddr",
        "--scale",
        "cpu",
        "--out",
        o.to_str().unwrap(),
        "--train",
        pack.to_str().unwrap(),
    ]);
    assert!(!e.status.success() && stderr(&e).contains("fetch-vgg19"), "{}", stderr(&e));
    let e =
        ddr(&["reproduce", "ddr", "--scale", "cpu", "--out", o.to_str().unwrap(), "--train", "nope.pack"]);
    assert!(!e.status.success() && stderr(&e).contains("nope.pack"), "{}", stderr(&e));
    assert!(!o.join("runs").exists(), "a refused call must not start training");
}
