//! Latency histograms shared by all bots, fed through per-bot buffers so that a
//! receiver takes the shared lock once per few hundred deliveries, not once per frame.

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::report::Summary;

/// How many samples a bot gathers before it takes the shared histogram's lock.
const BATCH: usize = 256;

/// One latency distribution, in microseconds.
pub struct Latencies {
    /// A `std::sync::Mutex`: it is held only to add a batch, never across an `.await`.
    histogram: Mutex<Histogram<u64>>,
}

impl Latencies {
    pub fn new() -> Arc<Self> {
        // unwrap: 1 us to 1 hour at 3 significant figures are valid bounds
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        Arc::new(Latencies {
            histogram: Mutex::new(histogram),
        })
    }

    /// A new buffer in front of this histogram, for one bot.
    pub fn recorder(self: &Arc<Self>) -> Recorder {
        Recorder {
            shared: Arc::clone(self),
            buffer: Vec::with_capacity(BATCH),
        }
    }

    pub fn summary(&self) -> Summary {
        // unwrap: a poisoned lock means a bot panicked, which already failed the run
        let h = self.histogram.lock().unwrap();
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// A bot's buffer of samples not yet in the shared histogram; flushed when full and
/// when dropped.
pub struct Recorder {
    /// The histogram the samples end up in.
    shared: Arc<Latencies>,
    /// Samples in microseconds, at most [`BATCH`].
    buffer: Vec<u64>,
}

impl Recorder {
    pub fn record(&mut self, micros: u64) {
        self.buffer.push(micros);
        if self.buffer.len() >= BATCH {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        // unwrap: a poisoned lock means a bot panicked, which already failed the run
        let mut h = self.shared.histogram.lock().unwrap();
        for &v in &self.buffer {
            // an hour or more is recorded as an hour: by then the run is long over
            h.saturating_record(v);
        }
        drop(h);
        self.buffer.clear();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_from_several_recorders_all_reach_the_summary_in_order() {
        let lat = Latencies::new();
        let mut a = lat.recorder();
        let mut b = lat.recorder();
        for us in 1..=1000 {
            a.record(us * 1000);
            b.record(us * 1000);
        }
        drop(a);
        drop(b);
        let s = lat.summary();
        assert_eq!(s.count, 2000);
        assert!(s.p50_ms <= s.p90_ms && s.p90_ms <= s.p99_ms && s.p99_ms <= s.max_ms);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
    }
}
