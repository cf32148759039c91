//! Logs in tests: shown through the test harness, or captured for a test to assert on.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing::level_filters::LevelFilter;
use tracing::subscriber::{DefaultGuard, Interest, Subscriber};
use tracing::{span, Dispatch, Event, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What [`init_test_logs`] shows when `RUST_LOG` is unset: warnings and errors.
const DEFAULT_TEST_FILTER: &str = "warn";

/// Shows the application's logs in test output: installs a global subscriber that writes through the
/// test harness (so `cargo test` shows a test's lines when it fails, and all of them with
/// `-- --nocapture`), filtered by `RUST_LOG` (`warn` when unset), without colours. Call it first in any
/// test that wants logs; calls after the first do nothing, as does a call when the process already has a
/// global subscriber.
///
/// ```
/// pikku_runtime::testing::init_test_logs();
/// pikku_runtime::testing::init_test_logs(); // idempotent
/// tracing::warn!("shown when this test fails");
/// ```
///
/// `RUST_LOG=pikku_runtime=debug cargo test my_test -- --nocapture` shows every request's debug lines.
pub fn init_test_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_TEST_FILTER));
    // `try_init` refuses a second global subscriber: that refusal is what makes this idempotent.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().with_ansi(false).try_init();
}

/// The log lines the current thread writes while it lives, for a test to assert on: start one, run the
/// requests, look at [`text`](Self::text) or [`assert_logged`](Self::assert_logged).
///
/// It is the thread's default subscriber until dropped, so it sees what runs on the test's thread: the
/// in-process [`TestClient`](super::TestClient), and a [`TestServer`](super::TestServer) started from a
/// `#[tokio::test]` (its default runtime has one thread, which runs the server's tasks too). It does not see
/// tasks on other threads (a `multi_thread` runtime's workers, a server in another process). Each test
/// has its own capture, so tests running in parallel do not see each other's lines. When `RUST_LOG` is
/// set, the lines are also shown as [`init_test_logs`] shows them.
///
/// Lines are plain text without time or colour: `LEVEL target: message key=value` (the level padded to
/// five characters, ` WARN`), with the request's span (`request{request_id=..}`) before the target on the
/// pipeline's lines.
///
/// ```
/// use pikku_runtime::testing::LogCapture;
///
/// let logs = LogCapture::start();
/// tracing::warn!(permission = "owns_note", "the permission's view could not be read");
/// let line = logs.assert_logged_all(&["WARN", "owns_note"]);
/// assert!(line.contains("could not be read"), "{line}");
/// logs.assert_not_logged("secret");
/// ```
#[must_use = "the capture stops when dropped"]
pub struct LogCapture {
    buffer: SharedBuffer,
    _default: DefaultGuard,
}

impl fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogCapture").field("text", &self.text()).finish_non_exhaustive()
    }
}

impl LogCapture {
    /// Captures every line of this thread, at every level, until dropped.
    pub fn start() -> Self {
        Self::at_level(LevelFilter::TRACE)
    }

    /// Captures the lines of `level` and above.
    pub fn at_level(level: LevelFilter) -> Self {
        keep_interest_per_thread();
        let buffer = SharedBuffer::default();
        let capture = tracing_subscriber::fmt::layer()
            .with_writer(buffer.clone())
            .with_ansi(false)
            .without_time()
            .with_filter(level);
        // Shown as well only when asked for, so a capturing test stays quiet by default.
        let shown = EnvFilter::try_from_default_env()
            .ok()
            .map(|filter| tracing_subscriber::fmt::layer().with_test_writer().with_ansi(false).with_filter(filter));
        let subscriber = tracing_subscriber::registry().with(capture).with(shown);
        Self { buffer, _default: tracing::subscriber::set_default(subscriber) }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock()).into_owned()
    }

    /// The lines captured so far.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// Whether a captured line contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    /// Asserts that a line contains each of `needles`, and returns the first such line.
    ///
    /// # Panics
    /// When no line holds them all; the message shows what was captured.
    #[track_caller]
    pub fn assert_logged_all(&self, needles: &[&str]) -> String {
        self.lines()
            .into_iter()
            .find(|line| needles.iter().all(|needle| line.contains(needle)))
            .unwrap_or_else(|| panic!("no log line contains all of {needles:?}; captured:\n{}", self.text()))
    }

    /// Asserts that a line contains `needle`, and returns the first such line.
    ///
    /// # Panics
    /// When none does; the message shows what was captured.
    #[track_caller]
    pub fn assert_logged(&self, needle: &str) -> String {
        self.assert_logged_all(&[needle])
    }

    /// Asserts that no line contains `needle`: a secret, for example.
    ///
    /// # Panics
    /// When one does; the message shows the line.
    #[track_caller]
    pub fn assert_not_logged(&self, needle: &str) {
        if let Some(line) = self.lines().into_iter().find(|line| line.contains(needle)) {
            panic!("a log line contains {needle:?}: {line}");
        }
    }
}

/// Keeps a second dispatcher registered for the rest of the process. With a single one (the capture of
/// one test, no global subscriber), tracing decides whether a log statement is wanted once, with the
/// subscriber of the thread that reaches it first: a statement first reached by a test that captures
/// nothing would then be off for every capture, and a capturing test would see an empty log depending on
/// which test ran first. With two or more, it asks every registered dispatcher, and this one always answers
/// "ask again each time", so each event goes to the subscriber of the thread it happens on.
fn keep_interest_per_thread() {
    static KEEPER: OnceLock<Dispatch> = OnceLock::new();
    KEEPER.get_or_init(|| Dispatch::new(AskEachTime));
}

/// A subscriber that records nothing and wants every callsite's interest asked per event.
struct AskEachTime;

impl Subscriber for AskEachTime {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // The captures' levels decide the global maximum; this one adds none.
        Some(LevelFilter::OFF)
    }

    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _span: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _span: &span::Id, _values: &span::Record<'_>) {}

    fn record_follows_from(&self, _span: &span::Id, _follows: &span::Id) {}

    fn event(&self, _event: &Event<'_>) {}

    fn enter(&self, _span: &span::Id) {}

    fn exit(&self, _span: &span::Id) {}
}

/// The bytes a [`LogCapture`] collects, written to by the subscriber.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A line half written by a panicking thread is still worth showing.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SharedBuffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_sees_its_thread_and_stops_when_dropped() {
        let logs = LogCapture::start();
        tracing::info!(user = "ada", "signed in");
        tracing::debug!("details");
        let line = logs.assert_logged_all(&["INFO", "signed in", "user=\"ada\""]);
        assert!(!line.contains('\u{1b}'), "no colour codes: {line:?}");
        assert!(logs.contains("details"));
        let text = logs.text();
        drop(logs);
        tracing::info!("after the capture");
        assert!(!text.contains("after the capture"));
    }

    #[test]
    fn another_thread_is_not_captured() {
        let logs = LogCapture::start();
        std::thread::spawn(|| tracing::warn!("from another thread")).join().unwrap();
        tracing::warn!("from this thread");
        logs.assert_logged("from this thread");
        logs.assert_not_logged("from another thread");
    }

    /// A log statement of its own, so that no other test reaches it first.
    fn statement_first_reached_elsewhere() {
        tracing::warn!("reached on two threads");
    }

    #[test]
    fn a_statement_first_reached_by_a_thread_without_a_capture_is_still_captured() {
        let logs = LogCapture::start();
        std::thread::spawn(statement_first_reached_elsewhere).join().unwrap();
        logs.assert_not_logged("reached on two threads");
        statement_first_reached_elsewhere();
        logs.assert_logged("reached on two threads");
    }

    #[test]
    fn at_level_leaves_out_lower_levels() {
        let logs = LogCapture::at_level(LevelFilter::WARN);
        tracing::info!("routine");
        tracing::error!("broken");
        logs.assert_logged("broken");
        logs.assert_not_logged("routine");
    }

    #[test]
    #[should_panic(expected = "no log line contains all of")]
    fn assert_logged_fails_on_a_missing_line() {
        let logs = LogCapture::start();
        tracing::info!("something else");
        logs.assert_logged("expected line");
    }

    #[test]
    #[should_panic(expected = "a log line contains \"hunter2\"")]
    fn assert_not_logged_fails_on_a_present_line() {
        let logs = LogCapture::start();
        tracing::info!("password hunter2");
        logs.assert_not_logged("hunter2");
    }

    #[test]
    fn init_test_logs_can_be_called_twice() {
        init_test_logs();
        init_test_logs();
        tracing::warn!("through the test writer");
    }
}
