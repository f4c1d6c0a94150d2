//! The game-server scenarios, written once and run against every bus and store: each
//! takes the settings maker of the configuration under test.

use std::time::{Duration, Instant};

use protocol::{Cell, Uuid};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

mod games;
mod history;
mod one_socket;
mod resume;
mod spectators;
mod tokens;
pub use games::*;
pub use history::*;
pub use one_socket::*;
pub use resume::*;
pub use spectators::*;
pub use tokens::*;

use crate::helpers::{
    close_of, free_neighbour, open, spawn_app, start, Client, MakeSettings, TestApp, PATIENCE,
};
use futures_util::SinkExt;

/// Instantiates every scenario as a `#[tokio::test]` for one settings maker.
macro_rules! game_scenarios {
    ($make:expr) => {
        $crate::scenarios::game_scenarios!(@each $make;
            the_brief_lists_geometry_bricks_food_and_players_already_there,
            a_move_is_seen_by_the_other_player,
            a_jump_snaps_back_to_the_current_position,
            bricks_and_other_players_block_a_move,
            catching_food_moves_it_for_everyone_and_congratulates_the_catcher,
            chat_is_stamped_with_the_sender_id,
            a_spoofed_player_id_moves_only_the_sender,
            a_second_socket_for_a_connected_player_is_refused,
            garbage_and_oversized_frames_are_refused_and_play_goes_on,
            leaving_and_closing_the_socket_tell_everyone,
            a_restart_resumes_the_same_game,
            the_scoreboard_counts_catches_and_survives_a_restart,
            two_games_in_parallel_never_see_each_other,
            an_unloaded_game_loads_back_exactly,
            a_created_game_is_listed_and_playable_after_a_restart,
            the_lobby_counts_the_players_of_each_game,
            game_caps_and_bad_names_are_refused_and_change_nothing,
            players_gone_longer_than_the_prune_time_are_forgotten_and_others_keep_their_place,
            a_bound_id_stays_bound_after_an_idle_unload_and_a_restart,
            a_one_socket_player_and_a_two_socket_player_play_together,
            a_resume_token_works_over_the_one_socket,
            a_page_dropped_for_two_seconds_resumes_with_no_gap_and_no_duplicate,
            a_number_the_server_does_not_hold_gets_the_brief_and_garbage_is_refused,
            a_spectator_gets_the_board_and_the_stream_and_cannot_play,
            a_spectator_of_an_idle_game_sees_the_first_player_enter,
            a_spectator_resumes_after_the_last_update_it_saw,
            the_history_gives_back_moves_and_chat_in_order_and_rebuilds_the_board,
            a_window_from_a_moment_rebuilds_the_board_of_that_moment,
            bad_history_requests_are_refused,
            with_no_retention_no_history_is_kept,
            a_game_nobody_plays_is_forgotten_with_its_history,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $crate::scenarios::$name($make).await
            }
        )*
    };
}
pub(crate) use game_scenarios;

pub async fn the_brief_lists_geometry_bricks_food_and_players_already_there(make: MakeSettings) {
    let app = spawn_app(make).await;
    let mut ana = Client::connect(&app, "Ana").await;
    let brief = ana.enter().await;
    assert_eq!(
        brief[0],
        json!({"messageType": "geometry", "payload": {"halfSizeX": 20, "halfSizeY": 12}})
    );
    let of = |kind: &str| {
        brief
            .iter()
            .filter(|f| f["messageType"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let bricks = of("brick");
    assert_eq!(bricks.len(), 22, "about 2.5% of 39 x 23 cells");
    assert_eq!(bricks[0]["payload"]["name"], "brick_0000");
    let food = of("food");
    assert_eq!(food.len(), 3);
    for f in &food {
        assert!(f["foodID"].as_str().unwrap().parse::<Uuid>().is_ok());
        assert!(f["payload"]["name"].as_str().unwrap().starts_with("food_"));
    }
    let own = brief.last().unwrap();
    assert_eq!(own["playerID"], ana.id.to_string());
    assert_eq!(own["payload"]["name"], "Ana");

    let mut bob = Client::connect(&app, "Bob").await;
    let brief = bob.enter().await;
    let ana_there = brief
        .iter()
        .find(|f| f["messageType"] == "player" && f["playerID"] == ana.id.to_string())
        .expect("Bob's brief shows Ana");
    assert_eq!(ana_there["payload"]["name"], "Ana");
    assert_eq!(crate::helpers::cell_of(ana_there), ana.at.unwrap());
    assert_eq!(
        brief.last().unwrap()["playerID"],
        bob.id.to_string(),
        "own position comes last"
    );
    let bob_id = bob.id.to_string();
    let seen = ana
        .world_until("Bob entering", |f| {
            f["messageType"] == "player" && f["playerID"] == bob_id
        })
        .await;
    assert_eq!(crate::helpers::cell_of(&seen), bob.at.unwrap());
    app.shutdown().await;
}

/// Ana and Bob in the game, each knowing where the other is.
async fn ana_and_bob(app: &TestApp) -> (Client, Client) {
    let mut ana = Client::connect(app, "Ana").await;
    ana.enter().await;
    let mut bob = Client::connect(app, "Bob").await;
    bob.enter().await;
    let bob_id = bob.id.to_string();
    ana.world_until("Bob entering", |f| {
        f["messageType"] == "player" && f["playerID"] == bob_id
    })
    .await;
    (ana, bob)
}

pub async fn a_move_is_seen_by_the_other_player(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let target = free_neighbour(&ana);
    assert_eq!(ana.move_to(target.x, target.y).await, target);
    let seen = bob.sees_move(ana.id, 1).await;
    assert_eq!(crate::helpers::cell_of(&seen), target);
    assert_eq!(seen["payload"]["name"], "Ana");
    app.shutdown().await;
}

pub async fn a_jump_snaps_back_to_the_current_position(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let at = ana.at.unwrap();
    let far_x = if at.x > 19 { at.x - 5 } else { at.x + 5 };
    assert_eq!(
        ana.move_to(far_x, at.y).await,
        at,
        "a jump is answered with the old position"
    );
    let seen = bob.sees_move(ana.id, 1).await;
    assert_eq!(
        crate::helpers::cell_of(&seen),
        at,
        "others see no jump either"
    );
    app.shutdown().await;
}

pub async fn bricks_and_other_players_block_a_move(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    // a brick with a reachable free cell beside it
    let (brick, beside) = ana
        .view
        .bricks
        .iter()
        .flat_map(|b| {
            [(1, 0), (-1, 0), (0, 1), (0, -1)].map(|(dx, dy)| (*b, Cell::new(b.x + dx, b.y + dy)))
        })
        .find(|(_, c)| !ana.view.bricks.contains(c) && ana.path_to(*c).is_some())
        .expect("a brick with a free side");
    ana.walk_to(beside).await;
    assert_eq!(
        ana.move_to(brick.x, brick.y).await,
        beside,
        "the brick blocks"
    );

    // Bob walks up to Ana, then Ana tries to step onto Bob
    bob.sees_move(ana.id, ana.generation).await;
    let next_to_ana = {
        let at = ana.at.unwrap();
        (-1..=1)
            .flat_map(|dx| (-1..=1).map(move |dy| Cell::new(at.x + dx, at.y + dy)))
            .find(|c| *c != at && !bob.view.bricks.contains(c) && bob.path_to(*c).is_some())
            .expect("a free cell next to Ana")
    };
    bob.walk_to(next_to_ana).await;
    assert_eq!(
        ana.move_to(next_to_ana.x, next_to_ana.y).await,
        beside,
        "Bob blocks"
    );
    app.shutdown().await;
}

pub async fn catching_food_moves_it_for_everyone_and_congratulates_the_catcher(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let (food_id, food_at) = ana
        .view
        .food
        .iter()
        .map(|(id, c)| (id.clone(), *c))
        .min_by_key(|(_, c)| ana.path_to(*c).map_or(usize::MAX, |p| p.len()))
        .unwrap();
    ana.walk_to(food_at).await;
    let id = food_id.clone();
    let moved = ana
        .world_until("the caught food moving", |f| {
            f["messageType"] == "food" && f["foodID"] == id
        })
        .await;
    let new_at = crate::helpers::cell_of(&moved);
    assert_ne!(new_at, food_at, "caught food moves away");
    assert_eq!(moved["payload"]["name"], ana_name_of_food(&moved));
    let chat = ana.next_player().await;
    assert_eq!(chat["messageType"], "chat");
    assert_eq!(chat["playerID"], "_api_server_");
    assert_eq!(chat["payload"]["name"], "** API **");
    assert_eq!(chat["payload"]["text"], "Good catch!");

    let id = food_id.clone();
    let seen = bob
        .world_until("the caught food moving", |f| {
            f["messageType"] == "food" && f["foodID"] == id
        })
        .await;
    assert_eq!(crate::helpers::cell_of(&seen), new_at);
    // the congratulation went to Ana alone: Bob's next direct frame is his own error
    bob.send(json!({"messageType": "nonsense", "payload": {}}))
        .await;
    assert_eq!(bob.next_player().await["messageType"], "error");
    app.shutdown().await;
}

fn ana_name_of_food(frame: &serde_json::Value) -> String {
    let name = frame["payload"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("food_"), "food keeps its name: {name}");
    name
}

pub async fn chat_is_stamped_with_the_sender_id(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    ana.send(
        json!({"messageType": "chat", "playerID": bob.id.to_string(),
                    "payload": {"id": "line-1", "name": "Ana", "text": "hello spiders"}}),
    )
    .await;
    let line = bob
        .world_until("Ana's chat", |f| f["messageType"] == "chat")
        .await;
    assert_eq!(
        line,
        json!({"messageType": "chat", "playerID": ana.id.to_string(),
               "payload": {"id": "line-1", "name": "Ana", "text": "hello spiders"}})
    );
    app.shutdown().await;
}

pub async fn a_spoofed_player_id_moves_only_the_sender(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let target = free_neighbour(&ana);
    ana.send(json!({"messageType": "player", "playerID": bob.id.to_string(),
                    "payload": {"x": target.x, "y": target.y, "h": false, "generation": 1, "name": "Ana"}}))
        .await;
    let seen = bob.sees_move(ana.id, 1).await;
    assert_eq!(crate::helpers::cell_of(&seen), target, "the move is Ana's");
    // Bob is where he was: his own step from there is accepted
    let bob_at = bob.at.unwrap();
    let step = free_neighbour(&bob);
    assert_eq!(bob.move_to(step.x, step.y).await, step);
    assert!(bob_at.is_king_step_to(step));
    app.shutdown().await;
}

pub async fn a_second_socket_for_a_connected_player_is_refused(make: MakeSettings) {
    let app = spawn_app(make).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let mut hijack = open(&app, &protocol::player_route(ana.id)).await;
    let (code, reason) = close_of(&mut hijack).await;
    assert_eq!(code, 1008, "policy violation");
    assert!(reason.contains("already connected"), "{reason}");
    let target = free_neighbour(&ana);
    assert_eq!(
        ana.move_to(target.x, target.y).await,
        target,
        "Ana still plays"
    );
    app.shutdown().await;
}

pub async fn garbage_and_oversized_frames_are_refused_and_play_goes_on(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let at = ana.at.unwrap();
    for garbage in [
        "not json".to_string(),
        "[1, 2, 3]".into(),
        json!({"messageType": "teleport", "payload": {"x": 0, "y": 0}}).to_string(),
        json!({"messageType": "player", "payload": {"x": "three", "y": 1}}).to_string(),
        json!({"messageType": "player", "payload": {"x": 1e20, "y": 1}}).to_string(),
        json!({"messageType": "chat", "payload": {"name": "Ana"}}).to_string(),
    ] {
        ana.player
            .send(Message::text(garbage.clone()))
            .await
            .unwrap();
        let answer = ana.next_player().await;
        assert_eq!(answer["messageType"], "error", "answer to {garbage}");
        assert!(
            answer["payload"]["reason"]
                .as_str()
                .unwrap()
                .contains("invalid frame"),
            "{answer}"
        );
    }
    ana.player
        .send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    assert_eq!(ana.next_player().await["messageType"], "error");

    let target = free_neighbour(&ana);
    assert_eq!(
        ana.move_to(target.x, target.y).await,
        target,
        "Ana still plays from {at:?}"
    );
    assert_eq!(
        crate::helpers::cell_of(&bob.sees_move(ana.id, ana.generation).await),
        target
    );

    // a frame over 64 KiB closes the socket; the game goes on and Ana can come back
    let huge = json!({"messageType": "chat", "payload": {"id": "x", "name": "Ana", "text": "a".repeat(100_000)}});
    ana.player
        .send(Message::text(huge.to_string()))
        .await
        .unwrap();
    let (code, _) = close_of(&mut ana.player).await;
    assert_eq!(code, 1009, "message too big");
    let ana_id = ana.id.to_string();
    bob.world_until("Ana leaving", |f| {
        f["messageType"] == "leaving" && f["playerID"] == ana_id
    })
    .await;
    let mut back = Client::connect_as(&app, ana.id, "Ana").await;
    back.enter().await;
    assert_eq!(back.at, Some(target), "Ana returns where she was");
    let step = free_neighbour(&back);
    assert_eq!(back.move_to(step.x, step.y).await, step);
    app.shutdown().await;
}

pub async fn leaving_and_closing_the_socket_tell_everyone(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    ana.send(json!({"messageType": "leaving", "payload": {"name": "Ana"}}))
        .await;
    let ana_id = ana.id.to_string();
    let left = bob
        .world_until("Ana leaving", |f| {
            f["messageType"] == "leaving" && f["playerID"] == ana_id
        })
        .await;
    assert_eq!(left["payload"]["name"], "Ana");
    // a player who left cannot move until entering again
    ana.send(json!({"messageType": "player", "payload": {"x": 1, "y": 1, "h": false, "generation": 9, "name": "Ana"}}))
        .await;
    assert_eq!(ana.next_player().await["messageType"], "error");

    let mut cara = Client::connect(&app, "Cara").await;
    cara.enter().await;
    let bob_id = bob.id.to_string();
    drop(bob);
    let left = cara
        .world_until("Bob leaving", |f| {
            f["messageType"] == "leaving" && f["playerID"] == bob_id
        })
        .await;
    assert_eq!(left["payload"]["name"], "Bob");
    app.shutdown().await;
}

pub async fn a_restart_resumes_the_same_game(make: MakeSettings) {
    let app = spawn_app(make).await;
    let mut ana = Client::connect(&app, "Ana").await;
    ana.enter().await;
    let target = free_neighbour(&ana);
    ana.move_to(target.x, target.y).await;
    let before = ana.view.clone();
    let ana_id = ana.id;
    drop(ana);

    let app = app.restart().await;
    let mut ana = Client::connect_as(&app, ana_id, "Ana").await;
    ana.enter().await;
    assert_eq!(ana.view.bricks, before.bricks, "same bricks");
    assert_eq!(ana.view.food, before.food, "same food where it was");
    assert_eq!(ana.at, Some(target), "Ana returns to her last position");
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    assert_eq!(bob.view.bricks, before.bricks);
    app.shutdown().await;
}

/// Walks `client` onto the food item nearest to it; returns the `score` frame about it
/// that its world socket then carries.
pub async fn catch_nearest_food(client: &mut Client) -> serde_json::Value {
    let food_at = client
        .view
        .food
        .values()
        .copied()
        .min_by_key(|c| client.path_to(*c).map_or(usize::MAX, |p| p.len()))
        .unwrap();
    client.walk_to(food_at).await;
    let id = client.id.to_string();
    client
        .world_until("the catcher's score", |f| {
            f["messageType"] == "score" && f["playerID"] == id
        })
        .await
}

pub async fn the_scoreboard_counts_catches_and_survives_a_restart(make: MakeSettings) {
    let app = spawn_app(make).await;
    let (mut ana, mut bob) = ana_and_bob(&app).await;
    let score = catch_nearest_food(&mut ana).await;
    assert_eq!(score["payload"]["score"], 1);
    assert_eq!(score["payload"]["name"], "Ana");
    let id = ana.id.to_string();
    let seen = bob
        .world_until("Ana's score", |f| {
            f["messageType"] == "score" && f["playerID"] == id
        })
        .await;
    assert_eq!(seen["payload"]["score"], 1, "everyone hears of a catch");
    let score = catch_nearest_food(&mut ana).await;
    assert_eq!(score["payload"]["score"], 2, "catches add up");
    let ana_id = ana.id;
    drop((ana, bob));

    let app = app.restart().await;
    let mut cleo = Client::connect(&app, "Cleo").await;
    let brief = cleo.enter().await;
    let scores: Vec<_> = brief
        .iter()
        .filter(|f| f["messageType"] == "score")
        .collect();
    assert_eq!(scores.len(), 1, "only Ana caught anything: {scores:?}");
    assert_eq!(scores[0]["playerID"], ana_id.to_string());
    assert_eq!(
        scores[0]["payload"]["score"], 2,
        "the restart kept the score"
    );
    let mut ana = Client::connect_as(&app, ana_id, "Ana").await;
    let brief = ana.enter().await;
    assert!(
        brief
            .iter()
            .any(|f| f["messageType"] == "score" && f["payload"]["score"] == 2),
        "Ana's brief tells her own score"
    );
    let score = catch_nearest_food(&mut ana).await;
    assert_eq!(
        score["payload"]["score"], 3,
        "counting goes on after the restart"
    );
    app.shutdown().await;
}

/// The `score` frames of a brief, by player id.
fn scores_in(brief: &[serde_json::Value]) -> Vec<(String, i64)> {
    brief
        .iter()
        .filter(|f| f["messageType"] == "score")
        .map(|f| {
            let id = f["playerID"].as_str().unwrap().to_string();
            (id, f["payload"]["score"].as_i64().unwrap())
        })
        .collect()
}

pub async fn players_gone_longer_than_the_prune_time_are_forgotten_and_others_keep_their_place(
    make: MakeSettings,
) {
    // long enough for a return and a restart on a loaded machine, short for a test
    const PRUNE: Duration = Duration::from_secs(30);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = make(dir.path());
    settings.prune_players_after_secs = PRUNE.as_secs();
    let app = start(settings, dir).await;
    let mut ana = Client::connect(&app, "Ana").await;
    // her id is bound to a token: it is forgotten with her
    enter_binding(&mut ana).await;
    catch_nearest_food(&mut ana).await;
    let ana_id = ana.id;
    drop(ana);
    let ana_left = Instant::now();

    // Bob leaves too, and comes back within the prune time, across a restart
    let mut bob = Client::connect(&app, "Bob").await;
    bob.enter().await;
    let target = free_neighbour(&bob);
    assert_eq!(bob.move_to(target.x, target.y).await, target);
    let bob_id = bob.id;
    drop(bob);
    let app = app.restart().await;
    let mut bob = Client::connect_as(&app, bob_id, "Bob").await;
    let brief = bob.enter().await;
    assert!(
        ana_left.elapsed() < PRUNE,
        "the test took too long to check a return within the prune time"
    );
    assert_eq!(bob.at, Some(target), "Bob returns to his place");
    assert_eq!(
        scores_in(&brief),
        vec![(ana_id.to_string(), 1)],
        "Ana, gone for less than the prune time, keeps her score"
    );

    // once Ana is gone for longer, the running game forgets her; Bob, in it, stays
    let deadline = ana_left + PRUNE + PATIENCE * 3;
    loop {
        let mut probe = Client::connect(&app, "Probe").await;
        let brief = probe.enter().await;
        let bob_there = brief
            .iter()
            .any(|f| f["messageType"] == "player" && f["playerID"] == bob_id.to_string());
        assert!(bob_there, "Bob, in the game, is never forgotten");
        if scores_in(&brief).is_empty() {
            assert!(ana_left.elapsed() >= PRUNE, "Ana was forgotten too early");
            break;
        }
        assert!(Instant::now() < deadline, "Ana was never forgotten");
        drop(probe);
        // Bob stays put, and so stays heard from (a silent socket is closed after 30 s)
        assert_eq!(bob.move_to(target.x, target.y).await, target);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // and so does the store: after a restart, nothing of her comes back
    drop(bob);
    let app = app.restart().await;
    // Bob first: newcomers may land on the cell of a player who is not in the game
    let mut bob = Client::connect_as(&app, bob_id, "Bob").await;
    assert_eq!(
        scores_in(&bob.enter().await),
        vec![],
        "the store forgot Ana"
    );
    assert_eq!(bob.at, Some(target), "Bob still returns to his place");
    let mut ana = Client::connect_as(&app, ana_id, "Ana").await;
    assert_eq!(
        scores_in(&ana.enter().await),
        vec![],
        "Ana comes back as a newcomer, with no score and no token"
    );
    app.shutdown().await;
}
