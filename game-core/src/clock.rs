//! The wall clock of what outlives a process: games' creation times and rows' expiry,
//! which must survive restarts and agree between instances. Timers of a running game
//! use tokio's monotonic clock instead; this is the one wall clock of the server.
//!
//! [`Clock`] is the port (a test can set the time); [`System`] reads the system's clock,
//! and [`now_ms`] is a shorthand for it.

/// Tells the time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct System;

impl Clock for System {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Now by the system's clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    System.now_ms()
}
