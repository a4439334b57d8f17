//! A progress bar on stderr that appears only for work lasting over a second.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Turns `(phase, done, total)` callbacks into an indicatif bar.
pub struct Bar {
    bar: Option<ProgressBar>,
    phase: String,
    started: Instant,
    enabled: bool,
}

impl Bar {
    /// A bar; `enabled = false` keeps stderr quiet.
    pub fn new(enabled: bool) -> Bar {
        Bar { bar: None, phase: String::new(), started: Instant::now(), enabled }
    }

    /// Reports progress.
    pub fn update(&mut self, phase: &str, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template("{msg:>30} [{bar:40}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            b.set_style(style);
            b
        });
        if phase != self.phase {
            self.phase = phase.to_owned();
            bar.set_message(phase.to_owned());
        }
        bar.set_length(total);
        bar.set_position(done.min(total));
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
