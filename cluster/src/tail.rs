//! Reading the world topic's tail at a take-over: every frame of the game published
//! since a moment before the store's rows could lag, up to the new owner's own marker.
//! Everything the old owner published before the marker is in the tail; everything it
//! publishes after is dropped by every instance (its epoch is older), so the tail is
//! exactly what clients saw. The frames' causes (the ids of the commands the old owner
//! applied) come along, so the new owner drops those commands when the broker delivers
//! them again.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use protocol::{ServerMessage, Uuid};
use pulsar::consumer::InitialPosition;
use pulsar::ConsumerOptions;

use super::fencing::{Epochs, Verdict};
use bus_pulsar::contract::{CAUSE, CENSUS, EPOCH, GAME, MARKER};
use bus_pulsar::Client;

/// What a take-over reads from the world topic.
#[derive(Debug, Default)]
pub struct Tail {
    /// The game's frames that count, in topic order.
    pub frames: Vec<ServerMessage>,
    /// The ids of the commands those frames answer.
    pub causes: HashSet<Uuid>,
}

/// How far back a take-over reads: far more than the store writer lags behind the game
/// while Cassandra answers (milliseconds). A store that was away for longer than this
/// when the owner died loses the moves made meanwhile (see docs/cluster.md).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(15);

/// How long reading the tail may take before the take-over is retried.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The frames of `game` that count, from `REPLAY_WINDOW` ago up to the marker `nonce`,
/// in topic order, and their causes.
pub async fn read(
    client: &Client,
    world_topic: &str,
    game: Uuid,
    nonce: &str,
) -> Result<Tail, String> {
    let since = SystemTime::now()
        .checked_sub(REPLAY_WINDOW)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut reader = client
        .reader()
        .with_topic(world_topic)
        .with_subscription(format!("drapetisca-replay-{}", Uuid::new_v4()))
        .with_options(
            ConsumerOptions::default()
                .durable(false)
                .with_initial_position(InitialPosition::Earliest),
        )
        .into_reader::<Vec<u8>>()
        .await
        .map_err(|e| format!("cannot read the world topic: {e}"))?;
    reader
        .seek(None, Some(since))
        .await
        .map_err(|e| format!("cannot seek the world topic: {e}"))?;
    let mut epochs = Epochs::default();
    let mut tail = Tail::default();
    let game_text = game.to_string();
    let read = async {
        while let Some(message) = reader.next().await {
            let message = message.map_err(|e| format!("reading the world topic: {e}"))?;
            let property = |key: &str| {
                message
                    .payload
                    .metadata
                    .properties
                    .iter()
                    .find(|kv| kv.key == key)
                    .map(|kv| kv.value.clone())
            };
            if property(GAME).as_deref() != Some(game_text.as_str()) {
                continue;
            }
            let epoch = property(EPOCH).and_then(|e| e.parse().ok());
            if let Some(epoch) = epoch {
                if epochs.observe(game, epoch) == Verdict::Stale {
                    continue;
                }
            }
            if let Some(marker) = property(MARKER) {
                if marker == nonce {
                    return Ok(());
                }
                continue;
            }
            if property(CENSUS).is_some() {
                continue;
            }
            if let Some(cause) = property(CAUSE).and_then(|c| c.parse().ok()) {
                tail.causes.insert(cause);
            }
            match std::str::from_utf8(&message.payload.data).map(ServerMessage::parse) {
                Ok(Ok(frame)) => tail.frames.push(frame),
                _ => tracing::warn!(%game, "an unreadable world frame skipped in the replay"),
            }
        }
        Err("the world topic reader ended".to_string())
    };
    let outcome = tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| format!("the take-over marker did not come back within {READ_TIMEOUT:?}"))?;
    // the reader's subscription is not durable: it goes away with the reader
    drop(reader);
    outcome.map(|()| tail)
}
