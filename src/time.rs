//! Time as the node sees it: milliseconds on a clock the driver owns.
//!
//! The node never reads a clock. The driver (simulator or browser glue) passes
//! `now` into every call, so the same node code runs faster than real time in
//! the simulator and on `performance.now()` in a tab.

use serde::{Deserialize, Serialize};
use std::ops::{Add, Sub};

/// A point in time, in milliseconds since an origin chosen by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Millis(pub u64);

impl Millis {
    /// The driver's time origin.
    pub const ZERO: Millis = Millis(0);

    /// Milliseconds elapsed since `earlier` (0 if `earlier` is later).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<u64> for Millis {
    type Output = Millis;
    fn add(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

impl Sub<u64> for Millis {
    type Output = Millis;
    fn sub(self, ms: u64) -> Millis {
        Millis(self.0.saturating_sub(ms))
    }
}
