//! What a scenario reports: path lengths, failures, key safety, invariants.

use serde::Serialize;

/// A histogram of path lengths with the paper's statistics.
#[derive(Clone, Debug, Default)]
pub struct HopStats {
    counts: Vec<u64>,
    total: u64,
    sum: u64,
}

impl HopStats {
    /// Records one lookup's path length.
    pub fn record(&mut self, hops: u16) {
        let h = hops as usize;
        if self.counts.len() <= h {
            self.counts.resize(h + 1, 0);
        }
        self.counts[h] += 1;
        self.total += 1;
        self.sum += hops as u64;
    }

    /// Adds another histogram's lookups to this one.
    pub fn merge(&mut self, other: &HopStats) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
    }

    /// Lookups recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Mean path length.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The smallest h such that at least fraction `q` of lookups took ≤ h hops.
    pub fn percentile(&self, q: f64) -> u32 {
        if self.total == 0 {
            return 0;
        }
        let need = ((q * self.total as f64).ceil() as u64).max(1);
        let mut acc = 0;
        for (h, c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= need {
                return h as u32;
            }
        }
        self.max()
    }

    /// Longest path.
    pub fn max(&self) -> u32 {
        self.counts.iter().rposition(|c| *c > 0).unwrap_or(0) as u32
    }

    /// Fraction of lookups with each path length (index = hops).
    pub fn pdf(&self) -> Vec<f64> {
        self.counts.iter().map(|c| *c as f64 / self.total.max(1) as f64).collect()
    }
}

/// The result of one scenario run. `--json` prints exactly this object.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Ring size at the start.
    pub nodes: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Lookups completed or failed.
    pub lookups: u64,
    /// Mean path length.
    pub mean_hops: f64,
    /// 1st percentile of path length.
    pub p1_hops: u32,
    /// Median path length.
    pub p50_hops: u32,
    /// 99th percentile of path length.
    pub p99_hops: u32,
    /// Longest path.
    pub max_hops: u32,
    /// Fraction of lookups with each path length (index = hops).
    pub hop_pdf: Vec<f64>,
    /// Lookups that failed: no answer, a routing failure, a wrong node, or (for gets) a missing value.
    pub failed_lookups: u64,
    /// Of those, lookups that returned a node other than the key's true successor.
    pub wrong_successor: u64,
    /// Of those, gets whose key was not found (key lost or not yet handed over).
    pub missing_values: u64,
    /// Fraction failed.
    pub failed_fraction: f64,
    /// Keys put.
    pub keys: u64,
    /// Keys held by no live node at the end.
    pub keys_lost: u64,
    /// Keys whose every holder crashed at once (the failure model allows losing these).
    pub keys_lost_allowed: u64,
    /// Invariant violations (bugs).
    pub invariant_violations: u64,
    /// Failure-model breaches (a node lost all r successors).
    pub assumption_breaches: u64,
    /// Simulated seconds.
    pub sim_s: f64,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Events processed.
    pub events: u64,
    /// Messages sent.
    pub messages: u64,
    /// Peak resident memory of the process, MiB (Linux only; 0 elsewhere).
    pub peak_rss_mib: f64,
    /// Successor-list length used.
    pub successors: usize,
    /// Replication factor used.
    pub replicas: usize,
    /// Scenario-specific figures (rates, fractions …).
    pub params: std::collections::BTreeMap<String, f64>,
    /// The first invariant violations, as text.
    pub violation_log: Vec<String>,
}

impl Report {
    /// Fills the path-length fields.
    pub fn set_hops(&mut self, h: &HopStats) {
        self.mean_hops = h.mean();
        self.p1_hops = h.percentile(0.01);
        self.p50_hops = h.percentile(0.5);
        self.p99_hops = h.percentile(0.99);
        self.max_hops = h.max();
        self.hop_pdf = h.pdf();
    }
}

/// Peak resident set size of this process in MiB, from `/proc/self/status`.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_histogram() {
        let mut h = HopStats::default();
        for hops in 0..100u16 {
            h.record(hops);
        }
        assert_eq!(h.percentile(0.01), 0);
        assert_eq!(h.percentile(0.5), 49);
        assert_eq!(h.percentile(0.99), 98);
        assert_eq!(h.max(), 99);
        assert!((h.mean() - 49.5).abs() < 1e-9);
    }
}
