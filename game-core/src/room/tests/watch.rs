//! Spectators: a brief of the game as it stands, and nothing else of the room.

use super::*;

/// Asks the room for a spectator's brief.
async fn watch(room: &Room) -> Vec<ServerMessage> {
    let (outbox, inbox) = mpsc::channel(1);
    room.handle.watch(outbox).await.expect("the room runs");
    let mut spectator = Socket {
        player: Uuid::nil(),
        conn: 0,
        inbox,
        room: room.handle.clone(),
    };
    let brief = match spectator.next().await {
        Got::Batch(brief) => brief,
        other => panic!("a brief was due, got {other:?}"),
    };
    // one message, then the room lets go of the spectator
    assert_eq!(spectator.next().await, Got::Dropped);
    brief
}

#[tokio::test(start_paused = true)]
async fn a_spectator_is_briefed_with_every_player_and_creates_none() {
    let mut room = Setup::default().start();
    // an empty game: the board alone
    assert_eq!(watch(&room).await, board_frames());
    let (_ana, _bob) = room.ana_and_bob().await;
    let brief = watch(&room).await;
    let mut expected = board_frames();
    // the players come right after the board's size, as in a player's brief
    expected.insert(1, player_at(BOB, "Bob", BOB_AT, 0));
    expected.insert(1, player_at(ANA, "Ana", ANA_AT, 0));
    let (mut got_players, mut want_players): (Vec<_>, Vec<_>) =
        (brief[1..3].to_vec(), expected[1..3].to_vec());
    // the game keeps its players in a hash map: any order
    got_players.sort_by_key(|m| format!("{m:?}"));
    want_players.sort_by_key(|m| format!("{m:?}"));
    assert_eq!(got_players, want_players);
    assert_eq!((&brief[..1], &brief[3..]), (&expected[..1], &expected[3..]));
    // watching changed nothing: no player, no world frame
    assert_eq!(room.players(), 2);
    settle().await;
    room.assert_world_quiet();
}

#[tokio::test(start_paused = true)]
async fn a_spectator_sees_the_scoreboard() {
    let mut room = Setup::default().start();
    let (ana, _bob) = room.ana_and_bob().await;
    // Ana steps onto the food south of her
    ana.send(move_to(Cell::new(4, 5), 1, "Ana")).await;
    settle().await;
    let brief = watch(&room).await;
    let scores: Vec<&ServerMessage> = brief
        .iter()
        .filter(|m| matches!(m, ServerMessage::Score { .. }))
        .collect();
    assert_eq!(scores.len(), 1, "Ana's catch: {brief:?}");
    assert!(
        matches!(scores[0], ServerMessage::Score { player_id, payload } if *player_id == ANA && payload.score == 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_spectator_with_a_full_outbox_gets_nothing_and_the_room_goes_on() {
    let mut room = Setup::default().start();
    let (outbox, mut inbox) = mpsc::channel(1);
    outbox.try_send(Direct::Close("filler")).unwrap();
    room.handle.watch(outbox).await.expect("the room runs");
    settle().await;
    assert!(matches!(inbox.recv().await, Some(Direct::Close("filler"))));
    assert!(
        inbox.recv().await.is_none(),
        "no brief: the outbox was full"
    );
    let (_ana, _bob) = room.ana_and_bob().await;
}
