//! Resume tokens outlive the room: an id bound to a token stays bound when its game is
//! unloaded for being idle and when the server restarts, and only the token enters it.

use futures_util::StreamExt;
use protocol::{Cell, Uuid};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::games::until_unloaded;
use crate::helpers::{cell_of, start, Client, MakeSettings, TestApp, PATIENCE};
use crate::hostile::{brief_of, enter_with};

/// Enters `client` asking for a token, as our page does; learns the brief like
/// [`Client::enter`] and returns the token.
pub async fn enter_binding(client: &mut Client) -> String {
    enter_with(client, json!({"wantToken": true})).await;
    let brief = brief_of(client).await;
    for frame in &brief {
        client.learn(frame);
    }
    // unwrap: a brief ends with the own position
    client.at = Some(cell_of(brief.last().unwrap()));
    assert_eq!(brief[0]["messageType"], "token", "the token comes first");
    brief[0]["payload"]["token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// A stranger who read `id` from a world frame tries to enter under it, without the
/// token, and is closed with 1008.
async fn refused(app: &TestApp, id: Uuid, when: &str) {
    let mut thief = Client::connect_as(app, id, "Thief").await;
    stranger_refused(&mut thief, when).await;
}

/// Sends an `entering` without a token on `thief`'s player socket, and asserts that the
/// server closes it with 1008; says `when` as soon as the stranger is let in instead.
pub async fn stranger_refused(thief: &mut Client, when: &str) {
    thief
        .send(json!({"messageType": "entering", "payload": {"name": "Thief"}}))
        .await;
    loop {
        let answer = tokio::time::timeout(PATIENCE, thief.player.next())
            .await
            .unwrap_or_else(|_| panic!("no answer to a stranger {when}"));
        match answer {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(
                    (u16::from(frame.code), &*frame.reason),
                    (1008, "this player id needs its token"),
                    "a stranger under a bound id {when}"
                );
                return;
            }
            Some(Ok(Message::Text(text))) => {
                panic!("a stranger entered under a bound id {when}: {text}")
            }
            Some(Ok(_)) => continue,
            other => panic!("a stranger's socket {when} ended without a close frame: {other:?}"),
        }
    }
}

/// The owner of `id` enters with its token, gets no new one, and is back on `home`.
async fn comes_back(app: &TestApp, id: Uuid, token: &str, home: Cell, when: &str) {
    let mut ana = Client::connect_as(app, id, "Ana").await;
    enter_with(&mut ana, json!({"token": token})).await;
    let brief = brief_of(&mut ana).await;
    assert_eq!(brief[0]["messageType"], "geometry", "no new token {when}");
    // unwrap: a brief ends with the own position
    assert_eq!(
        cell_of(brief.last().unwrap()),
        home,
        "Ana in her place {when}"
    );
}

pub async fn a_bound_id_stays_bound_after_an_idle_unload_and_a_restart(make: MakeSettings) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = make(dir.path());
    settings.game_idle_secs = 1;
    let app = start(settings, dir).await;
    let mut ana = Client::connect(&app, "Ana").await;
    let token = enter_binding(&mut ana).await;
    let (id, home) = (ana.id, ana.at.unwrap());
    drop(ana);
    refused(&app, id, "while the game runs").await;

    // nobody plays: the game leaves memory
    until_unloaded(&app).await;
    refused(&app, id, "after the game was unloaded").await;
    comes_back(&app, id, &token, home, "after the game was unloaded").await;

    let app = app.restart().await;
    refused(&app, id, "after a restart").await;
    comes_back(&app, id, &token, home, "after a restart").await;
    app.shutdown().await;
}
