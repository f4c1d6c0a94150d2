use super::*;

fn row(kind: ObjectKind, n: u128, x: i32) -> StoredObject {
    StoredObject {
        kind,
        object_id: Uuid::from_u128(n),
        active: true,
        x,
        y: 1,
        h: false,
        generation: 0,
        score: 0,
        expires_ms: None,
        token_hash: None,
        name: format!("o{n}"),
    }
}

#[tokio::test]
async fn rows_and_the_current_game_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let game = Uuid::from_u128(9);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.current_game().await.unwrap(), None);
        store.set_current_game(game).await.unwrap();
        store
            .write(
                game,
                &[row(ObjectKind::Brick, 1, 3), row(ObjectKind::Player, 2, 4)],
            )
            .await
            .unwrap();
        store
            .write(game, &[row(ObjectKind::Player, 2, 5)])
            .await
            .unwrap();
        store
            .write(Uuid::from_u128(8), &[row(ObjectKind::Food, 3, 1)])
            .await
            .unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.current_game().await.unwrap(), Some(game));
    let mut rows = store.load(game).await.unwrap();
    rows.sort_by_key(|r| r.object_id);
    assert_eq!(
        rows,
        vec![row(ObjectKind::Brick, 1, 3), row(ObjectKind::Player, 2, 5)]
    );
}

#[tokio::test]
async fn game_records_survive_reopening_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let info = |n: u128| GameInfo {
        id: Uuid::from_u128(n),
        name: format!("game {n}"),
        created_ms: 1_700_000_000_000 + n as i64,
        played_ms: None,
    };
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create_game(&info(1)).await.unwrap();
        store.create_game(&info(2)).await.unwrap();
        for x in 0..300 {
            store
                .write(info(1).id, &[row(ObjectKind::Player, 2, x)])
                .await
                .unwrap();
        }
    }
    // the reopening compacts the 300 replaced rows away; the games must stay
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let mut games = store.games().await.unwrap();
    games.sort_by_key(|g| g.id);
    assert_eq!(games, vec![info(1), info(2)]);
    assert_eq!(store.game(info(2).id).await.unwrap(), Some(info(2)));
    assert_eq!(store.game(Uuid::from_u128(3)).await.unwrap(), None);
}

#[tokio::test]
async fn a_torn_last_line_is_skipped_and_compaction_keeps_the_latest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let game = Uuid::from_u128(9);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.set_current_game(game).await.unwrap();
        for x in 0..300 {
            store
                .write(game, &[row(ObjectKind::Player, 2, x)])
                .await
                .unwrap();
        }
    }
    let path = dir.path().join(FILE_NAME);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(br#"{"game_id":"00000000-0000-0000-0000-0000000"#)
        .unwrap();
    drop(f);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        store.load(game).await.unwrap(),
        vec![row(ObjectKind::Player, 2, 299)]
    );
    let lines = fs::read_to_string(&path).unwrap().lines().count();
    assert!(lines <= 2, "compacted to the live rows, got {lines} lines");
}

/// The ids of the objects of `game`, in order.
async fn ids(store: &EmbeddedStore, game: Uuid) -> Vec<u128> {
    let mut ids: Vec<u128> = store
        .load(game)
        .await
        .unwrap()
        .iter()
        .map(|r| r.object_id.as_u128())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn expired_rows_are_forgotten_and_compacted_away_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let game = Uuid::from_u128(9);
    let expiring = |n: u128, at: i64| StoredObject {
        expires_ms: Some(at),
        token_hash: None,
        ..row(ObjectKind::Player, n, 1)
    };
    let later = now_ms() + 60_000;
    let soon = now_ms() + 300;
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .write(
                game,
                &[
                    row(ObjectKind::Food, 1, 1),
                    expiring(2, later),
                    expiring(3, soon),
                    expiring(4, now_ms() - 1),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            ids(&store, game).await,
            [1, 2, 3],
            "a row written expired is gone at once"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            ids(&store, game).await,
            [1, 2],
            "a row past its expiry is not loaded"
        );
        // replacing the one live row 200 times makes the next open compact
        for x in 0..200 {
            store
                .write(game, &[row(ObjectKind::Food, 1, x)])
                .await
                .unwrap();
        }
    }
    EmbeddedStore::open(dir.path()).unwrap();
    let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert_eq!(text.lines().count(), 2, "only the live rows stay:\n{text}");
    assert!(text.contains(&Uuid::from_u128(2).to_string()));
    assert!(text.contains("expires_ms"), "the expiry is kept:\n{text}");
}

/// Appends `bytes` to the log in `dir` as a crash mid-write would leave them.
fn append_raw(dir: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.join(FILE_NAME))
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Opens the store in `dir`, writes `object`, closes it, and returns the game's rows
/// after opening it again, by id.
async fn write_then_reopen(dir: &Path, game: Uuid, object: StoredObject) -> Vec<StoredObject> {
    EmbeddedStore::open(dir)
        .unwrap()
        .write(game, &[object])
        .await
        .unwrap();
    let mut rows = EmbeddedStore::open(dir).unwrap().load(game).await.unwrap();
    rows.sort_by_key(|r| r.object_id);
    rows
}

#[tokio::test]
async fn a_write_after_a_torn_last_line_survives_the_next_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let game = Uuid::from_u128(9);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.set_current_game(game).await.unwrap();
        store
            .write(game, &[row(ObjectKind::Player, 2, 1)])
            .await
            .unwrap();
    }
    // a short log (no compaction at open) whose last line was torn by a crash
    append_raw(
        dir.path(),
        br#"{"game_id":"00000000-0000-0000-0000-0000000"#,
    );
    let rows = write_then_reopen(dir.path(), game, row(ObjectKind::Player, 3, 7)).await;
    assert_eq!(
        rows,
        vec![row(ObjectKind::Player, 2, 1), row(ObjectKind::Player, 3, 7)]
    );
    let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "the torn fragment is gone:\n{text}"
    );
}

#[tokio::test]
async fn a_players_token_hash_survives_reopening_and_older_rows_have_none() {
    let dir = tempfile::tempdir().unwrap();
    let game = Uuid::from_u128(9);
    EmbeddedStore::open(dir.path()).unwrap();
    // a row as older versions wrote it: no token_hash field at all
    let older = Record::Object {
        game_id: game,
        object: row(ObjectKind::Player, 2, 1),
    };
    let mut line = serde_json::to_vec(&older).unwrap();
    assert!(!String::from_utf8_lossy(&line).contains("token_hash"));
    line.push(b'\n');
    append_raw(dir.path(), &line);
    let mut bound = row(ObjectKind::Player, 3, 7);
    bound.token_hash = Some(crate::tokens::TokenHash::of("secret"));
    let rows = write_then_reopen(dir.path(), game, bound.clone()).await;
    assert_eq!(rows, vec![row(ObjectKind::Player, 2, 1), bound]);
    let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert!(
        !text.contains("secret"),
        "only the hash is written:\n{text}"
    );
}

#[tokio::test]
async fn a_whole_last_record_without_its_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let game = Uuid::from_u128(9);
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.set_current_game(game).await.unwrap();
    }
    let record = Record::Object {
        game_id: game,
        object: row(ObjectKind::Food, 4, 2),
    };
    append_raw(dir.path(), &serde_json::to_vec(&record).unwrap());
    let rows = write_then_reopen(dir.path(), game, row(ObjectKind::Player, 3, 7)).await;
    assert_eq!(
        rows,
        vec![row(ObjectKind::Player, 3, 7), row(ObjectKind::Food, 4, 2)]
    );
}
