//! The wall clock of what outlives a process: games' creation times and rows' expiry,
//! which must survive restarts and agree between instances. Timers of a running game
//! use tokio's monotonic clock instead; this is the one wall clock of the server.

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
