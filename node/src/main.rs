//! `chord-node`: run a native member of a Chord ring, or talk to a running one.

use chord_node::node::{run_node, LogFormat, NodeArgs};
use clap::Parser;
use std::process::ExitCode;

/// A native, always-on member of a browser Chord ring.
///
/// Run with `--signal` and `--data` to join a ring: the node links to tabs
/// (and other nodes) over WebRTC data channels, keeps what it holds in
/// `--data`, and serves a local HTTP API (`--api`):
///   curl -T notes.txt http://127.0.0.1:7700/files/notes.txt
///   curl http://127.0.0.1:7700/files/notes.txt
///   curl http://127.0.0.1:7700/state
///   curl http://127.0.0.1:7700/metrics
#[derive(Parser, Debug)]
#[command(name = "chord-node", version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    node: NodeArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    chord_node::node::init_logs(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chord-node: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_node(cli.node)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chord-node: {e}");
            ExitCode::FAILURE
        }
    }
}
