//! The receipt task: waits for the broker's acknowledgement of each sent frame, so that
//! the publisher never waits for one before sending the next.

use std::sync::Arc;

use pulsar::producer::SendFuture;
use tokio::sync::mpsc;

use super::health::Health;

/// Awaits the broker's receipts in publication order; a frame the crate gave up on is
/// logged and no longer waited for.
pub async fn receipt_loop(
    mut receipts: mpsc::UnboundedReceiver<(u64, SendFuture)>,
    health: Arc<Health>,
) {
    while let Some((seq, receipt)) = receipts.recv().await {
        if let Err(e) = receipt.await {
            tracing::error!(seq, error = %e, "pulsar lost a world frame");
            health.lost(seq);
        }
    }
}
