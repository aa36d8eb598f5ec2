//! `kring-load`: see the library. Prints the table on stdout, logs on stderr;
//! exits non-zero when the server died or anything failed.
#![allow(clippy::print_stdout)] // the table is the program's output

use anyhow::Context;
use clap::Parser;
use kring_load::Config;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let out = config.out.clone();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(kring_load::run(config))?;
    println!("{}", report.markdown());
    if let Some(out) = out {
        let json = serde_json::to_vec_pretty(&report).context("writing the report as JSON")?;
        std::fs::write(&out, json).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
