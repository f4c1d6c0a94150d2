//! A game nobody plays is forgotten once, by one instance of the cluster: every
//! instance sweeps, and the store's compare-and-set on the game's record lets one only
//! forget it (`game_core::history::forget`). Every lobby stops listing it, and its
//! history is gone on every instance.

use std::time::{Duration, Instant};

use protocol::Uuid;
use serde_json::{json, Value};

use super::instances::{Deployment, Instance};
use super::try_step;
use crate::helpers::{Client, PATIENCE};

async fn get(instance: &Instance, path: &str) -> (u16, String) {
    let url = format!("http://{}{path}", instance.address);
    let response = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn listed(instance: &Instance, game: Uuid) -> bool {
    let (status, body) = get(instance, "/api/games").await;
    assert_eq!(status, 200, "{body}");
    body.contains(&game.to_string())
}

/// This instance's count of games it forgot, from `/metrics`.
async fn forgotten(instance: &Instance) -> u64 {
    let (_, metrics) = get(instance, "/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("drapetisca_games_forgotten_total "))
        .unwrap_or_else(|| panic!("{}: no games_forgotten in /metrics", instance.name))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_game_nobody_plays_is_forgotten_by_one_instance_and_leaves_every_lobby() {
    let deployment = Deployment::new();
    let settings = [
        ("DRAPETISCA_GAME_IDLE_SECS", "1"),
        ("DRAPETISCA_FORGET_GAMES_AFTER_SECS", "3"),
    ];
    let all = [
        deployment.start_with("one", &settings),
        deployment.start_with("two", &settings),
        deployment.start_with("three", &settings),
    ];
    let url = format!("http://{}/api/games", all[0].address);
    let created: Value = reqwest::Client::new()
        .post(&url)
        .json(&json!({"name": "Soon forgotten"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let game: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    // played on the second instance, then left alone
    let mut ana = Client::connect_to_at(&all[1].address, game, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    assert!(try_step(&mut ana, PATIENCE).await.is_some(), "Ana steps");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = get(&all[2], &format!("/api/games/{game}/history")).await;
        assert_eq!(status, 200, "{body}");
        if body.lines().count() > 1 {
            break; // its history is kept, and readable from an instance that never ran it
        }
        assert!(
            Instant::now() < deadline,
            "no history of the game on three: {body:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ana.send(json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    drop(ana);

    let deadline = Instant::now() + Duration::from_secs(60);
    for instance in &all {
        while listed(instance, game).await {
            assert!(
                Instant::now() < deadline,
                "{} still lists the game:\n{}",
                instance.name,
                instance.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (status, body) = get(instance, &format!("/api/games/{game}/history")).await;
        assert_eq!(status, 404, "{}: {body}", instance.name);
    }
    // a few more sweeps of every instance: nobody forgets it a second time
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut counts = Vec::new();
    for instance in &all {
        counts.push(forgotten(instance).await);
    }
    assert_eq!(
        counts.iter().sum::<u64>(),
        1,
        "games forgotten per instance: {counts:?}"
    );
    // the default game is kept, and still played
    for instance in &all {
        assert!(
            listed(instance, deployment.game).await,
            "{} lost the default game",
            instance.name
        );
    }
    let mut bob = Client::connect_at(&all[0].address, Uuid::new_v4(), "Bob").await;
    bob.enter().await;
    assert!(try_step(&mut bob, PATIENCE).await.is_some(), "Bob steps");
}
