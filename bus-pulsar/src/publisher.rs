//! The publisher task: sends the outbox's frames, in order, through the one producer.

use std::collections::HashMap;
use std::time::Duration;

use protocol::Uuid;
use pulsar::producer::{Message, SendFuture};
use pulsar::{Producer, TokioExecutor};
use tokio::sync::mpsc;

use crate::contract::{CAUSE, EPOCH, GAME, ORIGIN, SEQUENCE, UPDATE};
use game_core::bus::Frame;

/// A message waiting for the publisher.
pub struct Outgoing {
    /// Its number among this instance's messages (for de-duplication and health).
    pub seq: u64,
    /// The game it belongs to: message key and property.
    pub game: Uuid,
    /// The epoch of the game's owner, when the world-stream hook stamps one.
    pub epoch: Option<u64>,
    /// A frame for clients, or a message for the instances.
    pub body: Body,
}

/// What a world message carries.
pub enum Body {
    /// A frame for the world sockets, with its number in its game's stream, and the
    /// id of the command that caused it if it came with one (in a property), so that
    /// whoever replays the stream knows the command was applied.
    Frame {
        frame: Frame,
        update: u64,
        cause: Option<Uuid>,
    },
    /// A notice for the instances: no payload, one property (name, value).
    Notice(&'static str, String),
}

/// What the receipt task needs to know of a sent message.
pub struct Sent {
    /// Its number among this instance's messages.
    pub seq: u64,
    /// The game and epoch of a frame stamped with one (its position becomes the
    /// game's checkpoint, see [`crate::positions`]); `None` for the rest.
    pub frame_of: Option<(Uuid, u64)>,
}

impl Outgoing {
    fn sent(&self) -> Sent {
        let frame = matches!(self.body, Body::Frame { .. });
        Sent {
            seq: self.seq,
            frame_of: self.epoch.filter(|_| frame).map(|e| (self.game, e)),
        }
    }

    fn message(self, instance: &str) -> Message {
        let game = self.game.to_string();
        let mut properties = HashMap::from([
            (ORIGIN.to_string(), instance.to_string()),
            (SEQUENCE.to_string(), self.seq.to_string()),
            (GAME.to_string(), game.clone()),
        ]);
        if let Some(epoch) = self.epoch {
            properties.insert(EPOCH.to_string(), epoch.to_string());
        }
        let payload = match self.body {
            Body::Frame {
                frame,
                update,
                cause,
            } => {
                properties.insert(UPDATE.to_string(), update.to_string());
                if let Some(cause) = cause {
                    properties.insert(CAUSE.to_string(), cause.to_string());
                }
                frame.as_bytes().to_vec()
            }
            Body::Notice(name, value) => {
                properties.insert(name.to_string(), value);
                Vec::new()
            }
        };
        Message {
            payload,
            properties,
            partition_key: Some(game),
            ..Default::default()
        }
    }
}

/// Sends the outbox's frames in order, handing each receipt to the receipt task. A send
/// waits only while the crate re-creates the producer (the broker is away); frames
/// queue up in the outbox meanwhile.
pub async fn publish_loop(
    mut producer: Producer<TokioExecutor>,
    instance: String,
    mut frames: mpsc::Receiver<Outgoing>,
    receipts: mpsc::UnboundedSender<(Sent, SendFuture)>,
) {
    while let Some(outgoing) = frames.recv().await {
        let seq = outgoing.seq;
        let sent = outgoing.sent();
        let message = outgoing.message(&instance);
        let mut attempt = 0u32;
        loop {
            match producer.send_non_blocking(message.clone()).await {
                Ok(receipt) => {
                    let _ = receipts.send((sent, receipt));
                    break;
                }
                Err(e) => {
                    // the crate already waited up to the operation timeout for the
                    // producer to come back: keep this frame and try again
                    attempt += 1;
                    tracing::warn!(seq, attempt, error = %e, "pulsar send failed, retrying");
                    tokio::time::sleep(
                        Duration::from_millis(200).min(Duration::from_millis(20) * attempt),
                    )
                    .await;
                }
            }
        }
    }
    if let Err(e) = producer.close().await {
        tracing::debug!(error = %e, "closing the pulsar producer");
    }
}
