//! The binary end to end: `info`, device selection failures, placeholders.

mod common;

use common::cli::ddr;

#[test]
fn info_reports_kernels_and_devices() {
    let out = ddr(&["info"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CUDA kernels:") && text.contains("Selected device"), "{text}");
    let out = ddr(&["info", "--json"]);
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j["cpu"]["threads"].as_u64().unwrap() >= 1);
}

#[test]
fn unusable_cuda_device_fails_in_one_line_without_panic() {
    // Device 99 exists nowhere, so this fails on every machine, with or without a GPU.
    for args in [&["info", "--device", "cuda:99"][..], &["--device", "cuda:99", "info"][..]] {
        let out = ddr(args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("not usable"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn compiled_ptx_is_accepted_by_a_cuda_13_0_driver() {
    let modules = ddr_engine::device::cuda::registry::MODULES;
    if std::env::var("DDR_REQUIRE_PTX").is_ok_and(|v| v == "1") {
        assert!(!modules.is_empty(), "DDR_REQUIRE_PTX=1 but no kernels were compiled");
    }
    for m in modules {
        let isa = ddr_engine::device::cuda::registry::ptx_isa(m).unwrap();
        let (maj, min) = isa.split_once('.').unwrap();
        let v = (maj.parse::<u32>().unwrap(), min.parse::<u32>().unwrap());
        assert!(v <= (9, 0), "{}: PTX ISA {isa} is newer than driver r580 accepts", m.name);
    }
}

/// Each module's fatbin (what the driver loads) holds the machine code for `SASS` (one ELF per
/// real architecture) beside the PTX that other GPUs JIT-compile.
#[test]
fn every_module_embeds_a_fatbin_with_hopper_machine_code() {
    use ddr_engine::device::cuda::registry::{MODULES, SASS};
    for m in MODULES {
        assert!(m.fatbin.len() > 16, "{}: empty fatbin", m.name);
        assert_eq!(
            u32::from_le_bytes(m.fatbin[..4].try_into().unwrap()),
            0xBA55_ED50,
            "{}: not a fatbin",
            m.name
        );
        let elfs = m.fatbin.windows(4).filter(|w| *w == b"\x7fELF").count();
        assert_eq!(
            elfs,
            usize::from(!SASS.is_empty()),
            "{}: {elfs} machine-code images for SASS {SASS:?}",
            m.name
        );
    }
    if !MODULES.is_empty() && std::env::var_os("DDR_CUDA_SASS").is_none() {
        assert_eq!(SASS, "sm_90", "the default machine code is Hopper's");
    }
}

#[test]
fn bad_device_name_is_a_usage_error() {
    let out = ddr(&["--device", "gpu", "info"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a device"));
}

/// `ddr-engine info | head -1`: once the reader is gone the binary ends quietly (SIGPIPE), it
/// does not report an internal error.
#[test]
fn a_closed_output_pipe_ends_the_run_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ddr-engine"))
        .arg("info")
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("internal error") && !err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
}
