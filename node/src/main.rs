//! `chord-node`: run a native member of a Chord ring, or talk to a running one.

use chord_node::client::ClientCommand;
use chord_node::node::{run_node, LogFormat, NodeArgs};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
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
/// or the same through `chord-node put|get|state`. SIGTERM or Ctrl-C: the
/// node hands its keys to its successor and stops.
#[derive(Parser, Debug)]
#[command(name = "chord-node", version, verbatim_doc_comment, args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    node: NodeArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
}

/// Commands that talk to a running node's API.
#[derive(Subcommand, Debug)]
enum Command {
    /// Store FILE (or standard input) under NAME; prints the result as JSON.
    Put {
        /// The name (the key is its SHA-1).
        name: String,
        /// The file; `-` or none: standard input.
        file: Option<PathBuf>,
        /// The node's API address.
        #[arg(long, default_value = "127.0.0.1:7700")]
        api: SocketAddr,
    },
    /// Fetch NAME into OUT (or standard output).
    Get {
        /// The name.
        name: String,
        /// Where to write it; `-` or none: standard output.
        out: Option<PathBuf>,
        /// The node's API address.
        #[arg(long, default_value = "127.0.0.1:7700")]
        api: SocketAddr,
    },
    /// Print the node's state (the shape of a tab's `state()`) as JSON.
    State {
        /// The node's API address.
        #[arg(long, default_value = "127.0.0.1:7700")]
        api: SocketAddr,
    },
}

/// At most two glibc malloc arenas: with one per thread (the default, up to
/// 8 per core) each keeps the memory freed in it, and an idle node that had
/// moved files stayed ~10 MiB larger (BENCHMARKS.md, "A native node").
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tunable; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chord-node: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        None => {
            chord_node::node::init_logs(cli.log_format);
            runtime.block_on(run_node(cli.node))
        }
        Some(cmd) => {
            let (api, cmd) = match cmd {
                Command::Put { name, file, api } => (api, ClientCommand::Put { name, file }),
                Command::Get { name, out, api } => (api, ClientCommand::Get { name, out }),
                Command::State { api } => (api, ClientCommand::State),
            };
            runtime.block_on(chord_node::client::run(api, cmd)).map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chord-node: {e}");
            ExitCode::FAILURE
        }
    }
}
