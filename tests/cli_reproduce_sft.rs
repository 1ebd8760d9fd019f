//! `ddr-engine reproduce sft` end to end at a hidden seconds-long scale: the three networks are
//! trained, scored and swept, the report has its tables and verdicts, and a second call reuses
//! the finished runs and reproduces every number.

mod common;

use common::cli::{ddr, stderr};

#[test]
fn reproduce_sft_trains_scores_sweeps_and_reuses_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sft");
    let o = out.to_str().unwrap();
    let first = ddr(&["reproduce", "sft", "--scale", "smoke", "--out", o, "--quiet"]);
    assert!(first.status.success(), "{}", stderr(&first));
    for net in ["sft", "sft_blind", "msrresnet"] {
        assert!(out.join("runs").join(net).join("model.safetensors").exists(), "{net} not trained");
        assert!(out.join("samples").join(format!("{net}.png")).exists(), "{net}: no sample");
    }
    let blind = std::fs::read_to_string(out.join("configs/sft_blind.toml")).unwrap();
    assert!(blind.contains("blind = true"), "{blind}");
    let plain = std::fs::read_to_string(out.join("configs/msrresnet.toml")).unwrap();
    assert!(plain.contains("kind = \"msrresnet\""), "{plain}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for want in [
        "| bicubic |",
        "| SFT, true maps |",
        "| SFT, zero maps (blind) |",
        "| MSRResNet, equal compute |",
        "run on zero maps",
        "### noise (input sigma 25",
        "### blur (input sigma 2",
        "25.00 (true)",
    ] {
        assert!(md.contains(want), "report lacks {want}:\n{md}");
    }
    assert_eq!(md.matches("monotone**").count(), 2, "one verdict per sweep:\n{md}");
    let psnr = std::fs::read_to_string(out.join("psnr.csv")).unwrap();
    assert_eq!(psnr.lines().count(), 1 + 3, "a header and one line per crop:\n{psnr}");
    let sweep = std::fs::read_to_string(out.join("controllability.csv")).unwrap();
    assert_eq!(sweep.lines().count(), 1 + 2 * 9, "{sweep}");
    for f in ["controllability_noise.png", "controllability_blur.png"] {
        assert!(out.join(f).exists(), "no {f}");
    }

    // Second call: every run reused, every score the same.
    let second = ddr(&["reproduce", "sft", "--scale", "smoke", "--out", o, "--quiet"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stderr(&second).matches("reusing the finished run").count(), 3, "{}", stderr(&second));
    assert_eq!(std::fs::read_to_string(out.join("psnr.csv")).unwrap(), psnr);
    assert_eq!(std::fs::read_to_string(out.join("controllability.csv")).unwrap(), sweep);
}
