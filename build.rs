//! Compiles every `kernels/*.cu` to PTX with nvcc and embeds the PTX in the binary.
//!
//! Each module is embedded twice: as PTX text (for `ddr-engine info` and the entry list) and as a
//! fatbin holding that PTX plus Hopper machine code (sm_90, set by `DDR_CUDA_SASS`, empty for
//! none), so that an H100/H200 loads the kernels without JIT-compiling them and any other GPU of
//! compute capability 8.0 or newer JIT-compiles the PTX.
//!
//! No nvcc: the build succeeds without kernels (a cargo warning says so) and the binary runs on the
//! CPU only. `DDR_REQUIRE_PTX=1` turns a missing nvcc or a failing kernel into a build error that
//! shows nvcc's own message. `DDR_CUDA_ARCH` overrides the virtual architecture (default compute_80).
//!
//! The same sources are also compiled for the host with a C++ compiler (through the `cc` crate)
//! and `kernels/emu/`, into the emulated CUDA device (`--device cuda-emu`, see
//! `src/device/cuda/emulator.rs`); the build sets `cfg(ddr_cuda_emu)` when that worked. No C++
//! compiler: a warning, and no emulated device, unless `DDR_REQUIRE_EMU=1` makes it an error.
//! `DDR_EMU_SANITIZE=address|thread` builds the emulated kernels with that sanitizer
//! (scripts/sanitize-kernels.sh).
//!
//! nvcc is looked up in this order: `$NVCC`, `$CUDA_HOME/bin/nvcc`, `$CUDA_PATH/bin/nvcc`, `nvcc`
//! on `PATH`, and finally the project-local copy that `scripts/install-nvcc.sh` installs.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest PTX ISA the CUDA 13.0 driver (r580) accepts. nvcc 13.0 emits exactly this.
const MAX_PTX_ISA: (u32, u32) = (9, 0);

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let kernels_dir = manifest.join("kernels");
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo::rustc-check-cfg=cfg(ddr_cuda_emu)");
    for var in [
        "NVCC",
        "CUDA_HOME",
        "CUDA_PATH",
        "DDR_CUDA_ARCH",
        "DDR_CUDA_SASS",
        "DDR_REQUIRE_PTX",
        "DDR_REQUIRE_EMU",
        "DDR_EMU_SANITIZE",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let require = env::var("DDR_REQUIRE_PTX").is_ok_and(|v| v == "1");
    let arch = env::var("DDR_CUDA_ARCH").unwrap_or_else(|_| "compute_80".to_string());

    let sources = kernel_sources(&kernels_dir);
    let built = match find_nvcc(&manifest) {
        None => {
            let msg = "nvcc not found (NVCC, CUDA_HOME, CUDA_PATH, PATH, .cache/nvcc): building \
                       without CUDA kernels; run scripts/install-nvcc.sh to get CUDA 13.0's nvcc";
            if require {
                panic!("DDR_REQUIRE_PTX=1 but {msg}");
            }
            println!("cargo:warning={msg}");
            None
        }
        Some(nvcc) => compile_all(&nvcc, &arch, &sources, &out_dir, require),
    };
    write_registry(&out_dir, &arch, built.as_ref());

    let require_emu = env::var("DDR_REQUIRE_EMU").is_ok_and(|v| v == "1");
    match emulator::build(&kernels_dir, &sources, &out_dir) {
        Ok(entries) => {
            if let Some(b) = &built {
                emulator::check_same_entries(b.modules.iter().map(|m| (&m.name, &m.entries)), &entries);
            }
            println!("cargo:rustc-cfg=ddr_cuda_emu");
        }
        Err(e) if require_emu => {
            panic!("DDR_REQUIRE_EMU=1 but the emulated CUDA device failed to build:\n{e}")
        }
        Err(e) => {
            for line in e.lines().take(20) {
                println!("cargo:warning={line}");
            }
            println!("cargo:warning=building without the emulated CUDA device (--device cuda-emu)");
        }
    }
}

/// The emulated CUDA device: every kernels/*.cu compiled as host C++ with kernels/emu/cuda_emu.h.
mod emulator {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::path::{Path, PathBuf};

    /// Compiles the emulated kernels and runtime into a static library that cargo links; returns
    /// the kernel names of each module.
    pub fn build(
        kernels: &Path,
        sources: &[PathBuf],
        out_dir: &Path,
    ) -> Result<BTreeMap<String, Vec<String>>, String> {
        let emu = kernels.join("emu");
        let base = || {
            let mut b = cc::Build::new();
            b.cpp(true)
                .std("c++17")
                .opt_level(2)
                .debug(false)
                .flag("-ffp-contract=off")
                .flag("-fno-strict-aliasing")
                .flag_if_supported("-Wno-unknown-pragmas")
                .include(emu.join("include"))
                .include(&emu)
                .include(kernels)
                .cargo_warnings(false);
            b
        };
        let gen = out_dir.join("emu");
        std::fs::create_dir_all(&gen).map_err(|e| format!("{}: {e}", gen.display()))?;
        let mut entries = BTreeMap::new();
        let mut files = Vec::new();
        for src in sources {
            let name = src.file_stem().unwrap().to_string_lossy().to_string();
            let names = scan_entries(&base(), &emu, src)?;
            let wrapper = gen.join(format!("{name}.cpp"));
            std::fs::write(&wrapper, module_wrapper(&name, src, &names)).map_err(|e| e.to_string())?;
            files.push(wrapper);
            entries.insert(name, names);
        }
        let tables = gen.join("tables.cpp");
        std::fs::write(&tables, tables_source(&entries)).map_err(|e| e.to_string())?;
        files.push(tables);
        println!("cargo:rerun-if-env-changed=CXX");
        let mut b = base();
        // Under a sanitizer the kernels are instrumented and the scheduler is not: its own
        // bookkeeping (thread indices it sets between fiber switches) is not what the check is
        // about, and it tells the sanitizer about fibers and barriers through its API instead.
        // The sanitizer's runtime library is linked after the kernels that call it;
        // scripts/sanitize-kernels.sh preloads it so that it initialises first.
        let mut scheduler = base();
        let runtime = match std::env::var("DDR_EMU_SANITIZE").as_deref() {
            Ok("address") => {
                b.flag("-fsanitize=address").flag("-fno-omit-frame-pointer");
                scheduler.define("DDR_EMU_ASAN", "1");
                Some("asan")
            }
            Ok("thread") => {
                b.flag("-fsanitize=thread");
                scheduler.define("DDR_EMU_TSAN", "1");
                Some("tsan")
            }
            Ok("") | Err(_) => None,
            Ok(other) => return Err(format!("DDR_EMU_SANITIZE={other}: use address or thread")),
        };
        scheduler.file(emu.join("runtime.cpp"));
        let scheduler = scheduler
            .try_compile_intermediates()
            .map_err(|e| format!("compiling the emulator's runtime failed: {e}"))?;
        b.files(&files).objects(&scheduler);
        b.try_compile("ddr_cuda_emu").map_err(|e| format!("compiling the emulated kernels failed: {e}"))?;
        if let Some(lib) = runtime {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
        Ok(entries)
    }

    /// The `extern "C" __global__` functions of one source: preprocessed with `__global__` as a
    /// marker, so that macro-generated kernels (GEMM_KERNELS) are found too.
    fn scan_entries(b: &cc::Build, emu: &Path, src: &Path) -> Result<Vec<String>, String> {
        let mut cmd = b.try_get_compiler().map_err(|e| format!("no C++ compiler: {e}"))?.to_command();
        cmd.args(["-E", "-P", "-DDDR_EMU_SCAN", "-include"])
            .arg(emu.join("cuda_emu.h"))
            .args(["-x", "c++"])
            .arg(src);
        let out = cmd.output().map_err(|e| format!("cannot run the C++ preprocessor: {e}"))?;
        if !out.status.success() {
            return Err(format!("{}: {}", src.display(), String::from_utf8_lossy(&out.stderr)));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut names = Vec::new();
        for piece in text.split("__ddr_emu_kernel__").skip(1) {
            let rest = piece.trim_start().strip_prefix("void").ok_or_else(|| {
                format!("{}: a __global__ function that does not return void", src.display())
            })?;
            let name: String =
                rest.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            names.push(name);
        }
        Ok(names)
    }

    /// One translation unit per kernel file: its helpers in a namespace of their own (the files
    /// were written as separate CUDA modules), and its table of entry points.
    fn module_wrapper(name: &str, src: &Path, entries: &[String]) -> String {
        let mut s = String::new();
        writeln!(s, "#include \"cuda_emu.h\"\nnamespace ddr_emu_{name} {{").unwrap();
        writeln!(s, "#include \"{}\"\n}}", src.display()).unwrap();
        writeln!(s, "extern \"C\" const ddr_emu_kernel ddr_emu_table_{name}[] = {{").unwrap();
        for e in entries {
            writeln!(s, "    DDR_EMU_KERNEL(ddr_emu_{name}, {e}),").unwrap();
        }
        writeln!(s, "    ddr_emu_kernel{{nullptr, nullptr, 0, nullptr}}}};").unwrap();
        s
    }

    fn tables_source(entries: &BTreeMap<String, Vec<String>>) -> String {
        let mut s = String::from("#include <cstring>\n#include \"cuda_emu.h\"\n");
        for name in entries.keys() {
            writeln!(s, "extern \"C\" const ddr_emu_kernel ddr_emu_table_{name}[];").unwrap();
        }
        s.push_str("static const ddr_emu_kernel* const TABLES[] = {");
        for name in entries.keys() {
            write!(s, "ddr_emu_table_{name}, ").unwrap();
        }
        s.push_str("nullptr};\n");
        s.push_str(
            "extern \"C\" const ddr_emu_kernel* ddr_emu_find(const char* name) {\n\
             \x20   for (const ddr_emu_kernel* const* t = TABLES; *t; t++)\n\
             \x20       for (const ddr_emu_kernel* k = *t; k->name; k++)\n\
             \x20           if (std::strcmp(k->name, name) == 0) return k;\n\
             \x20   return nullptr;\n}\n",
        );
        s
    }

    /// The emulated kernels and the PTX entries must be the same set, module by module.
    pub fn check_same_entries<'a>(
        ptx: impl Iterator<Item = (&'a String, &'a Vec<String>)>,
        emulated: &BTreeMap<String, Vec<String>>,
    ) {
        for (module, ptx_entries) in ptx {
            let mut a = ptx_entries.clone();
            let mut b = emulated.get(module).cloned().unwrap_or_default();
            a.sort();
            b.sort();
            assert_eq!(a, b, "kernels/{module}.cu: the PTX entries and the emulated kernels differ");
        }
    }
}

fn kernel_sources(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "cu"));
    files.sort();
    files
}

fn find_nvcc(manifest: &Path) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(p) = env::var("NVCC") {
        candidates.push(PathBuf::from(p));
    }
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Ok(p) = env::var(var) {
            candidates.push(Path::new(&p).join("bin/nvcc"));
        }
    }
    if let Ok(path) = env::var("PATH") {
        candidates.extend(env::split_paths(&path).map(|d| d.join("nvcc")));
    }
    candidates.push(manifest.join(".cache/nvcc/nvidia/cu13/bin/nvcc"));
    candidates.into_iter().find(|p| p.is_file())
}

struct Built {
    nvcc_version: String,
    modules: Vec<CompiledModule>,
}

struct CompiledModule {
    name: String,
    ptx_path: PathBuf,
    fatbin_path: PathBuf,
    entries: Vec<String>,
}

fn compile_all(nvcc: &Path, arch: &str, sources: &[PathBuf], out_dir: &Path, require: bool) -> Option<Built> {
    let nvcc_version = Command::new(nvcc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().find(|l| l.contains("release")).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());

    // nvcc takes a second or more per file: compile the files in parallel.
    let results: Vec<Result<CompiledModule, String>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            sources.iter().map(|src| s.spawn(move || compile_one(nvcc, arch, src, out_dir))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut modules = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(m) => modules.push(m),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        let all = failures.join("\n");
        if require {
            panic!("DDR_REQUIRE_PTX=1 and CUDA kernels failed to compile:\n{all}");
        }
        for line in all.lines().take(20) {
            println!("cargo:warning={line}");
        }
        println!("cargo:warning=building without CUDA kernels because a kernel failed to compile");
        return None;
    }
    Some(Built { nvcc_version, modules })
}

fn compile_one(nvcc: &Path, arch: &str, src: &Path, out_dir: &Path) -> Result<CompiledModule, String> {
    let name = src.file_stem().unwrap().to_string_lossy().to_string();
    let ptx_path = out_dir.join(format!("{name}.ptx"));
    run_nvcc(nvcc, &["--ptx".into(), format!("-arch={arch}")], src, &ptx_path)?;
    let fatbin_path = out_dir.join(format!("{name}.fatbin"));
    let mut targets = vec!["--fatbin".to_string(), format!("-gencode=arch={arch},code={arch}")];
    let sass = sass_arch();
    if !sass.is_empty() {
        targets.push(format!("-gencode=arch=compute_{},code={sass}", sass.trim_start_matches("sm_")));
    }
    run_nvcc(nvcc, &targets, src, &fatbin_path)?;
    let ptx = std::fs::read_to_string(&ptx_path).map_err(|e| format!("{name}.ptx: {e}"))?;
    check_ptx_version(&name, &ptx)?;
    let entries = ptx
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".visible .entry "))
        .map(|rest| rest.split('(').next().unwrap().trim().to_string())
        .collect();
    Ok(CompiledModule { name, ptx_path, fatbin_path, entries })
}

/// `nvcc -O3 -std=c++17 <targets> -I kernels -o <out> <src>`, or nvcc's own message.
fn run_nvcc(nvcc: &Path, targets: &[String], src: &Path, out: &Path) -> Result<(), String> {
    let output = Command::new(nvcc)
        .args(["-O3", "-std=c++17"])
        .args(targets)
        .arg("-I")
        .arg(src.parent().unwrap())
        .arg("-o")
        .arg(out)
        .arg(src)
        .output()
        .map_err(|e| format!("{}: could not run nvcc: {e}", src.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{}: nvcc {} failed\n{}{}",
            src.display(),
            targets[0],
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// The GPU machine code embedded beside the PTX: `DDR_CUDA_SASS` (empty: none), sm_90 by default.
fn sass_arch() -> String {
    env::var("DDR_CUDA_SASS").unwrap_or_else(|_| "sm_90".to_string())
}

fn check_ptx_version(name: &str, ptx: &str) -> Result<(), String> {
    let line = ptx
        .lines()
        .find(|l| l.starts_with(".version"))
        .ok_or_else(|| format!("{name}.ptx has no .version line"))?;
    let v = line.trim_start_matches(".version").trim();
    let (maj, min) = v.split_once('.').unwrap_or((v, "0"));
    let parsed = (maj.parse::<u32>().unwrap_or(999), min.parse::<u32>().unwrap_or(999));
    if parsed > MAX_PTX_ISA {
        return Err(format!(
            "{name}.ptx is PTX ISA {v}, newer than {}.{} which the CUDA 13.0 driver accepts: \
             use nvcc 13.0 (scripts/install-nvcc.sh)",
            MAX_PTX_ISA.0, MAX_PTX_ISA.1
        ));
    }
    Ok(())
}

/// Writes `kernels.rs`, which `src/device/cuda/registry.rs` includes.
fn write_registry(out_dir: &Path, arch: &str, built: Option<&Built>) {
    let mut s = String::new();
    let (nvcc, modules) = match built {
        Some(b) => (b.nvcc_version.as_str(), b.modules.as_slice()),
        None => ("", &[][..]),
    };
    writeln!(s, "pub const ARCH: &str = {arch:?};").unwrap();
    let sass = if built.is_some() { sass_arch() } else { String::new() };
    writeln!(s, "pub const SASS: &str = {sass:?};").unwrap();
    writeln!(s, "pub const NVCC_VERSION: &str = {nvcc:?};").unwrap();
    writeln!(s, "pub const MODULES: &[KernelModule] = &[").unwrap();
    for m in modules {
        writeln!(
            s,
            "    KernelModule {{ name: {:?}, ptx: include_str!({:?}), fatbin: include_bytes!({:?}), \
             entries: &{:?} }},",
            m.name,
            m.ptx_path.display().to_string(),
            m.fatbin_path.display().to_string(),
            m.entries
        )
        .unwrap();
    }
    writeln!(s, "];").unwrap();
    std::fs::write(out_dir.join("kernels.rs"), s).unwrap();
}
