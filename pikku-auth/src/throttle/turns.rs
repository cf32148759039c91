//! Per-key turns, so that attempts on one key are checked one after the other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::ThrottleKey;

/// Per-key turns: one attempt at a time per key, the others wait in line.
#[derive(Default)]
pub(super) struct Turns {
    lines: Mutex<Lines>,
}

#[derive(Default)]
pub(super) struct Lines {
    pub(super) by_key: HashMap<ThrottleKey, Arc<tokio::sync::Mutex<()>>>,
    /// Size at which the next insertion drops lines nobody is in.
    sweep_at: usize,
}

/// Number of lines below which [`Turns`] does not sweep abandoned ones.
pub(super) const MIN_TURNS_SWEEP: usize = 64;

impl Turns {
    pub(super) fn lines(&self) -> MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) async fn take(&self, key: ThrottleKey) -> Turn<'_> {
        let line = {
            let mut lines = self.lines();
            if lines.by_key.len() >= lines.sweep_at.max(MIN_TURNS_SWEEP) {
                // A wait cancelled before it got its turn leaves a line nobody is in; the map holds the only
                // reference to those.
                lines.by_key.retain(|_, line| Arc::strong_count(line) > 1);
                lines.sweep_at = lines.by_key.len() * 2;
            }
            Arc::clone(lines.by_key.entry(key.clone()).or_default())
        };
        let guard = line.lock_owned().await;
        Turn { turns: self, key, guard: Some(guard) }
    }
}

/// Holding one key's turn; giving it back removes the key's line when nobody waits in it.
pub(super) struct Turn<'t> {
    turns: &'t Turns,
    key: ThrottleKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut lines = self.turns.lines();
        drop(self.guard.take());
        // Every reference is taken under this lock, so the count cannot rise behind our back.
        if lines.by_key.get(&self.key).is_some_and(|line| Arc::strong_count(line) == 1) {
            lines.by_key.remove(&self.key);
        }
    }
}
