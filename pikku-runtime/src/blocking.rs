//! Blocking work (a synchronous database driver, file I/O, a CPU-heavy computation) off the threads that
//! serve requests.

use crate::error::PikkuError;
use crate::panic::panic_message;

/// Runs `work` on Tokio's blocking thread pool and awaits its result, so the worker threads that serve
/// requests keep serving while it runs. Use it for anything that blocks for more than about a hundred
/// microseconds: a synchronous database client, `std::fs`, compression, a CPU-heavy computation.
/// (`pikku::auth::password` already hashes and verifies passwords this way.)
///
/// A panic inside `work` is a 500 for the request that ran it, like a panic in the function itself; the
/// server and the other requests are not affected.
///
/// ```
/// use pikku::prelude::*;
/// use serde::Serialize;
///
/// # pub struct Services;
/// #[derive(Serialize)]
/// pub struct Checksum { sum: u64 }
///
/// #[pikku_func(auth = false)]
/// async fn checksum(_: &Services, data: Vec<u8>, _: &OptionalContext<()>) -> Result<Checksum, PikkuError> {
///     // `data` moves into the closure: the work runs on another thread, so it owns what it uses.
///     let sum = pikku::blocking(move || data.iter().map(|&b| u64::from(b)).sum()).await?;
///     Ok(Checksum { sum })
/// }
/// # fn main() {
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let answer = checksum(&Services, vec![1, 2, 3], &OptionalContext::for_test(None)).await.unwrap();
/// # assert_eq!(answer.sum, 6);
/// # });
/// # }
/// ```
///
/// The blocking pool holds up to 512 threads by default; work that must be bounded more tightly (each
/// call holding much memory, a driver with a fixed number of connections) takes a permit from its own
/// `tokio::sync::Semaphore` first.
///
/// # Errors
/// 500 when `work` panicked (the panic message is logged, never sent) or the runtime is shutting down.
///
/// # Panics
/// Outside a Tokio runtime (a function always runs in one).
pub async fn blocking<T, F>(work: F) -> Result<T, PikkuError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        if e.is_panic() {
            PikkuError::internal(format!("blocking work panicked: {}", panic_message(&*e.into_panic())))
        } else {
            PikkuError::internal("blocking work was cancelled: the runtime is shutting down")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_runs_on_another_thread_and_its_result_comes_back() {
        let caller = std::thread::current().id();
        let (value, thread) = blocking(|| (6 * 7, std::thread::current().id())).await.unwrap();
        assert_eq!(value, 42);
        assert_ne!(thread, caller);
    }

    #[tokio::test]
    async fn a_panic_is_a_500_with_its_message_for_the_log() {
        let error = blocking(|| -> u32 { panic!("disk on fire") }).await.unwrap_err();
        assert_eq!(error.status(), 500);
        assert_eq!(error.message(), "blocking work panicked: disk on fire");
        // The pool is still there for the next call.
        assert_eq!(blocking(|| 1).await.unwrap(), 1);
    }
}
