//! `chord-sim`: runs the Chord paper's experiments on the deterministic simulator.

#![forbid(unsafe_code)]

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod paper;
#[cfg(not(target_arch = "wasm32"))]
mod progress;

#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    hugepages::enable();
    cli::main()
}

/// Large simulations touch gigabytes of node state in random order, so TLB
/// misses dominate. mimalloc can back its heap with large OS pages, but reads
/// that choice from `MIMALLOC_ALLOW_LARGE_OS_PAGES` when the process starts;
/// we re-execute ourselves once with it set (measured on a 2^20-node lookup
/// run: 58 s without, 50 s with). Set `CHORD_SIM_NO_HUGEPAGES=1` to skip.
#[cfg(all(not(target_arch = "wasm32"), target_os = "linux"))]
mod hugepages {
    use std::os::unix::process::CommandExt;

    pub fn enable() {
        if std::env::var_os("MIMALLOC_ALLOW_LARGE_OS_PAGES").is_some() || std::env::var_os("CHORD_SIM_NO_HUGEPAGES").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else { return };
        // exec only returns on failure; then we simply run without huge pages.
        let _ = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("MIMALLOC_ALLOW_LARGE_OS_PAGES", "1").exec();
    }
}

#[cfg(all(not(target_arch = "wasm32"), not(target_os = "linux")))]
mod hugepages {
    pub fn enable() {}
}

// The simulator's command line is a native tool; the wasm build only needs the library.
#[cfg(target_arch = "wasm32")]
fn main() {}
