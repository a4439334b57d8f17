//! `chord-sim`: runs the Chord paper's experiments on the deterministic simulator.

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod paper;
#[cfg(not(target_arch = "wasm32"))]
mod progress;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

// The simulator's command line is a native tool; the wasm build only needs the library.
#[cfg(target_arch = "wasm32")]
fn main() {}
