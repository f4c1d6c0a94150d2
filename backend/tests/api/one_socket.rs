//! The one socket's limits (`/ws/one/{id}`, docs/protocol.md): the same guard as the
//! two sockets, counted once. Its play beside two-socket players runs on every bus
//! (`scenarios/one_socket`); these need only the embedded server.

use std::time::Instant;

use futures_util::SinkExt;
use protocol::Uuid;
use serde_json::json;
use tokio_tungstenite::tungstenite::{http::StatusCode, Message};

use crate::helpers::{close_of, free_neighbour, open, Client, OneClient};
use crate::hostile::{
    closed_for_flooding_moves, flood_capped, flood_standing_still, handshake, metric, spawn_with,
};

#[tokio::test]
async fn a_one_socket_player_counts_once_under_the_socket_caps() {
    let app = spawn_with(|s| {
        s.guard.max_sockets_per_address = 4;
        s.guard.max_sockets = 6;
    })
    .await;
    // four players from one address, one socket each, all playing
    let mut players = Vec::new();
    for i in 0..4 {
        let id = Uuid::new_v4();
        let ws = handshake(&app, &protocol::one_route(id), "127.0.0.1", None)
            .await
            .unwrap_or_else(|status| panic!("player {i} refused: {status}"));
        let mut player = OneClient::on(ws, id, &format!("P{i}"));
        player.enter().await;
        players.push(player);
    }
    assert_eq!(metric(&app, "drapetisca_players_connected").await, 4.0);
    assert_eq!(metric(&app, "drapetisca_world_sockets").await, 4.0);
    let fifth = handshake(
        &app,
        &protocol::one_route(Uuid::new_v4()),
        "127.0.0.1",
        None,
    )
    .await;
    assert_eq!(fifth.err(), Some(StatusCode::TOO_MANY_REQUESTS));
    // a reference client's player takes two places of the total
    let id = Uuid::new_v4();
    let world = handshake(&app, &protocol::world_route(id), "127.0.0.2", None).await;
    let player = handshake(&app, &protocol::player_route(id), "127.0.0.2", None).await;
    assert!(world.is_ok() && player.is_ok(), "two places left in all");
    let over = handshake(
        &app,
        &protocol::one_route(Uuid::new_v4()),
        "127.0.0.2",
        None,
    )
    .await;
    assert_eq!(over.err(), Some(StatusCode::SERVICE_UNAVAILABLE));
    // the four play on
    let step = players[0].free_neighbour();
    assert_eq!(players[0].move_to(step.x, step.y).await, step);
    app.shutdown().await;
}

#[tokio::test]
async fn a_move_flood_on_the_one_socket_reaches_others_only_up_to_the_limit_and_is_closed() {
    let app = spawn_with(|s| {
        s.guard.move_limit = "5/10".parse().unwrap();
        s.guard.drop_limit = "1/20".parse().unwrap();
    })
    .await;
    let mut honest = Client::connect(&app, "Honest").await;
    honest.enter().await;
    let mut flooder = OneClient::connect(&app, "Flooder").await;
    flooder.enter().await;
    let started = Instant::now();
    flood_standing_still(&mut flooder.ws, flooder.at.unwrap()).await;
    let (code, reason, errors) = flooder.close_of().await;
    let took = started.elapsed().as_secs_f64();
    closed_for_flooding_moves(code, &reason, &errors);
    flood_capped(&mut honest, flooder.id, took).await;
    assert_eq!(metric(&app, "drapetisca_sockets_flooding_total").await, 1.0);
    // the flooder's address is refused for a while, on every route
    let again = handshake(
        &app,
        &protocol::one_route(Uuid::new_v4()),
        "127.0.0.1",
        None,
    )
    .await;
    assert_eq!(again.err(), Some(StatusCode::TOO_MANY_REQUESTS));
    app.shutdown().await;
}

#[tokio::test]
async fn bad_frames_on_the_one_socket_get_the_player_socket_s_answers_and_close_codes() {
    let app = spawn_with(|s| s.guard.drop_limit = "1/20".parse().unwrap()).await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let mut ana = OneClient::connect(&app, "Ana").await;
    ana.enter().await;
    for garbage in [
        Message::text("not json"),
        Message::text("[1, 2, 3]"),
        Message::text(json!({"messageType": "teleport", "payload": {}}).to_string()),
        Message::binary(vec![0u8, 159, 146, 150]),
    ] {
        ana.ws.send(garbage.clone()).await.unwrap();
        let answer = ana.next_direct().await;
        assert_eq!(answer["messageType"], "error", "answer to {garbage:?}");
    }
    let step = ana.free_neighbour();
    assert_eq!(ana.move_to(step.x, step.y).await, step, "Ana still plays");
    bob.sees_move(ana.id, ana.generation).await;

    // a frame over 64 KiB closes the socket with 1009; Ana comes back where she was
    let huge = json!({"messageType": "chat", "payload":
        {"id": "x", "name": "Ana", "text": "a".repeat(100_000)}});
    ana.ws.send(Message::text(huge.to_string())).await.unwrap();
    let (code, _, _) = ana.close_of().await;
    assert_eq!(code, 1009, "message too big");
    let ana_id = ana.id.to_string();
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id
    })
    .await;
    let mut back = OneClient::connect_as(&app, ana.id, "Ana").await;
    back.enter().await;
    assert_eq!(back.at, Some(step), "Ana returns where she was");

    // garbage without end closes it with 1008, as on a player socket
    for _ in 0..100 {
        if back.ws.send(Message::text("not json")).await.is_err() {
            break;
        }
    }
    let (code, reason, errors) = back.close_of().await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "too many frames over the limits")
    );
    assert!(errors.len() >= 20 && errors.iter().all(|e| e.starts_with("invalid frame")));
    app.shutdown().await;
}

#[tokio::test]
async fn a_second_socket_for_a_connected_id_is_refused_across_both_kinds_of_route() {
    let app = spawn_with(|_| {}).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut hijack = open(&app, &protocol::one_route(ana.id)).await;
    let (code, reason) = close_of(&mut hijack).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("already connected"), "{reason}");
    let mut bob = OneClient::connect(&app, "Bob").await;
    bob.enter().await;
    let mut hijack = open(&app, &protocol::player_route(bob.id)).await;
    let (code, reason) = close_of(&mut hijack).await;
    assert_eq!(code, 1008);
    assert!(reason.contains("already connected"), "{reason}");
    let step = free_neighbour(&ana);
    assert_eq!(ana.move_to(step.x, step.y).await, step, "Ana still plays");
    bob.sees_move(ana.id, ana.generation).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_game_s_one_socket_plays_that_game_and_bad_paths_and_origins_are_refused() {
    let app = spawn_with(|_| {}).await;
    let (status, body) = app.post("/api/games", &json!({"name": "One"})).await;
    assert_eq!(status, 201, "{body}");
    let game: Uuid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut ana = Client::connect_to(&app, game, "Ana").await;
    ana.enter().await;
    let mut bob = OneClient::connect_to_as(&app, game, Uuid::new_v4(), "Bob").await;
    let brief = bob.enter().await;
    assert!(brief.iter().any(|f| f["playerID"] == ana.id.to_string()));
    let step = bob.free_neighbour();
    assert_eq!(bob.move_to(step.x, step.y).await, step);
    ana.sees_move(bob.id, bob.generation).await;

    let id = Uuid::new_v4();
    for (path, refused) in [
        (
            protocol::game_one_route(Uuid::new_v4(), id),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/ws/game/not-a-uuid/one/{id}"),
            StatusCode::BAD_REQUEST,
        ),
        ("/ws/one/not-a-uuid".to_string(), StatusCode::BAD_REQUEST),
    ] {
        let answer = handshake(&app, &path, "127.0.0.1", None).await;
        assert_eq!(answer.err(), Some(refused), "{path}");
    }
    let foreign = handshake(
        &app,
        &protocol::one_route(id),
        "127.0.0.1",
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(foreign.err(), Some(StatusCode::FORBIDDEN));
    app.shutdown().await;
}
