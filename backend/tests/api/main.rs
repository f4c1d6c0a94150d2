//! Integration tests of the game server over real WebSockets.
//!
//! [`scenarios`] holds the game scenarios, written once; each configuration of bus and
//! store instantiates them with `game_scenarios!(settings maker)`.
//!
//! Two tiers: what needs no service runs under a plain `cargo test`; the modules on
//! Apache Pulsar and Apache Cassandra, and the clusters of processes, need the feature
//! `integration` (`cargo xtask test` turns it on, after starting the services).

mod batched;
#[cfg(feature = "integration")]
mod cassandra;
#[cfg(feature = "integration")]
mod cluster;
mod helpers {
    //! The shared test support, under the name the test modules use.
    pub use test_support::app::*;
    pub use test_support::one::OneClient;
}
mod history_store;
mod hostile;
mod lobby;
mod one_socket;
#[cfg(feature = "integration")]
mod pulsar;
mod scenarios;
mod spectators;

mod embedded {
    //! The default configuration: in-process bus, embedded store.
    crate::scenarios::game_scenarios!(crate::helpers::embedded);

    use crate::helpers::{embedded, spawn_app};

    #[tokio::test]
    async fn health_and_metrics_answer() {
        let app = spawn_app(embedded).await;
        let (status, body) = app.get("/healthz").await;
        assert_eq!(status, 200);
        assert!(body.contains("\"ok\""), "{body}");
        let (status, body) = app.get("/metrics").await;
        assert_eq!(status, 200);
        assert!(body.contains("drapetisca_players_connected 0"), "{body}");
        let (status, _) = app.get("/").await;
        assert_eq!(status, 200);
        app.shutdown().await;
    }
}
