//! A game its owner unloaded when idle is played again through the cluster: the next
//! command for it must start a new host, and the owner must go on taking commands (a
//! command for the unloaded game once ended the owner's receive loop while the instance
//! kept its partitions, so nothing of them was processed any more).

use std::time::{Duration, Instant};

use protocol::Uuid;
use serde_json::json;

use super::instances::{owner_after, Deployment};
use super::{first_move_after, try_step};
use crate::helpers::{Client, PATIENCE};

/// How long the rooms and gateways of this test wait with no socket before unloading.
const IDLE_SECS: &str = "2";

/// How soon the game must move again once its player is back (a take-over: an epoch, a
/// load, the world topic's tail; well under a second on a quiet machine).
const BACK_WITHIN: Duration = Duration::from_secs(8);

#[tokio::test]
async fn a_game_its_owner_unloaded_when_idle_moves_again_when_played_through_the_cluster() {
    let deployment = Deployment::new();
    let idle = [("DRAPETISCA_GAME_IDLE_SECS", IDLE_SECS)];
    let instances = [
        deployment.start_with("one", &idle),
        deployment.start_with("two", &idle),
    ];
    let all = [&instances[0], &instances[1]];
    let mut ana = Client::connect_at(&all[0].address, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let (owner, _) = owner_after(&all, 0, PATIENCE).await;
    assert!(try_step(&mut ana, PATIENCE).await.is_some(), "Ana steps");
    ana.send(json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    drop(ana);

    // nobody plays: the owner unloads the game
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all[owner].log().contains("idle game unloaded") {
        assert!(
            Instant::now() < deadline,
            "{} never unloaded the idle game:\n{}",
            all[owner].name,
            all[owner].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Bob comes, on each instance in turn: the first command for the game starts its
    // host again, and the owner still takes commands after it
    for (round, instance) in all.iter().enumerate() {
        let since = Instant::now();
        let mut bob = Client::connect_at(&instance.address, Uuid::new_v4(), "Bob").await;
        let entered = tokio::time::timeout(BACK_WITHIN, bob.enter()).await;
        assert!(
            entered.is_ok(),
            "Bob's entering on {} unanswered {BACK_WITHIN:?} after the game was unloaded (round {round}):\n{}",
            instance.name,
            all[owner].log()
        );
        let took = first_move_after(&mut bob, since, BACK_WITHIN, "the idle unload").await;
        println!("{}: Bob moved {took:?} after coming back", instance.name);
        bob.send(json!({"messageType": "leaving", "payload": {"name": "Bob"}}))
            .await;
    }
}
