//! What the figures were measured on, from `/proc` (Linux only, like the bench).

use std::process::Command;

use procfs::{CpuInfo, Current, LoadAverage, Meminfo};

use crate::cmd;

/// The machine and the code under test.
pub struct Machine {
    /// Logical CPUs the processes may use.
    pub cores: usize,
    /// The CPU's model name.
    pub cpu: String,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// The Linux kernel release.
    pub kernel: String,
    /// The commit under test (with `+dirty` when the tree has changes).
    pub commit: String,
    /// The 1-minute load average when the bench started: others' work skews figures.
    pub load: String,
}

impl Machine {
    pub fn probe() -> Self {
        let cpu = CpuInfo::current()
            .ok()
            .and_then(|info| info.model_name(0).map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        let memory_bytes = Meminfo::current().map_or(0, |m| m.mem_total);
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory_gib: memory_bytes as f64 / (1u64 << 30) as f64,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            commit: commit(),
            load: LoadAverage::current().map_or_else(|_| "?".into(), |l| format!("{:.2}", l.one)),
        }
    }
}

fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(cmd::root())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}
