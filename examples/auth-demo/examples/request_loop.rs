//! Runs a number of requests of one scenario in-process, through pikku's pipeline or through the
//! hand-written baseline, for `bench/instructions.sh` (callgrind counts instructions, which do not depend
//! on the machine's noise):
//!
//! `request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count>`
//!
//! `request_loop pikku-redis <me_bearer|...> <count>` runs pikku with its session store and login throttle in
//! the Redis at `PIKKU_REDIS_URL` (the revocation check is answered from the store's local view).
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
        (Some(side), Some(scenario), Some(count)) if ["pikku", "pikku-redis", "baseline"].contains(&side.as_str()) => {
            (side, scenario, count)
        }
        _ => usage(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let Fixture { server, baseline, token } = if side == "pikku-redis" {
        let url = std::env::var("PIKKU_REDIS_URL").expect("pikku-redis needs PIKKU_REDIS_URL");
        runtime.block_on(Fixture::with_redis(&url))
    } else {
        Fixture::new()
    };
    for _ in 0..count {
        let request = scenario.request(&token);
        let status = if side != "baseline" {
            runtime.block_on(server.dispatch(request)).status()
        } else {
            runtime.block_on(async { baseline.handle(&request) }).status()
        };
        assert!(status.is_success(), "{status}");
    }
}

fn usage() -> ! {
    eprintln!("usage: request_loop <pikku|pikku-redis|baseline> <health|me_bearer|me_cookie> <count> | pikku add_note <count>");
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
