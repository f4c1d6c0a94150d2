//! The spectators' caps and refusals (docs/protocol.md, "Spectators"), on the embedded
//! bus and store: per game, per instance, the per-address socket cap, and bad requests.
//! What a spectator sees is in the scenarios, on every bus and store.

use protocol::Uuid;
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::helpers::TestApp;
use crate::hostile::{handshake, spawn_with};
use crate::scenarios::{create_game, until_counts};

/// Opens a spectator socket of `game` from `from`; the socket, or the refusal's status.
async fn watch(app: &TestApp, game: Uuid, from: &str) -> Result<crate::hostile::Ws, StatusCode> {
    handshake(app, &protocol::game_watch_route(game), from, None).await
}

#[tokio::test]
async fn past_the_cap_per_game_a_spectator_is_refused_with_503_and_other_games_are_not() {
    let app = spawn_with(|s| s.max_spectators_per_game = 2).await;
    let (one, two) = (
        create_game(&app, "One").await,
        create_game(&app, "Two").await,
    );
    let first = watch(&app, one, "127.0.0.1").await.expect("first");
    let _second = watch(&app, one, "127.0.0.1").await.expect("second");
    assert_eq!(
        watch(&app, one, "127.0.0.1").await.err(),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    let _other = watch(&app, two, "127.0.0.1")
        .await
        .expect("another game has room");
    until_counts(&app, one, (0, 2)).await;
    // one leaves: there is room again
    drop(first);
    until_counts(&app, one, (0, 1)).await;
    watch(&app, one, "127.0.0.1").await.expect("room again");
    app.shutdown().await;
}

#[tokio::test]
async fn past_the_cap_per_instance_a_spectator_of_any_game_is_refused_with_503() {
    let app = spawn_with(|s| s.max_spectators = 2).await;
    let (one, two, three) = (
        create_game(&app, "One").await,
        create_game(&app, "Two").await,
        create_game(&app, "Three").await,
    );
    let _a = watch(&app, one, "127.0.0.1").await.expect("first");
    let _b = watch(&app, two, "127.0.0.1").await.expect("second");
    for game in [one, two, three] {
        assert_eq!(
            watch(&app, game, "127.0.0.1").await.err(),
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "{game}"
        );
    }
    until_counts(&app, three, (0, 0)).await;
    app.shutdown().await;
}

#[tokio::test]
async fn spectators_count_under_the_per_address_socket_cap() {
    let app = spawn_with(|s| s.guard.max_sockets_per_address = 2).await;
    let game = create_game(&app, "Crowded").await;
    let _a = watch(&app, game, "127.0.0.1").await.expect("first");
    let _b = watch(&app, game, "127.0.0.1").await.expect("second");
    assert_eq!(
        watch(&app, game, "127.0.0.1").await.err(),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    // refused by the socket cap, it holds no spectator's seat
    until_counts(&app, game, (0, 2)).await;
    watch(&app, game, "127.0.0.2")
        .await
        .expect("another address");
    app.shutdown().await;
}

#[tokio::test]
async fn bad_spectator_requests_are_refused_before_the_upgrade() {
    let app = spawn_with(|_| {}).await;
    let game = create_game(&app, "Game").await;
    for (path, status) in [
        (
            protocol::game_watch_route(Uuid::new_v4()),
            StatusCode::NOT_FOUND,
        ),
        (
            "/ws/game/not-a-uuid/watch".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("{}?after=abc", protocol::game_watch_route(game)),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("{}?after=-1", protocol::game_watch_route(game)),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(
            handshake(&app, &path, "127.0.0.1", None).await.err(),
            Some(status),
            "{path}"
        );
    }
    // the default game's route
    handshake(&app, protocol::WATCH_ROUTE, "127.0.0.1", None)
        .await
        .expect("the default game is watched");
    // another site's page is refused, as for any socket
    assert_eq!(
        handshake(
            &app,
            protocol::WATCH_ROUTE,
            "127.0.0.1",
            Some("http://evil.example")
        )
        .await
        .err(),
        Some(StatusCode::FORBIDDEN)
    );
    until_counts(&app, game, (0, 0)).await;
    app.shutdown().await;
}
