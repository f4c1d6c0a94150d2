//! What the room keeps of its game's history: every update it publishes, numbered and
//! timed, a snapshot at the load and then every `snapshot_every` while updates happen,
//! with the last chat lines.

use std::sync::atomic::AtomicI64;

use super::*;
use crate::clock::Clock;
use crate::history::metrics::HistoryMetrics;
use crate::history::writer::{HistoryWriter, QUEUE};
use crate::history::Keeping;
use crate::store::embedded::EmbeddedStore;
use crate::store::{HistoryRecord, Store};

/// A wall clock the test sets.
#[derive(Default)]
struct Manual(AtomicI64);

impl Clock for Manual {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every record of `GAME` in `store`, once there are `count` of them.
async fn records(store: &dyn Store, count: usize) -> Vec<HistoryRecord> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let window = crate::history::window::window(store, GAME, None, i64::MAX, 1000)
            .await
            .unwrap();
        if window.records.len() >= count || std::time::Instant::now() > deadline {
            return window.records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn frame_of(record: &HistoryRecord) -> ServerMessage {
    serde_json::from_str(&record.body).unwrap()
}

fn snapshot_of(record: &HistoryRecord) -> Vec<ServerMessage> {
    assert!(record.snapshot, "{record:?}");
    let frames: Vec<serde_json::Value> = serde_json::from_str(&record.body).unwrap();
    frames
        .into_iter()
        .map(|f| serde_json::from_value(f).unwrap())
        .collect()
}

#[tokio::test]
async fn the_room_keeps_each_update_and_snapshots_its_game_with_the_last_chat_lines() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let keeping = Keeping {
        retention: Duration::from_secs(3600),
        snapshot_every: Duration::from_secs(10),
    };
    let (history, _task) =
        HistoryWriter::spawn(store.clone(), keeping, QUEUE, HistoryMetrics::default());
    let clock = Arc::new(Manual::default());
    let t0 = 1_800_000_000_000;
    clock.0.store(t0, Ordering::Relaxed);
    let mut room = Setup {
        history: Some(history),
        clock: clock.clone(),
        ..Setup::default()
    }
    .start();
    // at the load: the game as loaded, numbered just below the first update
    let loaded = records(&*store, 1).await;
    let mut board = board_frames();
    board.retain(|f| !matches!(f, ServerMessage::Token { .. }));
    assert_eq!(snapshot_of(&loaded[0]), board, "nobody in the game yet");
    assert_eq!(loaded[0].t, t0);

    let mut ana = room.connect(ANA).await;
    ana.enter("Ana").await;
    let entered = room.published().await;
    assert_eq!(entered.seq, loaded[0].seq + 1);
    ana.send(ClientMessage::Chat {
        payload: ChatLine {
            id: "c1".into(),
            name: "Ana".into(),
            text: "hello".into(),
        },
    })
    .await;
    let said = room.published().await;
    // ten seconds later, a move: then a snapshot with it
    clock.0.store(t0 + 10_000, Ordering::Relaxed);
    ana.send(move_to(Cell::new(3, 4), 1, "Ana")).await;
    let moved = room.published().await;
    let ServerMessage::Player {
        payload: ref at, ..
    } = moved.message
    else {
        panic!("{moved:?}")
    };
    let moved_to = player_at(ANA, "Ana", Cell::new(at.x.unwrap(), at.y.unwrap()), 1);
    let kept = records(&*store, 4).await;
    let updates: Vec<(u64, i64, ServerMessage)> = kept[1..]
        .iter()
        .filter(|r| !r.snapshot)
        .map(|r| (r.seq, r.t, frame_of(r)))
        .collect();
    assert_eq!(
        updates,
        [
            (entered.seq, t0, entered.message),
            (said.seq, t0, said.message.clone()),
            (moved.seq, t0 + 10_000, moved.message.clone()),
        ]
    );
    // the window starts at the load's snapshot; the second comes after the move
    let second = store
        .history_snapshot(GAME, Some(t0 + 10_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.seq, second.t), (moved.seq, t0 + 10_000));
    let frames = snapshot_of(&second);
    assert!(frames.contains(&moved_to), "{frames:?}");
    assert_eq!(frames.last(), Some(&said.message), "the chat line last");

    // no update since: no snapshot, however long
    clock.0.store(t0 + 60_000, Ordering::Relaxed);
    ana.send(move_to(Cell::new(9, 9), 2, "Ana")).await; // off the board: snaps back, an update
    room.published().await;
    clock.0.store(t0 + 120_000, Ordering::Relaxed);
    ana.send(ClientMessage::Chat {
        payload: ChatLine {
            id: "c2".into(),
            name: "Ana".into(),
            text: "   ".into(), // refused: no update
        },
    })
    .await;
    let _ = ana.next().await;
    // everything handed over is written once the snap-back is (the writer keeps order)
    let all = records(&*store, 5).await;
    let snapshots: Vec<i64> = all.iter().filter(|r| r.snapshot).map(|r| r.t).collect();
    assert_eq!(
        snapshots,
        [t0],
        "a window from the start holds its first snapshot only"
    );
    let latest = store.history_snapshot(GAME, None).await.unwrap().unwrap();
    assert_eq!(latest.t, t0);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let last = store
            .history_snapshot(GAME, Some(i64::MAX))
            .await
            .unwrap()
            .unwrap();
        if last.t == t0 + 60_000 || std::time::Instant::now() > deadline {
            assert_eq!(
                last.t,
                t0 + 60_000,
                "the snapshot after the last update, none after"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
