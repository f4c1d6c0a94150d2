//! The one socket (`/ws/one/{id}`, docs/protocol.md) in the same game as the reference's
//! two sockets: moves seen both ways, the same world updates in the same order with the
//! same generations, and resume tokens across both kinds of client.

use protocol::Uuid;
use serde_json::{json, Value};

use super::tokens::{enter_binding, stranger_refused};
use crate::helpers::{cell_of, move_frame, next_text, spawn_app, Client, MakeSettings, OneClient};
use crate::hostile::moved_on_without_leaving;

/// The moves of `players` among `frames`, in order.
fn moves_of<'a>(frames: impl IntoIterator<Item = &'a Value>, players: &[Uuid]) -> Vec<Value> {
    let ids: Vec<String> = players.iter().map(Uuid::to_string).collect();
    frames
        .into_iter()
        .filter(|f| f["messageType"] == "player" && ids.iter().any(|id| f["playerID"] == *id))
        .filter(|f| f["payload"]["generation"].as_i64() >= Some(1))
        .cloned()
        .collect()
}

pub async fn a_one_socket_player_and_a_two_socket_player_play_together(make: MakeSettings) {
    let app = spawn_app(make).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut bob = OneClient::connect(&app, "Bob").await;
    let brief = bob.enter().await;
    assert_eq!(brief[0]["messageType"], "geometry", "the brief, direct");
    assert!(
        brief.iter().any(|f| f["playerID"] == ana.id.to_string()),
        "Bob's brief lists Ana"
    );
    let bob_id = bob.id.to_string();
    ana.world_until("Bob entering", |f| f["playerID"] == bob_id)
        .await;

    // each steps back and forth without waiting for answers, interleaved
    let (ana_home, ana_away) = (ana.at.unwrap(), crate::helpers::free_neighbour(&ana));
    let (bob_home, bob_away) = (bob.at.unwrap(), bob.free_neighbour());
    for generation in 1..=8 {
        let odd = generation % 2 == 1;
        let (a, b) = if odd {
            (ana_away, bob_away)
        } else {
            (ana_home, bob_home)
        };
        ana.send(move_frame(a, generation, "Ana")).await;
        bob.send(move_frame(b, generation, "Bob")).await;
    }
    // Ana's world socket, a frame per message, until both last moves
    let mut seen_by_ana = Vec::new();
    let mut last = (false, false);
    while last != (true, true) {
        let frame = next_text(&mut ana.world).await.expect("Ana's world socket");
        let generation_8 = frame["payload"]["generation"] == 8;
        last.0 |= generation_8 && frame["playerID"] == ana.id.to_string();
        last.1 |= generation_8 && frame["playerID"] == bob_id;
        seen_by_ana.push(frame);
    }
    bob.sees_move(ana.id, 8).await;
    bob.sees_move(bob.id, 8).await;

    let players = [ana.id, bob.id];
    let by_ana = moves_of(&seen_by_ana, &players);
    // the batched stream numbers its updates (docs/protocol.md, "Resuming the world
    // stream"); the reference stream's frames are as they were
    assert!(seen_by_ana.iter().all(|f| f.get("seq").is_none()));
    let mut by_bob = moves_of(&bob.world_log, &players);
    for frame in &mut by_bob {
        assert!(frame["seq"].is_u64(), "numbered: {frame}");
        frame.as_object_mut().unwrap().remove("seq");
    }
    assert_eq!(
        by_bob, by_ana,
        "the one socket's world stream: the same moves, in the same order, with the same generations"
    );
    for (who, id) in [("Ana", ana.id), ("Bob", bob.id)] {
        let generations: Vec<i64> = moves_of(&by_ana, &[id])
            .iter()
            .map(|f| f["payload"]["generation"].as_i64().unwrap())
            .collect();
        assert_eq!(generations, (1..=8).collect::<Vec<_>>(), "{who}'s moves");
    }
    let ana_last = moves_of(&by_ana, &[ana.id]).pop().unwrap();
    assert_eq!(cell_of(&ana_last), ana_home, "Ana back home");

    // and chat both ways
    bob.send(
        json!({"messageType": "chat", "payload": {"id": "1", "name": "Bob", "text": "hi Ana"}}),
    )
    .await;
    let line = ana
        .world_until("Bob's line", |f| f["messageType"] == "chat")
        .await;
    assert_eq!(
        (&line["playerID"], &line["payload"]["text"]),
        (&json!(bob_id), &json!("hi Ana"))
    );
    ana.send(
        json!({"messageType": "chat", "payload": {"id": "2", "name": "Ana", "text": "hi Bob"}}),
    )
    .await;
    let ana_id = ana.id.to_string();
    bob.world_until("Ana's line", |f| {
        f["messageType"] == "chat" && f["playerID"] == ana_id
    })
    .await;

    // leaving on the one socket tells the two-socket player
    drop(bob);
    ana.world_until("Bob leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == bob_id
    })
    .await;
    app.shutdown().await;
}

pub async fn a_resume_token_works_over_the_one_socket(make: MakeSettings) {
    let app = spawn_app(make).await;
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let mut stale = OneClient::connect(&app, "Ana").await;
    let brief = stale.enter_with(json!({"wantToken": true})).await;
    assert_eq!(brief[0]["messageType"], "token", "the token comes first");
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    let home = stale.at.unwrap();

    // a stranger under Ana's id, on either kind of socket, is closed with 1008
    let mut thief = OneClient::connect_as(&app, stale.id, "Thief").await;
    thief
        .send(json!({"messageType": "entering", "payload": {"name": "Thief"}}))
        .await;
    let (code, reason, _) = thief.close_of().await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "this player id needs its token")
    );
    let mut thief = Client::connect_as(&app, stale.id, "Thief").await;
    stranger_refused(&mut thief, "on the two sockets").await;

    // Ana's reconnect with the token replaces her stale socket at once
    let mut fresh = OneClient::connect_as(&app, stale.id, "Ana").await;
    let brief = fresh.enter_with(json!({"token": token})).await;
    assert_eq!(
        brief[0]["messageType"], "geometry",
        "a full brief, no new token"
    );
    assert_eq!(fresh.at, Some(home), "Ana keeps her place");
    let (code, reason, _) = stale.close_of().await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "replaced by a newer connection")
    );
    let step = fresh.free_neighbour();
    assert_eq!(
        fresh.move_to(step.x, step.y).await,
        step,
        "the new socket plays"
    );
    // Bob saw Ana move on without ever leaving
    moved_on_without_leaving(&mut bob, fresh.id, fresh.generation).await;

    // a token bound on the two sockets works on the one socket too
    let mut carl = Client::connect(&app, "Carl").await;
    let token = enter_binding(&mut carl).await;
    let mut carl_again = OneClient::connect_as(&app, carl.id, "Carl").await;
    carl_again.enter_with(json!({"token": token})).await;
    assert_eq!(carl_again.at, carl.at, "Carl keeps his place");
    app.shutdown().await;
}
