//! Simulated time: the real clock sped up by a constant factor.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A clock whose time runs `scale` times faster than real time from the moment it was created.
#[derive(Clone, Debug)]
pub struct SimClock {
    started: Instant,
    start_unix: f64,
    scale: f64,
}

impl SimClock {
    /// A clock starting at the current wall time, running `scale` times faster.
    pub fn new(scale: f64) -> Self {
        let start_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        Self::starting_at(start_unix, scale)
    }

    /// A clock starting at `start_unix` seconds since the epoch (simulated), running `scale` times faster.
    pub fn starting_at(start_unix: f64, scale: f64) -> Self {
        Self {
            started: Instant::now(),
            start_unix,
            scale,
        }
    }

    /// Simulated seconds since the epoch, now.
    pub fn now(&self) -> f64 {
        self.start_unix + self.elapsed()
    }

    /// Simulated seconds since the clock started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.scale
    }

    /// Speed-up factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Converts a real duration into simulated seconds.
    pub fn simulated(&self, real: Duration) -> f64 {
        real.as_secs_f64() * self.scale
    }
}
