//! The receipt task: waits for the broker's acknowledgement of each sent frame, so that
//! the publisher never waits for one before sending the next, and notes where each
//! stamped frame landed ([`crate::positions`]).

use std::sync::Arc;

use pulsar::producer::SendFuture;
use tokio::sync::mpsc;

use super::health::Health;
use super::positions::Positions;
use super::publisher::Sent;

/// Awaits the broker's receipts in publication order; a frame the crate gave up on is
/// logged and no longer waited for.
pub async fn receipt_loop(
    mut receipts: mpsc::UnboundedReceiver<(Sent, SendFuture)>,
    health: Arc<Health>,
    positions: Arc<Positions>,
) {
    while let Some((sent, receipt)) = receipts.recv().await {
        match receipt.await {
            Ok(receipt) => {
                if let (Some((game, epoch)), Some(id)) = (sent.frame_of, receipt.message_id) {
                    positions.landed(game, id, epoch);
                }
            }
            Err(e) => {
                tracing::error!(seq = sent.seq, error = %e, "pulsar lost a world frame");
                health.lost(sent.seq);
            }
        }
    }
}
