//! Why the broker refused us. The `pulsar` crate turns a refused connection into "fatal
//! error when connecting" and only logs the broker's reason; to tell an operator that
//! the token is wrong, this module repeats the protocol's first exchange (CONNECT, then
//! CONNECTED or ERROR) itself and reads the broker's answer.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pulsar::message::proto::{self, base_command::Type, BaseCommand, CommandConnect};
use pulsar::message::{Codec, Message};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::Token;
use crate::bus::BusError;

/// How long each step of the exchange may take.
const STEP: Duration = Duration::from_secs(5);

/// The broker's reason for refusing a connection with `token`, if it gives one.
pub async fn explain(url: &str, token: Option<&Token>) -> Option<BusError> {
    let Some(rest) = url.strip_prefix("pulsar://") else {
        // TLS: the exchange would need its own TLS set-up; say what is likely
        return Some(BusError::Connect(format!(
            "the pulsar broker at {url} refused the connection: authentication failed, \
             or its TLS certificate is not trusted (check the token and \
             --pulsar-tls-ca-file)"
        )));
    };
    // the first of possibly several hosts, without a path
    let host = rest.split(['/', ',']).next()?;
    let address = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:6650")
    };
    let stream = tokio::time::timeout(STEP, TcpStream::connect(&address))
        .await
        .ok()?
        .ok()?;
    let mut framed = Framed::new(stream, Codec);
    let (auth_method_name, auth_data) = match token {
        Some(token) => (
            Some("token".into()),
            Some(token.expose().as_bytes().to_vec()),
        ),
        None => (None, None),
    };
    let connect = Message {
        command: BaseCommand {
            r#type: Type::Connect as i32,
            connect: Some(CommandConnect {
                client_version: "drapetisca".into(),
                protocol_version: Some(12),
                auth_method_name,
                auth_data,
                ..Default::default()
            }),
            ..Default::default()
        },
        payload: None,
    };
    tokio::time::timeout(STEP, framed.send(connect))
        .await
        .ok()?
        .ok()?;
    let reply = tokio::time::timeout(STEP, framed.next())
        .await
        .ok()??
        .ok()?;
    let error = reply.command.error?;
    let refused = [
        proto::ServerError::AuthenticationError as i32,
        proto::ServerError::AuthorizationError as i32,
    ];
    Some(if refused.contains(&error.error) {
        let token = if token.is_some() {
            "the configured token"
        } else {
            "a connection without a token"
        };
        BusError::Auth(format!(
            "the pulsar broker at {url} refused {token} ({})",
            error.message
        ))
    } else {
        BusError::Connect(format!(
            "the pulsar broker at {url} refused the connection: {}",
            error.message
        ))
    })
}
