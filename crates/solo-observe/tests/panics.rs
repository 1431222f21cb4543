//! The panic hook logs through the redacting layer. Own test binary: it
//! installs the process-wide subscriber and panic hook.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use solo_observe::{LogFormat, LogLayer, Redactor, init_logging, log_panics};

#[test]
fn a_panic_is_one_redacted_json_error_line() {
    let buffer: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    init_logging(
        "info",
        LogLayer::to_writer(LogFormat::Json, Redactor::new(), buffer.clone()),
    )
    .unwrap();
    log_panics();

    let outcome = std::panic::catch_unwind(|| {
        let span = tracing::info_span!("request", request_id = "req-7");
        let _entered = span.enter();
        panic!("could not connect with password=hunter2hunter2");
    });
    assert!(outcome.is_err());

    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains("hunter2hunter2"), "{logs}");
    let line: serde_json::Value = serde_json::from_str(logs.lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["msg"], "panic");
    assert_eq!(line["request_id"], "req-7");
    assert!(
        line["panic"]
            .as_str()
            .unwrap()
            .contains("could not connect")
    );
    assert!(line["location"].as_str().unwrap().contains("panics.rs"));
}
