//! What the tests of resuming the world stream share (docs/protocol.md, "Resuming the
//! world stream"): bots that keep a game moving fast, and the checks of a client that
//! dropped and resumed against one that never dropped.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::Uuid;
use serde_json::Value;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::app::{move_frame, PATIENCE};
use crate::one::OneClient;

/// Bots on the one socket that step back and forth between two cells at a steady
/// rate, without waiting for answers, reading (and ignoring) what they are sent.
pub struct Bots {
    stop: CancellationToken,
    tasks: JoinSet<u64>,
}

impl Bots {
    /// `count` bots in game `game` (the default game when `None`), spread over the
    /// servers at `addresses` in turn, each moving `per_second` times a second (0: they
    /// stand still, reading).
    pub async fn start(
        addresses: &[String],
        game: Option<Uuid>,
        count: usize,
        per_second: u32,
    ) -> Bots {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for i in 0..count {
            let address = &addresses[i % addresses.len()];
            let id = Uuid::new_v4();
            let name = format!("bot{i}");
            let path = match game {
                Some(game) => protocol::game_one_route(game, id),
                None => protocol::one_route(id),
            };
            let mut bot = OneClient::on(crate::app::open_at(address, &path).await, id, &name);
            bot.enter().await;
            let home = bot.at.expect("placed");
            let away = bot.free_neighbour();
            let stop = stop.clone();
            let mut ws = bot.ws;
            tasks.spawn(async move {
                let period = match per_second {
                    0 => Duration::from_secs(24 * 3600),
                    n => Duration::from_secs(1) / n,
                };
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                let mut generation = 0;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tick.tick() => {
                            generation += 1;
                            let to = if generation % 2 == 1 { away } else { home };
                            let frame = move_frame(to, generation, &name).to_string();
                            if ws.send(Message::text(frame)).await.is_err() {
                                break;
                            }
                        }
                        message = ws.next() => if !matches!(message, Some(Ok(_))) {
                            break;
                        },
                    }
                }
                let _ = ws.close(None).await;
                generation as u64
            });
        }
        Bots { stop, tasks }
    }

    /// Stops the bots; returns how many moves they sent.
    pub async fn stop(mut self) -> u64 {
        self.stop.cancel();
        let mut moves = 0;
        while let Some(sent) = self.tasks.join_next().await {
            moves += sent.unwrap_or(0);
        }
        moves
    }
}

/// The number of a world update (the `seq` the batched stream writes into it).
pub fn seq_of(frame: &Value) -> Option<u64> {
    frame["seq"].as_u64()
}

/// The number of the last update `client` saw.
pub fn last_seen(client: &OneClient) -> u64 {
    client
        .world_log
        .iter()
        .rev()
        .find_map(seq_of)
        .unwrap_or_else(|| panic!("{} saw no numbered update", client.name))
}

/// Reads `client`'s socket until its world log holds a chat line saying `text`.
pub async fn read_until_chat(client: &mut OneClient, text: &str) {
    client
        .world_until(&format!("the chat line {text:?}"), |f| {
            f["messageType"] == "chat" && f["payload"]["text"] == text
        })
        .await;
}

/// Reads `client`'s socket for `time`, whatever comes (its world log records it).
pub async fn read_for(client: &mut OneClient, time: Duration) {
    let _ = tokio::time::timeout(time, async {
        loop {
            client.world_until("anything", |_| false).await;
        }
    })
    .await;
}

/// Asserts that `resumed`'s world log after its `resumed` frame is exactly what
/// `observer` (which never dropped) received after update `after`: the same updates, in
/// the same order, with the same numbers: no gap, no duplicate. Returns how many.
pub fn assert_same_after(observer: &[Value], resumed: &[Value], after: u64) -> usize {
    assert_eq!(
        resumed.first().map(|f| &f["messageType"]),
        Some(&Value::from("resumed")),
        "the first update of a resumed stream says so"
    );
    assert_eq!(resumed[0]["payload"]["after"].as_u64(), Some(after));
    let theirs: Vec<&Value> = observer
        .iter()
        .filter(|f| seq_of(f).is_some_and(|s| s > after))
        .collect();
    let ours: Vec<&Value> = resumed[1..]
        .iter()
        .filter(|f| f["messageType"] != "status")
        .collect();
    let numbers: Vec<u64> = ours.iter().map(|f| seq_of(f).expect("numbered")).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "the numbers only grow (no duplicate)"
    );
    let common = ours.len().min(theirs.len());
    for i in 0..common {
        assert_eq!(
            ours[i], theirs[i],
            "update {i} after {after}: the resumed client and the observer differ"
        );
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "the resumed client and the observer saw as many updates"
    );
    ours.len()
}

/// How long the tests wait for a socket to be read to its end.
pub const SETTLE: Duration = PATIENCE;
