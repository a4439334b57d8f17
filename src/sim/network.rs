//! The simulated network: latency and loss.

use crate::rng::SeededRng;

/// One-way message latency is `min_ms` plus an exponential tail of mean
/// `mean_extra_ms` (a common model of wide-area delay); each message is lost
/// independently with probability `loss`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetModel {
    /// Smallest one-way latency.
    pub min_ms: u64,
    /// Mean of the exponential part.
    pub mean_extra_ms: f64,
    /// Probability that a message is lost.
    pub loss: f64,
}

impl Default for NetModel {
    fn default() -> Self {
        NetModel { min_ms: 10, mean_extra_ms: 40.0, loss: 0.0 }
    }
}

impl NetModel {
    /// The latency of one message, or `None` if it is lost.
    pub fn sample(&self, rng: &mut SeededRng) -> Option<u64> {
        if self.loss > 0.0 && rng.unit() < self.loss {
            return None;
        }
        let extra = if self.mean_extra_ms > 0.0 { rng.exponential(self.mean_extra_ms) } else { 0.0 };
        Some(self.min_ms + extra.round() as u64)
    }
}
