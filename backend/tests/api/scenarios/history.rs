//! A game's history over the HTTP API (docs/protocol.md, "History"): what was played
//! comes back in order, from a snapshot that rebuilds the board; a window from a
//! moment gives the state at that moment; bad parameters are refused; a game nobody
//! plays is forgotten with its history.

use std::time::Duration;

use protocol::Uuid;
use serde_json::Value;

use super::ana_and_bob;
use crate::helpers::{free_neighbour, start, Client, MakeSettings, TestApp, View, PATIENCE};

/// The default game's id, from the lobby's API.
async fn default_game(app: &TestApp) -> Uuid {
    let (status, body) = app.get("/api/games").await;
    assert_eq!(status, 200, "{body}");
    let games: Value = serde_json::from_str(&body).unwrap();
    games["games"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["default"] == true)
        .expect("the default game is listed")["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The records of a history response, each line parsed.
fn records(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// GETs `path` until `done` holds for its records (history is written behind the
/// game), within [`PATIENCE`].
async fn history_until(app: &TestApp, path: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let got = records(&body);
        if done(&got) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path}: waited {PATIENCE:?}; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The board a window rebuilds, as player `me` would see it: its snapshot, then every
/// update, applied in order. Checks the window's shape on the way: one snapshot first,
/// then updates with growing numbers above the snapshot's.
fn rebuild(me: Uuid, window: &[Value]) -> (View, Vec<String>) {
    let (snapshot, updates) = window.split_first().expect("a window has a snapshot");
    let frames = snapshot["snapshot"]
        .as_array()
        .expect("the first line is a snapshot");
    let mut view = View::default();
    let mut chat = Vec::new();
    let mut apply = |frame: &Value| {
        view.learn(me, frame);
        if frame["messageType"] == "chat" {
            chat.push(frame["payload"]["text"].as_str().unwrap().to_string());
        }
    };
    frames.iter().for_each(&mut apply);
    let mut last = snapshot["seq"].as_u64().unwrap();
    for update in updates {
        let seq = update["seq"].as_u64().expect("a number");
        assert!(seq > last, "numbers grow: {seq} after {last}");
        last = seq;
        assert!(update["t"].is_i64(), "{update}");
        apply(&update["frame"]);
    }
    (view, chat)
}

pub async fn the_history_gives_back_moves_and_chat_in_order_and_rebuilds_the_board(
    make: MakeSettings,
) {
    let app = crate::helpers::spawn_app(make).await;
    let game = default_game(&app).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let mut moves = Vec::new();
    for _ in 0..3 {
        let to = free_neighbour(&ana);
        ana.move_to(to.x, to.y).await;
        moves.push(ana.generation);
        bob.sees_move(ana.id, ana.generation).await;
    }
    ana.send(serde_json::json!({"messageType": "chat", "payload": {"id": "c1", "name": "Ana", "text": "replay me"}}))
        .await;
    bob.world_until("Ana's chat", |f| f["messageType"] == "chat")
        .await;
    let path = format!("/api/games/{game}/history");
    let window = history_until(&app, &path, |r| {
        r.iter().any(|r| r["frame"]["messageType"] == "chat")
    })
    .await;
    // Ana's moves, in the order she made them, with the frames the world socket sent
    let generations: Vec<i64> = window
        .iter()
        .filter(|r| {
            r["frame"]["playerID"] == ana.id.to_string() && r["frame"]["messageType"] == "player"
        })
        .filter_map(|r| r["frame"]["payload"]["generation"].as_i64())
        .filter(|g| *g > 0)
        .collect();
    assert_eq!(generations, moves);
    let (view, chat) = rebuild(bob.id, &window);
    assert_eq!(view.players, bob.view.players, "players as Bob sees them");
    assert_eq!(view.food, bob.view.food);
    assert_eq!(view.bricks, bob.view.bricks);
    assert_eq!(view.board, bob.view.board);
    assert_eq!(chat, ["replay me"]);
    // the span covers it, and the game is live
    let (status, body) = app.get(&format!("{path}/span")).await;
    assert_eq!(status, 200, "{body}");
    let span: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(span["game"], game.to_string());
    assert_eq!(span["live"], true);
    let (first, last) = (
        span["first"].as_i64().unwrap(),
        span["last"].as_i64().unwrap(),
    );
    assert_eq!(first, window[0]["t"].as_i64().unwrap());
    assert!(last >= window.last().unwrap()["t"].as_i64().unwrap());
    app.shutdown().await;
}

pub async fn a_window_from_a_moment_rebuilds_the_board_of_that_moment(make: MakeSettings) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = make(dir.path());
    // a snapshot every second, so that the moments below start from different ones
    settings.history_snapshot_secs = 1;
    let app = start(settings, dir).await;
    let game = default_game(&app).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    // moments between Ana's moves, with the board Bob saw then
    let mut moments = Vec::new();
    for _ in 0..8 {
        let to = free_neighbour(&ana);
        ana.move_to(to.x, to.y).await;
        bob.sees_move(ana.id, ana.generation).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        moments.push((game_core::clock::now_ms(), bob.view.clone()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last_generation = ana.generation;
    let ana_id = ana.id.to_string();
    // everything is written
    history_until(&app, &format!("/api/games/{game}/history"), |r| {
        r.iter().any(|r| {
            r["frame"]["playerID"] == ana_id
                && r["frame"]["payload"]["generation"] == last_generation
        })
    })
    .await;
    let mut snapshots = std::collections::HashSet::new();
    for (at, seen) in &moments {
        let (status, body) = app
            .get(&format!("/api/games/{game}/history?from={at}&to={at}"))
            .await;
        assert_eq!(status, 200, "{body}");
        let window = records(&body);
        assert!(
            window[0]["t"].as_i64().unwrap() <= *at,
            "the snapshot is at or before the moment"
        );
        assert!(window.iter().all(|r| r["t"].as_i64().unwrap() <= *at));
        snapshots.insert(window[0]["seq"].as_u64().unwrap());
        let (view, _) = rebuild(bob.id, &window);
        assert_eq!(view.players, seen.players, "players at {at}");
        assert_eq!(view.food, seen.food, "food at {at}");
    }
    assert!(
        snapshots.len() > 1,
        "the moments started from different snapshots"
    );
    app.shutdown().await;
}

pub async fn bad_history_requests_are_refused(make: MakeSettings) {
    let app = crate::helpers::spawn_app(make).await;
    let game = default_game(&app).await;
    for (path, status) in [
        ("/api/games/not-a-uuid/history".to_string(), 400),
        ("/api/games/not-a-uuid/history/span".to_string(), 400),
        (format!("/api/games/{game}/history?from=yesterday"), 400),
        (format!("/api/games/{game}/history?to=1.5"), 400),
        (format!("/api/games/{game}/history?from=10&to=9"), 400),
        (format!("/api/games/{}/history", Uuid::new_v4()), 404),
        (format!("/api/games/{}/history/span", Uuid::new_v4()), 404),
    ] {
        let (got, body) = app.get(&path).await;
        assert_eq!(got, status, "{path}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"].is_string(), "{path}: {body}");
    }
    // a game with nothing kept before a moment: an empty window, not an error
    let (status, body) = app.get(&format!("/api/games/{game}/history?to=1")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    // the server still plays
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    app.shutdown().await;
}

pub async fn with_no_retention_no_history_is_kept(make: MakeSettings) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = make(dir.path());
    settings.history_secs = 0;
    let app = start(settings, dir).await;
    let game = default_game(&app).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let to = free_neighbour(&ana);
    ana.move_to(to.x, to.y).await;
    bob.sees_move(ana.id, ana.generation).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = app.get(&format!("/api/games/{game}/history")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, body) = app.get(&format!("/api/games/{game}/history/span")).await;
    assert_eq!(status, 200);
    let span: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (span["first"].clone(), span["last"].clone()),
        (Value::Null, Value::Null)
    );
    app.shutdown().await;
}

/// Whether the lobby lists `game`.
async fn listed(app: &TestApp, game: Uuid) -> bool {
    let (status, body) = app.get("/api/games").await;
    assert_eq!(status, 200, "{body}");
    let games: Value = serde_json::from_str(&body).unwrap();
    games["games"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["id"] == game.to_string())
}

pub async fn a_game_nobody_plays_is_forgotten_with_its_history(make: MakeSettings) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = make(dir.path());
    settings.forget_games_after_secs = 3;
    settings.game_idle_secs = 1;
    let app = start(settings, dir).await;
    let default = default_game(&app).await;
    let create = |name: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .post("/api/games", &serde_json::json!({"name": name}))
                .await;
            assert_eq!(status, 201, "{body}");
            let game: Value = serde_json::from_str(&body).unwrap();
            game["id"].as_str().unwrap().parse::<Uuid>().unwrap()
        }
    };
    let (left, played) = (create("Left alone").await, create("Played on").await);
    // someone plays each a little; the first is then left alone, the second not
    let mut ana = Client::connect_to(&app, left, "Ana").await;
    ana.enter().await;
    let to = free_neighbour(&ana);
    ana.move_to(to.x, to.y).await;
    let mut bob = Client::connect_to(&app, played, "Bob").await;
    bob.enter().await;
    history_until(&app, &format!("/api/games/{left}/history"), |r| r.len() > 1).await;
    drop(ana);
    // forgotten: gone from the lobby, its history with it
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while listed(&app, left).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the game left alone is still listed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for path in [
        format!("/api/games/{left}"),
        format!("/api/games/{left}/history"),
        format!("/api/games/{left}/history/span"),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // a game with a player, and the default game (never played here), are kept
    assert!(
        listed(&app, played).await,
        "the game being played is forgotten"
    );
    assert!(listed(&app, default).await, "the default game is forgotten");
    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics.contains("drapetisca_games_forgotten_total 1"),
        "{metrics}"
    );
    // Bob plays on
    let to = free_neighbour(&bob);
    assert_eq!(bob.move_to(to.x, to.y).await, to);
    app.shutdown().await;
}
