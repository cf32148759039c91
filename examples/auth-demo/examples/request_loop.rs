//! Runs a number of requests of one scenario in-process, through pikku's pipeline or through the
//! hand-written baseline, for `bench/instructions.sh` (callgrind counts instructions, which do not depend
//! on the machine's noise):
//!
//! `request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count>`

use std::time::Duration;

use bytes::Bytes;
use pikku::auth::JwtService;
use pikku::RequestBody;

const SECRET: &[u8] = b"instructions-benchmark-secret-0123456789";

fn main() {
    let mut args = std::env::args().skip(1);
    let (side, scenario, count) = match (args.next(), args.next(), args.next().and_then(|n| n.parse::<u32>().ok())) {
        (Some(side), Some(scenario), Some(count)) => (side, scenario, count),
        _ => {
            eprintln!("usage: request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count>");
            std::process::exit(2);
        }
    };
    let jwt = JwtService::hs256(SECRET).expect("a long enough secret");
    let session = auth_demo::UserSession { user_id: "u1".into(), role: "admin".into() };
    let token = jwt.encode(Duration::from_secs(3600), &session).expect("a token");
    let (path, header) = match scenario.as_str() {
        "health" => ("/health", None),
        "me_bearer" => ("/me", Some(("authorization", format!("Bearer {token}")))),
        "me_cookie" => ("/me", Some(("cookie", format!("theme=dark; session={token}; lang=en-GB")))),
        other => panic!("unknown scenario {other}"),
    };
    let request = || {
        let builder = http::Request::builder().uri(path);
        match &header {
            Some((name, value)) => builder.header(*name, value),
            None => builder,
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    match side.as_str() {
        "pikku" => {
            let server = auth_demo::app().build(auth_demo::Services::with_jwt(jwt)).expect("the demo starts");
            for _ in 0..count {
                let response =
                    runtime.block_on(server.dispatch(request().body(RequestBody::Buffered(Bytes::new())).unwrap()));
                assert!(response.status().is_success(), "{}", response.status());
            }
        }
        "baseline" => {
            let baseline = pikku_baseline::Baseline::new(SECRET);
            for _ in 0..count {
                let request = request().body(()).unwrap();
                let response = runtime.block_on(async { baseline.handle(&request) });
                assert!(response.status().is_success(), "{}", response.status());
            }
        }
        other => panic!("unknown side {other}"),
    }
}
