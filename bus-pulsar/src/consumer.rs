//! The consumer task: delivers the topic's frames to the local fan-out, drops the
//! ones already delivered, tells [`Health`] when our own frames come back, and
//! subscribes again when the crate gives up on the subscription.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pulsar::{Consumer, TokioExecutor};
use tokio_util::sync::CancellationToken;

use super::dedup::Dedup;
use super::health::Health;
use super::setup::{subscribe, Client};
use super::CLOSE_TIMEOUT;
use crate::contract::{EPOCH, GAME, ORIGIN, SEQUENCE, UPDATE};
use game_core::bus::{Fanout, Frame};
use game_core::hook::WorldHook;

/// The consumer acknowledges every this many frames (cumulatively, the subscription
/// being exclusive), not each one: acks only bound what the broker redelivers after a
/// reconnection, which [`Dedup`] drops anyway, and fewer small writes on the consumer's
/// connection keep Nagle's algorithm from delaying the flow permits behind them.
const ACK_EVERY: u64 = 32;

/// The one consumer of this instance, and what it needs to come back after the crate
/// gave up on it.
pub struct ConsumerTask {
    /// The consumer's own client (connection).
    pub client: Client,
    /// The world topic, to subscribe to again after the crate gave up.
    pub topic: String,
    /// This instance's durable subscription, removed on stop.
    pub subscription: String,
    /// This instance's id, to recognise its own frames.
    pub instance: String,
    /// Where frames go.
    pub fanout: Fanout,
    /// Told when our own frames come back, and whether the consumer is up.
    pub health: Arc<Health>,
    /// Ends the task, after unsubscribing.
    pub stop: CancellationToken,
    /// Decides which messages count (in a cluster: drops the frames of fenced-off
    /// owners) and takes the notices for the instances.
    pub hook: Arc<dyn WorldHook>,
}

impl ConsumerTask {
    /// Delivers until stopped, then unsubscribes (within [`CLOSE_TIMEOUT`]).
    pub async fn run(self, mut consumer: Consumer<Vec<u8>, TokioExecutor>) {
        let mut dedup = Dedup::default();
        let mut received = 0u64;
        loop {
            let next = tokio::select! {
                _ = self.stop.cancelled() => break,
                next = consumer.next() => next,
            };
            match next {
                Some(Ok(message)) => {
                    self.deliver(&mut dedup, &message.payload);
                    received += 1;
                    if received.is_multiple_of(ACK_EVERY) {
                        if let Err(e) = consumer.cumulative_ack(&message).await {
                            tracing::debug!(error = %e, "pulsar ack failed");
                        }
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "pulsar consumer error"),
                None => {
                    // the crate gave up re-subscribing: do it ourselves, same
                    // subscription, so nothing published meanwhile is missed
                    self.health.consumer_up(false);
                    tracing::warn!("pulsar consumer stopped: subscribing again");
                    match self.resubscribe().await {
                        Some(fresh) => consumer = fresh,
                        None => return,
                    }
                    self.health.consumer_up(true);
                }
            }
        }
        let unsubscribed = tokio::time::timeout(CLOSE_TIMEOUT, consumer.unsubscribe()).await;
        match unsubscribed {
            Ok(Ok(())) => tracing::debug!(subscription = %self.subscription, "unsubscribed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "pulsar unsubscribe failed"),
            Err(_) => tracing::warn!("pulsar unsubscribe timed out"),
        }
    }

    fn deliver(&self, dedup: &mut Dedup, payload: &pulsar::Payload) {
        let property = |key: &str| {
            payload
                .metadata
                .properties
                .iter()
                .find(|kv| kv.key == key)
                .map(|kv| kv.value.as_str())
        };
        let origin = property(ORIGIN);
        let seq = property(SEQUENCE).and_then(|s| s.parse::<u64>().ok());
        if let (Some(origin), Some(seq)) = (origin, seq) {
            if !dedup.first_time(origin, seq) {
                return;
            }
            if origin == self.instance {
                self.health.echoed(seq);
            }
        }
        let Some(game) = property(GAME).and_then(|g| g.parse().ok()) else {
            tracing::warn!("a message on the world topic names no game: skipped");
            return;
        };
        let epoch = property(EPOCH).and_then(|e| e.parse().ok());
        if !self.hook.admit(game, epoch) {
            return;
        }
        if payload.data.is_empty() {
            // a notice, for the instances, not for clients: its own property is the one
            // the bus did not set
            let ours = [ORIGIN, SEQUENCE, GAME, EPOCH, UPDATE];
            for kv in &payload.metadata.properties {
                if !ours.contains(&kv.key.as_str()) {
                    self.hook.notice(game, &kv.key, &kv.value);
                }
            }
            return;
        }
        match std::str::from_utf8(&payload.data) {
            // a frame without its number (an instance of an older version) is
            // delivered, but kept for nobody's resume
            Ok(text) => {
                let update = property(UPDATE).and_then(|u| u.parse().ok());
                self.fanout.deliver(game, Frame::from(text), update)
            }
            Err(_) => tracing::warn!("a message on the world topic is not UTF-8: skipped"),
        }
    }

    /// Subscribes again until it works or the bus stops; `None` when stopped.
    async fn resubscribe(&self) -> Option<Consumer<Vec<u8>, TokioExecutor>> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let attempt = subscribe(&self.client, &self.topic, &self.subscription);
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                result = attempt => match result {
                    Ok(consumer) => return Some(consumer),
                    Err(e) => tracing::warn!(error = %e, "pulsar re-subscription failed"),
                },
            }
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}
