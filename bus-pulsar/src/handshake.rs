//! Why the broker refused us. The `pulsar` crate turns a refused connection into "fatal
//! error when connecting" and only logs the broker's reason; to tell an operator that
//! the token is wrong or the broker's certificate is not trusted, this module repeats
//! the protocol's first exchange itself (TLS handshake if `pulsar+ssl://`, then CONNECT,
//! answered by CONNECTED or ERROR) and reads what went wrong.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pulsar::message::proto::{self, base_command::Type, BaseCommand, CommandConnect};
use pulsar::message::{Codec, Message};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::error::BusError;

/// How long each step of the exchange may take.
const STEP: Duration = Duration::from_secs(5);

/// The reason the broker at `url` refuses a connection with `token`, if one can be found.
pub async fn explain(
    url: &str,
    token: Option<&SecretString>,
    ca_file: Option<&Path>,
) -> Option<BusError> {
    let (tls, rest) = match url.split_once("://")? {
        ("pulsar", rest) => (false, rest),
        ("pulsar+ssl", rest) => (true, rest),
        _ => return None,
    };
    // the first of possibly several hosts, without a path
    let host = rest.split(['/', ',']).next()?;
    let (name, address) = match host.rsplit_once(':') {
        Some((name, _)) => (name.to_string(), host.to_string()),
        None => (
            host.to_string(),
            format!("{host}:{}", if tls { 6651 } else { 6650 }),
        ),
    };
    let stream = tokio::time::timeout(STEP, TcpStream::connect(&address))
        .await
        .ok()?
        .ok()?;
    if !tls {
        return exchange(stream, url, token).await;
    }
    let connector = match connector(ca_file) {
        Ok(connector) => connector,
        Err(reason) => return Some(BusError::Config(reason)),
    };
    let server = ServerName::try_from(name).ok()?;
    match tokio::time::timeout(STEP, connector.connect(server, stream)).await {
        Err(_) => None,
        Ok(Err(e)) => Some(BusError::Connect(format!(
            "TLS handshake with the pulsar broker at {url} failed: {e} (for a private CA, \
             give its certificate with --pulsar-tls-ca-file)"
        ))),
        Ok(Ok(stream)) => exchange(stream, url, token).await,
    }
}

/// The public roots plus the CA certificates of `ca_file`, as the crate trusts them.
fn connector(ca_file: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    Ok(tokio_rustls::TlsConnector::from(Arc::new(client_config(
        ca_file,
    )?)))
}

/// A TLS client configuration trusting the public roots plus the CA certificates of
/// `ca_file` (also for the broker's admin REST API).
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read the pulsar CA file {}: {e}", path.display()))?;
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|e| format!("a certificate in {} is not usable: {e}", path.display()))?;
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// CONNECT over `stream`; the broker's refusal, if it refuses.
async fn exchange<S>(stream: S, url: &str, token: Option<&SecretString>) -> Option<BusError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framed = Framed::new(stream, Codec);
    let (auth_method_name, auth_data) = match token {
        Some(token) => (
            Some("token".into()),
            Some(token.expose_secret().as_bytes().to_vec()),
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
