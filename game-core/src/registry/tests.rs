//! The registry at its boundary: joining, creating and listing games through the local
//! placement on an embedded store, with no socket.

use std::net::IpAddr;
use std::time::Duration;

use protocol::{Board, ClientMessage, Entering};

use super::*;
use crate::bus::{inprocess::InProcessBus, Fanout};
use crate::placement::Local;
use crate::room::metrics::RoomMetrics;
use crate::room::{Direct, RoomDeps};
use crate::spectators::SpectatorLimits;
use crate::store::embedded::EmbeddedStore;
use crate::store::writer::{metrics::StoreMetrics, StoreWriter};

/// A registry of one instance, on a fresh embedded store.
struct Instance {
    registry: Registry,
    /// Keeps the store's files for the test's length.
    _dir: tempfile::TempDir,
}

async fn instance(max_games: usize, creations_per_minute: usize) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let (writer, _task) = StoreWriter::spawn(store.clone(), StoreMetrics::default());
    let deps = RoomDeps {
        bus: Arc::new(InProcessBus::new(Fanout::new(16, Duration::ZERO))),
        writer,
        metrics: RoomMetrics::default(),
        idle: Duration::from_secs(600),
        max_players: 100,
        prune_after: Duration::from_secs(600),
        clock: Arc::new(crate::clock::System),
        history: None,
    };
    let shutdown = CancellationToken::new();
    let placement = Arc::new(Local::new(
        store.clone(),
        Board::STANDARD,
        deps,
        shutdown.clone(),
    ));
    let limits = Limits {
        max_games,
        creations_per_minute,
        spectators: SpectatorLimits {
            per_game: 2,
            total: 3,
        },
    };
    let registry = Registry::open(store, placement, limits, None, shutdown)
        .await
        .unwrap();
    Instance {
        registry,
        _dir: dir,
    }
}

fn address(n: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, n])
}

/// Enters `player` into `game` through the registry; returns the number of frames of
/// the brief it got.
async fn enter(registry: &Registry, game: Uuid, player: Uuid) -> Result<usize, JoinError> {
    let (outbox, mut inbox) = mpsc::channel(8);
    let (room, conn) = registry.connect(game, player, outbox).await?;
    let entering = ClientMessage::Entering {
        payload: Entering {
            name: "ana".into(),
            want_token: false,
            token: None,
        },
    };
    room.send(player, conn, entering).await.unwrap();
    match inbox.recv().await {
        Some(Direct::Batch(brief)) => Ok(brief.len()),
        other => panic!("expected a brief, got {other:?}"),
    }
}

#[tokio::test]
async fn the_default_game_is_recorded_and_listed_first() {
    let instance = instance(10, 10).await;
    let registry = &instance.registry;
    let created = registry.create("Later", address(1)).await.unwrap();
    let listed = registry.list().await.unwrap();
    assert_eq!(listed[0].id, registry.default_game());
    assert!(listed[0].default);
    assert_eq!(listed[0].name, DEFAULT_GAME_NAME);
    assert!(listed.iter().any(|g| g.id == created.id && !g.default));
    assert_eq!(created.path, format!("/game/{}", created.id));
}

#[tokio::test]
async fn joining_a_game_starts_it_here_and_the_lobby_counts_its_players() {
    let instance = instance(10, 10).await;
    let registry = &instance.registry;
    let game = registry.create("Spiders", address(1)).await.unwrap().id;
    assert_eq!(registry.running(), 0, "a created game does not run yet");
    let brief = enter(registry, game, Uuid::from_u128(1)).await.unwrap();
    assert!(brief > 2, "the brief holds the board");
    assert_eq!(registry.running(), 1);
    let summary = registry.summary(game).await.unwrap().unwrap();
    assert_eq!(summary.players, 1);
}

#[tokio::test]
async fn an_unknown_game_is_refused_and_starts_nothing() {
    let instance = instance(10, 10).await;
    let refused = enter(&instance.registry, Uuid::from_u128(99), Uuid::from_u128(1)).await;
    assert!(
        matches!(refused, Err(JoinError::UnknownGame)),
        "{refused:?}"
    );
    assert_eq!(instance.registry.running(), 0);
}

#[tokio::test]
async fn past_max_games_a_join_and_a_creation_are_refused() {
    let instance = instance(1, 10).await;
    let registry = &instance.registry;
    let first = registry.create("One", address(1)).await.unwrap().id;
    let second = registry.create("Two", address(1)).await.unwrap().id;
    enter(registry, first, Uuid::from_u128(1)).await.unwrap();
    let refused = enter(registry, second, Uuid::from_u128(2)).await;
    assert!(matches!(refused, Err(JoinError::Full(1))), "{refused:?}");
    let refused = registry.create("Three", address(1)).await;
    assert!(matches!(refused, Err(CreateError::Full(1))), "{refused:?}");
    // the running game still takes players
    enter(registry, first, Uuid::from_u128(3)).await.unwrap();
}

#[tokio::test]
async fn names_are_cleaned_and_checked_and_creations_capped_per_address() {
    let instance = instance(10, 2).await;
    let registry = &instance.registry;
    let empty = registry.create(" \u{200b}\t ", address(1)).await;
    assert!(matches!(empty, Err(CreateError::EmptyName)), "{empty:?}");
    let long = "x".repeat(MAX_RAW_GAME_NAME_CHARS + 1);
    let long = registry.create(&long, address(1)).await;
    assert!(matches!(long, Err(CreateError::NameTooLong)), "{long:?}");
    let named = registry.create("  Web\u{7}s  ", address(1)).await.unwrap();
    assert_eq!(named.name, "Webs");
    registry.create("Two", address(1)).await.unwrap();
    let third = registry.create("Three", address(1)).await;
    assert!(matches!(third, Err(CreateError::TooMany)), "{third:?}");
    registry.create("Elsewhere", address(2)).await.unwrap();
}

#[tokio::test]
async fn a_spectator_is_briefed_through_the_registry_and_counted_apart_in_the_lobby() {
    let instance = instance(10, 10).await;
    let registry = &instance.registry;
    let game = registry.create("Watched", address(1)).await.unwrap().id;
    enter(registry, game, Uuid::from_u128(1)).await.unwrap();
    let (outbox, mut inbox) = mpsc::channel(1);
    registry.watch(game, outbox).await.unwrap();
    match inbox.recv().await {
        // the board, and the one player on it
        Some(Direct::Batch(brief)) => {
            assert!(
                brief[0].starts_with(r#"{"messageType":"geometry""#),
                "{brief:?}"
            );
            assert_eq!(
                brief
                    .iter()
                    .filter(|f| f.starts_with(r#"{"messageType":"player""#))
                    .count(),
                1
            );
        }
        other => panic!("expected a brief, got {other:?}"),
    }
    let seats = [
        registry.spectators().seat(game).unwrap(),
        registry.spectators().seat(game).unwrap(),
    ];
    let summary = registry.summary(game).await.unwrap().unwrap();
    assert_eq!((summary.players, summary.spectators), (1, 2));
    drop(seats);
    let summary = registry.summary(game).await.unwrap().unwrap();
    assert_eq!(summary.spectators, 0);
}

#[tokio::test]
async fn watching_an_unknown_game_is_refused_and_starts_nothing() {
    let instance = instance(10, 10).await;
    let (outbox, _inbox) = mpsc::channel(1);
    let refused = instance.registry.watch(Uuid::from_u128(99), outbox).await;
    assert!(
        matches!(refused, Err(JoinError::UnknownGame)),
        "{refused:?}"
    );
    assert_eq!(instance.registry.running(), 0);
}
