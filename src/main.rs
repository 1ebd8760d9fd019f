use std::process::ExitCode;

fn main() -> ExitCode {
    install_panic_hook();
    ddr_engine::cli::run()
}

/// cudarc reports a missing driver symbol by panicking; `device::cuda::guard` catches those, and
/// this hook keeps them quiet. Any other panic is a bug in ddr-engine and is reported as one.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if ddr_engine::device::cuda::panics_are_guarded() {
            return;
        }
        eprintln!("internal error: ddr-engine hit a bug; please report it with the command line");
        default(info);
    }));
}
