//! The batched world stream (`?batch=true` on a world route, docs/protocol.md): the same
//! updates as the reference stream, in the same order with the same generations,
//! several to a message; reference clients of the same game are unaffected.

use futures_util::StreamExt;
use protocol::Uuid;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{embedded, free_neighbour, open, start, Client, Ws, PATIENCE};

/// A server whose batches go out at most every half second: a burst of moves then
/// lands in one batch even on a loaded machine.
async fn slow_batches() -> crate::helpers::TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = embedded(dir.path());
    settings.world_batch_ms = 500;
    start(settings, dir).await
}

/// The next text message of `ws`, as sent.
async fn next_message(ws: &mut Ws) -> String {
    loop {
        let message = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("the socket works");
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => continue,
        }
    }
}

fn is_move(frame: &Value, player: Uuid, generation: i64) -> bool {
    frame["messageType"] == "player"
        && frame["playerID"] == player.to_string()
        && frame["payload"]["generation"] == generation
}

/// Reads reference messages (one JSON object each) until the move `generation` of
/// `player`; returns every update read.
async fn reference_until(ws: &mut Ws, player: Uuid, generation: i64) -> Vec<Value> {
    let mut seen = Vec::new();
    while !seen.last().is_some_and(|f| is_move(f, player, generation)) {
        let text = next_message(ws).await;
        let frame: Value = serde_json::from_str(&text).expect("JSON");
        assert!(frame.is_object(), "one update per message: {text}");
        seen.push(frame);
    }
    seen
}

/// Reads batches until one holds the move `generation` of `player`; returns every
/// update read, in order, and the size of each batch.
async fn batched_until(ws: &mut Ws, player: Uuid, generation: i64) -> (Vec<Value>, Vec<usize>) {
    let (mut seen, mut sizes) = (Vec::new(), Vec::new());
    while !seen.iter().any(|f| is_move(f, player, generation)) {
        let text = next_message(ws).await;
        let batch: Vec<Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("a batch is a JSON array of frames ({e}): {text}"));
        assert!(!batch.is_empty(), "no empty batch");
        sizes.push(batch.len());
        seen.extend(batch);
    }
    (seen, sizes)
}

#[tokio::test]
async fn a_batched_world_socket_gets_the_reference_updates_in_order_with_their_generations() {
    let app = slow_batches().await;
    // a batched watcher and a reference client, both on the default game's route,
    // subscribed before anything happens in the game
    let watcher = Uuid::new_v4();
    let mut batched = open(
        &app,
        &(protocol::world_route(watcher) + protocol::BATCH_QUERY),
    )
    .await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;

    // Bob steps back and forth without waiting for answers: a burst of 12 moves
    let (home, away) = (bob.at.unwrap(), free_neighbour(&bob));
    for generation in 1..=12 {
        let to = if generation % 2 == 1 { away } else { home };
        bob.send(json!({"messageType": "player", "payload":
            {"x": to.x, "y": to.y, "h": false, "generation": generation, "name": "Bob"}}))
            .await;
    }

    let reference = reference_until(&mut ana.world, bob.id, 12).await;
    let (mut batched_updates, sizes) = batched_until(&mut batched, bob.id, 12).await;
    // each update of a batch carries its number in the game's stream, one more than
    // the update before (one room numbered them all); the reference frames none
    let numbers: Vec<u64> = batched_updates
        .iter()
        .map(|f| f["seq"].as_u64().expect("numbered"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    assert!(reference.iter().all(|f| f.get("seq").is_none()));
    for frame in &mut batched_updates {
        frame.as_object_mut().unwrap().remove("seq");
    }
    assert_eq!(
        batched_updates, reference,
        "the same updates, in the same order, as the reference stream"
    );
    let generations: Vec<i64> = reference
        .iter()
        .filter(|f| f["playerID"] == bob.id.to_string() && f["messageType"] == "player")
        .filter_map(|f| f["payload"]["generation"].as_i64())
        .collect();
    assert!(
        generations.ends_with(&(1..=12).collect::<Vec<_>>()),
        "every move once, in order: {generations:?}"
    );
    assert!(
        sizes.iter().any(|&n| n > 1),
        "a burst within the interval shares a message: batch sizes {sizes:?}"
    );
}

#[tokio::test]
async fn a_game_s_world_route_serves_the_batched_stream_and_refuses_a_bad_query() {
    let app = slow_batches().await;
    let (status, body) = app.post("/api/games", &json!({"name": "Batched"})).await;
    assert_eq!(status, 201, "{body}");
    let game: Uuid = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let watcher = Uuid::new_v4();
    let route = protocol::game_world_route(game, watcher);
    let mut batched = open(&app, &(route.clone() + protocol::BATCH_QUERY)).await;
    let mut carl = Client::connect_to(&app, game, "Carl").await;
    carl.enter().await;
    let (updates, _) = batched_until(&mut batched, carl.id, 0).await;
    assert!(updates.iter().all(|f| f["messageType"].is_string()));

    let url = format!("ws://{}{route}?batch=maybe", app.address);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!("a bad batch value is refused with 400, not {other:?}"),
    }
}

#[tokio::test]
async fn a_lone_update_after_a_quiet_spell_is_not_held_for_the_interval() {
    // a one-minute interval: a lone update that waited for it would miss the patience
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = embedded(dir.path());
    settings.world_batch_ms = 60_000;
    let app = start(settings, dir).await;
    let mut batched = open(
        &app,
        &(protocol::world_route(Uuid::new_v4()) + protocol::BATCH_QUERY),
    )
    .await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    // batched_until waits PATIENCE (10 s) at most, far less than the interval
    let (updates, _) = batched_until(&mut batched, ana.id, 0).await;
    assert!(is_move(updates.last().unwrap(), ana.id, 0));
}

#[tokio::test]
async fn a_world_socket_answers_pings_on_either_stream() {
    use futures_util::SinkExt;
    let app = crate::helpers::spawn_app(embedded).await;
    for query in ["", protocol::BATCH_QUERY] {
        let route = protocol::world_route(Uuid::new_v4()) + query;
        let mut world = open(&app, &route).await;
        world
            .send(Message::Ping(b"are you there".to_vec()))
            .await
            .expect("ping sent");
        let pong = loop {
            match tokio::time::timeout(PATIENCE, world.next())
                .await
                .expect("an answer in time")
            {
                Some(Ok(Message::Pong(payload))) => break payload,
                Some(Ok(_)) => continue,
                other => panic!("{route}: no pong but {other:?}"),
            }
        };
        assert_eq!(&pong[..], b"are you there", "{route}");
    }
}
