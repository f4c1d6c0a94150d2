//! The publisher task: sends the outbox's frames, in order, through the one producer.

use std::collections::HashMap;
use std::time::Duration;

use pulsar::producer::{Message, SendFuture};
use pulsar::{Producer, TokioExecutor};
use tokio::sync::mpsc;

use super::{Outgoing, GAME, ORIGIN, SEQUENCE};

/// Sends the outbox's frames in order, handing each receipt to the receipt task. A send
/// waits only while the crate re-creates the producer (the broker is away); frames
/// queue up in the outbox meanwhile.
pub async fn publish_loop(
    mut producer: Producer<TokioExecutor>,
    instance: String,
    mut frames: mpsc::Receiver<Outgoing>,
    receipts: mpsc::UnboundedSender<(u64, SendFuture)>,
) {
    while let Some((seq, game, frame)) = frames.recv().await {
        let game = game.to_string();
        let message = Message {
            payload: frame.as_bytes().to_vec(),
            properties: HashMap::from([
                (ORIGIN.to_string(), instance.clone()),
                (SEQUENCE.to_string(), seq.to_string()),
                (GAME.to_string(), game.clone()),
            ]),
            partition_key: Some(game),
            ..Default::default()
        };
        let mut attempt = 0u32;
        loop {
            match producer.send_non_blocking(message.clone()).await {
                Ok(receipt) => {
                    let _ = receipts.send((seq, receipt));
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
