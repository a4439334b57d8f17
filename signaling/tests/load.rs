//! Issue #6's load target: 10,000 idle WebSocket clients held at once by the
//! server binary (a child process, so its memory is measured alone) under
//! 150 MiB resident, while newcomer pairs keep being introduced.
//!
//! The clients all come from 127.0.0.1, so the server is started with room for
//! all of them from one address. The test process raises its own open-files
//! limit to one per client plus spare (the server raises its own), and fails
//! with that figure if the hard limit is lower. Bounded: every step by
//! `loadgen::STEP_TIMEOUT`, the whole run by `DEADLINE`.

mod loadgen;

use loadgen::{measure, Plan};
use std::path::Path;
use std::time::Duration;

/// Idle clients held at once.
const CLIENTS: usize = 10_000;
/// The memory target for holding them, whole server included.
const MAX_PEAK_RSS_KIB: u64 = 150 * 1024;
/// Connections opened at a time: well under the listen backlog, and small
/// enough that a batch never waits long on a busy two-core machine.
const BATCH: usize = 250;
/// How long all clients are held once connected.
const HOLD: Duration = Duration::from_secs(8);
/// The server pings at a third of this, so each idle client is pinged (and
/// must answer) a few times during the hold.
const IDLE_TIMEOUT: Duration = Duration::from_secs(6);
/// Members per idle ring: the default per-ring limit is not what is tested here.
const RING_SIZE: usize = 100;
/// Pause between two pair introductions.
const PAIR_INTERVAL: Duration = Duration::from_millis(100);
/// Bound on the whole run; it takes well under half of it on two cores.
const DEADLINE: Duration = Duration::from_secs(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_clients_fit_in_150_mib_while_pairs_are_introduced() {
    let plan = Plan {
        clients: CLIENTS,
        batch: BATCH,
        ring_size: RING_SIZE,
        hold: HOLD,
        pair_interval: PAIR_INTERVAL,
        idle_timeout: IDLE_TIMEOUT,
        deadline: DEADLINE,
    };
    let bin = Path::new(env!("CARGO_BIN_EXE_chord-signaling"));
    let report = measure(bin, &plan).await.unwrap_or_else(|e| panic!("load run failed: {e}"));
    println!(
        "{CLIENTS} idle clients opened in {:.2} s; server RSS {:.1} MiB before, {:.1} MiB held, peak {:.1} MiB; \
         {:.1} KiB per connection ({:.1} KiB of peak per connection); {} pairs introduced ({} at full load), \
         median {:.1} ms, max {:.1} ms",
        report.open_seconds,
        report.baseline_rss_kib as f64 / 1024.0,
        report.held_rss_kib as f64 / 1024.0,
        report.peak_rss_kib as f64 / 1024.0,
        report.rss_per_connection_bytes as f64 / 1024.0,
        report.peak_per_connection_bytes as f64 / 1024.0,
        report.pairs_introduced,
        report.pairs_at_full_load,
        report.intro_median_ms,
        report.intro_max_ms,
    );
    assert!(report.peak_rss_kib < MAX_PEAK_RSS_KIB, "peak RSS {} KiB over the target", report.peak_rss_kib);
    assert_eq!(report.clients_dropped, 0, "idle clients lost their connection");
    assert!(report.stats.connections >= CLIENTS as u64, "server holds {} connections", report.stats.connections);
    assert!(report.stats.members >= CLIENTS as u64, "server knows {} members", report.stats.members);
    // Introductions went on while the clients were being opened and while all were held.
    assert!(report.pairs_introduced > report.pairs_at_full_load, "no pair introduced during the ramp-up");
    let held_seconds = HOLD.as_secs().max(1) as usize;
    assert!(report.pairs_at_full_load >= held_seconds, "only {} pairs in {held_seconds} s at full load", report.pairs_at_full_load);
    assert_eq!(report.stats.protocol_errors, 0, "{}", report.log);
}
