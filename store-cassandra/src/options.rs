//! The Cassandra store's options (`--cassandra-*`, `DRAPETISCA_CASSANDRA_*`).

use std::path::PathBuf;

use secrecy::SecretString;

use crate::{Keyspace, Replication};

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

    /// Cassandra keyspace of the game's tables (created if missing)
    #[arg(
        long = "cassandra-keyspace",
        env = "DRAPETISCA_CASSANDRA_KEYSPACE",
        default_value = "drapetisca"
    )]
    pub keyspace: Keyspace,

    /// Replication of a keyspace created by the server: a replication factor (e.g. 3,
    /// SimpleStrategy) or datacenter:factor pairs (e.g. dc1:3,dc2:3,
    /// NetworkTopologyStrategy)
    #[arg(
        long = "cassandra-replication",
        env = "DRAPETISCA_CASSANDRA_REPLICATION",
        default_value = "1"
    )]
    pub replication: Replication,

    /// Cassandra user name (password authentication)
    #[arg(long = "cassandra-username", env = "DRAPETISCA_CASSANDRA_USERNAME")]
    pub username: Option<String>,

    /// Cassandra password
    #[arg(
        long = "cassandra-password",
        env = "DRAPETISCA_CASSANDRA_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<SecretString>,

    /// PEM file of the CA that signed the Cassandra nodes' certificates; setting it
    /// turns TLS on (the node certificates must name the nodes' addresses)
    #[arg(
        long = "cassandra-tls-ca-file",
        env = "DRAPETISCA_CASSANDRA_TLS_CA_FILE"
    )]
    pub tls_ca_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        cassandra: CassandraOptions,
    }

    #[test]
    fn the_password_never_prints() {
        let cli = Cli::try_parse_from([
            "x",
            "--cassandra-nodes",
            "a:9042,b:9042",
            "--cassandra-username",
            "ana",
            "--cassandra-password",
            "hunter2",
        ])
        .unwrap();
        let shown = format!("{:?}", cli.cassandra);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(cli.cassandra.nodes, ["a:9042", "b:9042"]);
        assert_eq!(cli.cassandra.password.unwrap().expose_secret(), "hunter2");
    }
}
