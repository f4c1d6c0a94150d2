//! The generator measures what it claims: a small, short load against a real server
//! started in this test on port 0, and checks that the counts add up. No timing
//! assertions: latencies only have to be ordered, never fast.

use drapetisca::{Application, Settings};
use loadgen::sockets::SocketMode;
use loadgen::{Config, Report};

/// Runs `config` against a fresh embedded server in this process; returns the report
/// and the server's `/metrics` at the end.
async fn run_against_a_fresh_server(mut config: Config) -> (Report, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = Application::build(Settings::local(dir.path()))
        .await
        .expect("server builds");
    config.addr = format!("127.0.0.1:{}", app.port()).parse().unwrap();
    // the server shares this process, so its /proc figures are ours: enough to check
    // that sampling works, not a measurement
    config.server_pid = Some(std::process::id());
    let stop = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let report = loadgen::run(config.clone())
        .await
        .expect("the run completes");
    let metrics = get(config.addr, "/metrics").await;
    stop.cancel();
    server
        .await
        .expect("server task")
        .expect("server stops cleanly");
    (report, metrics)
}

/// The body of a GET that must answer 200.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let url = format!("http://{addr}{path}");
    let response = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(response.status(), 200, "GET {url}");
    response
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The value of an unlabelled series (or the sum of a labelled one) in an exposition.
fn series(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(s, _)| {
            *s == name
                || s.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{'))
        })
        .map(|(_, v)| v.parse::<f64>().expect("a number") as u64)
        .sum()
}

fn small_load() -> Config {
    let mut config = Config::defaults();
    config.players = 5;
    config.rate = 2.0;
    config.duration = 2.0;
    config.chat_every = 0.5;
    config.grace = 1.0;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_bots_for_two_seconds_deliver_every_move_to_everyone_and_the_counts_add_up() {
    // reference clients: two sockets, one message per update
    let mut config = small_load();
    config.sockets = SocketMode::Two;
    let (r, _) = run_against_a_fresh_server(config).await;
    println!("{r}");
    assert_eq!((r.entered, r.failed), (5, 0), "{:?}", r.first_error);

    // at most 4 ticks per bot (2/s for 2 s): a bot that fell behind skips a tick, never
    // adds one, and a loaded machine may make any bot fall behind
    assert!(
        (1..=20).contains(&r.moves_sent),
        "moves sent {}",
        r.moves_sent
    );
    assert_eq!(
        r.frames_out,
        5 + r.moves_sent + r.chats_sent,
        "entering, moves, chat"
    );

    // this server publishes every answer, snap-backs included
    assert_eq!(r.moves_published, r.moves_sent);
    assert_eq!(r.moves_unanswered, 0);
    assert_eq!(r.to_self.expected, r.moves_sent);
    assert_eq!(r.to_others.expected, r.moves_sent * 4);
    for d in [&r.to_self, &r.to_others] {
        assert_eq!(d.received, d.expected, "nothing lost on an idle machine");
        assert_eq!(d.lost, 0);
        assert_eq!(d.latency.count, d.received, "one latency per delivery");
        let l = &d.latency;
        assert!(l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.max_ms);
        assert!(l.p50_ms > 0.0);
    }
    assert_eq!(r.duplicates, 0);
    assert_eq!(r.unparsed, 0);
    assert_eq!(r.server_errors, 0);

    // every chat line reaches every bot, its speaker included
    assert!(r.chats_sent >= 1, "chats sent {}", r.chats_sent);
    assert_eq!(r.chats_received, r.chats_sent * 5);

    // every delivery and chat line is a frame; briefs and food add more
    assert!(r.frames_in >= r.to_self.received + r.to_others.received + r.chats_received);
    assert!(r.moves_per_s > 0.0 && r.frames_in_per_s > 0.0);

    let server = r.server.expect("server figures");
    assert!(server.rss_connected_kb > 0 && server.hwm_kb >= server.rss_end_kb);

    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["to_others"]["received"], r.to_others.received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_on_the_batched_stream_count_every_update_inside_a_batch() {
    for (sockets, batched) in [(SocketMode::Two, true), (SocketMode::One, false)] {
        let mut config = small_load();
        config.sockets = sockets;
        config.batched = batched;
        batched_run_adds_up(config).await;
    }
}

/// Runs `config`, whose bots read the batched stream (on two sockets or the one), and
/// checks that every update inside a batch counts.
async fn batched_run_adds_up(config: Config) {
    let (r, _) = run_against_a_fresh_server(config).await;
    println!("{r}");
    assert_eq!((r.entered, r.failed), (5, 0), "{:?}", r.first_error);
    assert!(r.moves_sent >= 1, "moves sent {}", r.moves_sent);
    assert_eq!(r.moves_unanswered, 0);
    assert_eq!(r.to_others.expected, r.moves_sent * 4);
    for d in [&r.to_self, &r.to_others] {
        assert_eq!(d.received, d.expected, "nothing lost on an idle machine");
        assert_eq!(d.latency.count, d.received, "one latency per delivery");
    }
    assert_eq!((r.duplicates, r.unparsed), (0, 0));
    assert_eq!(r.chats_received, r.chats_sent * 5);
    // every delivery and chat line is an update, wherever a batch put it
    assert!(
        r.world_updates_in >= r.to_self.received + r.to_others.received + r.chats_received,
        "{} updates",
        r.world_updates_in
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_spread_over_three_games_hear_only_their_own_game() {
    let mut config = small_load();
    config.players = 9;
    config.games = 3;
    let (r, _) = run_against_a_fresh_server(config).await;
    println!("{r}");
    assert_eq!(
        (r.entered, r.failed, r.games),
        (9, 0, 3),
        "{:?}",
        r.first_error
    );
    assert!(r.moves_sent >= 1);
    assert_eq!(r.moves_published, r.moves_sent);
    // three bots a game: a move is expected at the 2 others of its game, not at all 8
    assert_eq!(r.to_others.expected, r.moves_sent * 2);
    assert_eq!(r.to_others.received, r.to_others.expected, "nothing lost");
    assert_eq!(r.to_self.received, r.moves_sent);
    // a chat line reaches the 3 bots of its game, its speaker included, and nobody else
    assert!(r.chats_sent >= 1, "chats sent {}", r.chats_sent);
    assert_eq!(r.chats_received, r.chats_sent * 3);
    assert_eq!(r.duplicates, 0);
    assert_eq!(r.server_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_bots_enter_and_send_nothing_but_their_entering() {
    let mut config = small_load();
    config.rate = 0.0;
    config.chat_every = 0.0;
    config.duration = 0.5;
    let (r, _) = run_against_a_fresh_server(config).await;
    assert_eq!((r.entered, r.failed), (5, 0), "{:?}", r.first_error);
    assert_eq!((r.moves_sent, r.frames_out), (0, 5));
    assert_eq!((r.to_self.expected, r.to_others.expected), (0, 0));
    assert_eq!(r.to_others.latency.count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_counters_agree_with_what_the_generator_counted() {
    let (r, metrics) = run_against_a_fresh_server(small_load()).await;
    assert_eq!(r.failed, 0, "{:?}", r.first_error);
    // every frame a bot sent is a frame the server read, and the other way round
    // (the server may have written a few more: frames to sockets closing at the end)
    assert_eq!(series(&metrics, "drapetisca_frames_in_total"), r.frames_out);
    assert!(series(&metrics, "drapetisca_frames_out_total") >= r.frames_in);
    assert_eq!(
        series(&metrics, "drapetisca_moves_rejected_total"),
        r.moves_rejected
    );
    // one world frame per move, per chat line, per entering (and per caught food)
    assert!(series(&metrics, "drapetisca_bus_published_total") >= r.moves_sent + r.chats_sent + 5);
    assert_eq!(
        series(&metrics, "drapetisca_bus_publish_seconds_count"),
        series(&metrics, "drapetisca_bus_published_total")
    );
    assert_eq!(series(&metrics, "drapetisca_socket_queue_drops_total"), 0);
    // the bots said goodbye with close frames, not by tearing connections down
    assert_eq!(series(&metrics, "drapetisca_frames_refused_total"), 0);
    assert_eq!(series(&metrics, "drapetisca_players_connected"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beside_hostile_clients_honest_bots_lose_nothing_and_every_attacker_is_held() {
    let mut config = small_load();
    config.duration = 15.0;
    config.hostile = true;
    config.flood = 50;
    let (r, metrics) = run_against_a_fresh_server(config).await;
    println!("{r}");
    assert_eq!((r.entered, r.failed), (5, 0), "{:?}", r.first_error);
    assert_eq!(r.to_self.lost, 0, "every mover saw its own moves");
    assert_eq!(r.to_others.lost, 0, "every bot saw every other bot's moves");
    let h = r.hostile.expect("hostile figures");
    assert!(h.thefts_tried > 0);
    assert_eq!(h.thefts_let_in, 0, "no thief entered under a bot's id");
    assert!(
        h.spam_errors > 0,
        "spam over the limits is answered with errors"
    );
    assert!(h.spam_closed > 0, "spammers are closed");
    assert!(
        h.spam_refused > 0,
        "a closed spammer's address is refused when it comes back"
    );
    assert!(
        series(
            &metrics,
            "drapetisca_sockets_refused_total{reason=\"flooding\"}"
        ) > 0
    );
    assert!(h.garbage_closed > 0, "garbage senders are closed");
    assert!(
        h.slow_cut > 0,
        "half-sent handshakes are cut: {} of {}",
        h.slow_cut,
        h.slow_opened
    );
    assert_eq!(h.flood_opened, [50, 50], "floods within the caps open");
    assert!(series(&metrics, "drapetisca_sockets_flooding_total") > 0);
    assert!(series(&metrics, "drapetisca_frames_limited_total") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectators_beside_the_bots_receive_every_move_of_their_game_and_count_apart() {
    let mut config = small_load();
    config.players = 6;
    config.games = 2;
    config.chat_every = 0.0;
    config.spectators = 4;
    let (r, _) = run_against_a_fresh_server(config).await;
    println!("{r}");
    // the players' figures are the players' alone
    assert_eq!((r.entered, r.failed), (6, 0), "{:?}", r.first_error);
    assert_eq!(r.moves_published, r.moves_sent);
    assert_eq!(r.to_others.expected, r.moves_sent * 2);
    assert_eq!(r.to_others.received, r.to_others.expected);
    let s = r.spectators.clone().expect("the spectators' figures");
    assert_eq!(
        (s.spectators, s.briefed, s.failed),
        (4, 4, 0),
        "{:?}",
        s.first_error
    );
    // two spectators a game: each move is expected at the 2 spectators of its game
    assert!(r.moves_sent >= 1);
    assert_eq!(s.deliveries.expected, r.moves_sent * 2);
    assert_eq!(s.deliveries.received, s.deliveries.expected, "nothing lost");
    assert_eq!((s.deliveries.lost, s.duplicates), (0, 0));
    assert_eq!(s.deliveries.latency.count, s.deliveries.received);
    // what was printed reads back
    let back = Report::from_json(&r.to_json()).unwrap();
    assert_eq!(
        back.spectators.unwrap().deliveries.received,
        s.deliveries.received
    );
}
