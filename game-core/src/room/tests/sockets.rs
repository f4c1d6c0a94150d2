//! Sockets: one per player id, resume tokens, and dropping a socket that cannot keep up.

use super::*;

const NEEDS_TOKEN: Got = Got::Close("this player id needs its token");
const REPLACED: Got = Got::Close("replaced by a newer connection");

#[tokio::test(start_paused = true)]
async fn a_second_socket_for_a_connected_id_without_a_token_is_refused() {
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    room.heard().await;
    let second = room.try_connect(ANA, 8).await.err();
    assert_eq!(second, Some(ConnectError::AlreadyConnected));
    assert_eq!(room.refused("taken"), 1);
    ana.send(move_to(Cell::new(3, 4), 1, "Ana")).await;
    assert_eq!(
        room.heard().await,
        player_at(ANA, "Ana", Cell::new(3, 4), 1),
        "Ana plays on"
    );

    // a socket that died (its outbox closed) holds its id no more
    drop(ana);
    let mut back = room.connect(ANA).await;
    let brief = back.enter("Ana").await;
    assert_eq!(
        brief.last(),
        Some(&player_at(ANA, "Ana", Cell::new(3, 4), 1))
    );
}

/// Cara, new to the game, entered asking for a token.
async fn cara_with_a_token(room: &mut Room) -> (Socket, String, Cell) {
    let mut cara = room.connect(CARA).await;
    let want = Entering {
        name: "Cara".into(),
        want_token: true,
        token: None,
    };
    let brief = cara.enter_with(want).await;
    let Some(ServerMessage::Token { payload }) = brief.first() else {
        panic!("the token comes first: {brief:?}");
    };
    assert_eq!(
        brief[1..brief.len() - 1],
        board_frames()[..],
        "then the board"
    );
    let at = brief_cell(&brief);
    assert_eq!(room.heard().await, player_at(CARA, "Cara", at, 0));
    (cara, payload.token.clone(), at)
}

/// Cara says `text`; the world hears it.
async fn cara_says(room: &mut Room, cara: &Socket, text: &str) {
    cara.send(ClientMessage::Chat {
        payload: chat_line("1", "Cara", text),
    })
    .await;
    let heard = ServerMessage::Chat {
        player_id: ChatFrom::Player(CARA),
        payload: chat_line("1", "Cara", text),
    };
    assert_eq!(room.heard().await, heard);
}

/// Cara holds a token; a second socket opens for her id and sends what `trial` makes of
/// her token: it replaces the first only when that is an `entering` with the token;
/// else it is closed with the reason and the first plays on.
async fn check_trial(trial: impl FnOnce(&str) -> ClientMessage, replaces: bool) {
    let mut room = Setup::default().start();
    let (mut first, token, at) = cara_with_a_token(&mut room).await;
    let mut second = room.connect(CARA).await;
    let message = trial(&token);
    second.send(message.clone()).await;
    if replaces {
        assert_eq!(first.next().await, REPLACED);
        let brief = match second.next().await {
            Got::Batch(brief) => brief,
            other => panic!("a brief was due, got {other:?}"),
        };
        assert_eq!(brief[0], board_frames()[0], "no new token");
        assert_eq!(brief.last(), Some(&player_at(CARA, "Cara", at, 0)));
        assert_eq!(room.heard().await, player_at(CARA, "Cara", at, 0));
        // the old socket's late close changes nothing: Cara stays in the game
        first.disconnect().await;
        cara_says(&mut room, &second, "still here").await;
        assert_eq!(room.refused("token"), 0);
    } else {
        assert_eq!(second.next().await, NEEDS_TOKEN, "after {message:?}");
        assert_eq!(room.refused("token"), 1);
        cara_says(&mut room, &first, "still here").await;
        settle().await;
        first.assert_quiet();
    }
    assert_eq!(room.players(), 1);
    settle().await;
    room.assert_world_quiet();
}

#[tokio::test(start_paused = true)]
async fn a_second_socket_for_a_token_holder_replaces_the_first_only_with_the_token() {
    let entering = |token: Option<&str>| ClientMessage::Entering {
        payload: Entering {
            name: "Cara".into(),
            want_token: false,
            token: token.map(String::from),
        },
    };
    check_trial(|token| entering(Some(token)), true).await;
    check_trial(|_| entering(None), false).await;
    check_trial(|_| entering(Some(&"0".repeat(32))), false).await;
    check_trial(|_| move_to(Cell::new(3, 4), 1, "Cara"), false).await;
    let say = |_: &str| ClientMessage::Chat {
        payload: chat_line("1", "Cara", "it is me"),
    };
    check_trial(say, false).await;
}

#[tokio::test(start_paused = true)]
async fn a_token_holder_whose_socket_died_enters_again_only_with_its_token() {
    let mut room = Setup::default().start();
    let (cara, token, at) = cara_with_a_token(&mut room).await;
    drop(cara);

    // a socket without the token is closed, and the player its dead socket left in the
    // game leaves
    let mut stranger = room.connect(CARA).await;
    stranger
        .send(ClientMessage::Entering {
            payload: Entering::named("Cara"),
        })
        .await;
    assert_eq!(stranger.next().await, NEEDS_TOKEN);
    assert_eq!(room.heard().await, leaving(CARA, "Cara"));
    assert_eq!((room.players(), room.refused("token")), (0, 1));

    let mut back = room.connect(CARA).await;
    let with_token = Entering {
        name: "Cara".into(),
        want_token: false,
        token: Some(token),
    };
    let brief = back.enter_with(with_token).await;
    assert_eq!(
        brief.last(),
        Some(&player_at(CARA, "Cara", at, 0)),
        "back at her place"
    );
    assert_eq!(room.heard().await, player_at(CARA, "Cara", at, 0));
    assert_eq!(room.players(), 1);
    // her socket showed its token: it plays on (it was closed on its next frame)
    cara_says(&mut room, &back, "still here").await;
}

#[tokio::test(start_paused = true)]
async fn an_id_first_entered_without_a_token_is_never_bound_later() {
    let room = Setup::default().start();
    let mut cara = room.connect(CARA).await;
    cara.enter("Cara").await;
    cara.leave("Cara").await;
    let want = Entering {
        name: "Cara".into(),
        want_token: true,
        token: None,
    };
    let brief = cara.enter_with(want).await;
    assert_eq!(brief[0], board_frames()[0], "no token for a known id");
    // and so a second socket for it is refused, not put on trial
    let second = room.try_connect(CARA, 8).await.err();
    assert_eq!(second, Some(ConnectError::AlreadyConnected));
}

#[tokio::test(start_paused = true)]
async fn a_socket_whose_outbox_is_full_is_dropped_and_its_player_leaves() {
    let mut room = Setup::default().start();
    let bob = room.connect(BOB).await;
    bob.send(ClientMessage::Entering {
        payload: Entering::named("Bob"),
    })
    .await;
    room.heard().await;
    // Ana's socket reads nothing: her brief fills its one slot
    let mut ana = room.try_connect(ANA, 1).await.unwrap();
    ana.send(ClientMessage::Entering {
        payload: Entering::named("Ana"),
    })
    .await;
    assert_eq!(room.heard().await, player_at(ANA, "Ana", ANA_AT, 0));
    ana.send(ClientMessage::Chat {
        payload: chat_line("1", "Ana", " "),
    })
    .await;
    assert_eq!(room.heard().await, leaving(ANA, "Ana"));
    assert_eq!(room.figure("drapetisca_socket_queue_drops_total"), 1);
    assert_eq!(room.players(), 1, "Bob plays on");
    assert!(matches!(ana.next().await, Got::Batch(_)), "the brief");
    assert_eq!(ana.next().await, Got::Dropped);
    let row = room.row(ObjectKind::Player, ANA).await;
    assert!(!row.active && row.expires_ms.is_some(), "{row:?}");

    // what the dropped socket still sends is stale
    ana.send(move_to(Cell::new(3, 4), 1, "Ana")).await;
    settle().await;
    room.assert_world_quiet();
}

/// Whether `m` is a position frame of `player` (accepted or refused: either way the
/// room played the move).
fn moved(m: &ServerMessage, player: Uuid) -> bool {
    matches!(m, ServerMessage::Player { player_id, .. } if *player_id == player)
}

/// After a cluster's take-over the new owner attaches the sockets of the other
/// instances again. One whose player is still on the board plays on; one whose player
/// was let go meanwhile (its instance was cut off) is closed on its next move, to enter
/// again, where a socket that never entered is told to enter.
#[tokio::test(start_paused = true)]
async fn a_reattached_socket_whose_player_left_is_closed_to_enter_again() {
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    room.heard().await;
    ana.disconnect().await;
    assert_eq!(room.heard().await, leaving(ANA, "Ana"));
    // Bob's socket attached again after a take-over: he is on the board, he plays on
    let mut bob = room.connect(BOB).await;
    bob.enter("Bob").await;
    room.heard().await;
    drop(bob);
    let bob_again = room.reattach(BOB).await;
    bob_again.send(move_to(Cell::new(3, 4), 1, "Bob")).await;
    let heard = room.heard().await;
    assert!(moved(&heard, BOB), "Bob plays on: {heard:?}");

    // Ana left the board (above); her old socket attached again: its move closes it
    let mut stale = room.reattach(ANA).await;
    stale.send(move_to(Cell::new(5, 5), 2, "Ana")).await;
    assert_eq!(stale.next().await, Got::Close(super::super::LEFT_BEHIND));
    assert!(super::super::try_again_later(super::super::LEFT_BEHIND));

    // a new socket of hers enters as usual and plays
    let mut back = room.connect(ANA).await;
    back.enter("Ana").await;
    room.heard().await;
    back.send(move_to(Cell::new(6, 6), 3, "Ana")).await;
    let heard = room.heard().await;
    assert!(moved(&heard, ANA), "Ana plays again: {heard:?}");

    // a reattached socket that enters here is an entered socket like any other
    let mut cara = room.reattach(CARA).await;
    cara.enter("Cara").await;
    room.heard().await;
    cara.send(move_to(Cell::new(7, 7), 1, "Cara")).await;
    let heard = room.heard().await;
    assert!(moved(&heard, CARA), "Cara plays: {heard:?}");

    // a new socket that never entered is told, not closed
    let dan = Uuid::from_u128(0xd);
    let mut fresh = room.connect(dan).await;
    fresh.send(move_to(Cell::new(8, 8), 1, "Dan")).await;
    assert_eq!(fresh.next().await, error("enter the game before moving"));
}
