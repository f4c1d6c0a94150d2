//! Spectators across the cluster (docs/protocol.md, "Spectators"): a spectator on an
//! instance that does not own the game is briefed by the owner (its request rides the
//! command topic, the brief the direct topic) and follows the game on its own
//! instance's stream; the owner's spectators too. Release binaries, separate processes.

use protocol::Uuid;
use serde_json::{json, Value};

use super::instances::{first_owner, Deployment};
use crate::helpers::OneClient;
use crate::scenarios::until_counts_at;

/// The food every game holds.
const FOOD: usize = 3;

#[tokio::test]
async fn a_spectator_on_the_instance_that_does_not_own_the_game_gets_the_brief_and_the_stream() {
    let deployment = Deployment::new();
    let instances = [deployment.start("one"), deployment.start("two")];
    let (owner, _) = first_owner(&[&instances[0], &instances[1]]).await;
    let (owner_address, other_address) = (
        instances[owner].address.clone(),
        instances[1 - owner].address.clone(),
    );
    let game = deployment.game;

    let mut ana = OneClient::connect_at(&owner_address, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let ana_id = ana.id.to_string();

    // on the other instance, and on the owner
    let mut far = OneClient::watch_at(&other_address, game, "").await;
    let mut near = OneClient::watch_at(&owner_address, game, "").await;
    for (who, spectator) in [("far", &mut far), ("near", &mut near)] {
        let brief = spectator.watched_brief(FOOD).await;
        assert_eq!(brief[0]["messageType"], "geometry", "{who}: {brief:?}");
        let there: Vec<&Value> = brief
            .iter()
            .filter(|f| f["messageType"] == "player" && f["playerID"] == ana_id)
            .collect();
        assert_eq!(there.len(), 1, "{who}: Ana on the board: {brief:?}");
        assert_eq!(crate::helpers::cell_of(there[0]), ana.at.unwrap(), "{who}");
    }
    // each instance counts its own spectators; the players are the owner's census
    until_counts_at(&other_address, game, (1, 1)).await;
    until_counts_at(&owner_address, game, (1, 1)).await;

    // the live stream, with the owner's numbers, on both
    let to = ana.free_neighbour();
    assert_eq!(ana.move_to(to.x, to.y).await, to);
    let seen_far = far.sees_move(ana.id, 1).await;
    let seen_near = near.sees_move(ana.id, 1).await;
    assert_eq!(crate::helpers::cell_of(&seen_far), to);
    assert!(seen_far["seq"].is_u64(), "numbered: {seen_far}");
    assert_eq!(
        seen_far["seq"], seen_near["seq"],
        "the same number on both instances"
    );

    // a command from the far spectator closes its socket; nothing reaches the owner
    far.send(json!({"messageType": "chat", "payload": {"id": "x", "name": "Eve", "text": "hi"}}))
        .await;
    let (code, _, _) = far.close_of().await;
    assert_eq!(code, 1008);
    until_counts_at(&other_address, game, (1, 0)).await;
    let back = ana.free_neighbour();
    assert_eq!(ana.move_to(back.x, back.y).await, back);
    near.sees_move(ana.id, 2).await;
    assert!(
        near.world_log.iter().all(|f| f["messageType"] != "chat"),
        "no chat line reached the game"
    );
}
