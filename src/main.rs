use std::process::ExitCode;

fn main() -> ExitCode {
    install_panic_hook();
    die_quietly_on_a_closed_pipe();
    ddr_engine::cli::run()
}

/// Rust ignores SIGPIPE, so `ddr-engine info | head -3` used to panic in println! once `head`
/// exited. Restoring the default action ends the process quietly instead, as other command-line
/// tools do. Output files are written atomically, so a killed run leaves no half-written file.
fn die_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: sets a signal disposition before any other thread exists; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
