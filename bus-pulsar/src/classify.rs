//! What a failed set-up step means for the operator: the broker refusing our
//! credentials is an authentication failure (fix the token), anything else a
//! connection failure (fix the URL, the topic or the network).

use pulsar::error::{ConnectionError, ConsumerError, ProducerError, ServiceDiscoveryError};
use pulsar::message::proto::ServerError;

use crate::error::BusError;

/// `error`, from trying to `what` (e.g. "subscribe to") `topic` at `url`, as a
/// [`BusError`] that names the step.
pub fn setup_error(url: &str, what: &str, topic: &str, error: pulsar::Error) -> BusError {
    if is_refusal(&error) {
        BusError::Auth(format!(
            "the pulsar broker at {url} refused to let us {what} {topic}: {error}"
        ))
    } else {
        BusError::Connect(format!("cannot {what} {topic} at {url}: {error}"))
    }
}

/// Whether the broker answered that these credentials may not connect, or may not use
/// the topic.
fn is_refusal(error: &pulsar::Error) -> bool {
    matches!(
        server_error(error),
        Some(ServerError::AuthenticationError | ServerError::AuthorizationError)
    )
}

/// The broker's error code inside `error`, however the crate wrapped it.
fn server_error(error: &pulsar::Error) -> Option<ServerError> {
    use pulsar::Error as E;
    match error {
        E::Connection(e)
        | E::Consumer(ConsumerError::Connection(e))
        | E::Producer(ProducerError::Connection(e))
        | E::ServiceDiscovery(ServiceDiscoveryError::Connection(e)) => match e {
            ConnectionError::PulsarError(code, _) => *code,
            _ => None,
        },
        // a topic lookup answered by the broker
        E::ServiceDiscovery(ServiceDiscoveryError::Query(code, _)) => *code,
        E::Producer(ProducerError::Batch(e)) => server_error(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: ServerError) -> ConnectionError {
        ConnectionError::PulsarError(Some(code), Some("no".into()))
    }

    fn check(error: pulsar::Error, auth: bool) {
        let text = error.to_string();
        let classified = setup_error("pulsar://b:6650", "subscribe to", "t", error);
        assert_eq!(
            matches!(classified, BusError::Auth(_)),
            auth,
            "{text} -> {classified}"
        );
    }

    #[test]
    fn the_broker_refusing_credentials_is_an_authentication_failure_however_wrapped() {
        for code in [
            ServerError::AuthenticationError,
            ServerError::AuthorizationError,
        ] {
            check(pulsar::Error::Connection(refused(code)), true);
            check(
                pulsar::Error::Consumer(ConsumerError::Connection(refused(code))),
                true,
            );
            check(
                pulsar::Error::Producer(ProducerError::Connection(refused(code))),
                true,
            );
            check(
                pulsar::Error::ServiceDiscovery(ServiceDiscoveryError::Query(Some(code), None)),
                true,
            );
        }
    }

    #[test]
    fn other_failures_are_connection_failures() {
        check(
            pulsar::Error::Connection(refused(ServerError::TopicNotFound)),
            false,
        );
        check(
            pulsar::Error::Connection(ConnectionError::Disconnected),
            false,
        );
        check(
            pulsar::Error::ServiceDiscovery(ServiceDiscoveryError::NotFound),
            false,
        );
        // a message that merely mentions the word is not a refusal
        check(
            pulsar::Error::Custom("AuthorizationError in the text only".into()),
            false,
        );
    }
}
