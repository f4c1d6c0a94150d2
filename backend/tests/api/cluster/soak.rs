//! The soak's parts: bots that keep moving and chatting through instance deaths, and
//! world-socket watchers that check the invariants on every stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{Cell, Uuid};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::helpers::{cell_of, open_at, Client, Ws};

/// The addresses of the instances running now; bots reconnect to one of them.
pub type Live = Arc<Mutex<Vec<String>>>;

/// What one bot did.
#[derive(Debug, Default)]
pub struct BotReport {
    /// The player.
    pub id: Uuid,
    /// Moves validated (own frame seen with the requested generation).
    pub validated: u64,
    /// Times it re-entered on another instance.
    pub reentries: u64,
    /// Its last validated cell.
    pub at: Option<Cell>,
    /// Generations of its entries: the world shows each once more (the entering frame).
    pub entry_generations: Vec<i64>,
    /// What went wrong, if anything: an invariant broken.
    pub violations: Vec<String>,
}

/// Plays until `stop`: steps to free neighbours; when its instance dies, reconnects to
/// a live one and re-enters. Checks that a refused step snaps back to its last validated
/// cell (the owner never forgot a validated move) and that re-entering puts it back on
/// its last cell unless someone stands there.
pub async fn bot(
    name: String,
    game: Uuid,
    live: Live,
    first: usize,
    stop: tokio_util::sync::CancellationToken,
) -> BotReport {
    let id = Uuid::new_v4();
    let mut report = BotReport {
        id,
        ..Default::default()
    };
    let mut generation = 0i64;
    let mut pick = first;
    // steps sent since the last certain position whose answer never came: the owner
    // may have validated any of them (the answer lost with a killed instance)
    let mut pending: Vec<Cell> = Vec::new();
    'session: while !stop.is_cancelled() {
        let address = {
            let live = live.lock().unwrap();
            if live.is_empty() {
                None
            } else {
                Some(live[pick % live.len()].clone())
            }
        };
        pick += 1;
        let Some(address) = address else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let Ok(Ok(mut client)) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::spawn(async move { Client::connect_to_at(&address, game, id, "bot").await }),
        )
        .await
        else {
            continue;
        };
        client.name = name.clone();
        client.generation = generation;
        let entered = tokio::time::timeout(Duration::from_secs(10), enter(&mut client)).await;
        let Ok(Some((at, shown))) = entered else {
            continue;
        };
        report.entry_generations.push(shown);
        if let Some(last) = report.at {
            let taken = |c: &Cell| client.view.players.values().any(|p| p == c);
            if at != last && !pending.contains(&at) && !taken(&last) {
                report.violations.push(format!(
                    "{name} re-entered at {at:?}, not on its free last cell {last:?} (nor a pending step {pending:?})"
                ));
            }
            report.reentries += 1;
        }
        client.at = Some(at);
        report.at = Some(at);
        pending.clear();
        let mut steps = 0u64;
        while !stop.is_cancelled() {
            steps += 1;
            // now and then a chat line with an id of its own: every stream must show it
            // at most once, also when the broker delivered it again to a new owner
            if steps.is_multiple_of(8) {
                let chat = json!({"messageType": "chat", "payload":
                    {"id": format!("{name}-{}", Uuid::new_v4()), "name": name, "text": "hi"}});
                if client
                    .player
                    .send(Message::text(chat.to_string()))
                    .await
                    .is_err()
                {
                    continue 'session;
                }
            }
            // one brief per entering: a command delivered again must not brief twice
            let briefs = extra_briefs(&mut client).await;
            if briefs > 0 {
                report
                    .violations
                    .push(format!("{name} got {briefs} more brief(s) than it entered"));
            }
            let step = step_from(&client);
            client.generation += 1;
            generation = client.generation;
            let frame = json!({"messageType": "player", "payload":
                {"x": step.x, "y": step.y, "h": false, "generation": generation, "name": name}});
            pending.push(step);
            if client
                .player
                .send(Message::text(frame.to_string()))
                .await
                .is_err()
            {
                continue 'session;
            }
            match own_update(&mut client, generation, Duration::from_secs(3)).await {
                Outcome::Closed => continue 'session,
                // the owner is away: the next step is a new move
                Outcome::Silent => {}
                Outcome::Update(cell) => {
                    let known = Some(cell) == report.at || pending.contains(&cell);
                    if cell != step && !known {
                        report.violations.push(format!(
                            "{name}: step to {step:?} snapped back to {cell:?}, but its last validated cell is {:?} (pending {pending:?})",
                            report.at
                        ));
                    }
                    if cell == step {
                        report.validated += 1;
                    }
                    client.at = Some(cell);
                    report.at = Some(cell);
                    pending.clear();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    report
}

/// Reads what the player socket holds now (without waiting) and counts the briefs in
/// it (a brief starts with the geometry).
async fn extra_briefs(client: &mut Client) -> usize {
    let mut briefs = 0;
    // a zero timeout still polls once: it takes what has arrived, never waits
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::ZERO, next(&mut client.player)).await
    {
        if frame["messageType"] == "geometry" {
            briefs += 1;
        }
    }
    briefs
}

/// A random neighbour free of bricks and other players (food is fine: it gets
/// caught), or the bot's own cell when it is boxed in (a move that stays put).
fn step_from(client: &Client) -> Cell {
    // unwrap: a bot steps only after entering
    let at = client.at.unwrap();
    let board = protocol::Board::STANDARD;
    let free: Vec<Cell> = (-1..=1)
        .flat_map(|dx| (-1..=1).map(move |dy| Cell::new(at.x + dx, at.y + dy)))
        .filter(|c| {
            *c != at
                && board.contains(*c)
                && !client.view.bricks.contains(c)
                && !client.view.players.values().any(|p| p == c)
        })
        .collect();
    if free.is_empty() {
        return at;
    }
    free[rand::random::<usize>() % free.len()]
}

/// Enters; returns the cell and the generation the entry shows, or `None` if the
/// socket closed first.
async fn enter(client: &mut Client) -> Option<(Cell, i64)> {
    let name = client.name.clone();
    let entering = json!({"messageType": "entering", "payload": {"name": name}});
    client
        .player
        .send(Message::text(entering.to_string()))
        .await
        .ok()?;
    let id = client.id.to_string();
    loop {
        let frame = next(&mut client.player).await?;
        learn(client, &frame);
        if frame["messageType"] == "player" && frame["playerID"] == id {
            let shown = frame["payload"]["generation"].as_i64()?;
            client.generation = client.generation.max(shown);
            return Some((cell_of(&frame), shown));
        }
    }
}

enum Outcome {
    Update(Cell),
    Silent,
    Closed,
}

async fn own_update(client: &mut Client, generation: i64, wait: Duration) -> Outcome {
    let id = client.id.to_string();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = match tokio::time::timeout_at(deadline, next(&mut client.world)).await {
            Err(_) => return Outcome::Silent,
            Ok(None) => return Outcome::Closed,
            Ok(Some(frame)) => frame,
        };
        learn(client, &frame);
        if frame["messageType"] == "player"
            && frame["playerID"] == id
            && frame["payload"]["x"].is_i64()
        {
            if frame["payload"]["generation"] == generation {
                return Outcome::Update(cell_of(&frame));
            }
            // a late answer to an earlier move: that is where the bot stands now
            client.at = Some(cell_of(&frame));
        }
    }
}

/// Keeps the bot's view of others up to date (for choosing free steps).
fn learn(client: &mut Client, frame: &Value) {
    let id = client.id.to_string();
    match frame["messageType"].as_str() {
        Some("geometry") => client.view.board = Some(protocol::Board::STANDARD),
        Some("brick") => {
            client.view.bricks.insert(cell_of(frame));
        }
        Some("food") => {
            client.view.food.insert(
                frame["foodID"].as_str().unwrap_or_default().into(),
                cell_of(frame),
            );
        }
        Some("player") if frame["payload"]["x"].is_i64() && frame["playerID"] != id.as_str() => {
            client.view.players.insert(
                frame["playerID"].as_str().unwrap_or_default().into(),
                cell_of(frame),
            );
        }
        Some("leaving") => {
            client
                .view
                .players
                .remove(frame["playerID"].as_str().unwrap_or_default());
        }
        _ => {}
    }
}

async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// A world socket of `game` on one instance, recording the game's frames until it
/// closes or `stop` fires, and checking that no two active players ever share a cell
/// in them and no chat line shows twice.
pub async fn watch(
    address: String,
    game: Uuid,
    stop: tokio_util::sync::CancellationToken,
) -> Watched {
    let mut watched = Watched {
        game,
        ..Watched::default()
    };
    let Ok(mut ws) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::spawn(async move {
            open_at(&address, &protocol::game_world_route(game, Uuid::new_v4())).await
        }),
    )
    .await
    .map_err(drop)
    .and_then(|r| r.map_err(drop)) else {
        return watched;
    };
    let mut at: HashMap<String, Cell> = HashMap::new();
    let mut chats: HashSet<String> = HashSet::new();
    loop {
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            frame = next(&mut ws) => match frame { Some(f) => f, None => break },
        };
        match frame["messageType"].as_str() {
            Some("status") => continue,
            Some("player") if frame["payload"]["x"].is_i64() => {
                let id = frame["playerID"].as_str().unwrap_or_default().to_string();
                let cell = cell_of(&frame);
                if let Some((other, _)) = at.iter().find(|(o, c)| **c == cell && **o != id) {
                    watched
                        .violations
                        .push(format!("{id} and {other} both on {cell:?}"));
                }
                at.insert(id, cell);
            }
            Some("leaving") => {
                at.remove(frame["playerID"].as_str().unwrap_or_default());
            }
            Some("chat") => {
                let id = frame["payload"]["id"].as_str().unwrap_or_default();
                if !chats.insert(id.to_string()) {
                    watched
                        .violations
                        .push(format!("chat line {id} shown twice"));
                }
            }
            _ => {}
        }
        watched.frames.push(frame);
    }
    let _ = ws.close(None).await;
    watched
}

/// What a watcher saw.
#[derive(Debug, Default)]
pub struct Watched {
    /// The game it watched.
    pub game: Uuid,
    /// The game's frames, in delivery order.
    pub frames: Vec<Value>,
    /// Invariants broken.
    pub violations: Vec<String>,
}

/// A player's update: (player id, generation).
pub type Update = (String, i64);

fn update_of(frame: &Value) -> Option<Update> {
    (frame["messageType"] == "player").then(|| {
        (
            frame["playerID"].as_str().unwrap_or_default().to_string(),
            frame["payload"]["generation"].as_i64().unwrap_or(-1),
        )
    })
}

/// The frames of a stream that it delivered exactly once, as text, in order, less the
/// updates in `repeated`: a re-entry shows the player's last update again, so the same
/// text is two events (and two streams that each saw one would seem to disagree).
fn singles(frames: &[Value], repeated: &HashSet<Update>) -> Vec<String> {
    let texts: Vec<String> = frames
        .iter()
        .filter(|f| update_of(f).is_none_or(|u| !repeated.contains(&u)))
        .map(|f| f.to_string())
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for text in &texts {
        *counts.entry(text).or_default() += 1;
    }
    texts
        .iter()
        .filter(|t| counts[t.as_str()] == 1)
        .cloned()
        .collect()
}

/// Whether the frames two streams both delivered (once each) came in the same order;
/// the first disagreement otherwise. Streams may cover different stretches of time.
pub fn same_order(a: &[Value], b: &[Value], repeated: &HashSet<Update>) -> Result<usize, String> {
    let (a, b) = (singles(a, repeated), singles(b, repeated));
    let in_b: HashSet<&String> = b.iter().collect();
    let in_a: HashSet<&String> = a.iter().collect();
    let common_a: Vec<&String> = a.iter().filter(|f| in_b.contains(f)).collect();
    let common_b: Vec<&String> = b.iter().filter(|f| in_a.contains(f)).collect();
    match common_a.iter().zip(&common_b).position(|(x, y)| x != y) {
        None => Ok(common_a.len()),
        Some(i) => {
            let around = |common: &[&String], i: usize| {
                common[i.saturating_sub(3)..(i + 4).min(common.len())]
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            };
            Err(format!(
                "streams differ at common frame {i} of {}:\n  a:\n    {}\n  b:\n    {}",
                common_a.len(),
                around(&common_a, i),
                around(&common_b, i)
            ))
        }
    }
}

/// How often each (player, generation) update appears in a stream.
pub fn update_counts(frames: &[Value]) -> HashMap<Update, usize> {
    let mut counts = HashMap::new();
    for update in frames.iter().filter_map(update_of) {
        *counts.entry(update).or_default() += 1;
    }
    counts
}

/// Starts `count` bots until `stop`: bot i plays `games[i % games.len()]` and first
/// connects to live instance i.
pub fn spawn_bots(
    count: usize,
    games: &[Uuid],
    live: &Live,
    stop: &CancellationToken,
) -> Vec<JoinHandle<BotReport>> {
    (0..count)
        .map(|i| {
            tokio::spawn(bot(
                format!("bot{i}"),
                games[i % games.len()],
                live.clone(),
                i,
                stop.clone(),
            ))
        })
        .collect()
}

/// Waits for the bots, prints what each did and checks it: no invariant broken, at
/// least `min_validated` moves validated.
pub async fn bot_reports(bots: Vec<JoinHandle<BotReport>>, min_validated: u64) -> Vec<BotReport> {
    let mut reports = Vec::new();
    for bot in bots {
        reports.push(bot.await.expect("a bot does not panic"));
    }
    for report in &reports {
        println!(
            "  {}: {} moves validated, {} re-entries",
            report.id, report.validated, report.reentries
        );
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert!(
            report.validated >= min_validated,
            "every bot kept playing: {report:?}"
        );
    }
    reports
}

/// Each player's entry generations: the world shows each of them once more.
pub type Entries = HashMap<String, Vec<i64>>;

/// The bots' entries.
pub fn entries_of(reports: &[BotReport]) -> Entries {
    reports
        .iter()
        .map(|r| (r.id.to_string(), r.entry_generations.clone()))
        .collect()
}

/// The invariants on every stream: none broken as it was watched (two players on one
/// cell, a chat line twice), no update shown more often than once plus the player's
/// entries at its generation, and any two streams of one game deliver what both
/// delivered in one order. The first broken one, with `name(i)` naming stream i.
pub fn check_streams(
    streams: &[Watched],
    entries: &Entries,
    name: impl Fn(usize) -> String,
) -> Result<(), String> {
    for (i, stream) in streams.iter().enumerate() {
        if !stream.violations.is_empty() {
            return Err(format!("{}: {:?}", name(i), stream.violations));
        }
        for ((player, generation), count) in update_counts(&stream.frames) {
            let shown_again = entries
                .get(&player)
                .map_or(0, |g| g.iter().filter(|e| **e == generation).count());
            if count > 1 + shown_again {
                return Err(format!(
                    "{}: update {generation} of {player} shown {count} times",
                    name(i)
                ));
            }
        }
    }
    let repeated: HashSet<Update> = entries
        .iter()
        .flat_map(|(id, gens)| gens.iter().map(|g| (id.clone(), *g)))
        .collect();
    for a in 0..streams.len() {
        for b in (a + 1..streams.len()).filter(|b| streams[*b].game == streams[a].game) {
            same_order(&streams[a].frames, &streams[b].frames, &repeated)
                .map_err(|e| format!("{} and {}: {e}", name(a), name(b)))?;
        }
    }
    Ok(())
}
