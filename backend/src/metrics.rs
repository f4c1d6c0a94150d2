//! Counters for `GET /metrics`, in the Prometheus text format (version 0.0.4), written
//! by hand: no client library, no lock anywhere.
//!
//! The hot paths only ever add to atomics. The two counters touched for every frame to
//! every socket ([`Metrics::sent`]) are striped over cache lines, so that the worker
//! threads do not fight over one line hundreds of thousands of times a second; the
//! stripes are summed when `/metrics` is read. Latencies go into fixed-bucket
//! histograms ([`Histogram`]), which is also one atomic add per bucket hit.

use std::cell::Cell;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::rules::Rejection;
use crate::ws::guard::{rate::Limited, Refusal};

/// Every figure the server exposes. One per process, shared by `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Player sockets open now.
    pub players_connected: AtomicI64,
    /// World sockets open now.
    pub world_sockets: AtomicI64,
    /// Text frames read from clients.
    pub frames_in: AtomicU64,
    /// Frames written to clients (every frame to every socket): striped, see [`Striped`].
    frames_out: Striped,
    /// Bytes of the frames written to clients: striped like `frames_out`.
    bytes_out: Striped,
    /// Frames refused as malformed, oversized or of an unknown type.
    pub frames_refused: AtomicU64,
    /// Rejected moves, indexed like [`Rejection::ALL`].
    pub moves_rejected: [AtomicU64; 3],
    /// Sockets closed because they could not keep up.
    pub socket_queue_drops: AtomicU64,
    /// WebSocket handshakes refused, indexed like [`Refusal::LABELS`].
    pub sockets_refused: [AtomicU64; 3],
    /// Client frames dropped for going over a rate limit, indexed like [`Limited::ALL`].
    pub frames_limited: [AtomicU64; 3],
    /// Sockets closed for having too many frames dropped or refused.
    pub sockets_flooding: AtomicU64,
    /// World frames the room handed to the bus.
    pub bus_published: AtomicU64,
    /// How long handing a world frame to the bus took (the in-process bus delivers to
    /// the local fan-out inside that call; a networked bus may observe the time to its
    /// broker's acknowledgement instead).
    pub bus_publish: Histogram,
    /// Rows handed to the store writer and not written yet.
    pub store_backlog: AtomicI64,
    /// Store writes that failed (and were retried).
    pub store_write_failures: AtomicU64,
    /// How long successful store writes took.
    pub store_write: Histogram,
    /// Successful store writes (also the histogram's count; kept for direct readers).
    pub store_writes: AtomicU64,
    /// Their total time in microseconds (also the histogram's sum).
    pub store_write_micros: AtomicU64,
}

impl Metrics {
    pub fn reject(&self, reason: Rejection) {
        let index = Rejection::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.moves_rejected[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_store_write(&self, took: Duration) {
        self.store_write.observe(took);
        self.store_writes.fetch_add(1, Ordering::Relaxed);
        self.store_write_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// One world frame handed to the bus, which took `took`.
    pub fn observe_bus_publish(&self, took: Duration) {
        self.bus_published.fetch_add(1, Ordering::Relaxed);
        self.bus_publish.observe(took);
    }

    /// One frame of `bytes` written to a client: the hottest counter of the server.
    pub fn sent(&self, bytes: usize) {
        self.frames_out.add(1);
        self.bytes_out.add(bytes as u64);
    }

    pub fn frames_out(&self) -> u64 {
        self.frames_out.get()
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.get()
    }

    /// The Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let geti = |a: &AtomicI64| a.load(Ordering::Relaxed) as f64;
        out.single(
            "drapetisca_players_connected",
            "gauge",
            "Player sockets open now.",
            geti(&self.players_connected),
        );
        out.single(
            "drapetisca_world_sockets",
            "gauge",
            "World sockets open now.",
            geti(&self.world_sockets),
        );
        out.single(
            "drapetisca_frames_in_total",
            "counter",
            "Text frames read from clients.",
            get(&self.frames_in),
        );
        out.single(
            "drapetisca_frames_out_total",
            "counter",
            "Frames written to clients.",
            self.frames_out() as f64,
        );
        out.single(
            "drapetisca_bytes_out_total",
            "counter",
            "Bytes written to clients.",
            self.bytes_out() as f64,
        );
        out.single(
            "drapetisca_frames_refused_total",
            "counter",
            "Frames refused as malformed, oversized or unknown.",
            get(&self.frames_refused),
        );
        out.header(
            "drapetisca_moves_rejected_total",
            "counter",
            "Rejected moves by reason.",
        );
        for (reason, count) in Rejection::ALL.iter().zip(&self.moves_rejected) {
            out.sample(
                "drapetisca_moves_rejected_total",
                &format!("reason=\"{}\"", reason.as_str()),
                get(count),
            );
        }
        out.single(
            "drapetisca_socket_queue_drops_total",
            "counter",
            "Sockets closed for not keeping up.",
            get(&self.socket_queue_drops),
        );
        out.header(
            "drapetisca_sockets_refused_total",
            "counter",
            "WebSocket handshakes refused, by the check that refused them.",
        );
        for (reason, count) in Refusal::LABELS.iter().zip(&self.sockets_refused) {
            out.sample(
                "drapetisca_sockets_refused_total",
                &format!("reason=\"{reason}\""),
                get(count),
            );
        }
        out.header(
            "drapetisca_frames_limited_total",
            "counter",
            "Client frames dropped for going over a rate limit, by kind.",
        );
        for (kind, count) in Limited::ALL.iter().zip(&self.frames_limited) {
            out.sample(
                "drapetisca_frames_limited_total",
                &format!("kind=\"{}\"", kind.as_str()),
                get(count),
            );
        }
        out.single(
            "drapetisca_sockets_flooding_total",
            "counter",
            "Sockets closed for having too many frames dropped or refused.",
            get(&self.sockets_flooding),
        );
        out.single(
            "drapetisca_bus_published_total",
            "counter",
            "World frames handed to the bus.",
            get(&self.bus_published),
        );
        out.histogram(
            "drapetisca_bus_publish_seconds",
            "Time to hand one world frame to the bus.",
            &self.bus_publish,
        );
        out.single(
            "drapetisca_store_backlog",
            "gauge",
            "Rows waiting to be written to the store.",
            geti(&self.store_backlog),
        );
        out.single(
            "drapetisca_store_write_failures_total",
            "counter",
            "Failed store writes (retried).",
            get(&self.store_write_failures),
        );
        out.histogram(
            "drapetisca_store_write_seconds",
            "Time of one successful store write.",
            &self.store_write,
        );
        if let Some(process) = ProcessFigures::read() {
            out.single(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                process.rss_bytes as f64,
            );
            out.single(
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                process.cpu_seconds,
            );
        }
        out.text
    }
}

/// How many cache lines a striped counter spreads over; more than the cores we run on.
const STRIPES: usize = 8;

/// An atomic on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// A counter spread over [`STRIPES`] cache lines, each thread adding to its own: adding
/// never contends, reading sums the stripes (only `/metrics` reads).
#[derive(Debug, Default)]
struct Striped([Padded; STRIPES]);

/// Hands out stripes to threads in turn.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's stripe, drawn on first use.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_stripe() -> usize {
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        s.get()
    })
}

impl Striped {
    fn add(&self, n: u64) {
        self.0[my_stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

/// Upper bounds of the histogram buckets, in microseconds: 50 us to 5 s.
const BUCKETS_US: [u64; 15] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];

/// A Prometheus histogram of durations with fixed buckets; observing is two atomic adds
/// and one bucket add.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the exposition sums them), the last one
    /// for everything above the largest bound.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    /// Sum of all observations, microseconds.
    sum_us: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US
            .iter()
            .position(|bound| us <= *bound)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The text being written, with helpers for the three shapes of figure.
#[derive(Default)]
struct Exposition {
    /// The exposition so far.
    text: String,
}

impl Exposition {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        // unwrap: writing to a String cannot fail
        writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}").unwrap();
    }

    fn sample(&mut self, name: &str, labels: &str, value: f64) {
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        // unwrap: writing to a String cannot fail
        writeln!(self.text, "{name}{labels} {value}").unwrap();
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.header(name, kind, help);
        self.sample(name, "", value);
    }

    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.header(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS_US.iter().zip(&h.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let le = *bound as f64 / 1e6;
            self.sample(&bucket, &format!("le=\"{le}\""), cumulative as f64);
        }
        cumulative += h.buckets[BUCKETS_US.len()].load(Ordering::Relaxed);
        self.sample(&bucket, "le=\"+Inf\"", cumulative as f64);
        let sum = h.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        self.sample(&format!("{name}_sum"), "", sum);
        // the count is the +Inf bucket's, so that the two always agree in one scrape
        self.sample(&format!("{name}_count"), "", cumulative as f64);
    }
}

/// This process's memory and CPU, from `/proc/self` (absent off Linux).
struct ProcessFigures {
    /// Resident set size.
    rss_bytes: u64,
    /// User plus system CPU time.
    cpu_seconds: f64,
}

impl ProcessFigures {
    fn read() -> Option<Self> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // utime and stime: fields 14 and 15, counted after the command name
        let mut after_name = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
        let utime: u64 = after_name.next()?.parse().ok()?;
        let stime: u64 = after_name.next()?.parse().ok()?;
        // SAFETY: sysconf only reads configuration values
        let (page, ticks) = unsafe {
            (
                libc::sysconf(libc::_SC_PAGESIZE),
                libc::sysconf(libc::_SC_CLK_TCK),
            )
        };
        Some(ProcessFigures {
            rss_bytes: resident_pages * u64::try_from(page).ok()?,
            cpu_seconds: (utime + stime) as f64 / ticks.max(1) as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample line that starts with `series ` in `text`.
    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn every_line_is_a_comment_or_a_sample_with_a_number() {
        let m = Metrics::default();
        m.sent(100);
        m.reject(Rejection::Brick);
        m.observe_bus_publish(Duration::from_micros(30));
        m.observe_store_write(Duration::from_millis(3));
        let text = m.render();
        for line in text.lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, number) = line.rsplit_once(' ').expect(line);
            assert!(series.starts_with("drapetisca_") || series.starts_with("process_"));
            number.parse::<f64>().expect(line);
        }
        assert_eq!(value(&text, "drapetisca_frames_out_total"), 1.0);
        assert_eq!(value(&text, "drapetisca_bytes_out_total"), 100.0);
        assert_eq!(
            value(&text, "drapetisca_moves_rejected_total{reason=\"brick\"}"),
            1.0
        );
        assert_eq!(value(&text, "drapetisca_bus_published_total"), 1.0);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let m = Metrics::default();
        for us in [10, 60, 60, 3_000, 9_000_000] {
            m.observe_store_write(Duration::from_micros(us));
        }
        let text = m.render();
        let b = |le: &str| {
            value(
                &text,
                &format!("drapetisca_store_write_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(b("0.00005"), 1.0);
        assert_eq!(b("0.0001"), 3.0);
        assert_eq!(b("0.005"), 4.0);
        assert_eq!(b("5"), 4.0);
        assert_eq!(b("+Inf"), 5.0);
        assert_eq!(value(&text, "drapetisca_store_write_seconds_count"), 5.0);
        let sum = value(&text, "drapetisca_store_write_seconds_sum");
        assert!((sum - 9.00313).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn striped_counters_add_up_across_threads() {
        let m = std::sync::Arc::new(Metrics::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.sent(2);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!((m.frames_out(), m.bytes_out()), (4000, 8000));
    }
}
