//! Spectators (docs/protocol.md, "Spectators"): the board and the live stream, no
//! player, no commands, counted apart in the lobby, resuming like the one socket.

use std::time::Duration;

use protocol::Uuid;
use serde_json::Value;

use super::games::create_game;
use crate::helpers::{spawn_app, MakeSettings, OneClient, TestApp, PATIENCE};

/// The food every game holds.
const FOOD: usize = 3;

/// The close reason of a spectator that sent a frame.
const NO_COMMANDS: &str = "a spectator cannot send moves or chat; open a player socket to play";

/// `game`'s (players, spectators) as the lobby of the server at `address` lists them.
pub async fn counts_at(address: &str, game: Uuid) -> (u64, u64) {
    let url = format!("http://{address}/api/games/{game}");
    let body = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .expect("a body");
    let entry: Value = serde_json::from_str(&body).expect("the game as JSON");
    (
        entry["players"].as_u64().expect("players"),
        entry["spectators"].as_u64().expect("spectators"),
    )
}

/// Waits until the lobby of the server at `address` lists `game` with `want`
/// (players, spectators).
pub async fn until_counts_at(address: &str, game: Uuid, want: (u64, u64)) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = counts_at(address, game).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{address} lists {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the lobby lists `game` with `want` (players, spectators).
pub async fn until_counts(app: &TestApp, game: Uuid, want: (u64, u64)) {
    until_counts_at(&app.address, game, want).await
}

/// The `player` frames of `frames` about `id`.
fn about(frames: &[Value], id: Uuid) -> Vec<&Value> {
    let id = id.to_string();
    frames
        .iter()
        .filter(|f| f["messageType"] == "player" && f["playerID"] == id)
        .collect()
}

pub async fn a_spectator_gets_the_board_and_the_stream_and_cannot_play(make: MakeSettings) {
    let app = spawn_app(make).await;
    let game = create_game(&app, "Watched").await;
    let mut ana = OneClient::connect_to_as(&app, game, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    until_counts(&app, game, (1, 0)).await;

    let mut spectator = OneClient::watch_at(&app.address, game, "").await;
    let brief = spectator.watched_brief(FOOD).await;
    assert_eq!(
        brief[0]["messageType"], "geometry",
        "the board first: {brief:?}"
    );
    let ana_there = about(&brief, ana.id);
    assert_eq!(ana_there.len(), 1, "Ana on the board: {brief:?}");
    assert_eq!(crate::helpers::cell_of(ana_there[0]), ana.at.unwrap());
    assert!(brief.iter().any(|f| f["messageType"] == "brick"));
    // counted apart: a spectator is no player
    until_counts(&app, game, (1, 1)).await;

    // the live stream: Ana's move, numbered as on the one socket
    let to = ana.free_neighbour();
    assert_eq!(ana.move_to(to.x, to.y).await, to);
    let seen = spectator.sees_move(ana.id, 1).await;
    assert_eq!(crate::helpers::cell_of(&seen), to);
    assert!(seen["seq"].is_u64(), "numbered: {seen}");

    // a command closes the spectator's socket, and nothing reaches the game
    spectator
        .send(serde_json::json!({"messageType": "entering", "payload": {"name": "Eve"}}))
        .await;
    let (code, reason, _) = spectator.close_of().await;
    assert_eq!((code, reason.as_str()), (1008, NO_COMMANDS));
    until_counts(&app, game, (1, 0)).await;
    // Ana plays on, and nobody entered
    let back = ana.free_neighbour();
    assert_eq!(ana.move_to(back.x, back.y).await, back);
    assert!(
        ana.world_log.iter().all(|f| f["payload"]["name"] != "Eve"),
        "the spectator entered nobody"
    );
    app.shutdown().await;
}

pub async fn a_spectator_of_an_idle_game_sees_the_first_player_enter(make: MakeSettings) {
    let app = spawn_app(make).await;
    let game = create_game(&app, "Empty").await;
    let mut spectator = OneClient::watch_at(&app.address, game, "").await;
    let brief = spectator.watched_brief(FOOD).await;
    assert_eq!(brief[0]["messageType"], "geometry");
    assert!(
        brief.iter().all(|f| f["messageType"] != "player"),
        "nobody plays: {brief:?}"
    );
    let mut ana = OneClient::connect_to_as(&app, game, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let entered = spectator.sees_move(ana.id, 0).await;
    assert_eq!(entered["payload"]["name"], "Ana");
    app.shutdown().await;
}

pub async fn a_spectator_resumes_after_the_last_update_it_saw(make: MakeSettings) {
    let app = spawn_app(make).await;
    let game = create_game(&app, "Resumed").await;
    let mut ana = OneClient::connect_to_as(&app, game, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let mut spectator = OneClient::watch_at(&app.address, game, "").await;
    spectator.watched_brief(FOOD).await;
    let (home, away) = (ana.at.unwrap(), ana.free_neighbour());
    ana.move_to(away.x, away.y).await;
    let last = spectator.sees_move(ana.id, 1).await["seq"]
        .as_u64()
        .expect("numbered");
    drop(spectator);
    // missed while away
    ana.move_to(home.x, home.y).await;

    let mut back = OneClient::watch_at(&app.address, game, &format!("?after={last}")).await;
    let first = back.next_message().await.expect("a message");
    let batch = first.as_array().expect("resumed: a batch first, no brief");
    assert_eq!(batch[0]["messageType"], "resumed");
    assert_eq!(batch[0]["payload"]["after"], last);
    let missed = about(&batch[1..], ana.id);
    assert_eq!(missed.len(), 1, "the one move missed, once: {batch:?}");
    assert_eq!(missed[0]["payload"]["generation"], 2);

    // a number not held: the brief, as without it
    let mut fresh = OneClient::watch_at(&app.address, game, "?after=5").await;
    let brief = fresh.watched_brief(FOOD).await;
    assert_eq!(brief[0]["messageType"], "geometry");
    app.shutdown().await;
}
