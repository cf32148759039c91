//! What the server does per connection and per accept: a write deadline on the socket, and accept
//! errors that back off and are logged at most once a second.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A connection's socket whose writes fail once one has made no progress for `write_timeout`.
///
/// hyper has no write timeout: a client that stops reading leaves the response in hyper's buffers and
/// the socket's, for as long as the client keeps the connection open. Here a write that stays pending
/// (the socket's send buffer is full) arms a timer; any progress disarms it; when it fires, the write
/// fails with `TimedOut`, hyper drops the connection, and its buffers go with it.
///
/// The timer is allocated the first time a write stalls on the connection and reused after, so a
/// connection whose client reads promptly never has one.
pub(crate) struct WriteDeadline {
    stream: TcpStream,
    write_timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether `stall` is running for the current stall (rather than left over from an earlier one).
    stalled: bool,
}

impl WriteDeadline {
    pub(crate) fn new(stream: TcpStream, write_timeout: Duration) -> Self {
        Self { stream, write_timeout, stall: None, stalled: false }
    }

    /// After a pending write: arms the timer on the first stall, and fails once it fires.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if !self.stalled {
            self.stalled = true;
            let deadline = Instant::now() + self.write_timeout;
            match &mut self.stall {
                Some(stall) => stall.as_mut().reset(deadline),
                None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let Some(stall) = &mut self.stall else { return Poll::Pending };
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read the response within the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed(&mut self, written: Poll<io::Result<usize>>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                self.stalled = false;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx),
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(written, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progressed(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Pause after a failed `accept` (typically `EMFILE` / `ENFILE`: out of file descriptors). The error
/// persists until a connection closes, so retrying at once would spin a core and flood the log.
pub(crate) const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// At most one log line per this period about failed accepts; the next line counts the ones left out.
pub(crate) const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Accept errors: a pause after each, and a log line at most once per interval.
#[derive(Debug)]
pub(crate) struct AcceptErrors {
    backoff: Duration,
    log_interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl AcceptErrors {
    pub(crate) fn new(backoff: Duration, log_interval: Duration) -> Self {
        Self { backoff, log_interval, last_logged: None, suppressed: 0 }
    }

    /// Counts an error at `now`. When a line is due, returns how many errors were left out since the
    /// last one.
    fn record(&mut self, now: Instant) -> Option<u64> {
        if self.last_logged.is_some_and(|last| now.saturating_duration_since(last) < self.log_interval) {
            self.suppressed += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// Logs `error` when a line is due, then waits out the back-off. Returns whether it logged.
    pub(crate) async fn on_error(&mut self, error: &io::Error) -> bool {
        let logged = match self.record(Instant::now()) {
            Some(0) => {
                tracing::warn!(error = %error, "accept failed; retrying");
                true
            }
            Some(suppressed) => {
                tracing::warn!(error = %error, suppressed, "accept failed; retrying ({suppressed} more failures not logged)");
                true
            }
            None => false,
        };
        tokio::time::sleep(self.backoff).await;
        logged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_logged_at_most_once_per_interval_and_counted() {
        let mut errors = AcceptErrors::new(ACCEPT_ERROR_BACKOFF, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(errors.record(t0), Some(0), "the first error is logged");
        for ms in (50..1000).step_by(50) {
            assert_eq!(errors.record(t0 + Duration::from_millis(ms)), None, "at {ms} ms");
        }
        // 19 left out, then the next line says so.
        assert_eq!(errors.record(t0 + Duration::from_millis(1000)), Some(19));
        assert_eq!(errors.record(t0 + Duration::from_millis(1500)), None);
        assert_eq!(errors.record(t0 + Duration::from_millis(2000)), Some(1));
        // A long quiet spell: the next error is logged at once.
        assert_eq!(errors.record(t0 + Duration::from_secs(60)), Some(0));
    }

    #[tokio::test]
    async fn an_accept_error_backs_off_and_a_burst_logs_one_line() {
        let backoff = Duration::from_millis(20);
        let mut errors = AcceptErrors::new(backoff, Duration::from_secs(60));
        let error = io::Error::from_raw_os_error(24); // EMFILE
        let started = std::time::Instant::now();
        let mut lines = 0;
        for _ in 0..5 {
            lines += u32::from(errors.on_error(&error).await);
        }
        assert!(started.elapsed() >= backoff * 5, "backed off only {:?}", started.elapsed());
        assert_eq!(lines, 1);
    }
}
