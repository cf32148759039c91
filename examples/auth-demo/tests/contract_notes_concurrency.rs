//! Concurrent writers lose no note and share no id (docs/auth-demo.md: `add_note`).

mod support;

use std::collections::HashSet;

use serde_json::json;
use support::*;

const CLIENTS: usize = 8;
const NOTES_EACH: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_every_note_with_unique_ids() {
    let s = shared();
    let (bob, _) = s.login(BOB).await;
    let (alice, _) = s.login(ALICE).await;
    let http = HttpClient::new(s.addr());

    let writers: Vec<_> = (0..CLIENTS)
        .map(|client| {
            // Half write as bob himself, half as alice (an admin) to bob's list.
            let token = if client % 2 == 0 { bob.clone() } else { alice.clone() };
            tokio::spawn(async move {
                let mut ids = Vec::with_capacity(NOTES_EACH);
                for i in 0..NOTES_EACH {
                    let text = format!("c{client}-n{i}");
                    let resp = http.post("/users/u2/notes").bearer(&token).json(&json!({"text": text})).send().await;
                    assert_eq!(resp.status(), 200, "{text}: {}", resp.text());
                    let note = resp.json_value();
                    assert_eq!(note["text"], text.as_str());
                    assert_eq!(note["userId"], "u2");
                    ids.push(note["id"].to_string());
                }
                ids
            })
        })
        .collect();
    let mut returned = HashSet::new();
    for writer in writers {
        for id in within(WAIT, "writer", writer).await.expect("writer task") {
            assert!(returned.insert(id.clone()), "id {id} returned twice");
        }
    }
    assert_eq!(returned.len(), CLIENTS * NOTES_EACH);

    let resp = s.get("/users/u2/notes?limit=500").bearer(&bob).send().await;
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let notes = resp.json_value()["notes"].as_array().unwrap().clone();
    assert_eq!(notes.len(), CLIENTS * NOTES_EACH, "every note kept");
    let listed: HashSet<String> = notes.iter().map(|n| n["id"].to_string()).collect();
    assert_eq!(listed.len(), notes.len(), "ids unique");
    assert_eq!(listed, returned);
    let texts: HashSet<&str> = notes.iter().map(|n| n["text"].as_str().unwrap()).collect();
    for client in 0..CLIENTS {
        // Each writer's notes appear in the order it wrote them (newest last).
        let own: Vec<&str> = notes
            .iter()
            .map(|n| n["text"].as_str().unwrap())
            .filter(|t| t.starts_with(&format!("c{client}-")))
            .collect();
        let expected: Vec<String> = (0..NOTES_EACH).map(|i| format!("c{client}-n{i}")).collect();
        assert_eq!(own, expected);
        assert!(texts.contains(format!("c{client}-n0").as_str()));
    }
}
