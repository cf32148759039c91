//! Heap allocations per request: a counting global allocator around the system one, for
//! `GET /health`, `GET /me` with a bearer token and `GET /me` with the session cookie, through the
//! framework's pipeline (`Server::dispatch`, dropping the response) beside the hand-written baseline
//! (`Baseline::handle`, dropping the response). The requests are built before counting starts.
//!
//! Deterministic: each case is warmed up (first-use allocations: thread-locals, lazily built tables),
//! then counted over `REQUESTS` requests and divided. Prints a Markdown table.
//!
//! `cargo bench -p auth-demo --bench allocations`

mod scenarios;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use pikku::RequestBody;
use scenarios::{Fixture, Scenario};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates every call to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation is one more trip to the allocator.
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size.saturating_sub(layout.size()) as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM_UP: usize = 200;
const REQUESTS: usize = 1000;

/// Allocations and bytes per call of `run`, over `REQUESTS` fresh requests after a warm-up.
fn measure(
    make: &dyn Fn() -> http::Request<RequestBody>,
    run: &mut dyn FnMut(http::Request<RequestBody>),
) -> (f64, f64) {
    for _ in 0..WARM_UP {
        run(make());
    }
    let requests: Vec<_> = (0..REQUESTS).map(|_| make()).collect();
    let (allocations, bytes) = (ALLOCATIONS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
    for request in requests {
        run(request);
    }
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - allocations;
    let bytes = BYTES.load(Ordering::SeqCst) - bytes;
    (allocations as f64 / REQUESTS as f64, bytes as f64 / REQUESTS as f64)
}

fn main() {
    let Fixture { server, baseline, token } = Fixture::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    println!("Heap allocations per request ({REQUESTS} requests after {WARM_UP} warm-up; realloc counts as one)");
    println!();
    println!("| scenario | pikku allocs | baseline allocs | ratio | pikku bytes | baseline bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, scenario) in Scenario::ALL {
        let make = || scenario.request(&token);
        let mut pikku = |request| {
            let response = runtime.block_on(server.dispatch(request));
            assert_eq!(response.status(), 200, "pikku {name}");
        };
        let (pikku_allocs, pikku_bytes) = measure(&make, &mut pikku);
        let mut hand = |request: http::Request<RequestBody>| {
            let response = runtime.block_on(async { baseline.handle(&request) });
            assert_eq!(response.status(), 200, "baseline {name}");
        };
        let (base_allocs, base_bytes) = measure(&make, &mut hand);
        let ratio = if base_allocs > 0.0 { format!("{:.1}x", pikku_allocs / base_allocs) } else { "-".into() };
        println!("| {name} | {pikku_allocs:.1} | {base_allocs:.1} | {ratio} | {pikku_bytes:.0} | {base_bytes:.0} |");
    }
}
