//! Apache Pulsar as the bus (the `pulsar` crate).

/// How to reach Pulsar; an unset URL means the in-process bus.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PulsarOptions {
    /// Pulsar service URL (pulsar:// or pulsar+ssl://); setting this selects the Pulsar
    /// bus instead of the in-process one
    #[arg(long = "pulsar-url", env = "DRAPETISCA_PULSAR_URL")]
    pub url: Option<String>,
}
