//! Resuming the world stream across the cluster (docs/protocol.md, "Resuming the world
//! stream"): a game's updates carry the same numbers on every instance (the owner
//! numbers them, the number rides the world topic), so a page dropped for 2 s while
//! bots move the game at about 800 updates a second comes back on *another* instance
//! with exactly what it missed; and after the owner is killed, the new owner numbers
//! on from where the old one stopped, so a page resumes across the take-over too.

use std::time::Duration;

use protocol::Uuid;
use serde_json::{json, Value};

use super::instances::{first_owner, owner_after, Deployment};
use crate::helpers::{open_at, OneClient};
use test_support::resume::{assert_same_after, last_seen, read_for, read_until_chat, seq_of, Bots};

/// Drops `pia` (no close frame), waits `away`, and opens her one socket again on the
/// server at `address`, naming the last update she saw; enters with `token`. Returns
/// the new client and the number named.
async fn drop_and_resume(
    pia: OneClient,
    away: Duration,
    address: &str,
    token: &str,
) -> (OneClient, u64) {
    let last = last_seen(&pia);
    let id = pia.id;
    drop(pia);
    tokio::time::sleep(away).await;
    let path = format!("{}?after={last}", protocol::one_route(id));
    let mut pia = OneClient::on(open_at(address, &path).await, id, "Pia");
    let brief = pia.enter_with(json!({"token": token})).await;
    assert_eq!(
        brief.len(),
        1,
        "resumed: no brief, its own position: {brief:?}"
    );
    (pia, last)
}

/// Both read up to a last chat line of Pia's; returns how many updates Pia missed.
async fn compare(olga: &mut OneClient, pia: &mut OneClient, last: u64, line: &str) -> usize {
    pia.send(json!({"messageType": "chat", "payload": {"id": line, "name": "Pia", "text": line}}))
        .await;
    read_until_chat(pia, line).await;
    read_until_chat(olga, line).await;
    assert_same_after(&olga.world_log, &pia.world_log, last)
}

/// The numbers of `log`'s updates, in order.
fn numbers(log: &[Value]) -> Vec<u64> {
    log.iter().filter_map(seq_of).collect()
}

#[tokio::test]
async fn a_page_resumes_on_another_instance_and_across_a_take_over() {
    let deployment = Deployment::new();
    let fast = [("DRAPETISCA_MOVE_LIMIT", "off")];
    let mut instances = [
        Some(deployment.start_with("one", &fast)),
        Some(deployment.start_with("two", &fast)),
    ];
    let (owner, epoch) = {
        let all: Vec<_> = instances.iter().flatten().collect();
        first_owner(&all).await
    };
    let other = 1 - owner;
    let address = |i: usize| instances[i].as_ref().unwrap().address.clone();
    let (owner_address, other_address) = (address(owner), address(other));

    // Olga, who never drops, on the instance that will survive; Pia on the owner
    let mut olga = OneClient::connect_at(&other_address, Uuid::new_v4(), "Olga").await;
    olga.enter().await;
    let mut pia = OneClient::connect_at(&owner_address, Uuid::new_v4(), "Pia").await;
    let brief = pia.enter_with(json!({"wantToken": true})).await;
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    let bots = Bots::start(
        &[owner_address.clone(), other_address.clone()],
        None,
        20,
        40,
    )
    .await;
    read_for(&mut pia, Duration::from_millis(500)).await;

    // what Pia saw on the owner, Olga saw on the other instance: same updates, same
    // numbers
    let before: Vec<&Value> = pia
        .world_log
        .iter()
        .filter(|f| seq_of(f).is_some())
        .collect();
    read_for(&mut olga, Duration::from_millis(200)).await;
    let first = seq_of(before[0]).unwrap();
    let olga_same: Vec<&Value> = olga
        .world_log
        .iter()
        .filter(|f| seq_of(f).is_some_and(|s| s >= first))
        .take(before.len())
        .collect();
    assert_eq!(
        olga_same, before,
        "the same numbered updates on both instances"
    );

    // dropped on the owner for 2 s, back on the other instance
    let (mut pia, last) =
        drop_and_resume(pia, Duration::from_secs(2), &other_address, &token).await;
    read_for(&mut pia, Duration::from_millis(300)).await;
    let missed = compare(&mut olga, &mut pia, last, "back").await;
    assert!(missed > 1_000, "Pia missed {missed} updates while away");

    // the owner dies; the other instance takes the game over and numbers on
    let before_kill = numbers(&olga.world_log).last().copied().unwrap();
    instances[owner].take().unwrap().kill();
    let all: Vec<_> = instances.iter().flatten().collect();
    owner_after(&all, epoch, Duration::from_secs(30)).await;
    read_for(&mut pia, Duration::from_millis(500)).await;
    let (mut pia, last) =
        drop_and_resume(pia, Duration::from_secs(1), &other_address, &token).await;
    read_for(&mut pia, Duration::from_millis(300)).await;
    compare(&mut olga, &mut pia, last, "after the take-over").await;
    let moves = bots.stop().await;
    assert!(moves > 2_000, "the bots moved {moves} times");

    let all = numbers(&olga.world_log);
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "the game's numbers only grow, across the take-over"
    );
    assert!(
        all.last() > Some(&before_kill),
        "the new owner's updates come after the old one's"
    );
}
