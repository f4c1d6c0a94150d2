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
