//! Playing: entering, moves, catches, chat, leaving, the cap, forgetting the long gone.

use std::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn entering_briefs_the_player_with_itself_last_and_tells_the_world() {
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    let brief = ana.enter("Ana").await;
    let mut expected = board_frames();
    expected.push(player_at(ANA, "Ana", ANA_AT, 0));
    assert_eq!(brief, expected, "back at her place, nobody else there");
    assert_eq!(room.heard().await, player_at(ANA, "Ana", ANA_AT, 0));
    assert_eq!(room.players(), 1);
    let row = room.row(ObjectKind::Player, ANA).await;
    assert_eq!((row.active, row.x, row.y), (true, 4, 4));
    assert_eq!(row.expires_ms, None, "a player in the game is kept");

    let mut bob = room.connect(BOB).await;
    let brief = bob.enter("Bob").await;
    let mut expected = board_frames();
    // the others come right after the board's size
    expected.insert(1, player_at(ANA, "Ana", ANA_AT, 0));
    expected.push(player_at(BOB, "Bob", BOB_AT, 0));
    assert_eq!(brief, expected);
    assert_eq!(room.heard().await, player_at(BOB, "Bob", BOB_AT, 0));
    assert_eq!(room.players(), 2);
}

#[tokio::test(start_paused = true)]
async fn world_frames_are_numbered_one_by_one_from_the_clock_or_after_the_last_known() {
    let before = now_ms() as u64 * 1000;
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    let first = room.published().await.seq;
    assert!(first >= before, "{first} from the clock ({before})");
    ana.send(move_to(Cell::new(3, 4), 1, "Ana")).await;
    assert_eq!(room.published().await.seq, first + 1);
    ana.leave("Ana").await;
    assert_eq!(room.published().await.seq, first + 2);

    // a take-over whose replayed tail ends ahead of the clock numbers on after it
    let last = before + 1_000_000_000;
    let mut room = Setup {
        last_seq: Some(last),
        ..Setup::default()
    }
    .start();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    assert_eq!(room.published().await.seq, last + 1);
}

#[tokio::test(start_paused = true)]
async fn entering_again_on_the_same_socket_renames_without_a_new_brief() {
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    room.heard().await;
    ana.send(ClientMessage::Entering {
        payload: Entering::named(" Anna\u{200b} "),
    })
    .await;
    let renamed = player_at(ANA, "Anna", ANA_AT, 0);
    assert_eq!(ana.next().await, Got::Frame(renamed.clone()));
    assert_eq!(room.heard().await, renamed);
    assert_eq!(room.row(ObjectKind::Player, ANA).await.name, "Anna");
    assert_eq!(room.players(), 1);
}

/// Ana, at [`ANA_AT`] with Bob at [`BOB_AT`], asks to move to `to`: the world sees her
/// at `seen`, her row says so, and only `rejected` (if any) is counted.
async fn check_move(to: Cell, seen: Cell, rejected: Option<&str>) {
    let mut room = Setup::default().start();
    let (ana, _bob) = room.ana_and_bob().await;
    ana.send(move_to(to, 1, "Ana")).await;
    assert_eq!(
        room.heard().await,
        player_at(ANA, "Ana", seen, 1),
        "to {to:?}"
    );
    let row = room.row(ObjectKind::Player, ANA).await;
    assert_eq!(
        Cell::new(row.x, row.y),
        seen,
        "Ana's row after a move to {to:?}"
    );
    for reason in ["too_far", "brick", "occupied"] {
        let counted = u64::from(rejected == Some(reason));
        assert_eq!(
            room.rejected(reason),
            counted,
            "{reason} after a move to {to:?}"
        );
    }
    room.assert_world_quiet();
}

#[tokio::test(start_paused = true)]
async fn a_move_is_judged_by_the_rules_and_a_refused_one_snaps_back_and_is_counted() {
    check_move(Cell::new(3, 4), Cell::new(3, 4), None).await;
    check_move(Cell::new(3, 5), Cell::new(3, 5), None).await;
    check_move(BRICK_AT, ANA_AT, Some("brick")).await;
    check_move(BOB_AT, ANA_AT, Some("occupied")).await;
    check_move(Cell::new(4, 6), ANA_AT, Some("too_far")).await;
    check_move(Cell::new(-9, 4), ANA_AT, Some("too_far")).await;
}

#[tokio::test(start_paused = true)]
async fn a_catch_moves_the_food_publishes_the_score_and_congratulates_the_catcher_alone() {
    let mut room = Setup::default().start();
    let (mut ana, mut bob) = room.ana_and_bob().await;
    let (food, food_at) = FOOD[0];
    ana.send(move_to(food_at, 1, "Ana")).await;
    assert_eq!(room.heard().await, player_at(ANA, "Ana", food_at, 1));
    let moved_to = match room.heard().await {
        ServerMessage::Food { food_id, payload } if food_id == food => {
            assert_eq!(payload.name, "food_0000", "food keeps its name");
            Cell::new(payload.x, payload.y)
        }
        other => panic!("the caught food was to move, got {other:?}"),
    };
    assert_ne!(moved_to, food_at);
    let score = ServerMessage::Score {
        player_id: ANA,
        payload: protocol::ScorePayload {
            name: "Ana".into(),
            score: 1,
        },
    };
    assert_eq!(room.heard().await, score);
    assert!(is_good_catch(&ana.next().await));
    settle().await;
    room.assert_world_quiet();
    bob.assert_quiet();

    let row = room.row(ObjectKind::Food, food).await;
    assert_eq!(Cell::new(row.x, row.y), moved_to);
    assert_eq!(room.row(ObjectKind::Player, ANA).await.score, 1);
}

/// Ana says `line`, in the game or (`entered` false) on a socket that has not entered:
/// the world hears `heard`, or Ana alone is told the error.
async fn check_chat(entered: bool, line: ChatLine, heard: Result<ChatLine, &str>) {
    let mut room = Setup::default().start();
    let mut ana = room.connect(ANA).await;
    if entered {
        ana.enter("Ana").await;
        room.heard().await;
    }
    ana.send(ClientMessage::Chat {
        payload: line.clone(),
    })
    .await;
    match heard {
        Ok(heard) => {
            let published = ServerMessage::Chat {
                player_id: ChatFrom::Player(ANA),
                payload: heard,
            };
            assert_eq!(room.heard().await, published, "for {line:?}");
        }
        Err(reason) => assert_eq!(ana.next().await, error(reason), "for {line:?}"),
    }
    settle().await;
    room.assert_world_quiet();
    ana.assert_quiet();
}

#[tokio::test(start_paused = true)]
async fn chat_carries_the_name_entered_under_never_the_frame_s() {
    let said = chat_line("line-1", "Bob", "hello spiders");
    check_chat(true, said, Ok(chat_line("line-1", "Ana", "hello spiders"))).await;
    let hidden = chat_line("\u{202e}line-2", "", " \u{202e}hi\u{200b} ");
    check_chat(true, hidden, Ok(chat_line("line-2", "Ana", "hi"))).await;
    let blank = chat_line("line-3", "Ana", " \u{200b} ");
    check_chat(true, blank, Err("empty chat line")).await;
    let early = chat_line("line-4", "Ana", "hello");
    check_chat(false, early, Err("enter the game before chatting")).await;
}

#[tokio::test(start_paused = true)]
async fn leaving_tells_the_world_and_writes_the_player_row_with_its_expiry() {
    const PRUNE: Duration = Duration::from_secs(60);
    let mut room = Setup {
        prune_after: PRUNE,
        ..Setup::default()
    }
    .start();
    let (mut ana, bob) = room.ana_and_bob().await;
    let before = now_ms();
    ana.leave("Ana").await;
    assert_eq!(room.heard().await, leaving(ANA, "Ana"));
    assert_eq!(room.players(), 1);
    let row = room.row(ObjectKind::Player, ANA).await;
    assert!(!row.active);
    let expires = row.expires_ms.expect("the row of a player gone expires");
    let prune = PRUNE.as_millis() as i64;
    assert!(
        (before + prune..=now_ms() + prune).contains(&expires),
        "{expires}"
    );

    // she cannot move until she enters again
    ana.send(move_to(Cell::new(3, 4), 2, "Ana")).await;
    assert_eq!(ana.next().await, error("enter the game before moving"));

    // a socket that closes makes its player leave
    bob.disconnect().await;
    assert_eq!(room.heard().await, leaving(BOB, "Bob"));
    assert_eq!(room.players(), 0);
    settle().await;
    room.assert_world_quiet();
}

#[tokio::test(start_paused = true)]
async fn a_full_game_refuses_a_newcomer_but_forgets_the_longest_gone_to_make_room() {
    // the game holds Ana and Bob, both gone, Ana the longer
    let mut room = Setup {
        max_players: 2,
        ..Setup::default()
    }
    .start();
    let mut cara = room.connect(CARA).await;
    let brief = cara.enter("Cara").await;
    let cara_at = brief_cell(&brief);
    assert_eq!(brief.last(), Some(&player_at(CARA, "Cara", cara_at, 0)));
    room.heard().await;
    assert_eq!(room.figure("drapetisca_players_pruned_total"), 1);
    let ana = room.row(ObjectKind::Player, ANA).await;
    assert!(ana.expired(now_ms()), "the store forgets Ana now");
    let bob = room.row(ObjectKind::Player, BOB).await;
    assert!(!bob.expired(now_ms()), "Bob keeps his place");

    // Bob, held still, comes back to his place, unless Cara was put on it (an absent
    // player's cell is free to newcomers: about one run in 76)
    let mut bob = room.connect(BOB).await;
    let back = bob.enter("Bob").await;
    let bob_at = brief_cell(&back);
    assert_eq!(back.last(), Some(&player_at(BOB, "Bob", bob_at, 0)));
    if cara_at == BOB_AT {
        assert_ne!(bob_at, cara_at, "Bob is put beside Cara, not on her");
    } else {
        assert_eq!(bob_at, BOB_AT, "Bob comes back to his place");
    }
    room.heard().await;

    // nobody is gone now: newcomers, and Ana (forgotten), find the game full
    for newcomer in [DAN, ANA] {
        let mut socket = room.connect(newcomer).await;
        socket
            .send(ClientMessage::Entering {
                payload: Entering::named("New"),
            })
            .await;
        assert_eq!(socket.next().await, error("the game is full"));
    }
    assert_eq!(room.refused("full"), 2);
    assert_eq!(room.players(), 2);
    settle().await;
    room.assert_world_quiet();
}

#[tokio::test(start_paused = true)]
async fn a_cause_on_a_command_is_published_with_every_frame_it_causes() {
    let mut room = Setup::default().start();
    let (ana, bob) = room.ana_and_bob().await;
    let cause = Uuid::from_u128(0xca05e);
    let catch = move_to(FOOD[0].1, 1, "Ana");
    room.handle
        .send_caused(ANA, ana.conn, catch, Some(cause))
        .await
        .unwrap();
    for _ in ["player", "food", "score"] {
        let published = room.published().await;
        assert_eq!((published.game, published.cause), (GAME, Some(cause)));
    }
    // what the next commands cause carries no id: a socket that closes, a frame sent
    // without one
    bob.disconnect().await;
    assert_eq!(room.heard().await, leaving(BOB, "Bob"));
    ana.send(move_to(FOOD[0].1, 2, "Ana")).await;
    assert_eq!(room.heard().await, player_at(ANA, "Ana", FOOD[0].1, 2));
}

/// On the wall clock: a player's expiry is wall-clock time, which rows share with the
/// store and with other instances.
#[tokio::test]
async fn a_player_gone_longer_than_the_prune_time_is_forgotten_and_players_in_the_game_are_not() {
    const PRUNE: Duration = Duration::from_millis(300);
    let mut room = Setup {
        prune_after: PRUNE,
        ..Setup::default()
    }
    .start();
    let (ana, _bob) = room.ana_and_bob().await;
    ana.send(move_to(FOOD[0].1, 1, "Ana")).await;
    let left = Instant::now();
    ana.leave("Ana").await;
    let pruned = || room.figure("drapetisca_players_pruned_total");
    while pruned() == 0 {
        assert!(left.elapsed() < PATIENCE, "Ana was never forgotten");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the wall clock counts whole milliseconds
    assert!(
        left.elapsed() + Duration::from_millis(2) >= PRUNE,
        "Ana was forgotten early"
    );
    assert_eq!(pruned(), 1, "Bob, in the game, is kept");

    // a newcomer hears of Bob, and of no score: Ana's catch went with her
    let mut cara = room.connect(CARA).await;
    let brief = cara.enter("Cara").await;
    assert!(
        brief.contains(&player_at(BOB, "Bob", BOB_AT, 0)),
        "{brief:?}"
    );
    let scores = brief
        .iter()
        .filter(|f| matches!(f, ServerMessage::Score { .. }));
    assert_eq!(scores.count(), 0, "{brief:?}");
}
