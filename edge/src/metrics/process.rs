//! This process's memory and CPU time, read from `/proc/self` at each scrape, under
//! the names every Prometheus client library uses. Absent where there is no `/proc`.

use procfs::process::Process;
use procfs::WithCurrentSystemInfo;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Encodes `process_resident_memory_bytes` and `process_cpu_seconds_total`.
#[derive(Debug)]
pub struct Collector;

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(stat) = Process::myself().and_then(|me| me.stat()) else {
            return Ok(());
        };
        let rss = ConstGauge::new(stat.rss_bytes().get() as f64);
        rss.encode(encoder.encode_descriptor(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            None,
            rss.metric_type(),
        )?)?;
        let ticks = procfs::ticks_per_second().max(1);
        let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks as f64);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        Ok(())
    }
}
