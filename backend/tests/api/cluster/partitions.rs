//! Network partitions: three instances, each in a network namespace of its own
//! ([`test_support::netns`]), whose packets to Pulsar or Cassandra the test drops on the
//! veth while its players (the test's WebSockets, over the same veth) still reach it.
//! Then the cut heals.
//!
//! - `an_owner_cut_off_from_the_broker_...`: the game's owner loses the broker (not
//!   Cassandra, not its players); the broker notices through its keep-alive and hands
//!   the partition on; another instance takes the game over.
//! - `an_owner_cut_off_from_cassandra_only_...`: the owner loses Cassandra only; it
//!   keeps the game and its writes wait.
//! - `a_partition_healed_after_the_game_moved_...`: the owner loses both services for
//!   long enough that the game moved on elsewhere; then it comes back with its old
//!   view of the game and moves of its player waiting in its sockets.
//!
//! Each asserts on every world stream (the cut-off instance's too) what the soak does
//! (never two players on one cell, nothing shown twice, one order) and that no
//! player's generation goes back; that no move any stream showed is lost (the stored
//! rows end with the last position every stream showed, and a newcomer's brief shows
//! it); and that the game stands still no longer than [`STALL_BOUND`] (the measured
//! stall is printed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{Cell, Uuid};
use serde_json::Value;
use test_support::binaries::forwarder;
use test_support::netns::{Netns, CASSANDRA, PULSAR};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fencing::{generations_going_back, stored};
use super::instances::{first_owner, owner_after, Deployment, Instance};
use super::{soak, try_step};
use crate::helpers::{cell_of, Client};

/// The longest the game may stand still (no move of a player on an instance that was
/// not cut off validated). The broker closes a connection that did not answer its
/// keep-alive ping within `keepAliveIntervalSeconds` (5 s in
/// services/pulsar/standalone.conf), so a cut-off owner loses its partitions 5-10 s
/// after the cut; the take-over that follows takes well under a second on a quiet
/// machine. Three times that keep-alive bound leaves room for a loaded 2-core machine
/// (the measured stall is printed and kept in docs/cluster.md).
const STALL_BOUND: Duration = Duration::from_secs(30);

/// How long after the heal an instance that was cut off must serve its players again
/// (its Pulsar client reconnects with a backoff of up to 1 s; a connection whose
/// packets were dropped for long may first have to time out).
const BACK_BOUND: Duration = Duration::from_secs(30);

/// When the cut heals.
#[derive(Clone, Copy, Debug)]
enum Heal {
    /// This long after the cut.
    After(Duration),
    /// This long after another instance took the game over (the game must move away).
    AfterTakeOver(Duration),
}

/// Moves `client` until `stop`, each move waiting up to 1 s for its validation (as a
/// page moves on with the next key press); the client and when each move was
/// validated.
async fn keep_moving(mut client: Client, stop: CancellationToken) -> (Client, Vec<Instant>) {
    let mut validated = Vec::new();
    while !stop.is_cancelled() {
        if try_step(&mut client, Duration::from_secs(1))
            .await
            .is_some()
        {
            validated.push(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (client, validated)
}

/// Olga's page on the instance that is cut off: moves as [`keep_moving`] does, and when
/// the server closes her player socket (after a heal: the game let her go while her
/// instance was cut off, `game_core::room::LEFT_BEHIND`, 1013) she comes back as the
/// page does: after its first backoff, on new sockets, entering again. Returns the
/// client, when each move was validated, the closes, and the generation each
/// re-entry showed her at.
async fn keep_playing(
    mut client: Client,
    address: String,
    stop: CancellationToken,
) -> (Client, Vec<Instant>, Vec<(u16, String)>, Vec<i64>) {
    let mut validated = Vec::new();
    let mut closes = Vec::new();
    let mut entries = Vec::new();
    while !stop.is_cancelled() {
        if let Some(close) = closed(&mut client.player).await {
            closes.push(close);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut again = Client::connect_at(&address, client.id, &client.name).await;
            again.generation = client.generation;
            let Ok(brief) = tokio::time::timeout(BACK_BOUND, again.enter()).await else {
                panic!(
                    "{} could not enter again within {BACK_BOUND:?}",
                    client.name
                );
            };
            let at = brief
                .last()
                .and_then(|f| f["payload"]["generation"].as_i64());
            entries.extend(at);
            client = again;
            continue;
        }
        if try_step(&mut client, Duration::from_secs(1))
            .await
            .is_some()
        {
            validated.push(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (client, validated, closes, entries)
}

/// The code and reason of a close the server sent on `ws`, if any came (direct frames
/// before it are skipped: the moves are checked on the world socket).
async fn closed(ws: &mut test_support::app::Ws) -> Option<(u16, String)> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::ZERO, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Some(frame.map_or((1005, String::new()), |f| {
                    (f.code.into(), f.reason.to_string())
                }))
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Some((1006, e.to_string())),
            Ok(None) => return Some((1006, "ended".into())),
        }
    }
}

/// The longest time between `from` and `to` with no move validated.
fn longest_stall(validated: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut times: Vec<Instant> = validated
        .iter()
        .copied()
        .filter(|t| *t > from && *t < to)
        .collect();
    times.insert(0, from);
    times.push(to);
    times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// For every player a stream showed, the cell of the newest generation it showed; a
/// disagreement between streams on that cell is an error.
fn last_shown(streams: &[soak::Watched]) -> Result<HashMap<String, (i64, Cell)>, String> {
    let mut last: HashMap<String, (i64, Cell)> = HashMap::new();
    for stream in streams {
        let mut here: HashMap<String, (i64, Cell)> = HashMap::new();
        for frame in stream.frames.iter().filter(|f| is_position(f)) {
            let id = frame["playerID"].as_str().unwrap_or_default().to_string();
            let generation = frame["payload"]["generation"].as_i64().unwrap_or(-1);
            let seen = here.entry(id).or_insert((generation, cell_of(frame)));
            if generation >= seen.0 {
                *seen = (generation, cell_of(frame));
            }
        }
        for (id, (generation, cell)) in here {
            match last.get(&id) {
                Some((g, c)) if *g == generation && *c != cell => {
                    return Err(format!(
                        "{id}: generation {generation} shown at {c:?} and at {cell:?}"
                    ))
                }
                Some((g, _)) if *g >= generation => {}
                _ => {
                    last.insert(id, (generation, cell));
                }
            }
        }
    }
    Ok(last)
}

fn is_position(frame: &Value) -> bool {
    frame["messageType"] == "player" && frame["payload"]["x"].is_i64()
}

/// Three instances, each in a namespace of its own that reaches Pulsar and Cassandra.
fn three_in_namespaces(deployment: &Deployment) -> (Vec<Netns>, Vec<Instance>) {
    let spaces: Vec<Netns> = (0..3)
        .map(|_| {
            Netns::new(&[PULSAR, CASSANDRA], forwarder())
                .unwrap_or_else(|e| panic!("the partition tests need network namespaces: {e}"))
        })
        .collect();
    let instances = ["one", "two", "three"]
        .iter()
        .zip(&spaces)
        .map(|(name, netns)| deployment.start_in(name, netns))
        .collect();
    (spaces, instances)
}

/// The scenario: the game's owner is cut off from `ports` while Ana (on another
/// instance), four bots (on the two others) and Olga (on the owner) play; the cut heals
/// at `heal`; everyone plays on for a while; then the checks of the module doc.
async fn partition(ports: &[u16], heal: Heal) {
    let deployment = Deployment::new();
    let game = deployment.game;
    let (spaces, instances) = three_in_namespaces(&deployment);
    let all: Vec<&Instance> = instances.iter().collect();
    let (owner, epoch) = first_owner(&all).await;
    let victim = &instances[owner];
    let others: Vec<usize> = (0..3).filter(|i| *i != owner).collect();
    let survivors: Vec<&Instance> = others.iter().map(|i| &instances[*i]).collect();
    println!(
        "{} owns the game at epoch {epoch}; cutting it off from {ports:?}",
        victim.name
    );

    // a world stream on every instance; watchers stop after the players, so that
    // every stream has every move
    let watching = CancellationToken::new();
    let watchers: Vec<JoinHandle<soak::Watched>> = instances
        .iter()
        .map(|i| tokio::spawn(soak::watch(i.address.clone(), game, watching.clone())))
        .collect();
    let playing = CancellationToken::new();
    let mut ana = Client::connect_at(&survivors[0].address, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let mut olga = Client::connect_at(&victim.address, Uuid::new_v4(), "Olga").await;
    olga.enter().await;
    let ana = tokio::spawn(keep_moving(ana, playing.clone()));
    let olga = tokio::spawn(keep_playing(olga, victim.address.clone(), playing.clone()));
    let live: soak::Live = Arc::new(Mutex::new(
        survivors.iter().map(|i| i.address.clone()).collect(),
    ));
    let bots = soak::spawn_bots(4, &[game], &live, &playing);
    tokio::time::sleep(Duration::from_secs(3)).await;

    for port in ports {
        spaces[owner].cut(*port);
    }
    let cut = Instant::now();
    match heal {
        Heal::After(wait) => tokio::time::sleep(wait).await,
        Heal::AfterTakeOver(wait) => {
            let (new_owner, new_epoch) = owner_after(&survivors, epoch, STALL_BOUND).await;
            println!(
                "{} took the game over at epoch {new_epoch}, {:?} after the cut",
                survivors[new_owner].name,
                cut.elapsed()
            );
            tokio::time::sleep(wait).await;
        }
    }
    for port in ports {
        spaces[owner].heal(*port);
    }
    let healed = Instant::now();
    println!("healed {:?} after the cut", healed - cut);

    // the instance that was cut off serves players again: a newcomer there enters and
    // moves (checked after the others' stall is printed)
    let mut nell = Client::connect_at(&victim.address, Uuid::new_v4(), "Nell").await;
    let back = match tokio::time::timeout(BACK_BOUND, nell.enter()).await {
        Err(_) => Err("no brief"),
        Ok(_) => {
            let moved =
                async { while try_step(&mut nell, Duration::from_secs(1)).await.is_none() {} };
            match tokio::time::timeout(BACK_BOUND, moved).await {
                Err(_) => Err("a brief, then no move validated"),
                Ok(()) => Ok(healed.elapsed()),
            }
        }
    };
    println!("a newcomer on {} after the heal: {back:?}", victim.name);
    tokio::time::sleep(Duration::from_secs(5)).await;
    playing.cancel();
    let end = Instant::now();
    let (ana, ana_moves) = ana.await.expect("Ana does not panic");
    let (olga, olga_moves, olga_closes, olga_entries) = olga.await.expect("Olga does not panic");
    let reports = soak::bot_reports(bots, 10).await;
    let stall = longest_stall(&ana_moves, cut, end);
    let olga_stall = longest_stall(&olga_moves, cut, end);
    println!(
        "the game's longest stall from the cut on (Ana, on {}): {stall:?}; Olga's (on the cut-off {}): {olga_stall:?}, {} of her moves validated after the heal",
        survivors[0].name,
        victim.name,
        olga_moves.iter().filter(|t| **t > healed).count()
    );
    println!("Olga's sockets closed by the server: {olga_closes:?}");
    // her page was told to enter again (or never lost the game) and plays again
    assert!(
        olga_moves.iter().any(|t| *t > healed),
        "none of Olga's moves on {} was validated after the heal (closes: {olga_closes:?})",
        victim.name
    );
    assert!(
        stall < STALL_BOUND,
        "the game stood still for {stall:?} (bound {STALL_BOUND:?})"
    );
    // a moment for the last moves to reach every stream
    tokio::time::sleep(Duration::from_secs(2)).await;
    watching.cancel();
    let mut streams = Vec::new();
    for watcher in watchers {
        streams.push(watcher.await.expect("a watcher does not panic"));
    }
    for instance in &instances {
        instance.print_ownership();
    }

    // every stream, the cut-off instance's too: the soak's invariants, and no
    // generation going back
    let mut entries = soak::entries_of(&reports);
    for player in [&ana, &olga, &nell] {
        entries.insert(player.id.to_string(), vec![0]);
    }
    entries
        .entry(olga.id.to_string())
        .or_default()
        .extend(olga_entries.iter().copied());
    let name = |i: usize| format!("the stream of {}", instances[i].name);
    if let Err(e) = soak::check_streams(&streams, &entries, name) {
        panic!("{e}");
    }
    for (i, stream) in streams.iter().enumerate() {
        println!(
            "stream of {}: {} frames",
            instances[i].name,
            stream.frames.len()
        );
        let back = generations_going_back(&stream.frames);
        assert!(back.is_empty(), "{}: {back:#?}", name(i));
    }

    // nothing shown is lost: a newcomer finds Ana where every stream last showed her,
    // and the stored rows end with every player's last shown position
    let last = last_shown(&streams).unwrap_or_else(|e| panic!("{e}"));
    let mut dan = Client::connect_at(&survivors[1].address, Uuid::new_v4(), "Dan").await;
    dan.enter().await;
    let ana_id = ana.id.to_string();
    assert_eq!(
        dan.view.players.get(&ana_id),
        last.get(&ana_id).map(|(_, cell)| cell),
        "Dan's brief shows Ana where the streams last showed her"
    );
    assert_eq!(
        ana.at,
        last.get(&ana_id).map(|(_, cell)| *cell),
        "Ana's own page agrees"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (cells, _) = stored(&deployment.keyspace, game).await;
        let wrong: Vec<_> = last
            .iter()
            .filter(|(id, (_, cell))| {
                let id: Uuid = id.parse().expect("a player id");
                cells.get(&id) != Some(cell)
            })
            .map(|(id, (generation, cell))| {
                let stored = cells.get(&id.parse::<Uuid>().unwrap());
                format!("{id}: generation {generation} shown at {cell:?}, stored {stored:?}")
            })
            .collect();
        if wrong.is_empty() {
            println!("stored rows match the streams: {} players", last.len());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stored rows lost what the streams showed: {wrong:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop((olga, nell, dan));
    // last, so that every check above has run: the instance that was cut off serves
    // its players again
    if let Err(what) = back {
        let log = victim.log();
        let tail: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("response has been canceled") && !l.contains("scylla"))
            .collect();
        panic!(
            "{} serves no player within {BACK_BOUND:?} of the heal: {what}; its log:\n{}",
            victim.name,
            tail[tail.len().saturating_sub(60)..].join("\n")
        );
    }
}

#[tokio::test]
async fn an_owner_cut_off_from_the_broker_hands_the_game_on_within_the_keep_alive_bound() {
    partition(&[PULSAR], Heal::AfterTakeOver(Duration::from_secs(3))).await;
}

#[tokio::test]
async fn an_owner_cut_off_from_cassandra_only_keeps_the_game_moving() {
    partition(&[CASSANDRA], Heal::After(Duration::from_secs(20))).await;
}

#[tokio::test]
async fn a_partition_healed_after_the_game_moved_does_not_bring_the_old_view_back() {
    partition(
        &[PULSAR, CASSANDRA],
        Heal::AfterTakeOver(Duration::from_secs(10)),
    )
    .await;
}
