//! `ddr-engine info`: what this build and this machine can do.

use super::GlobalArgs;
use crate::device::{cpu, cuda, DeviceSpec};
use crate::Result;
use clap::Args;

#[derive(Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn cpu_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            f.push("avx2");
        }
        if is_x86_feature_detected!("fma") {
            f.push("fma");
        }
        if is_x86_feature_detected!("avx512f") {
            f.push("avx512f");
        }
    }
    f
}

pub fn run(global: &GlobalArgs, args: &InfoArgs) -> Result<()> {
    // An explicit --device that cannot be used fails here, in one line, before any report.
    let device = global.open_device()?;
    let cores = std::thread::available_parallelism().map_or(1, |p| p.get());
    let modules = cuda::registry::MODULES;
    let gpus = cuda::probe();

    if args.json {
        let kernels: Vec<_> = modules
            .iter()
            .map(|m| serde_json::json!({"module": m.name, "ptx_isa": cuda::registry::ptx_isa(m), "kernels": m.entries}))
            .collect();
        let (driver, gpu_list, why) = match &gpus {
            Ok((v, g)) => (Some(*v), g.clone(), None),
            Err(e) => (None, vec![], Some(e.clone())),
        };
        let j = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "cpu": {"threads": cpu::threads(), "cores": cores, "features": cpu_features()},
            "cuda": {"arch": cuda::registry::ARCH, "sass": cuda::registry::SASS, "nvcc": cuda::registry::NVCC_VERSION, "modules": kernels,
                     "driver_version": driver, "gpus": gpu_list, "no_gpu_reason": why,
                     "emulated_device": cuda::CudaDevice::emulator_available()},
            "device": {"requested": global.device.to_string(), "selected": device.to_string()},
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }

    println!("ddr-engine {}", env!("CARGO_PKG_VERSION"));
    println!(
        "CPU: {} worker threads on {cores} cores; features: {}",
        cpu::threads(),
        cpu_features().join(" ")
    );
    if modules.is_empty() {
        println!("CUDA kernels: none compiled into this build (nvcc was not found at build time)");
    } else {
        let n: usize = modules.iter().map(|m| m.entries.len()).sum();
        let sass = match cuda::registry::SASS {
            "" => String::new(),
            s => format!(" and {s} machine code"),
        };
        println!(
            "CUDA kernels: {n} in {} modules, PTX for {}{sass} by {}",
            modules.len(),
            cuda::registry::ARCH,
            cuda::registry::NVCC_VERSION.trim()
        );
        for m in modules {
            let isa = cuda::registry::ptx_isa(m).unwrap_or("?");
            println!("  {} (PTX ISA {isa}): {}", m.name, m.entries.join(" "));
        }
    }
    match &gpus {
        Ok((v, g)) if !g.is_empty() => {
            println!("CUDA driver: {}.{}", v / 1000, (v % 1000) / 10);
            for gpu in g {
                println!(
                    "  cuda:{} {}, {:.1} GiB, compute capability {}.{}",
                    gpu.ordinal,
                    gpu.name,
                    gpu.memory_bytes as f64 / (1u64 << 30) as f64,
                    gpu.compute_capability.0,
                    gpu.compute_capability.1
                );
            }
        }
        Ok(_) => println!("CUDA devices: none (the driver sees no GPU)"),
        Err(why) => println!("CUDA devices: none ({why})"),
    }
    if cuda::CudaDevice::emulator_available() {
        println!("Emulated CUDA device: built in (--device cuda-emu; for testing the kernels, slow)");
    } else {
        println!("Emulated CUDA device: not in this build (no C++ compiler when it was built)");
    }
    let how = if global.device == DeviceSpec::Auto { " (auto)" } else { "" };
    println!("Selected device{how}: {device}");
    Ok(())
}
