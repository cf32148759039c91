//! Runs a number of requests of one scenario in-process, through pikku's pipeline or through the
//! hand-written baseline, for `bench/instructions.sh` (callgrind counts instructions, which do not depend
//! on the machine's noise):
//!
//! `request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count>`

#[path = "../benches/scenarios/mod.rs"]
mod scenarios;

use scenarios::{Fixture, Scenario};

fn main() {
    let mut args = std::env::args().skip(1);
    let (side, scenario, count) = match (
        args.next(),
        args.next().as_deref().and_then(Scenario::named),
        args.next().and_then(|n| n.parse::<u32>().ok()),
    ) {
        (Some(side), Some(scenario), Some(count)) if side == "pikku" || side == "baseline" => (side, scenario, count),
        _ => {
            eprintln!("usage: request_loop <pikku|baseline> <health|me_bearer|me_cookie> <count>");
            std::process::exit(2);
        }
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
