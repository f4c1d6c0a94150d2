//! A stale owner is fenced: the owner of a game is paused (SIGSTOP) while players on
//! the other instances play on and its own player sends moves; another instance takes
//! the game over; then the old owner wakes (SIGCONT) with commands in flight to it and
//! in its sockets' buffers. Nobody may show or store what it does after that.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{Cell, Uuid};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::instances::{first_owner, owner_after, Deployment, Instance};
use super::soak;
use super::{first_move_after, lobby_count, try_step};
use crate::cassandra::support::session;
use crate::helpers::{cell_of, free_neighbour, Client, PATIENCE};

/// Steps `client` for `how_long`, each move waiting up to 1 s for its validation (a
/// move sent just as the game changes hands may go unanswered: the page moves on with
/// the next one); the game must never stand still for 10 s. The moves validated and
/// those that went unanswered.
async fn play_for(client: &mut Client, how_long: Duration, what: &str) -> (usize, usize) {
    let until = Instant::now() + how_long;
    let (mut validated, mut unanswered) = (0, 0);
    let mut last = Instant::now();
    while Instant::now() < until {
        if try_step(client, Duration::from_secs(1)).await.is_some() {
            validated += 1;
            last = Instant::now();
        } else {
            unanswered += 1;
            assert!(
                last.elapsed() < Duration::from_secs(10),
                "{} stalled {what}",
                client.name
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (validated, unanswered)
}

/// Sends a move to a free neighbour without waiting for its validation; its generation.
async fn send_step(client: &mut Client) -> i64 {
    let step = free_neighbour(client);
    client.generation += 1;
    let generation = client.generation;
    client
        .send(json!({"messageType": "player", "payload":
            {"x": step.x, "y": step.y, "h": false, "generation": generation, "name": client.name}}))
        .await;
    generation
}

/// Where a stream shows a player's generation going back: a position shown after one
/// of a later validated move (a re-entry shows the last one again, never an older one).
pub(super) fn generations_going_back(frames: &[Value]) -> Vec<String> {
    let mut newest: HashMap<&str, i64> = HashMap::new();
    let mut back = Vec::new();
    for frame in frames.iter().filter(|f| f["messageType"] == "player") {
        let (Some(id), Some(generation)) = (
            frame["playerID"].as_str(),
            frame["payload"]["generation"].as_i64(),
        ) else {
            continue;
        };
        let seen = newest.entry(id).or_insert(generation);
        if generation < *seen {
            back.push(format!(
                "{id}: generation {generation} after {seen}: {frame}"
            ));
        }
        *seen = (*seen).max(generation);
    }
    back
}

/// The cells and scores stored for `game`'s players.
pub(super) async fn stored(
    keyspace: &str,
    game: Uuid,
) -> (HashMap<Uuid, Cell>, HashMap<Uuid, i64>) {
    let session = session().await;
    let result = session
        .query_unpaged(
            format!(
                "SELECT object_id, x, y FROM {keyspace}.objects_by_game_id \
                 WHERE game_id = {game} AND kind = 'player'"
            ),
            &[],
        )
        .await
        .expect("the objects table answers");
    let rows = result.into_rows_result().expect("rows");
    let cells = rows
        .rows::<(Uuid, Option<i32>, Option<i32>)>()
        .expect("an id and a cell")
        .map(|row| row.expect("a row"))
        .filter_map(|(id, x, y)| Some((id, Cell::new(x?, y?))))
        .collect();
    let result = session
        .query_unpaged(
            format!(
                "SELECT player_id, score FROM {keyspace}.scores_by_game_id WHERE game_id = {game}"
            ),
            &[],
        )
        .await
        .expect("the scores table answers");
    let rows = result.into_rows_result().expect("rows");
    let scores = rows
        .rows::<(Uuid, Option<i32>)>()
        .expect("an id and a score")
        .map(|row| row.expect("a row"))
        .map(|(id, score)| (id, i64::from(score.unwrap_or_default())))
        .collect();
    (cells, scores)
}

/// Reads the player count of `game` in the lobbies at `addresses` in turn until `stop`.
async fn lobby_counts(addresses: Vec<String>, game: Uuid, stop: CancellationToken) -> Vec<u64> {
    let mut counts = Vec::new();
    while !stop.is_cancelled() {
        for address in &addresses {
            counts.push(lobby_count(address, game).await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    counts
}

/// The log lines of `instance` from line `from` on that say it stopped owning a game.
fn stopped_owning(instance: &Instance, from: usize) -> Vec<String> {
    instance
        .log()
        .lines()
        .skip(from)
        .filter(|l| l.contains("fenced off") || l.contains("game handed over"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_paused_owner_is_fenced_when_it_wakes() {
    let deployment = Deployment::new();
    let game = deployment.game;
    let instances: Vec<Instance> = ["one", "two", "three"]
        .iter()
        .map(|n| deployment.start(n))
        .collect();
    let all: Vec<&Instance> = instances.iter().collect();
    let (owner, epoch) = first_owner(&all).await;
    let paused = &instances[owner];
    let others: Vec<usize> = (0..3).filter(|i| *i != owner).collect();
    let survivors: Vec<&Instance> = others.iter().map(|i| &instances[*i]).collect();

    // a world stream on every instance, the owner's too
    let stop = CancellationToken::new();
    let watchers: Vec<_> = instances
        .iter()
        .map(|i| tokio::spawn(soak::watch(i.address.clone(), game, stop.clone())))
        .collect();
    // Olga plays on the owner, Ana (who measures) and four bots on the two others
    let mut olga = Client::connect_at(&paused.address, Uuid::new_v4(), "Olga").await;
    olga.enter().await;
    for _ in 0..3 {
        let step = free_neighbour(&olga);
        olga.move_to(step.x, step.y).await;
    }
    // unwrap: entered
    let olga_seen = olga.at.unwrap();
    let mut ana = Client::connect_at(&survivors[0].address, Uuid::new_v4(), "Ana").await;
    ana.enter().await;
    let live: soak::Live = Arc::new(Mutex::new(
        survivors.iter().map(|i| i.address.clone()).collect(),
    ));
    let bots = soak::spawn_bots(4, &[game], &live, &stop);
    play_for(&mut ana, Duration::from_secs(3), "before the pause").await;

    // the owner stops dead with its connections open: the broker keeps delivering
    // commands to it until it notices, and Olga's moves wait in its socket (the stop
    // takes effect when the kernel next schedules the process: on a loaded machine the
    // owner may still validate the first of them, and every stream then shows it)
    paused.signal("STOP");
    let stopped = Instant::now();
    let mut olga_sent = Vec::new();
    for _ in 0..3 {
        olga_sent.push(send_step(&mut olga).await);
    }
    let failover = first_move_after(&mut ana, stopped, Duration::from_secs(90), "the pause").await;
    let (new_owner, new_epoch) = owner_after(&survivors, epoch, PATIENCE).await;
    println!(
        "owner {} (epoch {epoch}) paused; {} took over at epoch {new_epoch}, first move validated {failover:?} after the pause",
        paused.name, survivors[new_owner].name
    );
    // long enough for the new owner to take Olga off the board: no instance claimed
    // her within 3 s of the take-over
    play_for(&mut ana, Duration::from_secs(5), "under the new owner").await;

    // every lobby of the two others, read from before the wake to the end: the woken
    // owner lets the game go with a census of 0 players, stamped with its old epoch
    let lobbies = tokio::spawn(lobby_counts(
        survivors.iter().map(|i| i.address.clone()).collect(),
        game,
        stop.clone(),
    ));
    // the old owner wakes with commands in flight to it; Olga moves on at once
    let log_at_wake = paused.log().lines().count();
    paused.signal("CONT");
    let woke = Instant::now();
    for _ in 0..3 {
        olga_sent.push(send_step(&mut olga).await);
    }
    let (moves, unanswered) =
        play_for(&mut ana, Duration::from_secs(8), "after the old owner woke").await;
    println!(
        "the paused owner slept {:?}; in the 8 s after it woke Ana made {moves} validated moves, {unanswered} unanswered",
        woke - stopped
    );
    let deadline = Instant::now() + PATIENCE;
    let stopping = loop {
        let lines = stopped_owning(paused, log_at_wake);
        if !lines.is_empty() {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} never stopped owning the game after it woke:\n{}",
            paused.name,
            paused.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("{} after waking: {stopping:#?}", paused.name);

    // a moment for the last moves to reach every instance
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    let reports = soak::bot_reports(bots, 10).await;
    let counts = lobbies.await.expect("the lobby reader does not panic");
    for instance in &instances {
        instance.print_ownership();
    }
    println!(
        "lobbies of the others after the wake: {} readings, from {:?} to {:?} players",
        counts.len(),
        counts.iter().min(),
        counts.iter().max()
    );
    assert!(
        counts.len() > 10 && !counts.contains(&0),
        "the lobbies of the instances that stayed always count the game's players: {counts:?}"
    );
    let mut streams = Vec::new();
    for watcher in watchers {
        streams.push(watcher.await.expect("a watcher does not panic"));
    }

    // every stream, the woken instance's too: the soak's invariants
    let mut entries = soak::entries_of(&reports);
    entries.insert(ana.id.to_string(), vec![0]);
    entries.insert(olga.id.to_string(), vec![0]);
    let name = |i: usize| format!("the stream of {}", instances[i].name);
    if let Err(e) = soak::check_streams(&streams, &entries, name) {
        panic!("{e}");
    }
    let olga_id = olga.id.to_string();
    // the players of the other instances whose sockets never closed
    let mut stayed: HashSet<String> = reports
        .iter()
        .filter(|r| r.reentries == 0)
        .map(|r| r.id.to_string())
        .collect();
    stayed.insert(ana.id.to_string());
    for (i, stream) in streams.iter().enumerate() {
        let name = &instances[i].name;
        println!("stream of {name}: {} frames", stream.frames.len());
        let back = generations_going_back(&stream.frames);
        assert!(back.is_empty(), "stream of {name}: {back:#?}");
        // Olga's instance was silent: the new owner took her off the board; a move of
        // hers shown after that could only come from the old owner's room
        let left = stream
            .frames
            .iter()
            .position(|f| f["messageType"] == "leaving" && f["playerID"] == olga_id.as_str());
        if i != owner {
            assert!(left.is_some(), "stream of {name}: Olga never left");
        }
        // nobody on the other instances left: the woken room, which heard nothing from
        // them while it slept, would say they did
        let gone: Vec<&Value> = stream
            .frames
            .iter()
            .filter(|f| {
                f["messageType"] == "leaving"
                    && stayed.contains(f["playerID"].as_str().unwrap_or_default())
            })
            .collect();
        assert!(
            gone.is_empty(),
            "stream of {name}: players who stayed shown leaving: {gone:?}"
        );
        if let Some(left) = left {
            let after: Vec<&Value> = stream.frames[left..]
                .iter()
                .filter(|f| f["messageType"] == "player" && f["playerID"] == olga_id.as_str())
                .collect();
            assert!(
                after.is_empty(),
                "stream of {name}: Olga shown after she left (moves sent while paused: {olga_sent:?}): {after:?}"
            );
        }
    }
    // a newcomer finds Ana (the bots left when they stopped) where the new owner last
    // validated her
    let mut dan = Client::connect_at(&survivors[0].address, Uuid::new_v4(), "Dan").await;
    let brief = dan.enter().await;
    assert_eq!(
        dan.view.players.get(&ana.id.to_string()),
        ana.at.as_ref(),
        "Dan's brief shows Ana where she was last validated"
    );
    assert_eq!(dan.view.players.get(&olga_id), None, "Olga left the board");

    // and the stored rows end with the new owner's positions and scores (the last
    // score frame a survivor's stream showed), Olga's with her last validated cell
    let mut last: HashMap<Uuid, Cell> = reports
        .iter()
        .filter_map(|r| r.at.map(|at| (r.id, at)))
        .collect();
    // unwrap: entered
    last.insert(ana.id, ana.at.unwrap());
    let survivor_stream = &streams[others[new_owner]];
    // Olga's last validated cell is the last one the streams showed: the one she saw
    // before the pause, or that of a move she sent as the owner was being stopped
    let olga_last = survivor_stream
        .frames
        .iter()
        .rfind(|f| f["messageType"] == "player" && f["playerID"] == olga_id.as_str())
        .map_or(olga_seen, cell_of);
    if olga_last != olga_seen {
        println!(
            "the paused owner validated a move Olga sent as it was being stopped: {olga_seen:?} -> {olga_last:?}"
        );
    }
    last.insert(olga.id, olga_last);
    let mut shown_scores: HashMap<Uuid, i64> = HashMap::new();
    for frame in survivor_stream
        .frames
        .iter()
        .filter(|f| f["messageType"] == "score")
    {
        if let (Some(id), Some(score)) = (
            frame["playerID"].as_str().and_then(|s| s.parse().ok()),
            frame["payload"]["score"].as_i64(),
        ) {
            shown_scores.insert(id, score);
        }
    }
    // the scoreboard in Dan's brief says the same
    for frame in brief.iter().filter(|f| f["messageType"] == "score") {
        let id: Uuid = frame["playerID"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a score frame names its player");
        assert_eq!(
            Some(frame["payload"]["score"].as_i64().expect("a count")),
            shown_scores.get(&id).copied(),
            "Dan's scoreboard for {id} and the last score the streams showed"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (cells, scores) = stored(&deployment.keyspace, game).await;
        let who = |id: &Uuid| match *id {
            id if id == ana.id => "Ana",
            id if id == olga.id => "Olga",
            _ => "a bot",
        };
        let wrong_cells: Vec<_> = last
            .iter()
            .filter(|(id, at)| cells.get(id) != Some(at))
            .map(|(id, at)| (who(id), id, at, cells.get(id)))
            .collect();
        let wrong_scores: Vec<_> = shown_scores
            .iter()
            .filter(|(id, score)| scores.get(id) != Some(score))
            .map(|(id, score)| (id, score, scores.get(id)))
            .collect();
        if wrong_cells.is_empty() && wrong_scores.is_empty() {
            println!(
                "stored rows match: {} players, {} scores",
                last.len(),
                shown_scores.len()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored rows (who, player, validated, stored): cells {wrong_cells:?}, scores {wrong_scores:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
