//! Apache Cassandra as the store (the `scylla` driver).

/// How to reach Cassandra; unset nodes mean the embedded store.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CassandraOptions {
    /// Cassandra contact points, comma-separated host:port; setting this selects the
    /// Cassandra store instead of the embedded one
    #[arg(
        long = "cassandra-nodes",
        env = "DRAPETISCA_CASSANDRA_NODES",
        value_delimiter = ','
    )]
    pub nodes: Vec<String>,
}
