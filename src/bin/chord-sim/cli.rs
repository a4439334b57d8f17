//! Command-line parsing and report printing.

use crate::paper;
use crate::progress::Bar;
use chord::sim::report::Report;
use chord::sim::scenario::{run_churn, run_fail, run_lookup, run_partition, ChurnParams, FailParams, Init, LookupParams, PartitionParams};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs Chord experiments on a deterministic, seeded, discrete-event simulator.
///
/// Every run is reproducible from its seed. Exit status is 1 if the run found
/// an invariant violation (a bug) — or, for `partition`, did not end in one
/// correct ring or lost a key — 0 otherwise.
#[derive(Parser, Debug)]
#[command(name = "chord-sim", version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Print exactly one JSON object on stdout instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bar on stderr.
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum InitArg {
    /// Place every node directly into the ideal ring (fast, any size).
    Converged,
    /// Build the ring by real joins and maintenance.
    Joined,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Path length of random lookups (paper Fig. 10).
    Lookup {
        /// Ring size.
        #[arg(long, default_value_t = 1024)]
        nodes: usize,
        /// Lookups to run.
        #[arg(long, default_value_t = 10_000)]
        lookups: u64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How the ring is built.
        #[arg(long, value_enum, default_value_t = InitArg::Converged)]
        init: InitArg,
        /// Successor-list length r.
        #[arg(long, default_value_t = 8)]
        successors: usize,
        /// Lookups in flight at once (per thread).
        #[arg(long, default_value_t = 1_000)]
        concurrency: usize,
        /// Threads for `--init converged`: the lookups are split over identical
        /// copies of the frozen ring (lookups there do not interact). Default: all cores.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// A fraction of nodes crash at once; then every key is looked up (paper Fig. 11).
    Fail {
        /// Ring size.
        #[arg(long, default_value_t = 10_000)]
        nodes: usize,
        /// Keys stored before the crash.
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        /// Fraction of nodes that crash.
        #[arg(long, default_value_t = 0.5)]
        fail_fraction: f64,
        /// Replication factor R.
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Successor-list length r (the paper's ToN version used 20).
        #[arg(long, default_value_t = 20)]
        successors: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Joins and crashes as Poisson processes while lookups run (paper's churn experiment).
    Churn {
        /// Initial ring size.
        #[arg(long, default_value_t = 500)]
        nodes: usize,
        /// Joins per second and crashes per second.
        #[arg(long, default_value_t = 0.05)]
        rate: f64,
        /// Mean stabilization period, ms.
        #[arg(long, default_value_t = 30_000)]
        stabilize_ms: u64,
        /// Simulated duration of the churn, s.
        #[arg(long, default_value_t = 3_600)]
        duration_s: u64,
        /// Replication factor R.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Successor-list length r.
        #[arg(long, default_value_t = 8)]
        successors: usize,
        /// Keys stored before the churn.
        #[arg(long, default_value_t = 1_000)]
        keys: u64,
        /// Check invariants every this many simulated ms (0 = after every event).
        #[arg(long, default_value_t = 1_000)]
        check_every_ms: u64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The network splits into groups that keep running (joins, puts, crashes), then heals:
    /// ring unification must make one correct ring again without losing a key.
    ///
    /// A ring of N nodes with keys is built; T seconds later every node goes to
    /// one of G random groups; messages between groups are dropped and each
    /// group has a bootstrap server of its own. During the split, joins, crashes
    /// and puts (some to the same key in every group) happen at random times.
    /// After H seconds the network heals and the run goes on until the members
    /// form one correct ring (every predecessor and successor list ideal) with
    /// the records settled, or until --cap-s. Reports rings_before_heal,
    /// rings_after_heal, merge_s (heal → one correct ring), settle_s,
    /// keys_lost (keys a live node held at the heal that none holds at the
    /// end), stale_versions, conflicting_versions, under_replicated,
    /// invariant_violations, and false_absent: gets issued every second after
    /// the heal (8 per second, for keys a live node holds) that answered
    /// "nothing stored". Exits 1 unless it ends in one correct ring without
    /// losing a key, violating an invariant or answering a false "nothing".
    Partition {
        /// Ring size before the split.
        #[arg(long, default_value_t = 1_000)]
        nodes: usize,
        /// Groups the network splits into.
        #[arg(long, default_value_t = 2)]
        groups: usize,
        /// Seconds after the ring is built when the split starts.
        #[arg(long, default_value_t = 10)]
        split_s: u64,
        /// Seconds the split lasts.
        #[arg(long, default_value_t = 600)]
        heal_s: u64,
        /// Replication factor R.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Successor-list length r.
        #[arg(long, default_value_t = 8)]
        successors: usize,
        /// Keys put before the split.
        #[arg(long, default_value_t = 1_000)]
        keys: u64,
        /// Random actions (joins, crashes, puts) during the split.
        #[arg(long, default_value_t = 100)]
        actions: u64,
        /// Longest run after the heal, seconds.
        #[arg(long, default_value_t = 600)]
        cap_s: u64,
        /// Check invariants every this many simulated ms (0 = after every event).
        #[arg(long, default_value_t = 1_000)]
        check_every_ms: u64,
        /// Use the browser peer's node configuration (neighbour probes, shorter timeouts).
        #[arg(long)]
        browser: bool,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Runs the paper's three experiments and writes SVG plots and a markdown table.
    Paper {
        /// Output directory.
        #[arg(long, default_value = "paper")]
        out: PathBuf,
        /// Largest ring for the path-length curve, as log2 N.
        #[arg(long, default_value_t = 20)]
        max_log_n: u32,
        /// Smaller rings and shorter runs (a smoke test of the pipeline).
        #[arg(long)]
        quick: bool,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut bar = Bar::new(!cli.quiet);
    let mut progress = |phase: &str, done: u64, total: u64| bar.update(phase, done, total);
    let report = match cli.scenario {
        Scenario::Lookup { nodes, lookups, seed, init, successors, concurrency, threads } => {
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let init = match init {
                InitArg::Converged => Init::Converged,
                InitArg::Joined => Init::Joined,
            };
            run_lookup(&LookupParams { nodes, lookups, seed, init, successors, concurrency, threads }, &mut progress)
        }
        Scenario::Fail { nodes, keys, fail_fraction, replicas, successors, seed } => {
            if !(0.0..1.0).contains(&fail_fraction) {
                eprintln!("error: --fail-fraction must be in [0, 1), got {fail_fraction}");
                return ExitCode::from(2);
            }
            let p = FailParams { nodes, keys, fail_fraction, replicas, successors, seed, ..FailParams::default() };
            run_fail(&p, &mut progress)
        }
        Scenario::Churn { nodes, rate, stabilize_ms, duration_s, replicas, successors, keys, check_every_ms, seed } => {
            let p = ChurnParams {
                nodes,
                rate,
                stabilize_ms,
                duration_s,
                replicas,
                successors,
                keys,
                check_every_ms,
                seed,
                ..ChurnParams::default()
            };
            run_churn(&p, &mut progress)
        }
        Scenario::Partition {
            nodes,
            groups,
            split_s,
            heal_s,
            replicas,
            successors,
            keys,
            actions,
            cap_s,
            check_every_ms,
            browser,
            seed,
        } => {
            if groups < 2 {
                eprintln!("error: --groups must be at least 2, got {groups}");
                return ExitCode::from(2);
            }
            let node = if browser { chord::peer::browser_node_config() } else { chord::Config::default() };
            let p = PartitionParams {
                nodes,
                groups,
                split_s,
                heal_s,
                replicas,
                successors,
                keys,
                actions,
                cap_s,
                check_every_ms,
                node,
                seed,
                ..PartitionParams::default()
            };
            let r = run_partition(&p, &mut progress);
            bar.finish();
            if cli.json {
                match serde_json::to_string(&r) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: cannot encode the report: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print_table(&r.base);
                let opt = |x: Option<f64>| x.map_or("not within the cap".to_string(), |v| format!("{v:.0} s"));
                let rows = [
                    ("groups", r.groups.to_string()),
                    ("rings before / after the heal", format!("{} / {}", r.rings_before_heal, r.rings_after_heal)),
                    ("heal → one correct ring", opt(r.merge_s)),
                    ("heal → records settled", opt(r.settle_s)),
                    ("one correct ring at the end", r.one_ring.to_string()),
                    ("keys lost (had a live holder)", r.keys_lost.to_string()),
                    ("stale / conflicting versions", format!("{} / {}", r.stale_versions, r.conflicting_versions)),
                    ("under-replicated keys", r.under_replicated.to_string()),
                    ("keys written on both sides", r.keys_written_on_both_sides.to_string()),
                    ("messages dropped by the split", r.partitioned_messages.to_string()),
                    ("joins / crashes / puts in the split", format!("{} / {} / {}", r.joins, r.crashes, r.puts)),
                    ("merges started / adopted / dropped", format!("{} / {} / {}", r.merges_started, r.merges_adopted, r.merge_dropped)),
                    (
                        "gets after the heal: false absent / not sure",
                        format!("{} of {} / {}", r.false_absent, r.gets_after_heal, r.gets_not_sure),
                    ),
                ];
                for (k, v) in rows {
                    println!("{k:<46} {v}");
                }
            }
            return if r.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) };
        }
        Scenario::Paper { out, max_log_n, quick, seed } => {
            bar.finish();
            return match paper::run(&out, max_log_n, quick, seed, cli.json, !cli.quiet) {
                Ok(0) => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            };
        }
    };
    bar.finish();
    if cli.json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot encode the report: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print_table(&report);
    }
    if report.invariant_violations > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// A readable table of a report.
pub fn print_table(r: &Report) {
    let rows: Vec<(&str, String)> = vec![
        ("scenario", r.scenario.clone()),
        ("nodes", r.nodes.to_string()),
        ("seed", r.seed.to_string()),
        ("successors r / replicas R", format!("{} / {}", r.successors, r.replicas)),
        ("lookups", r.lookups.to_string()),
        ("path length mean", format!("{:.3}", r.mean_hops)),
        ("path length p1 / p50 / p99 / max", format!("{} / {} / {} / {}", r.p1_hops, r.p50_hops, r.p99_hops, r.max_hops)),
        ("failed lookups", format!("{} ({:.4})", r.failed_lookups, r.failed_fraction)),
        ("  of which wrong successor", r.wrong_successor.to_string()),
        ("  of which value missing", r.missing_values.to_string()),
        ("keys", r.keys.to_string()),
        ("keys lost (allowed by failure model)", format!("{} ({})", r.keys_lost, r.keys_lost_allowed)),
        ("invariant violations", r.invariant_violations.to_string()),
        ("assumption breaches", r.assumption_breaches.to_string()),
        ("simulated time", format!("{:.1} s", r.sim_s)),
        ("events / messages", format!("{} / {}", r.events, r.messages)),
        ("wall time", format!("{:.2} s", r.wall_s)),
        ("peak memory", format!("{:.0} MiB", r.peak_rss_mib)),
    ];
    for (k, v) in rows {
        println!("{k:<38} {v}");
    }
    for (k, v) in &r.params {
        println!("{:<38} {v}", format!("param {k}"));
    }
    for v in &r.violation_log {
        println!("VIOLATION {v}");
    }
}
