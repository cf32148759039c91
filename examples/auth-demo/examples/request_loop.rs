//! Runs a number of requests of one scenario in-process, through pikku's pipeline or through the
//! hand-written baseline, for `bench/instructions.sh` (callgrind counts instructions, which do not depend
//! on the machine's noise):
//!
//! `request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count>`
//!
//! `request_loop pikku add_note <count>` runs `POST /users/u1/notes` as u1 with a JSON body: the path of a
//! function with a path parameter, a body and a `#[pikku_permission]` (pikku only; the baseline has no such
//! route).

#[path = "../benches/scenarios/mod.rs"]
mod scenarios;

use bytes::Bytes;
use pikku::RequestBody;
use scenarios::{Fixture, Scenario};

fn main() {
    let mut args = std::env::args().skip(1);
    let args: Vec<String> = args.by_ref().collect();
    if let [side, scenario, count] = args.as_slice() {
        if side == "pikku" && scenario == "add_note" {
            let count = count.parse::<u32>().unwrap_or_else(|_| usage());
            return add_note(count);
        }
    }
    let mut args = args.into_iter();
    let (side, scenario, count) = match (
        args.next(),
        args.next().as_deref().and_then(Scenario::named),
        args.next().and_then(|n| n.parse::<u32>().ok()),
    ) {
        (Some(side), Some(scenario), Some(count)) if side == "pikku" || side == "baseline" => (side, scenario, count),
        _ => usage(),
    };
    let Fixture { server, baseline, token } = Fixture::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    for _ in 0..count {
        let request = scenario.request(&token);
        let status = if side == "pikku" {
            runtime.block_on(server.dispatch(request)).status()
        } else {
            runtime.block_on(async { baseline.handle(&request) }).status()
        };
        assert!(status.is_success(), "{status}");
    }
}

fn usage() -> ! {
    eprintln!("usage: request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count> | pikku add_note <count>");
    std::process::exit(2);
}

/// `POST /users/u1/notes` as u1 (bearer): path parameter, JSON body, `owns_or_admin` permission.
fn add_note(count: u32) {
    let Fixture { server, token, .. } = Fixture::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    for _ in 0..count {
        let request = http::Request::builder()
            .method("POST")
            .uri("/users/u1/notes")
            .header("host", "127.0.0.1")
            .header("user-agent", "bench")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("content-length", "18")
            .body(RequestBody::Buffered(Bytes::from_static(br#"{"text":"a note."}"#)))
            .expect("valid request");
        let status = runtime.block_on(server.dispatch(request)).status();
        assert!(status.is_success(), "{status}");
    }
}
