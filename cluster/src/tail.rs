//! Reading the world topic's tail at a take-over: every frame of the game published
//! since a moment before the store's rows could lag, up to the new owner's own marker.
//! Everything the old owner published before the marker is in the tail; everything it
//! publishes after is dropped by every instance (its epoch is older), so the tail is
//! exactly what clients saw. The frames' causes (the ids of the commands the old owner
//! applied) come along, so the new owner drops those commands when the broker delivers
//! them again.

use std::collections::HashSet;
use std::future::Future;
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

/// How long reading the tail may take, all of it (the reader's creation, its seek, the
/// frames up to the marker), before the take-over is retried.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The frames of `game` that count, from `REPLAY_WINDOW` ago up to the marker `nonce`,
/// in topic order, and their causes; an error after [`READ_TIMEOUT`] at the latest.
pub async fn read(
    client: &Client,
    world_topic: &str,
    game: Uuid,
    nonce: &str,
) -> Result<Tail, String> {
    within(READ_TIMEOUT, read_all(client, world_topic, game, nonce)).await
}

/// `work`'s outcome, or an error once `limit` passed. Every step of reading the tail
/// waits on the broker, which may not answer (a lookup, a seek or a read that never
/// comes back): without a deadline over all of them, a take-over could wait forever
/// with its game's commands piling up behind it.
async fn within<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| format!("the world topic's tail not read within {limit:?}"))?
}

async fn read_all(
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
    let outcome = read.await;
    // the reader's subscription is not durable: it goes away with the reader
    drop(reader);
    outcome.map(|()| tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_broker_that_never_answers_fails_the_read_at_the_deadline() {
        let limit = Duration::from_millis(200);
        let never = std::future::pending::<Result<Tail, String>>();
        // the outer bound only keeps a broken deadline from hanging the test
        let outcome = tokio::time::timeout(Duration::from_secs(30), within(limit, never))
            .await
            .expect("the deadline ends the read");
        let error = outcome.expect_err("a read past its deadline fails");
        assert!(error.contains("not read within"), "{error}");
    }

    #[tokio::test]
    async fn a_read_within_the_deadline_gives_its_outcome() {
        let limit = Duration::from_secs(30);
        let tail = within(limit, async { Ok(Tail::default()) }).await;
        assert!(tail.expect("read").frames.is_empty());
        let failed = within(limit, async { Err::<Tail, _>("refused".to_string()) }).await;
        assert_eq!(failed.unwrap_err(), "refused");
    }
}
