//! Hostile clients beside the honest bots (`--hostile`): what a public server meets on
//! its first day, run while the bots move, so the report shows what honest players felt.
//!
//! - spammers ([`SPAMMERS`]): enter under a fresh id, then send moves (standing still,
//!   an accepted move) and chat lines far over the server's rate limits; once the
//!   server closes them they come back under a new id;
//! - garbage ([`GARBAGE_SOCKETS`]): player sockets that send what is not the protocol
//!   (not JSON, unknown types, binary, oversized frames);
//! - thieves ([`THIEVES`]): open a player socket under an honest bot's id and try to
//!   enter (with a made-up resume token);
//! - slow handshakes ([`SLOW_HANDSHAKES`]): TCP connections that send half a WebSocket
//!   handshake and stall;
//! - idle floods: `--flood` player sockets opened and held without a word, then closed;
//!   twice, with the server's memory sampled before, during and after each, to see that
//!   the second flood reuses the first one's memory.
//!
//! Attackers play the server's default game, and stop at the end of the measured
//! window, so the grace period is clean. Each connects from a loopback address of its
//! own ([`Source`]; Linux routes all of 127/8 to `lo`), not the bots' 127.0.0.1, so that
//! the server's per-address rules tell them apart from the honest bots and from each
//! other, as they would on the internet.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::{stream, SinkExt, StreamExt};
use protocol::{ChatLine, ClientMessage, Entering, PlayerUpdate, Uuid};
use rand::seq::SliceRandom;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, timeout, timeout_at};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};
use tokio_tungstenite::MaybeTlsStream;

use crate::report::HostileFigures;
use crate::server::ProcSample;
use crate::sockets::Socket;

/// Spammers at once.
pub const SPAMMERS: usize = 10;
/// Moves a spammer sends per second: ten times the server's default move limit.
const SPAM_MOVES_PER_S: u32 = 400;
/// One chat line every this many moves (40 a second: forty times the chat limit).
const SPAM_CHAT_EVERY: u32 = 10;
/// Garbage sockets at once.
pub const GARBAGE_SOCKETS: usize = 5;
/// Garbage frames per second per socket.
const GARBAGE_PER_S: u32 = 100;
/// Thieves at once, each trying twice a second.
pub const THIEVES: usize = 5;
/// Stalled handshakes held at once.
pub const SLOW_HANDSHAKES: usize = 50;
/// How long a flood holds its sockets.
const FLOOD_HOLD: Duration = Duration::from_secs(3);
/// How long after a flood closes before memory is sampled.
const FLOOD_SETTLE: Duration = Duration::from_secs(2);
/// Flood sockets opening at once.
const FLOOD_CONCURRENCY: usize = 64;
/// Addresses a flood's sockets come from, so that a flood of 1000 stays within the
/// default cap per address (128).
const FLOOD_ADDRESSES: u8 = 16;
/// How long an attacker's handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The loopback address an attacker connects from: 127.0.KIND.N, one per attacker of a
/// kind (one per flood address for floods).
#[derive(Clone, Copy)]
enum Source {
    Spammer(u8),
    Garbage(u8),
    Thief(u8),
    SlowHandshake(u8),
    Flood(u8),
}

impl Source {
    fn ip(self) -> IpAddr {
        let (kind, n) = match self {
            Source::Spammer(n) => (1, n),
            Source::Garbage(n) => (2, n),
            Source::Thief(n) => (3, n),
            Source::SlowHandshake(n) => (4, n),
            Source::Flood(n) => (5, n),
        };
        // .0 is a network's own address; start at .1
        IpAddr::V4(Ipv4Addr::new(127, 0, kind, n.saturating_add(1)))
    }
}

/// A TCP connection to `addr` from `from`'s address, Nagle off.
async fn tcp_from(from: Source, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.ip(), 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// How an attacker's handshake went.
enum Opened {
    /// The socket is open (boxed: a socket is large, the other answers are nothing).
    Yes(Box<Socket>),
    /// The server answered with an HTTP refusal (a cap, or an address refused for
    /// flooding).
    Refused,
    /// No answer, or not HTTP.
    Failed,
}

/// Opens the WebSocket at `route` from `from`'s address.
async fn connect(from: Source, addr: SocketAddr, route: &str) -> Opened {
    let Ok(request) = format!("ws://{addr}{route}").into_client_request() else {
        return Opened::Failed;
    };
    let handshake = async {
        let stream = tcp_from(from, addr).await.ok()?;
        Some(tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await)
    };
    match timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(Some(Ok((socket, _)))) => Opened::Yes(Box::new(socket)),
        Ok(Some(Err(tungstenite::Error::Http(_)))) => Opened::Refused,
        _ => Opened::Failed,
    }
}

/// Counters shared by the attackers.
#[derive(Default)]
struct Tally {
    spam_frames: AtomicU64,
    spam_errors: AtomicU64,
    spam_closed: AtomicU64,
    spam_refused: AtomicU64,
    garbage_frames: AtomicU64,
    garbage_closed: AtomicU64,
    thefts_tried: AtomicU64,
    thefts_refused: AtomicU64,
    thefts_let_in: AtomicU64,
    slow_opened: AtomicU64,
    slow_cut: AtomicU64,
    /// The longest time a stalled handshake was kept, in milliseconds.
    slow_longest_ms: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Runs every attacker from `start` to `end` and the two floods, and returns what they
/// saw. `honest` are the ids of the honest bots in the default game (the thieves'
/// targets); `pid` the server's, for its memory.
pub async fn run(
    addr: SocketAddr,
    honest: Vec<Uuid>,
    pid: Option<u32>,
    flood: usize,
    end: Instant,
) -> Result<HostileFigures> {
    let tally = Arc::new(Tally::default());
    let honest = Arc::new(honest);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..SPAMMERS as u8 {
        tasks.spawn(spammer(Source::Spammer(n), addr, end, tally.clone()));
    }
    for n in 0..GARBAGE_SOCKETS as u8 {
        tasks.spawn(garbage(Source::Garbage(n), addr, end, tally.clone()));
    }
    for n in 0..THIEVES as u8 {
        tasks.spawn(thief(
            Source::Thief(n),
            addr,
            end,
            honest.clone(),
            tally.clone(),
        ));
    }
    for n in 0..SLOW_HANDSHAKES as u8 {
        tasks.spawn(slow_handshake(
            Source::SlowHandshake(n),
            addr,
            end,
            tally.clone(),
        ));
    }
    let rss = |pid: Option<u32>| -> Result<u64> {
        Ok(pid
            .map(|p| ProcSample::take(Some(p)))
            .transpose()?
            .map_or(0, |s| s.rss_kb))
    };
    // let the attackers get going before the first flood
    sleep(Duration::from_secs(1)).await;
    let before = rss(pid)?;
    let first = idle_flood(addr, flood, || rss(pid)).await?;
    let second = idle_flood(addr, flood, || rss(pid)).await?;
    while tasks.join_next().await.is_some() {}
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Ok(HostileFigures {
        spammers: SPAMMERS,
        spam_frames: get(&tally.spam_frames),
        spam_errors: get(&tally.spam_errors),
        spam_closed: get(&tally.spam_closed),
        spam_refused: get(&tally.spam_refused),
        garbage_frames: get(&tally.garbage_frames),
        garbage_closed: get(&tally.garbage_closed),
        thefts_tried: get(&tally.thefts_tried),
        thefts_refused: get(&tally.thefts_refused),
        thefts_let_in: get(&tally.thefts_let_in),
        slow_opened: get(&tally.slow_opened),
        slow_cut: get(&tally.slow_cut),
        slow_longest_ms: get(&tally.slow_longest_ms),
        flood_sockets: flood,
        flood_opened: [first.opened, second.opened],
        rss_before_floods_kb: before,
        rss_during_floods_kb: [first.during_kb, second.during_kb],
        rss_after_floods_kb: [first.after_kb, second.after_kb],
    })
}

/// What one flood did.
struct Flood {
    /// Sockets that opened.
    opened: usize,
    /// Server memory while they were held.
    during_kb: u64,
    /// Server memory after they closed and things settled.
    after_kb: u64,
}

/// Opens `size` idle player sockets under fresh ids, holds them, closes them.
async fn idle_flood(addr: SocketAddr, size: usize, rss: impl Fn() -> Result<u64>) -> Result<Flood> {
    let sockets: Vec<Socket> = stream::iter(0..size)
        .map(|n| async move {
            let from = Source::Flood((n % usize::from(FLOOD_ADDRESSES)) as u8);
            connect(from, addr, &protocol::player_route(Uuid::new_v4())).await
        })
        .buffer_unordered(FLOOD_CONCURRENCY)
        .filter_map(|s| async move {
            match s {
                Opened::Yes(socket) => Some(*socket),
                Opened::Refused | Opened::Failed => None,
            }
        })
        .collect()
        .await;
    let opened = sockets.len();
    sleep(FLOOD_HOLD).await;
    let during_kb = rss()?;
    // closed as a crowd of clients would go: most just vanish
    drop(sockets);
    sleep(FLOOD_SETTLE).await;
    Ok(Flood {
        opened,
        during_kb,
        after_kb: rss()?,
    })
}

/// Reads frames until the own `player` frame of the brief; returns where the server put
/// us, or `None` when the socket ended first.
async fn own_position(socket: &mut Socket, id: Uuid) -> Option<(i32, i32)> {
    let id = id.to_string();
    let wait = timeout(Duration::from_secs(10), async {
        while let Some(Ok(frame)) = socket.next().await {
            let Message::Text(text) = frame else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if v["messageType"] == "player" && v["playerID"] == id.as_str() {
                let (x, y) = (v["payload"]["x"].as_i64()?, v["payload"]["y"].as_i64()?);
                return Some((x as i32, y as i32));
            }
        }
        None
    });
    wait.await.ok().flatten()
}

/// Enters under fresh ids and floods moves and chat until closed, again and again
/// (refused handshakes are tried again every 200 ms, whatever `Retry-After` says).
async fn spammer(from: Source, addr: SocketAddr, end: Instant, tally: Arc<Tally>) {
    while Instant::now() < end {
        let id = Uuid::new_v4();
        let mut socket = match connect(from, addr, &protocol::player_route(id)).await {
            Opened::Yes(socket) => *socket,
            refused_or_failed => {
                if matches!(refused_or_failed, Opened::Refused) {
                    add(&tally.spam_refused, 1);
                }
                sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let entering = ClientMessage::Entering {
            payload: Entering::named("spam"),
        };
        if socket
            .send(Message::Text(entering.to_json()))
            .await
            .is_err()
        {
            continue;
        }
        let Some((x, y)) = own_position(&mut socket, id).await else {
            continue;
        };
        // a burst every 10 ms adds up to SPAM_MOVES_PER_S
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let per_tick = SPAM_MOVES_PER_S / 100;
        let mut generation = 0;
        let closed = loop {
            tokio::select! {
                _ = tick.tick() => {
                    if Instant::now() >= end {
                        break false;
                    }
                    let mut frames = Vec::new();
                    for _ in 0..per_tick {
                        generation += 1;
                        frames.push(ClientMessage::Player {
                            payload: PlayerUpdate { x: Some(x), y: Some(y), h: false, generation, name: "spam".into() },
                        });
                        if (generation as u32).is_multiple_of(SPAM_CHAT_EVERY) {
                            frames.push(ClientMessage::Chat {
                                payload: ChatLine { id: Uuid::new_v4().to_string(), name: "Admin".into(), text: "buy gold".into() },
                            });
                        }
                    }
                    let mut failed = false;
                    for frame in frames {
                        if socket.feed(Message::Text(frame.to_json())).await.is_err() {
                            failed = true;
                            break;
                        }
                        add(&tally.spam_frames, 1);
                    }
                    if failed || socket.flush().await.is_err() {
                        break true;
                    }
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) if text.contains("\"error\"") => add(&tally.spam_errors, 1),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break true,
                    Some(Ok(_)) => {}
                },
            }
        };
        if closed {
            add(&tally.spam_closed, 1);
        }
    }
}

/// Sends frames that are not the protocol until closed, again and again.
async fn garbage(from: Source, addr: SocketAddr, end: Instant, tally: Arc<Tally>) {
    let oversized = "x".repeat(70 * 1024);
    let samples: Vec<Message> = vec![
        Message::Text("not json at all".into()),
        Message::Text(r#"{"messageType":"dragon","payload":{}}"#.into()),
        Message::Text(r#"{"messageType":"player"}"#.into()),
        Message::Text(r#"{"messageType":"player","payload":{"x":"far","y":[]}}"#.into()),
        Message::Binary(vec![0xff, 0x00, 0x13, 0x37]),
        Message::Text(oversized),
    ];
    let period = Duration::from_secs(1) / GARBAGE_PER_S;
    while Instant::now() < end {
        let Opened::Yes(mut socket) =
            connect(from, addr, &protocol::player_route(Uuid::new_v4())).await
        else {
            sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut tick = tokio::time::interval(period);
        let closed = loop {
            tokio::select! {
                _ = tick.tick() => {
                    if Instant::now() >= end {
                        break false;
                    }
                    // unwrap: the list is not empty
                    let frame = samples.choose(&mut rand::thread_rng()).unwrap().clone();
                    if socket.send(frame).await.is_err() {
                        break true;
                    }
                    add(&tally.garbage_frames, 1);
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break true,
                    Some(Ok(_)) => {}
                },
            }
        };
        if closed {
            add(&tally.garbage_closed, 1);
        }
    }
}

/// Tries to enter under an honest bot's id, twice a second.
async fn thief(
    from: Source,
    addr: SocketAddr,
    end: Instant,
    honest: Arc<Vec<Uuid>>,
    tally: Arc<Tally>,
) {
    while Instant::now() < end && !honest.is_empty() {
        let victim = honest[rand::thread_rng().gen_range(0..honest.len())];
        add(&tally.thefts_tried, 1);
        let outcome = async {
            let Opened::Yes(mut socket) =
                connect(from, addr, &protocol::player_route(victim)).await
            else {
                return None;
            };
            let entering = ClientMessage::Entering {
                payload: Entering {
                    token: Some("0123456789abcdef0123456789abcdef".into()),
                    ..Entering::named("thief")
                },
            };
            socket.send(Message::Text(entering.to_json())).await.ok()?;
            // a brief means the theft worked; a close or an error means it did not
            let let_in = own_position(&mut socket, victim).await.is_some();
            Some(let_in)
        };
        match timeout(Duration::from_secs(10), outcome).await {
            Ok(Some(true)) => add(&tally.thefts_let_in, 1),
            _ => add(&tally.thefts_refused, 1),
        }
        sleep(Duration::from_millis(500)).await;
    }
}

/// Holds a half-sent handshake open until the server cuts it, again and again.
async fn slow_handshake(from: Source, addr: SocketAddr, end: Instant, tally: Arc<Tally>) {
    while Instant::now() < end {
        let Ok(mut tcp) = tcp_from(from, addr).await else {
            sleep(Duration::from_millis(200)).await;
            continue;
        };
        let half = format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n",
            protocol::world_route(Uuid::new_v4())
        );
        if tcp.write_all(half.as_bytes()).await.is_err() {
            continue;
        }
        add(&tally.slow_opened, 1);
        let opened = Instant::now();
        let mut buf = [0u8; 512];
        // the server answers (408) and closes, or just closes; past `end` we give up
        let cut = timeout_at(end.into(), async {
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok();
        if cut {
            add(&tally.slow_cut, 1);
            let kept = opened.elapsed().as_millis() as u64;
            tally.slow_longest_ms.fetch_max(kept, Ordering::Relaxed);
        }
    }
}
