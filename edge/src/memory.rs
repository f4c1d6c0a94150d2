//! Gives the memory of closed sockets back to the system.
//!
//! glibc's malloc keeps what is freed for reuse and hands memory back to the system only
//! from the top of a heap. The buffers of many closed sockets are scattered through the
//! heap, so after a flood of sockets (or a crowd of players) left, the server's RSS
//! stayed where the flood had taken it: 16 MB before 800 idle players came, 69 MB after
//! they had all left. `malloc_trim(0)` hands free pages back from anywhere in the heap:
//! 22 MB (docs/benchmarks.md, "What a player costs").
//!
//! It runs only after many sockets closed, so a steady server never pays for it.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::guard::Guard;
use crate::metrics::SocketMetrics;

/// How often the closed sockets are counted (a lock and a compare).
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Sockets that must have closed since the last trim for another one: a few players
/// leaving do not free enough to be worth walking the heap.
pub const CLOSES_PER_TRIM: u64 = 64;

/// Trims the heap whenever [`CLOSES_PER_TRIM`] sockets closed since the last time, until
/// `shutdown`.
pub async fn give_back_after_closes(
    guard: Guard,
    metrics: SocketMetrics,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(CHECK_EVERY);
    let mut closed_at_last_trim = guard.sockets_closed();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let closed = guard.sockets_closed();
        if closed - closed_at_last_trim < CLOSES_PER_TRIM {
            continue;
        }
        closed_at_last_trim = closed;
        // it walks the whole heap under the allocator's locks: off the async workers
        let took = tokio::task::spawn_blocking(|| {
            let start = Instant::now();
            trim();
            start.elapsed()
        })
        .await;
        if let Ok(took) = took {
            metrics.memory_trimmed();
            tracing::debug!(micros = took.as_micros() as u64, "gave freed memory back");
        }
    }
}

/// Hands the heap's free pages back to the system.
#[cfg(target_env = "gnu")]
fn trim() {
    // SAFETY: malloc_trim only walks and releases the allocator's own free memory; it
    // takes the allocator's locks itself and is safe to call from any thread
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators give memory back on their own.
#[cfg(not(target_env = "gnu"))]
fn trim() {}
