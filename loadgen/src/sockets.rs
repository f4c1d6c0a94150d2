//! A bot's connection to its game: the one socket of Drapetisca's page (`/ws/one/{id}`,
//! docs/protocol.md; the default), or the reference protocol's two sockets
//! (`--sockets two`), which a reference server also speaks.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use protocol::Uuid;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// One WebSocket of a bot's.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one WebSocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How many sockets a bot plays on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SocketMode {
    /// One socket carries the commands, the direct replies and the batched world stream,
    /// as Drapetisca's page plays.
    #[default]
    One,
    /// A player socket and a world socket, as the reference protocol's clients play.
    Two,
}

/// Which stream a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The world stream: every update of the game.
    World,
    /// The replies meant for this bot alone.
    Player,
}

impl Stream {
    /// What the bot tells in an error about this stream.
    pub fn name(self) -> &'static str {
        match self {
            Stream::World => "world",
            Stream::Player => "player",
        }
    }
}

/// A bot's open sockets.
pub enum Sockets {
    /// The one socket: world batches are JSON arrays, direct replies objects.
    One(Socket),
    /// The reference's two sockets.
    Two {
        /// Every update of the game.
        world: Socket,
        /// The bot's commands and its direct replies.
        player: Socket,
    },
}

impl Sockets {
    /// Opens `mode`'s sockets for player `id` of `game` (`None`: the default game); with
    /// two, the world socket first, so nothing published after the brief is missed, and
    /// batched when `batched` (the one socket always is). A batched stream resumes after
    /// update `after`, if given and the server still has it (docs/protocol.md).
    pub async fn open(
        addr: SocketAddr,
        game: Option<Uuid>,
        id: Uuid,
        mode: SocketMode,
        batched: bool,
        after: Option<u64>,
    ) -> Result<Sockets> {
        if mode == SocketMode::One {
            let mut route = match game {
                Some(game) => protocol::game_one_route(game, id),
                None => protocol::one_route(id),
            };
            if let Some(after) = after {
                route += &format!("?after={after}");
            }
            return Ok(Sockets::One(connect(addr, &route).await?));
        }
        let (world_route, player_route) = match game {
            Some(game) => (
                protocol::game_world_route(game, id),
                protocol::game_player_route(game, id),
            ),
            None => (protocol::world_route(id), protocol::player_route(id)),
        };
        let world_route = match (batched, after) {
            (true, Some(after)) => format!("{world_route}{}&after={after}", protocol::BATCH_QUERY),
            (true, None) => world_route + protocol::BATCH_QUERY,
            (false, _) => world_route,
        };
        let world = connect(addr, &world_route).await?;
        let player = connect(addr, &player_route).await?;
        Ok(Sockets::Two { world, player })
    }

    /// The socket the bot writes its commands on.
    pub fn commands(&mut self) -> &mut Socket {
        match self {
            Sockets::One(socket) => socket,
            Sockets::Two { player, .. } => player,
        }
    }

    /// The next message from the server and the stream it came on; `None` when that
    /// socket ended. Cancel-safe (a `select!` branch).
    pub async fn next(&mut self) -> (Stream, Option<Result<Message>>) {
        match self {
            Sockets::One(socket) => {
                let message = socket.next().await.map(|m| m.context("socket failed"));
                let stream = match &message {
                    Some(Ok(Message::Text(text))) if text.starts_with('[') => Stream::World,
                    Some(Ok(Message::Text(_))) => Stream::Player,
                    // a close or a failure ends both streams: told as the world's
                    _ => Stream::World,
                };
                (stream, message)
            }
            Sockets::Two { world, player } => tokio::select! {
                m = world.next() => (Stream::World, m.map(|m| m.context("world socket failed"))),
                m = player.next() => (Stream::Player, m.map(|m| m.context("player socket failed"))),
            },
        }
    }

    /// Closes every socket politely.
    pub async fn close(self) {
        match self {
            Sockets::One(socket) => close_politely(socket).await,
            Sockets::Two { world, player } => {
                tokio::join!(close_politely(player), close_politely(world));
            }
        }
    }
}

/// Opens the WebSocket at `route`, with Nagle off.
pub async fn connect(addr: SocketAddr, route: &str) -> Result<Socket> {
    let url = format!("ws://{addr}{route}");
    let (socket, _) = timeout(
        CONNECT_TIMEOUT,
        // disable_nagle: moves are tiny frames that must leave at once
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true),
    )
    .await
    .with_context(|| format!("connecting {url} timed out"))?
    .with_context(|| format!("could not connect {url}"))?;
    Ok(socket)
}

/// Sends a close frame and reads until the server's answering close (or the end), so
/// that the server sees a clean goodbye rather than a connection torn down under it;
/// the run is over whatever the server answers, hence the time limit.
pub async fn close_politely(mut socket: Socket) {
    let _ = timeout(Duration::from_secs(2), async {
        if socket.close(None).await.is_ok() {
            while let Some(Ok(_)) = socket.next().await {}
        }
    })
    .await;
}
