//! Running the `ddr-engine` binary from the CLI tests.

use std::process::{Command, Output};

/// Runs `ddr-engine ARGS` and waits for it.
pub fn ddr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddr-engine")).args(args).output().unwrap()
}

/// The run's output, after asserting it succeeded (its stderr is the failure message).
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The stderr of a run that must fail: a non-zero exit and a message, never a panic.
pub fn err(out: Output) -> String {
    assert!(!out.status.success(), "should have failed");
    let e = stderr(&out);
    assert!(!e.contains("panicked"), "{e}");
    e
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
