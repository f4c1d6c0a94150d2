//! Why the bus could not be set up.

/// Why a bus (or a client for the cluster's topics) could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus authentication failed: {0}")]
    Auth(String),
    #[error("bus connection failed: {0}")]
    Connect(String),
    #[error("bus configuration is invalid: {0}")]
    Config(String),
}
