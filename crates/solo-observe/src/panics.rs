//! Panics go through the log like everything else.

/// Replaces the default panic hook (raw text on stderr) with one that logs
/// an `error` event: structured, inside the current span (a handler's panic
/// carries its request id) and redacted by the log layer, since a panic
/// message can quote anything, a credential included.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic payload".to_owned());
        tracing::error!(panic = %message, %location, "panic");
    }));
}
