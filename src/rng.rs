//! The only randomness a node uses: a PCG generator seeded by the driver.

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// A small deterministic random source. Same seed, same sequence, on every target.
#[derive(Clone, Debug)]
pub struct SeededRng(Pcg64Mcg);

impl SeededRng {
    /// A generator whose whole future is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng(Pcg64Mcg::seed_from_u64(seed))
    }

    /// 64 uniformly random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2⁻⁴⁰ for the sizes used here.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// An exponentially distributed sample with the given mean (for Poisson processes).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        // 1 - unit() is in (0, 1], so the logarithm is finite.
        -(1.0 - self.unit()).ln() * mean
    }

    /// `base` scaled by a uniform factor in `[1 - spread, 1 + spread]`.
    pub fn jitter(&mut self, base: u64, spread: f64) -> u64 {
        let f = 1.0 - spread + 2.0 * spread * self.unit();
        (base as f64 * f).round().max(1.0) as u64
    }
}
