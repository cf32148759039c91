//! The functions: plain async functions; `wirings.rs` says how they are reached.

use pikku::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use pikku::prelude::*;
// For the OpenAPI document (`GET /openapi.json`): the derive finds the crate through this `use`.
use pikku::{schemars, JsonSchema};
use serde::Deserialize;

use crate::store::{Note, Refused};
use crate::tenant::tenant_of;
use crate::{Services, Session};

/// Longest note accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Input of `create_note`: the JSON body.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewNote {
    pub text: String,
}

/// Input of `get_note` and `delete_note`: the path's `:id`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteId {
    pub id: u64,
}

/// Input of `update_note`: the path's `:id` and the JSON body.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteEdit {
    pub id: u64,
    pub text: String,
}

/// Adds a note: `201 Created`, `Location: /notes/<id>` and the note's `ETag`.
#[pikku_func(description = "Create a note", tags = ["notes"], responses = [201])]
pub async fn create_note(
    services: &Services,
    data: NewNote,
    ctx: &Context<Session>,
) -> Result<Reply<Note>, PikkuError> {
    let text = checked_text(data.text)?;
    let note = services.notes.create(tenant_of(ctx)?, &ctx.session().user_id, text);
    let etag = note.etag();
    Ok(Reply::created(format!("/notes/{}", note.id), note).header(ETAG, etag))
}

/// The tenant's notes, oldest first: plain `200` JSON.
#[pikku_func(description = "List the tenant's notes", tags = ["notes"])]
pub async fn list_notes(services: &Services, _data: (), ctx: &Context<Session>) -> Result<Vec<Note>, PikkuError> {
    Ok(services.notes.list(tenant_of(ctx)?))
}

/// One note with its `ETag`; `304 Not Modified`, without a body, when `If-None-Match` names its version.
#[pikku_func(description = "Read a note", tags = ["notes"], responses = [304, 404])]
pub async fn get_note(services: &Services, data: NoteId, ctx: &Context<Session>) -> Result<Reply<Note>, PikkuError> {
    let note = services.notes.get(tenant_of(ctx)?, data.id).ok_or_else(not_found)?;
    let etag = note.etag();
    let unchanged = ctx.header(IF_NONE_MATCH).is_some_and(|tags| names_etag(tags, &etag, Comparison::Weak));
    let reply = Reply::new(note).header(ETAG, etag);
    Ok(if unchanged { reply.status(StatusCode::NOT_MODIFIED) } else { reply })
}

/// Replaces a note's text, only if the client read its current version: `If-Match` with the `ETag` it
/// got (`428` without one, `412` when the note has changed since).
#[pikku_func(description = "Edit a note (If-Match required)", tags = ["notes"], responses = [404, 412, 428])]
pub async fn update_note(
    services: &Services,
    data: NoteEdit,
    ctx: &Context<Session>,
) -> Result<Reply<Note>, PikkuError> {
    let Some(if_match) = ctx.header(IF_MATCH) else {
        return Err(PikkuError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "PreconditionRequiredError",
            "Send `If-Match` with the ETag of the note you edited",
        ));
    };
    let text = checked_text(data.text)?;
    let matches = |note: &Note| names_etag(if_match, &note.etag(), Comparison::Strong);
    match services.notes.update(tenant_of(ctx)?, data.id, matches, text) {
        Ok(note) => {
            let etag = note.etag();
            Ok(Reply::new(note).header(ETAG, etag))
        }
        Err(Refused::NotFound) => Err(not_found()),
        Err(Refused::Changed(current)) => Err(PikkuError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedError",
            "The note has changed since you read it",
        )
        .with_payload(serde_json::json!({ "currentVersion": current.version }))),
    }
}

/// Removes a note: `204`.
#[pikku_func(description = "Delete a note", tags = ["notes"], responses = [404])]
pub async fn delete_note(services: &Services, data: NoteId, ctx: &Context<Session>) -> Result<(), PikkuError> {
    if services.notes.delete(tenant_of(ctx)?, data.id) {
        Ok(())
    } else {
        Err(not_found())
    }
}

fn not_found() -> PikkuError {
    PikkuError::not_found("No such note")
}

fn checked_text(text: String) -> Result<String, PikkuError> {
    if text.trim().is_empty() {
        return Err(PikkuError::invalid_field("text", "`text` must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(PikkuError::invalid_field("text", format!("`text` must be at most {MAX_TEXT_CHARS} characters")));
    }
    Ok(text)
}

/// How entity tags compare (RFC 9110 §8.8.3.2): `If-Match` compares strongly (a weak tag never matches),
/// `If-None-Match` weakly (`W/"3"` matches `"3"`).
#[derive(Clone, Copy, PartialEq)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether a list of entity tags (`"1", "2"`, or `*`) names `etag`.
fn names_etag(tags: &str, etag: &str, comparison: Comparison) -> bool {
    tags.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == etag || (comparison == Comparison::Weak && tag.strip_prefix("W/") == Some(etag))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags_compare_as_the_standard_says() {
        assert!(names_etag("\"3\"", "\"3\"", Comparison::Strong));
        assert!(names_etag("\"1\", \"3\"", "\"3\"", Comparison::Strong));
        assert!(names_etag("*", "\"3\"", Comparison::Strong));
        assert!(!names_etag("W/\"3\"", "\"3\"", Comparison::Strong));
        assert!(names_etag("W/\"3\"", "\"3\"", Comparison::Weak));
        assert!(!names_etag("\"2\"", "\"3\"", Comparison::Weak));
    }
}
