//! Resuming the world stream where it broke (docs/protocol.md, "Resuming the world
//! stream"): a page dropped for 2 s while bots move the game at about 800 updates a
//! second comes back with exactly what it missed (no gap, no duplicate: the same
//! updates as an observer that never dropped), and without a brief; a number the
//! server does not hold gets the brief as before; a garbage number is refused.

use std::time::Duration;

use protocol::Uuid;
use serde_json::json;

use crate::helpers::{open, start, MakeSettings, OneClient, TestApp};
use test_support::resume::{assert_same_after, last_seen, read_for, read_until_chat, seq_of, Bots};

/// Bots, and what they send: 20 bots at 40 moves a second, the rate limit's default.
const BOTS: usize = 20;
const MOVES_PER_SECOND: u32 = 40;

/// A server of `make`'s configuration whose move limit lets the bots move at their pace
/// (40 a second is the default limit's rate exactly: a tick's jitter would be refused).
async fn fast_game(make: MakeSettings) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = make(dir.path());
    settings.guard.move_limit = "off".parse().unwrap();
    start(settings, dir).await
}

/// Opens Pia's one socket again, naming `after`.
async fn reconnect(app: &TestApp, id: Uuid, after: u64) -> OneClient {
    let path = format!("{}?after={after}", protocol::one_route(id));
    OneClient::on(open(app, &path).await, id, "Pia")
}

/// Olga, who will never drop, and Pia (her id, her socket, her resume token), in the
/// default game.
async fn olga_and_pia(app: &TestApp) -> (OneClient, Uuid, OneClient, String) {
    let mut olga = OneClient::connect(app, "Olga").await;
    olga.enter().await;
    let id = Uuid::new_v4();
    let mut pia = OneClient::connect_as(app, id, "Pia").await;
    let brief = pia.enter_with(json!({"wantToken": true})).await;
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    (olga, id, pia, token)
}

pub async fn a_page_dropped_for_two_seconds_resumes_with_no_gap_and_no_duplicate(
    make: MakeSettings,
) {
    let app = fast_game(make).await;
    let (mut olga, id, mut pia, token) = olga_and_pia(&app).await;
    let bots = Bots::start(
        std::slice::from_ref(&app.address),
        None,
        BOTS,
        MOVES_PER_SECOND,
    )
    .await;
    read_for(&mut pia, Duration::from_millis(500)).await;
    let last = last_seen(&pia);

    // the page's connection drops (no close frame) for 2 s while the game moves on
    drop(pia);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut pia = reconnect(&app, id, last).await;
    let brief = pia.enter_with(json!({"token": token})).await;
    assert_eq!(
        brief.len(),
        1,
        "a resumed page is sent its own position only, no brief: {brief:?}"
    );
    read_for(&mut pia, Duration::from_millis(500)).await;
    let moves = bots.stop().await;

    // a last line both must see: everything before it is compared
    pia.send(
        json!({"messageType": "chat", "payload": {"id": "end", "name": "Pia", "text": "the end"}}),
    )
    .await;
    read_until_chat(&mut pia, "the end").await;
    read_until_chat(&mut olga, "the end").await;
    let missed = assert_same_after(&olga.world_log, &pia.world_log, last);
    // about 800 updates a second for 2.5 s after Pia's last one
    assert!(moves > 2_000, "the bots moved {moves} times");
    assert!(missed > 1_000, "Pia missed {missed} updates while away");
    app.shutdown().await;
}

pub async fn a_number_the_server_does_not_hold_gets_the_brief_and_garbage_is_refused(
    make: MakeSettings,
) {
    let app = fast_game(make).await;
    let (mut olga, id, mut pia, token) = olga_and_pia(&app).await;
    // Olga moves: an update Pia sees
    let step = olga.free_neighbour();
    let generation = olga.generation + 1;
    olga.move_to(step.x, step.y).await;
    let seen = pia.sees_move(olga.id, generation).await;
    let last = seq_of(&seen).expect("a numbered update");
    drop(pia);

    // too old (never kept), from the future, huge: the whole brief, no `resumed`
    for after in [last - 1_000_000_000, last + 1_000_000, u64::MAX] {
        let mut again = reconnect(&app, id, after).await;
        let brief = again.enter_with(json!({"token": token})).await;
        assert_eq!(
            brief[0]["messageType"], "geometry",
            "after={after}: a brief"
        );
        assert!(
            again
                .world_log
                .iter()
                .all(|f| f["messageType"] != "resumed"),
            "after={after}: not resumed"
        );
        drop(again);
    }

    // garbage, negative, too big for 64 bits, and a number on the reference stream:
    // refused before the upgrade with 400, the server none the worse
    for query in [
        format!("{}?after=abc", protocol::one_route(id)),
        format!("{}?after=-1", protocol::one_route(id)),
        format!("{}?after=18446744073709551616", protocol::one_route(id)),
        format!("{}?after=5", protocol::world_route(id)),
        format!("{}?batch=true&after=1e3", protocol::world_route(id)),
    ] {
        let url = format!("ws://{}{query}", app.address);
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "{query}")
            }
            other => panic!("{query}: not refused: {:?}", other.map(|_| ())),
        }
    }
    // a batched world socket (a spectator) resumes too
    let path = format!(
        "{}{}&after={last}",
        protocol::world_route(Uuid::new_v4()),
        protocol::BATCH_QUERY
    );
    let mut spectator = OneClient::on(open(&app, &path).await, Uuid::new_v4(), "Spectator");
    let resumed = spectator
        .world_until("the resumed frame", |f| f["messageType"] == "resumed")
        .await;
    assert_eq!(resumed["payload"]["after"].as_u64(), Some(last));
    // Pia's return came after Olga's move: the spectator gets it
    app.shutdown().await;
}
