//! `loadgen`: bot players against a local Drapetisca server; see `loadgen --help`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Parser;
use loadgen::Config;

#[tokio::main]
async fn main() -> Result<()> {
    let config = Config::parse();
    let report = loadgen::run(config.clone()).await?;
    let json = report.to_json();
    if !config.quiet {
        println!("{report}");
    }
    println!("{json}");
    if let Some(path) = &config.json_out {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("could not open {}", path.display()))?;
        writeln!(file, "{json}").with_context(|| format!("could not write {}", path.display()))?;
    }
    Ok(())
}
