//! The store port's history and forgetting, the same checks on each store: records
//! come back in order by window, old records go with the retention, and forgetting a
//! game is a compare-and-set (one of two racing callers wins; a game played since it
//! was read is kept).

use std::sync::Arc;
use std::time::Duration;

use game_core::clock::now_ms;
use game_core::history::window::window;
use game_core::store::{GameInfo, HistoryRecord, ObjectKind, Store, StoredObject};
use protocol::Uuid;

const KEEP: Duration = Duration::from_secs(3600);

fn brick(n: u128) -> StoredObject {
    StoredObject {
        kind: ObjectKind::Brick,
        object_id: Uuid::from_u128(n),
        active: true,
        x: 1,
        y: 2,
        h: false,
        generation: 0,
        name: "brick".into(),
        score: 0,
        expires_ms: None,
        token_hash: None,
    }
}

/// A game with rows and an hour of history: a snapshot each 10 minutes, an update
/// each 10 s; the records' times.
async fn played_game(store: &dyn Store, start: i64) -> (GameInfo, Vec<HistoryRecord>) {
    let info = GameInfo {
        id: Uuid::new_v4(),
        name: "History".into(),
        created_ms: start - 1000,
        played_ms: None,
    };
    store.create_game(&info).await.unwrap();
    store.write(info.id, &[brick(1), brick(2)]).await.unwrap();
    let mut records = Vec::new();
    for i in 0..360u64 {
        let t = start + i as i64 * 10_000;
        if i % 60 == 0 {
            records.push(HistoryRecord::snapshot(1000 + i, t, [r#"{"s":1}"#]));
        }
        records.push(HistoryRecord::update(
            1001 + i,
            t,
            format!(r#"{{"u":{i}}}"#).into(),
        ));
    }
    store.append_history(info.id, &records, KEEP).await.unwrap();
    (info, records)
}

/// Windows read back as written: from a snapshot at or before `from`, the updates
/// after it, bounded.
pub async fn windows_read_back_in_order(store: Arc<dyn Store>) {
    let start = now_ms() - 3_600_000;
    let (info, records) = played_game(&*store, start).await;
    let game = info.id;
    // from the start
    let all = window(&*store, game, None, i64::MAX, 10_000).await.unwrap();
    assert_eq!(all.records[0], records[0], "the first snapshot first");
    let updates: Vec<&HistoryRecord> = records.iter().filter(|r| !r.snapshot).collect();
    assert_eq!(all.records.len(), 1 + updates.len());
    assert!(all.records[1..].iter().zip(&updates).all(|(a, b)| a == *b));
    assert!(!all.truncated);
    // a moment 25 minutes in: the snapshot of minute 20, then updates up to the moment
    let at = start + 25 * 60_000 + 5_000;
    let seek = window(&*store, game, Some(at), at, 10_000).await.unwrap();
    assert_eq!(seek.records[0].t, start + 20 * 60_000);
    assert!(seek.records[0].snapshot);
    assert_eq!(seek.records.len(), 1 + 31, "5 minutes and 1 update of 10 s");
    assert!(seek.records[1..].iter().all(|r| !r.snapshot && r.t <= at));
    // bounded
    let short = window(&*store, game, None, i64::MAX, 5).await.unwrap();
    assert_eq!(short.records.len(), 6);
    assert!(short.truncated);
    // before anything kept: from the first snapshot; span
    let early = window(&*store, game, Some(start - 60_000), start, 10)
        .await
        .unwrap();
    assert_eq!(early.records[0], records[0]);
    let span = store.history_span(game).await.unwrap();
    assert_eq!(span, Some((start, start + 359 * 10_000)));
    // another game has none
    assert_eq!(store.history_span(Uuid::new_v4()).await.unwrap(), None);
}

/// Forgetting is a compare-and-set: a game played since it was read is kept; of two
/// racing callers one forgets it; it goes whole (record, rows, history).
pub async fn forgetting_is_a_compare_and_set(stores: [Arc<dyn Store>; 2]) {
    let start = now_ms() - 600_000;
    let (read, _) = played_game(&*stores[0], start).await;
    let game = read.id;
    stores[0].game_played(game, start + 1).await.unwrap();
    assert_eq!(
        stores[0].game(game).await.unwrap().unwrap().played_ms,
        Some(start + 1)
    );
    // played since it was read: kept
    assert!(!stores[1].forget_game(&read).await.unwrap());
    assert!(stores[0].game(game).await.unwrap().is_some());
    // two at once: one forgets it
    let fresh = stores[0].game(game).await.unwrap().unwrap();
    let (a, b) = tokio::join!(stores[0].forget_game(&fresh), stores[1].forget_game(&fresh));
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(),
        1,
        "exactly one forgets it"
    );
    for store in &stores {
        assert_eq!(store.game(game).await.unwrap(), None);
        assert!(!store.games().await.unwrap().iter().any(|g| g.id == game));
        assert_eq!(store.load(game).await.unwrap(), vec![]);
        assert_eq!(store.history_span(game).await.unwrap(), None);
    }
    // a game forgotten is not brought back by a late "played"
    stores[1].game_played(game, now_ms()).await.unwrap();
    assert_eq!(stores[0].game(game).await.unwrap(), None);
    // the current game is never forgotten
    let (current, _) = played_game(&*stores[0], start).await;
    stores[0].set_current_game(current.id).await.unwrap();
    assert!(!stores[0].forget_game(&current).await.unwrap());
}

mod embedded {
    use super::*;
    use game_core::store::embedded::EmbeddedStore;

    #[tokio::test]
    async fn windows_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        super::windows_read_back_in_order(Arc::new(EmbeddedStore::open(dir.path()).unwrap())).await;
    }

    #[tokio::test]
    async fn forgetting_is_a_compare_and_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        super::forgetting_is_a_compare_and_set([store.clone(), store]).await;
    }

    #[tokio::test]
    async fn retention_drops_whole_minutes_older_than_it_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let game = Uuid::new_v4();
        let now = now_ms();
        let old = now - 10 * 60_000;
        let records = [
            HistoryRecord::snapshot(1, old, ["{}"]),
            HistoryRecord::update(2, old, "{}".into()),
            HistoryRecord::snapshot(3, now, ["{}"]),
            HistoryRecord::update(4, now, "{}".into()),
        ];
        store.append_history(game, &records, KEEP).await.unwrap();
        assert_eq!(store.history_span(game).await.unwrap(), Some((old, now)));
        // keep 5 minutes: the old minute goes, the current stays
        store.expire_history(now - 5 * 60_000).await.unwrap();
        assert_eq!(store.history_span(game).await.unwrap(), Some((now, now)));
        assert_eq!(
            store.history_snapshot(game, None).await.unwrap(),
            Some(records[2].clone())
        );
        // and after a reopening too
        drop(store);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.history_span(game).await.unwrap(), Some((now, now)));
    }
}

#[cfg(feature = "integration")]
mod cassandra {
    use super::*;
    use store_cassandra::{CassandraOptions, CassandraStore};
    use test_support::cassandra::{fresh_keyspace, require_cassandra, NODE, PASSWORD, USER};

    async fn store(keyspace: &str) -> Arc<dyn Store> {
        require_cassandra();
        let options = CassandraOptions {
            nodes: vec![NODE.into()],
            keyspace: keyspace.parse().unwrap(),
            username: Some(USER.into()),
            password: Some(PASSWORD.into()),
            ..CassandraOptions::default()
        };
        Arc::new(
            CassandraStore::connect(&options)
                .await
                .expect("store connects"),
        )
    }

    #[tokio::test]
    async fn windows_read_back_in_order() {
        super::windows_read_back_in_order(store(&fresh_keyspace()).await).await;
    }

    #[tokio::test]
    async fn forgetting_is_a_compare_and_set() {
        // two connections: two instances of a cluster
        let keyspace = fresh_keyspace();
        let one = store(&keyspace).await;
        let two = store(&keyspace).await;
        super::forgetting_is_a_compare_and_set([one, two]).await;
    }

    #[tokio::test]
    async fn records_expire_with_the_retention() {
        let store = store(&fresh_keyspace()).await;
        let game = Uuid::new_v4();
        let now = now_ms();
        let records = [
            HistoryRecord::snapshot(1, now, ["{}"]),
            HistoryRecord::update(2, now, "{}".into()),
        ];
        store
            .append_history(game, &records, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(store.history_span(game).await.unwrap(), Some((now, now)));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(store.history_span(game).await.unwrap(), None);
        assert_eq!(store.history_snapshot(game, None).await.unwrap(), None);
    }
}
