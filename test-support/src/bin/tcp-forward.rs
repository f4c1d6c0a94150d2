//! `tcp-forward LISTEN=TARGET...`: accepts TCP connections on each `LISTEN` address and
//! forwards each to its `TARGET`, byte for byte, both ways.
//!
//! The partition tests run an instance in a network namespace of its own, whose
//! loopback is not the host's: Pulsar (which advertises `127.0.0.1:6650` in its topic
//! lookups) and Cassandra (which lists its peers as `127.0.0.1`) are reached through
//! one forwarder inside the namespace (`127.0.0.1:port` -> the host's end of the veth)
//! and one on the host (the veth's address -> `127.0.0.1:port`). The cut happens on the
//! veth between them (see `test_support::netns`), not here: a forwarder never closes a
//! connection of its own accord, so a cut drops packets and resets nothing.
//!
//! Prints `ready` once every address listens; exits when its standard input closes
//! (its parent, the test, went away), so that a killed test leaves no forwarder behind.

use std::io::Write;

use anyhow::{bail, Context, Result};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let pairs: Vec<(String, String)> = std::env::args()
        .skip(1)
        .map(|arg| match arg.split_once('=') {
            Some((listen, target)) => Ok((listen.to_string(), target.to_string())),
            None => bail!("expected LISTEN=TARGET, got {arg:?}"),
        })
        .collect::<Result<_>>()?;
    if pairs.is_empty() {
        bail!("usage: tcp-forward LISTEN=TARGET...");
    }
    for (listen, target) in pairs {
        let listener = TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tokio::spawn(serve(listener, target));
    }
    println!("ready");
    std::io::stdout().flush()?;
    // nothing ever comes on stdin: it ends when the parent closes it or dies
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    Ok(())
}

/// Forwards every connection `listener` accepts to `target`.
async fn serve(listener: TcpListener, target: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        let target = target.clone();
        tokio::spawn(async move {
            // a connection the target refuses is closed: the client sees what it would
            // see without the forwarder, a failed connection
            let Ok(mut outbound) = TcpStream::connect(&target).await else {
                return;
            };
            // the forwarder must not add Nagle's delay of its own to what it carries
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}
