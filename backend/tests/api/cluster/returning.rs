//! Coming back across instances: the resume-token rules hold whichever instance a
//! socket is on and after the owner is killed, and a departed player keeps what is left
//! of its expiry when another instance takes the game over.

use std::time::{Duration, Instant};

use protocol::{Cell, Uuid};
use serde_json::{json, Value};
use sha2::Digest;

use super::instances::{first_owner, owner_after, Deployment, Instance};
use crate::cassandra::support::{session, token_row};
use crate::helpers::{cell_of, close_of, Client, PATIENCE};
use crate::hostile;

/// Sends `entering` with `extra` fields and reads the brief up to the own position.
async fn enter_with(client: &mut Client, extra: Value) -> Vec<Value> {
    hostile::enter_with(client, extra).await;
    let brief = hostile::brief_of(client).await;
    // unwrap: a brief ends with the own position
    client.at = Some(cell_of(brief.last().unwrap()));
    brief
}

/// A socket under `id` on `instance` that enters without a token is closed, as the
/// owner's room says, with 1008.
async fn refused_without_token(instance: &Instance, id: Uuid) {
    let mut thief = Client::connect_at(&instance.address, id, "Thief").await;
    let when = format!("on {}", instance.name);
    crate::scenarios::stranger_refused(&mut thief, &when).await;
}

#[tokio::test]
async fn a_token_bound_on_one_instance_is_needed_on_the_others_also_after_it_is_killed() {
    let deployment = Deployment::new();
    let mut instances: Vec<Option<Instance>> = ["one", "two", "three"]
        .iter()
        .map(|n| Some(deployment.start(n)))
        .collect();
    let all: Vec<&Instance> = instances.iter().flatten().collect();
    // the token rules are played on the two instances that do not own the game, so
    // that a kill here is no take-over (the test below kills the owner)
    let (owner, _) = first_owner(&all).await;
    let others: Vec<usize> = (0..3).filter(|i| *i != owner).collect();
    let (a, b) = (others[0], others[1]);
    let (on_a, on_b) = (all[a], all[b]);
    // an observer on the owner, which stays
    let mut watcher = Client::connect_at(&all[owner].address, Uuid::new_v4(), "Dan").await;
    watcher.enter().await;

    let mut ana = Client::connect_at(&on_a.address, Uuid::new_v4(), "Ana").await;
    let brief = enter_with(&mut ana, json!({"wantToken": true})).await;
    assert_eq!(brief[0]["messageType"], "token", "the token comes first");
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    let home: Cell = ana.at.unwrap();

    // without the token, not on another instance
    refused_without_token(on_b, ana.id).await;
    // with it, Ana's new socket on B takes the place of the one on A at once
    let mut moved = Client::connect_at(&on_b.address, ana.id, "Ana").await;
    let brief = enter_with(&mut moved, json!({"token": token})).await;
    assert_eq!(brief[0]["messageType"], "geometry", "no new token");
    assert_eq!(moved.at, Some(home), "Ana in her place");
    let (code, reason) = close_of(&mut ana.player).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "replaced by a newer connection"),
        "Ana's socket on {}",
        on_a.name
    );
    // and back on A the same way
    let mut again = Client::connect_at(&on_a.address, ana.id, "Ana").await;
    enter_with(&mut again, json!({"token": token})).await;
    assert_eq!(again.at, Some(home));
    drop(moved);

    // A dies with Ana's socket: she leaves the game, her id stays hers
    let ana_id = ana.id.to_string();
    let (a_name, b_address) = (on_a.name.clone(), on_b.address.clone());
    instances[a].take().unwrap().kill();
    watcher
        .world_until_within(Duration::from_secs(30), "Ana leaving", |f| {
            f["messageType"] == "leaving" && f["playerID"] == ana_id.as_str()
        })
        .await;
    let on_b = instances[b].as_ref().unwrap();
    refused_without_token(on_b, ana.id).await;
    let mut back = Client::connect_at(&b_address, ana.id, "Ana").await;
    let brief = enter_with(&mut back, json!({"token": token})).await;
    assert_eq!(brief[0]["messageType"], "geometry", "no new token");
    assert_eq!(
        back.at,
        Some(home),
        "Ana comes back where she was after {a_name} was killed"
    );
}

/// The TTL left on `player`'s row of `game` and the row's write time, as a CQL client
/// reads them (`None` while the row does not exist).
async fn ttl_of(keyspace: &str, game: Uuid, player: Uuid) -> Option<(Option<i32>, i64)> {
    let session = session().await;
    let result = session
        .query_unpaged(
            format!(
                "SELECT TTL(active), WRITETIME(active) FROM {keyspace}.objects_by_game_id \
                 WHERE game_id = {game} AND kind = 'player' AND object_id = {player}"
            ),
            &[],
        )
        .await
        .expect("the table answers a plain query");
    let rows = result.into_rows_result().expect("rows");
    let mut rows = rows
        .rows::<(Option<i32>, Option<i64>)>()
        .expect("a TTL and a write time");
    rows.next()
        .map(|row| row.expect("a row"))
        .map(|(ttl, written)| (ttl, written.unwrap_or_default()))
}

#[tokio::test]
async fn a_take_over_keeps_what_is_left_of_a_departed_player_s_expiry() {
    let deployment = Deployment::new();
    let prune = [("DRAPETISCA_PRUNE_PLAYERS_AFTER_SECS", "3600")];
    let mut instances: Vec<Option<Instance>> = ["one", "two"]
        .iter()
        .map(|n| Some(deployment.start_with(n, &prune)))
        .collect();
    let all: Vec<&Instance> = instances.iter().flatten().collect();
    let mut ana = Client::connect_at(&all[0].address, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let (owner, epoch) = owner_after(&all, 0, PATIENCE).await;
    let survivor = 1 - owner;
    // Bob stays on the instance that survives: his socket makes it take the game over
    let mut bob = Client::connect_at(&all[survivor].address, Uuid::new_v4(), "Bob").await;
    bob.enter().await;

    // Ana leaves: her row is written with the prune time as its TTL
    ana.send(json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    let ana_id = ana.id;
    drop(ana);
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id.to_string()
    })
    .await;
    let deadline = Instant::now() + PATIENCE;
    let (left, written) = loop {
        if let Some((Some(ttl), written)) =
            ttl_of(&deployment.keyspace, deployment.game, ana_id).await
        {
            break (ttl, written);
        }
        assert!(Instant::now() < deadline, "Ana's row never got its TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(left > 3000 && left <= 3600, "the prune time: {left} s");

    // the owner dies; the survivor takes over and writes every row again
    instances[owner].take().unwrap().kill();
    let survivors: Vec<&Instance> = instances.iter().flatten().collect();
    owner_after(&survivors, epoch, Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let ttl = loop {
        let (ttl, rewritten) = ttl_of(&deployment.keyspace, deployment.game, ana_id)
            .await
            .expect("Ana's row is kept");
        if rewritten > written {
            break ttl;
        }
        assert!(
            Instant::now() < deadline,
            "the new owner never wrote Ana's row again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ttl = ttl.expect("Ana's row keeps a TTL after the take-over");
    assert!(
        ttl <= left && ttl > left - 120,
        "what was left of it ({left} s then), not a new prune time: {ttl} s"
    );
}

#[tokio::test]
async fn an_id_bound_at_the_owner_stays_bound_after_the_owner_is_killed() {
    let deployment = Deployment::new();
    let mut instances: Vec<Option<Instance>> = ["one", "two"]
        .iter()
        .map(|n| Some(deployment.start(n)))
        .collect();
    let all: Vec<&Instance> = instances.iter().flatten().collect();
    let (owner, epoch) = first_owner(&all).await;
    let survivor = 1 - owner;
    // Bob stays on the instance that survives: his socket makes it take the game over
    let mut bob = Client::connect_at(&all[survivor].address, Uuid::new_v4(), "Bob").await;
    bob.enter().await;

    // Ana binds her id on the owner, and leaves
    let mut ana = Client::connect_at(&all[owner].address, Uuid::new_v4(), "Ana").await;
    let brief = enter_with(&mut ana, json!({"wantToken": true})).await;
    assert_eq!(brief[0]["messageType"], "token", "the token comes first");
    let token = brief[0]["payload"]["token"].as_str().unwrap().to_string();
    let (ana_id, home) = (ana.id, ana.at.unwrap());
    drop(ana);
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id.to_string()
    })
    .await;
    // her departure is written (what the owner writes behind the game's back)
    let deadline = Instant::now() + PATIENCE;
    while !matches!(
        ttl_of(&deployment.keyspace, deployment.game, ana_id).await,
        Some((Some(_), _))
    ) {
        assert!(
            Instant::now() < deadline,
            "Ana's departure was never written"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // the owner dies; the survivor takes the game over from the store
    instances[owner].take().unwrap().kill();
    let survivors: Vec<&Instance> = instances.iter().flatten().collect();
    owner_after(&survivors, epoch, Duration::from_secs(30)).await;
    refused_without_token(survivors[0], ana_id).await;
    let mut back = Client::connect_at(&survivors[0].address, ana_id, "Ana").await;
    let brief = enter_with(&mut back, json!({"token": token})).await;
    assert_eq!(brief[0]["messageType"], "geometry", "no new token");
    assert_eq!(back.at, Some(home), "Ana comes back where she was");

    // what let the new owner know: the token's SHA-256, never the token
    let (stored, _) = token_row(&deployment.keyspace, deployment.game, ana_id)
        .await
        .expect("Ana's token row");
    assert_eq!(stored, sha2::Sha256::digest(&token).as_slice());
}
