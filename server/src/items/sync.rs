//! Keeps several instances' in-memory indexes in step: the instance that changes items announces
//! the keys (PostgreSQL `NOTIFY`), the others re-read them from the database. On SQLite there is
//! only one instance and nothing to announce.

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::ItemKind;
use super::ItemsCtx;

/// The notification channel.
pub const CHANNEL: &str = "crm_bridge_items";

#[derive(Serialize, Deserialize)]
struct Message {
    from: String,
    #[serde(default)]
    keys: Vec<(i16, i64)>,
    #[serde(default)]
    rebuild: bool,
}

/// Tells other instances that `keys` changed (best effort: a lost notice is repaired by the
/// periodic reconcile and rebuild).
pub async fn announce(state: &ItemsCtx, keys: &[(ItemKind, i64)]) {
    for chunk in keys.chunks(300) {
        let message = Message {
            from: state.instance_id.to_string(),
            keys: chunk.iter().map(|(k, id)| (k.code(), *id)).collect(),
            rebuild: false,
        };
        publish(state, &message).await;
    }
}

/// Tells other instances to rebuild their index (after an import).
pub async fn announce_rebuild(state: &ItemsCtx) {
    publish(
        state,
        &Message {
            from: state.instance_id.to_string(),
            keys: Vec::new(),
            rebuild: true,
        },
    )
    .await;
}

async fn publish(state: &ItemsCtx, message: &Message) {
    if let Ok(text) = serde_json::to_string(message)
        && let Err(e) = state.store.publish(CHANNEL, &text).await
    {
        tracing::warn!(error = %e, "cannot announce item changes to other instances");
    }
}

/// Applies other instances' announcements until `stop` turns true.
pub async fn run_listener(state: ItemsCtx, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let mut messages = match state.store.subscribe(CHANNEL).await {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other instances' item changes");
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(5)) => continue,
                }
            }
        };
        // Anything missed while (re)connecting is caught by a rebuild.
        if let Err(e) = state.items.rebuild(state.store.as_ref()).await {
            tracing::warn!(error = %e, "rebuilding the item index failed");
        }
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                next = messages.next() => match next {
                    Some(text) => apply(&state, &text).await,
                    None => break,
                },
            }
        }
    }
}

async fn apply(state: &ItemsCtx, text: &str) {
    let Ok(message) = serde_json::from_str::<Message>(text) else {
        return;
    };
    if *message.from == *state.instance_id {
        return;
    }
    let result = if message.rebuild {
        state.items.rebuild(state.store.as_ref()).await
    } else {
        let keys: Vec<(ItemKind, i64)> = message
            .keys
            .iter()
            .filter_map(|(k, id)| ItemKind::from_code(*k).map(|k| (k, *id)))
            .collect();
        state.items.refresh(state.store.as_ref(), &keys).await
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "applying another instance's item changes failed");
    }
}
