//! A room's life: laid, loaded back, unloaded when idle, stopped.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_game_loaded_back_from_its_rows_is_the_game_that_was_played() {
    let mut room = Setup::default().start();
    let (ana, _bob) = room.ana_and_bob().await;
    let step = Cell::new(3, 4);
    ana.send(move_to(step, 1, "Ana")).await;
    ana.leave("Ana").await;
    let left = room.row(ObjectKind::Player, ANA).await;
    let played = known_game().game;

    let loaded = load_game(&*room.store, BOARD, GAME).await.unwrap();
    assert!(!loaded.fresh);
    assert_eq!(loaded.game.bricks, played.bricks);
    assert_eq!(loaded.game.food, played.food);
    let ana = loaded.game.player(ANA).expect("Ana is kept");
    assert_eq!((ana.cell, ana.active), (Some(step), false));
    assert_eq!(loaded.departures.expiry(ANA), left.expires_ms);
    assert!(left.expires_ms.is_some(), "she left: her row expires");
    let bob = loaded.game.player(BOB).expect("Bob is kept");
    assert!(!bob.active, "nobody is in a game just loaded");
    assert_eq!(loaded.departures.expiry(BOB), None, "Bob is in the game");

    let other = load_game(&*room.store, BOARD, Uuid::from_u128(1))
        .await
        .unwrap();
    assert!(other.fresh, "a game the store never held is laid anew");
    assert_eq!(other.game.food.len(), 3);
    assert_eq!(other.game.player_count(), 0);
}

/// A room with nobody in it and a store that holds its writes back.
fn idle_room() -> Room {
    Setup {
        idle: IDLE,
        store_open: false,
        ..Setup::default()
    }
    .start()
}

const IDLE: Duration = Duration::from_secs(30);

#[tokio::test(start_paused = true)]
async fn an_idle_room_unloads_only_once_the_writer_wrote_its_rows_and_gives_its_place_back() {
    let mut room = idle_room();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    room.heard().await;
    ana.disconnect().await;
    room.heard().await;
    tokio::time::sleep(IDLE * 3).await;
    assert!(!room.task.is_finished(), "the room waits for its rows");
    assert_eq!(
        room.asked.load(Ordering::Relaxed),
        0,
        "and asks nobody meanwhile"
    );

    room.store.open();
    room.stopped(Duration::ZERO).await;
    assert_eq!(room.released.load(Ordering::Relaxed), 1);
    let row = room.store.row(GAME, ObjectKind::Player, ANA);
    let row = row.expect("Ana's row was written before the room let go");
    assert!(!row.active && row.expires_ms.is_some(), "{row:?}");
    let late = room.try_connect(BOB, 8).await.err();
    assert_eq!(late, Some(ConnectError::Closed), "its handle refuses");
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_comes_while_the_room_waits_for_its_rows_keeps_it_loaded() {
    let mut room = idle_room();
    tokio::time::sleep(IDLE * 2).await;
    // commands flow while the room waits for the writer
    let mut bob = room.connect(BOB).await;
    bob.enter("Bob").await;
    room.heard().await;
    room.store.open();
    tokio::time::sleep(IDLE * 3).await;
    assert!(!room.task.is_finished(), "Bob is in the game");
    assert_eq!(room.asked.load(Ordering::Relaxed), 0);
    bob.send(move_to(Cell::new(3, 4), 1, "Bob")).await;
    assert_eq!(
        room.heard().await,
        player_at(BOB, "Bob", Cell::new(3, 4), 1)
    );

    bob.disconnect().await;
    room.heard().await;
    room.stopped(IDLE).await;
    assert_eq!(room.released.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_room_whose_place_is_not_given_back_stays_loaded_and_tries_again_when_idle_again() {
    // the directory says no when it handed the room to a joiner meanwhile
    let mut room = Setup {
        idle: IDLE,
        lease_answers: vec![false],
        ..Setup::default()
    }
    .start();
    tokio::time::sleep(IDLE + IDLE / 2).await;
    assert_eq!(room.asked.load(Ordering::Relaxed), 1);
    assert!(!room.task.is_finished(), "the room stays");
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    assert_eq!(
        room.heard().await,
        player_at(ANA, "Ana", ANA_AT, 0),
        "it plays"
    );
    ana.disconnect().await;
    room.heard().await;
    room.stopped(IDLE).await;
    assert_eq!(room.asked.load(Ordering::Relaxed), 2);
    assert_eq!(room.released.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn shutting_down_stops_the_room_without_giving_its_place_back() {
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    room.shutdown.cancel();
    room.stopped(Duration::ZERO).await;
    assert_eq!(room.asked.load(Ordering::Relaxed), 0);
    let sent = room
        .handle
        .send(ANA, ana.conn, move_to(ANA_AT, 1, "Ana"))
        .await;
    assert_eq!(sent, Err(ConnectError::Closed));
    assert_eq!(
        ana.next().await,
        Got::Dropped,
        "the room let go of the socket"
    );
}
