//! Reading the world topic's tail at a take-over: every frame of the game published
//! since the game's checkpoint (where its stored rows stand, however long ago; see
//! [`super::start`]), up to the new owner's own marker. Everything the old owner
//! published before the marker is in the tail; everything it publishes after is dropped
//! by every instance (its epoch is older), so the tail is exactly what clients saw. The
//! frames' causes (the ids of the commands the old owner applied) come along, so the
//! new owner drops those commands when the broker delivers them again; and the marker's
//! own position, the new owner's first checkpoint.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use protocol::{ServerMessage, Uuid};
use pulsar::consumer::InitialPosition;
use pulsar::proto::MessageIdData;
use pulsar::ConsumerOptions;

use super::fencing::{Epochs, Verdict};
use super::start::Start;
use bus_pulsar::contract::{CAUSE, CENSUS, EPOCH, GAME, MARKER, UPDATE};
use bus_pulsar::Client;

/// What a take-over reads from the world topic.
#[derive(Debug, Default)]
pub struct Tail {
    /// The game's frames that count, in topic order.
    pub frames: Vec<ServerMessage>,
    /// The ids of the commands those frames answer.
    pub causes: HashSet<Uuid>,
    /// The highest number of those frames in the game's stream: the new owner
    /// numbers its own after it, so the stream's numbers never go back.
    pub last_seq: Option<u64>,
    /// Where the take-over's marker is on the topic: the game's state after the tail
    /// reflects every frame up to it.
    pub marker: Option<MessageIdData>,
}

/// How far back a take-over of a game with nothing stored reads (a new game: there is
/// nothing to replay onto); games with stored rows replay from their checkpoint.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(15);

/// How long opening the reader and seeking may take, and how long the broker may then
/// go without handing over a message, before the take-over is retried. Not a bound on
/// the whole read: a checkpoint long ago means many messages to read.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The frames of `game` that count, from `start` up to the marker `nonce`, in topic
/// order, and their causes; an error when the broker stalls for [`READ_TIMEOUT`].
pub async fn read(
    client: &Client,
    world_topic: &str,
    game: Uuid,
    nonce: &str,
    start: &Start,
) -> Result<Tail, String> {
    let reader = within(READ_TIMEOUT, open(client, world_topic, start)).await?;
    read_from(reader, game, nonce, start).await
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

type Reader = pulsar::reader::Reader<Vec<u8>, pulsar::TokioExecutor>;

/// A reader of the world topic at `start`. A checkpoint is the reader's start message,
/// not a seek: the crate subscribes again with its options when the broker closes the
/// reader (as it does after a seek), so a start message holds where a seek may not.
/// Reading from further back than asked is never wrong, only longer: the frames carry
/// whole state.
async fn open(client: &Client, world_topic: &str, start: &Start) -> Result<Reader, String> {
    let mut options = ConsumerOptions::default()
        .durable(false)
        .with_initial_position(InitialPosition::Earliest);
    if let Start::At { position, .. } = start {
        options = options.starting_on_message(position.clone());
    }
    let mut reader = client
        .reader()
        .with_topic(world_topic)
        .with_subscription(format!("drapetisca-replay-{}", Uuid::new_v4()))
        .with_options(options)
        .into_reader::<Vec<u8>>()
        .await
        .map_err(|e| format!("cannot read the world topic: {e}"))?;
    if *start == Start::Window {
        let since = SystemTime::now()
            .checked_sub(REPLAY_WINDOW)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        reader
            .seek(None, Some(since))
            .await
            .map_err(|e| format!("cannot seek the world topic: {e}"))?;
    }
    Ok(reader)
}

async fn read_from(
    mut reader: Reader,
    game: Uuid,
    nonce: &str,
    start: &Start,
) -> Result<Tail, String> {
    let mut epochs = Epochs::default();
    if let Start::At { epoch, .. } = start {
        // the checkpoint's owner took over before it: older epochs were fenced off
        epochs.observe(game, *epoch);
    }
    let mut tail = Tail::default();
    let game_text = game.to_string();
    let read = async {
        loop {
            let Some(message) =
                within(READ_TIMEOUT, async { Ok::<_, String>(reader.next().await) }).await?
            else {
                break;
            };
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
                    tail.marker = Some(message.message_id().clone());
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
            if let Some(seq) = property(UPDATE).and_then(|u| u.parse::<u64>().ok()) {
                tail.last_seq = tail.last_seq.max(Some(seq));
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
