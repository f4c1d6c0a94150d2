//! What the figures of every subsystem share. Each subsystem keeps its own figures and
//! registers them into the registry the edge serves at `/metrics` (`room::metrics`,
//! `store::writer::metrics`); none of them is global, so several servers in one process
//! (tests, benchmarks) each report their own.

/// Upper bounds of the latency histograms' buckets, in seconds: 50 us to 5 s.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 5.0,
];
