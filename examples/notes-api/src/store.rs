//! The notes, in memory: a stand-in for a database table.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pikku::{schemars, JsonSchema};
use serde::Serialize;

use crate::Tenant;

/// A note. Its `version` starts at 1 and grows with every change; it is the note's `ETag`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: u64,
    pub text: String,
    pub author: String,
    pub version: u64,
}

impl Note {
    /// The `ETag` of this version: `"<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Why a change was refused.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// No such note for the tenant.
    NotFound,
    /// The note changed since the version the client holds; carries the current one.
    Changed(Note),
}

/// The notes of every tenant. One lock: a check and its change happen together.
#[derive(Debug, Default)]
pub struct NoteStore {
    inner: Mutex<Notes>,
}

#[derive(Debug, Default)]
struct Notes {
    by_tenant: BTreeMap<Tenant, BTreeMap<u64, Note>>,
    last_id: u64,
}

impl NoteStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Notes> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a note (version 1) for `tenant`.
    pub fn create(&self, tenant: &Tenant, author: &str, text: String) -> Note {
        let mut notes = self.lock();
        notes.last_id += 1;
        let note = Note { id: notes.last_id, text, author: author.to_owned(), version: 1 };
        notes.by_tenant.entry(tenant.clone()).or_default().insert(note.id, note.clone());
        note
    }

    /// One note of `tenant`.
    pub fn get(&self, tenant: &Tenant, id: u64) -> Option<Note> {
        self.lock().by_tenant.get(tenant)?.get(&id).cloned()
    }

    /// The notes of `tenant`, oldest first.
    pub fn list(&self, tenant: &Tenant) -> Vec<Note> {
        self.lock().by_tenant.get(tenant).map(|notes| notes.values().cloned().collect()).unwrap_or_default()
    }

    /// Replaces the text if `expected` accepts the current note; the version grows by one.
    pub fn update(
        &self,
        tenant: &Tenant,
        id: u64,
        expected: impl FnOnce(&Note) -> bool,
        text: String,
    ) -> Result<Note, Refused> {
        let mut notes = self.lock();
        let note = notes.by_tenant.get_mut(tenant).and_then(|notes| notes.get_mut(&id)).ok_or(Refused::NotFound)?;
        if !expected(note) {
            return Err(Refused::Changed(note.clone()));
        }
        note.text = text;
        note.version += 1;
        Ok(note.clone())
    }

    /// Removes a note; `false` when there was none.
    pub fn delete(&self, tenant: &Tenant, id: u64) -> bool {
        self.lock().by_tenant.get_mut(tenant).is_some_and(|notes| notes.remove(&id).is_some())
    }
}
