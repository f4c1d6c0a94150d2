//! Network namespaces for the partition tests: a process started with
//! [`Netns::command`] has a network of its own, joined to the host by one veth pair, and
//! reaches the host's Pulsar and Cassandra only through forwarders on that veth, where
//! [`Netns::cut`] drops a service's packets and [`Netns::heal`] lets them through again.
//!
//! ```text
//!  namespace                                         host
//!  instance -> 127.0.0.1:6650 (tcp-forward) --veth--> 198.18.x.1:6650 (tcp-forward) -> 127.0.0.1:6650 (Pulsar)
//!                                            <-veth-- players (WebSockets to 198.18.x.2:port)
//! ```
//!
//! Why the cut drops packets (a `tc` filter sends the service's packets to a class whose
//! queue holds none) rather than closing connections: a real partition (a switch, a
//! route, a security group) loses packets and tells nobody; both ends' connections stay
//! open and each side learns of the cut only from its own timeouts and keep-alives,
//! while a closed connection (a process killed, a forwarder stopped) is noticed at
//! once. When the cut heals, TCP's retransmissions carry on where they stopped. The
//! players' path (the host to the namespace's address) is never cut: the instance is
//! cut off from a service, not from its players.
//!
//! Needs root (or CAP_NET_ADMIN) and iproute2 (`ip`, `tc`); a namespace that cannot be
//! made is an error saying why, never a reason to skip. Names are unique per process
//! and per namespace (`dp<pid>x<n>`), so tests running in parallel do not collide, and
//! everything is removed on drop, also when the test panics; a test process killed
//! outright leaves its namespaces to the next run, which removes them.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};

/// The Pulsar broker's port.
pub const PULSAR: u16 = 6650;
/// Cassandra's port.
pub const CASSANDRA: u16 = 9042;

/// Where the veths' addresses come from: 198.18.0.0/15, set aside for benchmarking
/// network devices (RFC 2544), so that no real network on a CI runner uses it.
const RANGE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
/// How many /30 blocks the range holds.
const BLOCKS: u32 = 1 << 15;
/// Prefix of the namespaces' names.
const PREFIX: &str = "dp";

/// One network namespace with its veth, its forwarders and its cuts.
pub struct Netns {
    /// Its name, for `ip netns exec`.
    pub name: String,
    /// The namespace's address on the veth: where the host reaches what runs inside.
    pub address: Ipv4Addr,
    /// The host's address on the veth: where the host's forwarder listens.
    pub host_address: Ipv4Addr,
    /// The veth's end on the host.
    host_veth: String,
    /// The veth's end inside.
    inner_veth: String,
    /// The forwarders (the host's, the namespace's), stopped on drop.
    forwarders: Vec<Child>,
    /// The ports cut now.
    cut: Mutex<BTreeSet<u16>>,
}

impl Netns {
    /// A namespace whose processes reach the host's `ports` (on 127.0.0.1, as on the
    /// host) through `forwarder` (the `tcp-forward` binary).
    pub fn new(ports: &[u16], forwarder: &Path) -> Result<Netns, String> {
        remove_stale_once();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{PREFIX}{:x}x{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run(&ip(), &["netns", "add", &name]).map_err(|e| {
            format!(
                "cannot create the network namespace {name} (the partition tests need root \
                 or CAP_NET_ADMIN, and iproute2): {e}"
            )
        })?;
        let (host_address, address) = free_block()?;
        // from here on, drop removes whatever exists
        let mut netns = Netns {
            host_veth: format!("h{name}"),
            inner_veth: format!("n{name}"),
            name,
            address,
            host_address,
            forwarders: Vec::new(),
            cut: Mutex::new(BTreeSet::new()),
        };
        netns.link()?;
        netns.forward(ports, forwarder)?;
        Ok(netns)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(ip());
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Drops every packet to and from the host's `port` on the veth, both ways, from now
    /// on: connections stay open and hear nothing, new ones time out.
    pub fn cut(&self, port: u16) {
        let mut cut = self.cut.lock().unwrap();
        assert!(cut.insert(port), "port {port} is cut already");
        let (host, inner) = (self.filter(port, "sport"), self.filter(port, "dport"));
        self.tc_both(&host, &inner)
            .unwrap_or_else(|e| panic!("cannot cut port {port} in {}: {e}", self.name));
    }

    /// Lets the packets of `port` through again.
    pub fn heal(&self, port: u16) {
        let mut cut = self.cut.lock().unwrap();
        assert!(cut.remove(&port), "port {port} is not cut");
        let delete = |dev: &str| -> Vec<String> {
            let prio = port.to_string();
            [
                "filter",
                "del",
                "dev",
                dev,
                "parent",
                "1:",
                "prio",
                prio.as_str(),
            ]
            .map(String::from)
            .to_vec()
        };
        self.tc_both(&delete(&self.host_veth), &delete(&self.inner_veth))
            .unwrap_or_else(|e| panic!("cannot heal port {port} in {}: {e}", self.name));
    }

    /// `tc` with `host`'s arguments on the host and `inner`'s inside.
    fn tc_both(&self, host: &[String], inner: &[String]) -> Result<(), String> {
        let host: Vec<&str> = host.iter().map(String::as_str).collect();
        run(&tc(), &host)?;
        let mut args = vec!["netns", "exec", self.name.as_str()];
        let tc = tc();
        args.push(tc.to_str().unwrap_or("tc"));
        args.extend(inner.iter().map(String::as_str));
        run(&ip(), &args)
    }

    /// The `tc` arguments of the filter that sends the packets of `port` leaving one
    /// end of the veth to the class that holds none: on the host's end the packets from
    /// the host's forwarder (`sport`), inside those to it (`dport`). Its priority is the
    /// port, to delete it by.
    fn filter(&self, port: u16, field: &str) -> Vec<String> {
        let dev = if field == "sport" {
            self.host_veth.as_str()
        } else {
            self.inner_veth.as_str()
        };
        let port = port.to_string();
        [
            "filter",
            "add",
            "dev",
            dev,
            "parent",
            "1:",
            "protocol",
            "ip",
            "prio",
            port.as_str(),
            "u32",
            "match",
            "ip",
            field,
            port.as_str(),
            "0xffff",
            "flowid",
            "1:2",
        ]
        .map(String::from)
        .to_vec()
    }

    /// The veth pair, its addresses, and on each end a queueing discipline with two
    /// classes: everything goes to 1:1 unless a filter of [`Netns::cut`] sends it to
    /// 1:2, whose queue holds no packet (`pfifo limit 0`: each one is dropped). Plain
    /// HTB, u32 and FIFO: the kernels of CI runners and small VMs have them, where the
    /// `drop` action or netem may be missing.
    fn link(&self) -> Result<(), String> {
        let (name, host, inner) = (
            self.name.as_str(),
            self.host_veth.as_str(),
            self.inner_veth.as_str(),
        );
        let ip = ip();
        let host_cidr = format!("{}/30", self.host_address);
        let inner_cidr = format!("{}/30", self.address);
        run(
            &ip,
            &[
                "link", "add", host, "type", "veth", "peer", "name", inner, "netns", name,
            ],
        )?;
        run(&ip, &["addr", "add", &host_cidr, "dev", host])?;
        run(&ip, &["link", "set", host, "up"])?;
        run(&ip, &["-n", name, "addr", "add", &inner_cidr, "dev", inner])?;
        run(&ip, &["-n", name, "link", "set", inner, "up"])?;
        run(&ip, &["-n", name, "link", "set", "lo", "up"])?;
        for dev in [host, inner] {
            let rate = ["htb", "rate", "10gbit", "quantum", "60000"];
            let steps: [Vec<&str>; 4] = [
                vec![
                    "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1",
                ],
                [
                    &["class", "add", "dev", dev, "parent", "1:", "classid", "1:1"][..],
                    &rate[..],
                ]
                .concat(),
                [
                    &["class", "add", "dev", dev, "parent", "1:", "classid", "1:2"][..],
                    &rate[..],
                ]
                .concat(),
                vec![
                    "qdisc", "add", "dev", dev, "parent", "1:2", "handle", "2:", "pfifo", "limit",
                    "0",
                ],
            ];
            for step in steps {
                if dev == host {
                    run(&tc(), &step)?;
                } else {
                    let tc = tc();
                    let mut args = vec!["netns", "exec", name, tc.to_str().unwrap_or("tc")];
                    args.extend(step);
                    run(&ip, &args)?;
                }
            }
        }
        Ok(())
    }

    /// Starts the two forwarders of `ports` and waits until both listen.
    fn forward(&mut self, ports: &[u16], forwarder: &Path) -> Result<(), String> {
        let host_pairs: Vec<String> = ports
            .iter()
            .map(|p| format!("{}:{p}=127.0.0.1:{p}", self.host_address))
            .collect();
        let inner_pairs: Vec<String> = ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}={}:{p}", self.host_address))
            .collect();
        let mut host = Command::new(forwarder);
        host.args(&host_pairs);
        let mut inner = self.command(forwarder);
        inner.args(&inner_pairs);
        for mut command in [host, inner] {
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", forwarder.display()))?;
            // unwrap: piped above
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            if line.trim() != "ready" {
                let _ = child.kill();
                let output = child.wait_with_output().map_err(|e| e.to_string())?;
                return Err(format!(
                    "the forwarder {command:?} did not start: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            self.forwarders.push(child);
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for forwarder in &mut self.forwarders {
            let _ = forwarder.kill();
            let _ = forwarder.wait();
        }
        // deleting one end of a veth deletes both
        let _ = run(&ip(), &["link", "del", &self.host_veth]);
        let _ = run(&ip(), &["netns", "del", &self.name]);
    }
}

/// A /30 block of [`RANGE`] no interface of the host has an address in: the host's
/// address and the namespace's.
fn free_block() -> Result<(Ipv4Addr, Ipv4Addr), String> {
    for _ in 0..20 {
        let base = RANGE + (rand::random::<u32>() % BLOCKS) * 4;
        let block = format!("{}/30", Ipv4Addr::from(base));
        let used = output(&ip(), &["-o", "addr", "show", "to", &block])?;
        if used.trim().is_empty() {
            return Ok((Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2)));
        }
    }
    Err("no free /30 block in 198.18.0.0/15 after 20 tries".into())
}

/// Removes the namespaces of test processes that are gone (killed before their drop
/// ran), once per process.
fn remove_stale_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(list) = output(&ip(), &["netns", "list"]) else {
            return;
        };
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            let pid = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split_once('x'))
                .and_then(|(pid, _)| u32::from_str_radix(pid, 16).ok());
            if let Some(pid) = pid {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = run(&ip(), &["link", "del", &format!("h{name}")]);
                    let _ = run(&ip(), &["netns", "del", name]);
                }
            }
        }
    });
}

/// `ip`, also where `/usr/sbin` is not on the `PATH` (a user's shell).
fn ip() -> PathBuf {
    sbin("ip")
}

/// `tc`, likewise.
fn tc() -> PathBuf {
    sbin("tc")
}

fn sbin(program: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| program.into())
}

/// Runs `program` with `args`; its error output when it fails.
fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    output(program, args).map(drop)
}

/// Runs `program` with `args`; its output, or its error output when it fails.
fn output(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        format!(
            "cannot run {} (iproute2 installed?): {e}",
            program.display()
        )
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{} {}` failed: {}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
