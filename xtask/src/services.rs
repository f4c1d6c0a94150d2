//! Local Apache Pulsar and Apache Cassandra, each started from its release jars on
//! Maven Central by the scripts under `services/<name>/` (no Docker on our machines).

use anyhow::{bail, Result};

use crate::cmd;

/// Every service the tests need, in start order.
const ALL: &[&str] = &["pulsar", "cassandra"];

fn selected(args: &[String]) -> Result<Vec<&str>> {
    if args.is_empty() {
        return Ok(ALL.to_vec());
    }
    args.iter()
        .map(|a| match ALL.iter().find(|s| **s == a.as_str()) {
            Some(s) => Ok(*s),
            None => bail!("unknown service {a:?}; known: {}", ALL.join(", ")),
        })
        .collect()
}

fn script(service: &str, action: &str) -> Result<()> {
    let path = cmd::root()
        .join("services")
        .join(service)
        .join(format!("{action}.sh"));
    if !path.exists() {
        bail!("{} is missing", path.display());
    }
    cmd::run("bash", &[&path.to_string_lossy()], &[])
}

pub fn up(args: &[String]) -> Result<()> {
    for s in selected(args)? {
        script(s, "up")?;
    }
    Ok(())
}

pub fn down(args: &[String]) -> Result<()> {
    for s in selected(args)?.into_iter().rev() {
        script(s, "down")?;
    }
    Ok(())
}
