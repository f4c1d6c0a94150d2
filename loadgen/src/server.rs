//! The server under load, seen from outside: spawning it on a free loopback port,
//! timing its start, and sampling its CPU time and memory from `/proc`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use procfs::process::Process;
use procfs::{CpuTime, CurrentSI, KernelStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a spawned server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// CPU time and memory of a process at one instant.
#[derive(Clone, Copy, Debug)]
pub struct ProcSample {
    /// When the sample was taken.
    pub at: Instant,
    /// User plus system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory now, in KiB.
    pub rss_kb: u64,
    /// Peak resident memory so far, in KiB.
    pub hwm_kb: u64,
}

impl ProcSample {
    /// Samples process `pid` (`None`: this process).
    pub fn take(pid: Option<u32>) -> Result<Self> {
        let process = match pid {
            Some(pid) => Process::new(pid as i32),
            None => Process::myself(),
        }
        .with_context(|| format!("no process {pid:?} in /proc"))?;
        let stat = process
            .stat()
            .context("could not read the process's /proc stat")?;
        let status = process
            .status()
            .context("could not read the process's /proc status")?;
        Ok(ProcSample {
            at: Instant::now(),
            cpu_ticks: stat.utime + stat.stime,
            rss_kb: status.vmrss.unwrap_or(0),
            hwm_kb: status.vmhwm.unwrap_or(0),
        })
    }

    /// CPU used between `self` and `later`, in percent of one core.
    pub fn cpu_percent_until(&self, later: &ProcSample) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        let ticks = later.cpu_ticks.saturating_sub(self.cpu_ticks) as f64;
        100.0 * ticks / procfs::ticks_per_second().max(1) as f64 / wall
    }
}

/// The whole machine's CPU counters at one instant, to tell how busy the machine was
/// with work other than the server and the generator.
#[derive(Clone, Copy, Debug)]
pub struct SystemSample {
    /// Ticks spent busy (everything but idle and iowait), all cores together.
    busy: u64,
    /// All ticks, all cores together.
    total: u64,
}

impl SystemSample {
    pub fn take() -> Result<Self> {
        let stats = KernelStats::current().context("could not read /proc/stat")?;
        Ok(SystemSample::from(&stats.total))
    }

    /// CPU used by the whole machine between `self` and `later`, in percent of one core
    /// (a busy 2-core machine shows 200).
    pub fn cpu_percent_until(&self, later: &SystemSample) -> f64 {
        let total = later.total.saturating_sub(self.total) as f64;
        if total == 0.0 {
            return 0.0;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        100.0 * cores * later.busy.saturating_sub(self.busy) as f64 / total
    }
}

impl From<&CpuTime> for SystemSample {
    fn from(t: &CpuTime) -> Self {
        let idle = t.idle + t.iowait.unwrap_or(0);
        let total = t.user
            + t.nice
            + t.system
            + idle
            + t.irq.unwrap_or(0)
            + t.softirq.unwrap_or(0)
            + t.steal.unwrap_or(0);
        SystemSample {
            busy: total - idle,
            total,
        }
    }
}

/// A server this run started; killed when dropped.
pub struct Spawned {
    /// The running server.
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its fresh data directory, removed at the end.
    data_dir: PathBuf,
    /// From spawning the process to its first answered HTTP request.
    pub startup: Duration,
}

impl Spawned {
    /// Starts `binary --bind 127.0.0.1:<free port> --data-dir <fresh dir> extra...` and
    /// waits until it answers an HTTP request for `probe_path`.
    pub async fn start(
        binary: &Path,
        extra: &[String],
        log: Option<&Path>,
        probe_path: &str,
    ) -> Result<Self> {
        let addr = free_loopback_addr()?;
        let data_dir =
            std::env::temp_dir().join(format!("loadgen-{}-{}", std::process::id(), addr.port()));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("could not create {}", data_dir.display()))?;
        let (stdout, stderr) = match log {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("could not create {}", path.display()))?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let started = Instant::now();
        let mut child = Command::new(binary)
            .arg("--bind")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        loop {
            if probe(addr, probe_path).await {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited with {status} before answering (see --server-log)",
                    binary.display()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "{} did not answer within {START_TIMEOUT:?}",
                    binary.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Spawned {
            startup: started.elapsed(),
            child,
            addr,
            data_dir,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server and removes its data directory.
    pub async fn stop(mut self) -> Result<()> {
        self.child
            .kill()
            .await
            .context("could not stop the server")?;
        std::fs::remove_dir_all(&self.data_dir).ok();
        Ok(())
    }
}

/// A loopback address nobody listens on right now (the port is released before the
/// server binds it; a race with another process is possible but unlikely).
fn free_loopback_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("no free port")?;
    Ok(listener.local_addr()?)
}

/// One HTTP/1.1 request; true as soon as any HTTP answer starts arriving.
pub async fn probe(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).await.is_ok() && &head == b"HTTP/"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_cpu_is_busy_ticks_over_all_ticks_times_the_cores() {
        let a = SystemSample {
            busy: 150,
            total: 1000,
        };
        let b = SystemSample {
            busy: 300,
            total: 1200,
        };
        let cores = std::thread::available_parallelism().unwrap().get() as f64;
        let expected = 100.0 * cores * 150.0 / 200.0;
        assert!((a.cpu_percent_until(&b) - expected).abs() < 1e-9);
    }

    #[test]
    fn this_machine_can_be_sampled() {
        let sample = SystemSample::take().unwrap();
        assert!(
            sample.total > 0 && sample.busy <= sample.total,
            "{sample:?}"
        );
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = ProcSample::take(None).unwrap();
        assert!(sample.rss_kb > 0);
        assert!(sample.hwm_kb >= sample.rss_kb);
    }
}
