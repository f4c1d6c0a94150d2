//! Set-up: the two clients (one connection each), the subscription and the producer,
//! and why set-up failed when it does.

use std::time::Duration;

use pulsar::consumer::InitialPosition;
use pulsar::{
    Authentication, ConnectionRetryOptions, Consumer, ConsumerOptions, OperationRetryOptions,
    Producer, ProducerOptions, Pulsar, SubType, TokioExecutor,
};
use secrecy::{ExposeSecret, SecretString};

use super::classify::setup_error;
use super::handshake;
use crate::error::BusError;
use crate::options::PulsarOptions;

/// How long start-up may take to reach the broker, subscribe and create the producer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The crate's limit for any answer from the broker, and for a frame's acknowledgement
/// (resends included); the crate's default.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

pub type Client = Pulsar<TokioExecutor>;

/// What a started bus runs on.
pub struct Connected {
    /// The consumer's own client, kept to subscribe again.
    pub consumer_client: Client,
    /// This instance's subscription to the topic.
    pub consumer: Consumer<Vec<u8>, TokioExecutor>,
    /// The one producer of this instance (on a client of its own).
    pub producer: Producer<TokioExecutor>,
}

/// The checked URL from `options`: set, and of a Pulsar scheme.
pub fn url(options: &PulsarOptions) -> Result<String, BusError> {
    let url = options
        .url
        .clone()
        .ok_or_else(|| BusError::Config("no pulsar url".into()))?;
    if !(url.starts_with("pulsar://") || url.starts_with("pulsar+ssl://")) {
        return Err(BusError::Config(format!(
            "the pulsar url must start with pulsar:// or pulsar+ssl://, not {url}"
        )));
    }
    Ok(url)
}

/// Connects both clients, subscribes as `subscription` and creates the producer named
/// after `instance`, within [`STARTUP_TIMEOUT`]. When the broker refused the
/// connection, asks it why ([`handshake`]), since the crate does not say.
pub async fn connect(
    url: &str,
    token: Option<&SecretString>,
    options: &PulsarOptions,
    instance: &str,
    subscription: &str,
) -> Result<Connected, BusError> {
    let started = tokio::time::timeout(STARTUP_TIMEOUT, async {
        let consumer_client = client(url, token, options).await?;
        let consumer = subscribe(&consumer_client, &options.topic, subscription)
            .await
            .map_err(|e| setup_error(url, "subscribe to", &options.topic, e))?;
        let producer_client = client(url, token, options).await?;
        let producer = producer_client
            .producer()
            .with_topic(&options.topic)
            .with_name(format!("drapetisca-{instance}"))
            .with_options(ProducerOptions {
                // a full connection queue makes the send wait (backpressure into the
                // outbox) instead of failing the frame with SlowDown
                block_queue_if_full: true,
                // typed for any reader: a world frame of the protocol
                schema: Some(crate::contract::world_schema()),
                ..Default::default()
            })
            .build()
            .await
            .map_err(|e| setup_error(url, "create a producer on", &options.topic, e))?;
        Ok::<_, BusError>(Connected {
            consumer_client,
            consumer,
            producer,
        })
    })
    .await
    .map_err(|_| {
        BusError::Connect(format!(
            "no answer from the pulsar broker at {url} within {STARTUP_TIMEOUT:?}"
        ))
    })?;
    match started {
        Err(BusError::Connect(reason)) => {
            // the crate hides why the broker refused us: ask it ourselves
            Err(
                handshake::explain(url, token, options.tls_ca_file.as_deref())
                    .await
                    .unwrap_or(BusError::Connect(reason)),
            )
        }
        started => started,
    }
}

/// A client with one connection to the broker, retrying fast enough that play resumes
/// within a couple of seconds of the broker's return.
pub async fn client(
    url: &str,
    token: Option<&SecretString>,
    options: &PulsarOptions,
) -> Result<Client, BusError> {
    let mut builder = Pulsar::builder(url, TokioExecutor)
        .with_connection_retry_options(ConnectionRetryOptions {
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
            max_retries: 12,
            connection_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(15),
            ..Default::default()
        })
        .with_operation_retry_options(OperationRetryOptions {
            operation_timeout: OPERATION_TIMEOUT,
            retry_delay: Duration::from_millis(500),
            max_retries: None,
        });
    if let Some(token) = token {
        builder = builder.with_auth(Authentication {
            name: "token".into(),
            data: token.expose_secret().as_bytes().to_vec(),
        });
    }
    if let Some(ca) = &options.tls_ca_file {
        builder = builder.with_certificate_chain_file(ca).map_err(|e| {
            BusError::Config(format!(
                "cannot read the pulsar CA file {}: {e}",
                ca.display()
            ))
        })?;
    }
    builder
        .build()
        .await
        .map_err(|e| BusError::Connect(format!("cannot connect to pulsar at {url}: {e}")))
}

/// Subscribes to `topic` as the durable, exclusive `subscription`, starting at the
/// topic's end when the subscription is new (see the module doc of the bus).
pub async fn subscribe(
    client: &Client,
    topic: &str,
    subscription: &str,
) -> Result<Consumer<Vec<u8>, TokioExecutor>, pulsar::Error> {
    client
        .consumer()
        .with_topic(topic)
        .with_subscription(subscription)
        .with_subscription_type(SubType::Exclusive)
        .with_consumer_name(subscription)
        .with_options(
            ConsumerOptions::default()
                .durable(true)
                .with_initial_position(InitialPosition::Latest),
        )
        .build()
        .await
}
