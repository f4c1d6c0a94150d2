//! Scenarios of many games: games kept apart, unloading and loading back, the lobby and
//! its limits.

use std::time::Duration;

use protocol::Uuid;
use serde_json::{json, Value};

use crate::helpers::{
    close_of, free_neighbour, open, spawn_app, start, Client, MakeSettings, TestApp,
};

/// Creates a game through the lobby API; returns its id.
pub async fn create_game(app: &TestApp, name: &str) -> Uuid {
    let (status, body) = app.post("/api/games", &json!({ "name": name })).await;
    assert_eq!(status, 201, "creating {name:?}: {body}");
    let game: Value = serde_json::from_str(&body).expect("a game as JSON");
    let id = game["id"].as_str().expect("an id");
    assert_eq!(game["name"], name);
    assert_eq!(game["path"], format!("/game/{id}"));
    assert_eq!(game["players"], 0);
    id.parse().expect("a UUID")
}

/// The lobby's list of games.
pub async fn lobby(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/api/games").await;
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).expect("the list as JSON");
    list["games"].as_array().expect("a games array").clone()
}

/// The lobby's entry of `game`.
async fn listed(app: &TestApp, game: Uuid) -> Option<Value> {
    let id = game.to_string();
    lobby(app).await.into_iter().find(|g| g["id"] == id)
}

/// Waits until no game runs (is loaded) on the server: idle games unloaded themselves.
pub async fn until_unloaded(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while running(app).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle game was not unloaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many games run (are loaded) on the server now.
async fn running(app: &TestApp) -> u64 {
    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    health["games_running"].as_u64().expect("games_running")
}

/// Walks `client` onto its nearest food; returns the food's id and the frame that
/// moved it away.
async fn catch_food(client: &mut Client) -> (String, Value) {
    let (food_id, food_at) = client
        .view
        .food
        .iter()
        .map(|(id, c)| (id.clone(), *c))
        .min_by_key(|(_, c)| client.path_to(*c).map_or(usize::MAX, |p| p.len()))
        .expect("food in the game");
    client.walk_to(food_at).await;
    let id = food_id.clone();
    let moved = client
        .world_until("the caught food moving", |f| {
            f["messageType"] == "food" && f["foodID"] == id
        })
        .await;
    (food_id, moved)
}

pub async fn two_games_in_parallel_never_see_each_other(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (one, two) = (
        create_game(&app, "One").await,
        create_game(&app, "Two").await,
    );
    let mut ana = Client::connect_to(&app, one, "Ana").await;
    let mut bob = Client::connect_to(&app, two, "Bob").await;
    ana.enter().await;
    let bob_brief = bob.enter().await;
    assert!(
        !bob_brief
            .iter()
            .any(|f| f["playerID"] == ana.id.to_string()),
        "Bob's brief does not show Ana, who plays another game"
    );
    assert_ne!(
        ana.view.bricks, bob.view.bricks,
        "each game has its own bricks"
    );
    assert!(
        ana.view
            .food
            .keys()
            .all(|id| !bob.view.food.contains_key(id)),
        "each game has its own food"
    );

    // a move, a chat line and a food catch in game one...
    let step = free_neighbour(&ana);
    ana.move_to(step.x, step.y).await;
    ana.send(json!({"messageType": "chat", "payload": {"id": "c1", "name": "Ana", "text": "only for One"}}))
        .await;
    ana.world_until("Ana's chat", |f| f["messageType"] == "chat")
        .await;
    let (caught, _) = catch_food(&mut ana).await;
    assert_eq!(ana.next_player().await["payload"]["text"], "Good catch!");

    // ...then Bob moves in game two: whatever reached his world socket before his own
    // move came from game one if it is about Ana or her food
    let step = free_neighbour(&bob);
    bob.move_to(step.x, step.y).await;
    let leaked: Vec<&Value> = bob
        .world_seen()
        .filter(|f| {
            f["playerID"] == ana.id.to_string()
                || f["foodID"] == caught
                || f["messageType"] == "chat"
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "game two saw game one's frames: {leaked:?}"
    );
    assert!(!bob.view.food.contains_key(&caught));
    // and the other way round
    let step = free_neighbour(&ana);
    ana.move_to(step.x, step.y).await;
    let bob_id = bob.id.to_string();
    assert!(
        !ana.world_seen().any(|f| f["playerID"] == bob_id),
        "game one saw Bob's move"
    );
    app.shutdown().await;
}

pub async fn an_unloaded_game_loads_back_exactly(make: MakeSettings) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = make(dir.path());
    settings.game_idle_secs = 1;
    let app = start(settings, dir).await;
    let game = create_game(&app, "Sleepy").await;
    let mut ana = Client::connect_to(&app, game, "Ana").await;
    let mut bob = Client::connect_to(&app, game, "Bob").await;
    ana.enter().await;
    bob.enter().await;
    let target = free_neighbour(&ana);
    ana.move_to(target.x, target.y).await;
    // Bob plans his way to a food around Ana where she is now (without this his path
    // could run into her: it did once in the suite)
    bob.sees_move(ana.id, ana.generation).await;
    catch_food(&mut bob).await;
    let bob_at = bob.at.unwrap();
    let (ana_id, bob_id) = (ana.id, bob.id);
    let before = ana.view.clone();
    // Bob read the caught food's new place; Ana's socket may not have yet
    let food_before = bob.view.food.clone();
    drop((ana, bob));

    // nobody plays it: the game leaves memory
    until_unloaded(&app).await;
    assert_eq!(listed(&app, game).await.unwrap()["players"], 0);

    // and comes back as it was: bricks, food where it was last, players where they were
    let mut ana = Client::connect_to_as(&app, game, ana_id, "Ana").await;
    let brief = ana.enter().await;
    assert_eq!(running(&app).await, 1, "joining loads the game");
    assert_eq!(ana.view.bricks, before.bricks, "same bricks");
    assert_eq!(ana.view.food, food_before, "the food where it was last");
    assert_eq!(ana.at, Some(target), "Ana returns to her last position");
    assert!(
        !brief
            .iter()
            .any(|f| f["messageType"] == "player" && f["playerID"] == bob_id.to_string()),
        "Bob left: he is not on the field in the brief (a score of his may be)"
    );
    let mut bob = Client::connect_to_as(&app, game, bob_id, "Bob").await;
    bob.enter().await;
    assert_eq!(
        bob.at,
        Some(bob_at),
        "Bob returns to where he caught the food"
    );
    app.shutdown().await;
}

pub async fn a_created_game_is_listed_and_playable_after_a_restart(make: MakeSettings) {
    let app = spawn_app(make).await;
    let game = create_game(&app, "Lasting").await;
    let mut ana = Client::connect_to(&app, game, "Ana").await;
    ana.enter().await;
    let target = free_neighbour(&ana);
    ana.move_to(target.x, target.y).await;
    let before = ana.view.clone();
    let ana_id = ana.id;
    drop(ana);

    let app = app.restart().await;
    let entry = listed(&app, game)
        .await
        .expect("the game is listed after a restart");
    assert_eq!(entry["name"], "Lasting");
    assert_eq!(entry["default"], false);
    let mut ana = Client::connect_to_as(&app, game, ana_id, "Ana").await;
    ana.enter().await;
    assert_eq!(ana.view.bricks, before.bricks);
    assert_eq!(ana.at, Some(target));
    app.shutdown().await;
}

pub async fn the_lobby_counts_the_players_of_each_game(make: MakeSettings) {
    let app = spawn_app(make).await;
    let games = lobby(&app).await;
    assert_eq!(
        games.len(),
        1,
        "a new server lists its default game: {games:?}"
    );
    assert_eq!(games[0]["default"], true);
    let default: Uuid = games[0]["id"].as_str().unwrap().parse().unwrap();
    let one = create_game(&app, "One").await;
    let two = create_game(&app, "Two").await;
    let mut players = Vec::new();
    for name in ["Ana", "Bob"] {
        let mut client = Client::connect_to(&app, one, name).await;
        client.enter().await;
        players.push(client);
    }
    // the reference routes play the default game
    let mut cy = Client::connect(&app, "Cy").await;
    cy.enter().await;
    let count = |games: &[Value], id: Uuid| {
        let id = id.to_string();
        games.iter().find(|g| g["id"] == id).expect("listed")["players"].clone()
    };
    let games = lobby(&app).await;
    assert_eq!(
        games[0]["id"],
        default.to_string(),
        "the default game comes first"
    );
    assert_eq!(count(&games, default), 1);
    assert_eq!(count(&games, one), 2);
    assert_eq!(count(&games, two), 0);
    let (status, body) = app.get(&format!("/api/games/{one}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["players"], 2);

    players[0]
        .send(json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    let bob_sees = players[0].id.to_string();
    players[1]
        .world_until("Ana leaving", |f| {
            f["messageType"] == "leaving" && f["playerID"] == bob_sees
        })
        .await;
    assert_eq!(count(&lobby(&app).await, one), 1);

    let (status, body) = app.get(&format!("/api/games/{}", Uuid::new_v4())).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no such game"), "{body}");
    app.shutdown().await;
}

pub async fn game_caps_and_bad_names_are_refused_and_change_nothing(make: MakeSettings) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = make(dir.path());
    settings.max_games = 2;
    settings.max_game_creations_per_minute = 2;
    settings.game_idle_secs = 1;
    let app = start(settings, dir).await;
    let refused = |status: u16, body: &str, code: u16, why: &str| {
        assert_eq!(status, code, "{body}");
        let error: Value = serde_json::from_str(body).expect("a JSON error");
        let text = error["error"].as_str().expect("an error message");
        assert!(text.contains(why), "{text:?} should say {why:?}");
    };

    // names: trimmed, stripped of control characters, cut; nonsense refused
    let (status, body) = app.post("/api/games", &json!({"name": " \u{7}  "})).await;
    refused(status, &body, 400, "needs a name");
    let (status, body) = app
        .post("/api/games", &json!({"name": "x".repeat(300)}))
        .await;
    refused(status, &body, 400, "at most 256 characters");
    let (status, body) = app.post("/api/games", &json!({"title": "no name"})).await;
    refused(status, &body, 400, "invalid body");
    let (status, body) = app
        .post(
            "/api/games",
            &json!({"name": format!("  Long\u{1b} {}", "y".repeat(60))}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let long: Value = serde_json::from_str(&body).unwrap();
    let name = long["name"].as_str().unwrap();
    assert_eq!(name.chars().count(), 32, "cut like a player name: {name:?}");
    assert!(
        name.starts_with("Long y"),
        "trimmed, control character gone: {name:?}"
    );

    // two games may run at once: the default one and one more
    let mut cy = Client::connect(&app, "Cy").await;
    cy.enter().await;
    let busy = create_game(&app, "Busy").await;
    let mut ana = Client::connect_to(&app, busy, "Ana").await;
    ana.enter().await;
    let before = lobby(&app).await;
    let (status, body) = app.post("/api/games", &json!({"name": "Third"})).await;
    refused(status, &body, 503, "most games");
    // an existing game that does not run cannot be loaded either
    let long_id: Uuid = long["id"].as_str().unwrap().parse().unwrap();
    let mut late = open(&app, &protocol::game_player_route(long_id, Uuid::new_v4())).await;
    let (code, reason) = close_of(&mut late).await;
    assert_eq!(code, 1013, "try again later: {reason}");
    assert!(reason.contains("most games"), "{reason}");
    assert_eq!(lobby(&app).await, before, "refusals change nothing");

    // a third creation within the minute from the same address is one too many (the
    // refused ones did not count), even once there is room again
    drop((ana, cy));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while running(&app).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "idle games unload");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = app.post("/api/games", &json!({"name": "Third"})).await;
    refused(status, &body, 429, "too many games created");
    assert_eq!(lobby(&app).await.len(), before.len(), "nothing was created");

    // unknown games and ids that are no UUIDs are refused before the upgrade
    let (status, _) = app
        .get(&protocol::game_world_route(Uuid::new_v4(), Uuid::new_v4()))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/ws/game/not-a-uuid/world/x").await;
    assert_eq!(status, 400);
    app.shutdown().await;
}
