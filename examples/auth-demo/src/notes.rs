//! Notes kept in memory for the life of the process.

use std::collections::HashMap;
use std::sync::Mutex;

use pikku::{schemars, JsonSchema};
use serde::Serialize;

/// One note.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    id: u64,
    user_id: String,
    text: String,
}

/// Every accepted note is kept: ids are assigned and the note stored under one lock, so concurrent
/// writers can neither lose a note nor share an id.
#[derive(Default)]
pub struct Notes {
    inner: Mutex<NotesInner>,
}

#[derive(Default)]
struct NotesInner {
    next_id: u64,
    by_user: HashMap<String, Vec<Note>>,
}

impl Notes {
    /// Stores a note and returns it with its id.
    pub fn add(&self, user_id: String, text: String) -> Note {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.next_id += 1;
        let note = Note { id: inner.next_id, user_id: user_id.clone(), text };
        inner.by_user.entry(user_id).or_default().push(note.clone());
        note
    }

    /// The user's last `limit` notes, oldest first (newest last).
    pub fn latest(&self, user_id: &str, limit: usize) -> Vec<Note> {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let notes = inner.by_user.get(user_id).map(Vec::as_slice).unwrap_or_default();
        notes[notes.len().saturating_sub(limit)..].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_returns_the_newest_notes_newest_last() {
        let notes = Notes::default();
        for i in 0..5 {
            notes.add("u1".into(), format!("n{i}"));
        }
        let texts: Vec<String> = notes.latest("u1", 2).into_iter().map(|n| n.text).collect();
        assert_eq!(texts, ["n3", "n4"]);
        assert!(notes.latest("nobody", 10).is_empty());
    }

    #[test]
    fn concurrent_writers_lose_nothing_and_ids_are_unique() {
        let notes = std::sync::Arc::new(Notes::default());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let notes = notes.clone();
                std::thread::spawn(move || {
                    (0..100).map(|i| notes.add("u1".into(), format!("{t}-{i}")).id).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 800);
        assert_eq!(notes.latest("u1", 1000).len(), 800);
    }
}
