use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::redact::{REDACTED, Redactor};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: for files, journald and log shippers.
    Json,
    /// `time LEVEL target: message key=value…`: for a human at a terminal.
    Pretty,
}

impl LogFormat {
    /// Pretty at a terminal, JSON otherwise.
    pub fn detect() -> Self {
        if std::io::stdout().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        }
    }
}

type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// A `tracing` layer that writes redacted, structured lines.
///
/// Every line carries the fields of the spans it happened in (so a line
/// logged deep inside a request handler still carries that request's
/// `request_id`), and every field passes through the [`Redactor`] first.
pub struct LogLayer {
    format: LogFormat,
    redactor: Redactor,
    /// None: standard output.
    writer: Option<SharedWriter>,
    colour: bool,
}

impl LogLayer {
    /// Writes to standard output.
    pub fn stdout(format: LogFormat, redactor: Redactor) -> Self {
        let colour = format == LogFormat::Pretty && std::io::stdout().is_terminal();
        LogLayer {
            format,
            redactor,
            writer: None,
            colour,
        }
    }

    /// Writes to `writer` (tests capture logs this way).
    pub fn to_writer(format: LogFormat, redactor: Redactor, writer: SharedWriter) -> Self {
        LogLayer {
            format,
            redactor,
            writer: Some(writer),
            colour: false,
        }
    }

    fn write_line(&self, line: &str) {
        // One write per line, so concurrent lines never interleave.
        match &self.writer {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
            }
            Some(writer) => {
                if let Ok(mut out) = writer.lock() {
                    let _ = out.write_all(line.as_bytes());
                }
            }
        }
    }
}

/// Installs the process-wide subscriber: `filter` in `EnvFilter` syntax
/// (e.g. `info` or `info,solo_http=debug`).
pub fn init_logging(filter: &str, layer: LogLayer) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter `{filter}`: {e}"))?;
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))
}

/// Span fields, redacted when recorded.
struct SpanFields(Vec<(String, Value)>);

struct FieldVisitor<'a> {
    redactor: &'a Redactor,
    fields: Vec<(String, Value)>,
}

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = if name != "message" && Redactor::is_sensitive_name(name) {
            Value::String(REDACTED.to_owned())
        } else {
            value
        };
        let name = if name == "message" { "msg" } else { name };
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.to_owned(), value));
    }

    fn put_text(&mut self, field: &Field, text: &str) {
        let clean = self.redactor.text(text);
        self.put(field, Value::String(clean));
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put_text(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put_text(field, &format!("{value:?}"));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole chain: "connect failed: connection refused".
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        self.put_text(field, &text);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
}

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = FieldVisitor {
            redactor: &self.redactor,
            fields: Vec::new(),
        };
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(visitor.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let existing = extensions
            .remove::<SpanFields>()
            .map(|f| f.0)
            .unwrap_or_default();
        let mut visitor = FieldVisitor {
            redactor: &self.redactor,
            fields: existing,
        };
        values.record(&mut visitor);
        extensions.insert(SpanFields(visitor.fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Span fields first (outermost first), then the event's own, so the
        // innermost value of a repeated name wins.
        let mut fields: Vec<(String, Value)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &span_fields.0 {
                        fields.retain(|(existing, _)| existing != k);
                        fields.push((k.clone(), v.clone()));
                    }
                }
            }
        }
        let mut visitor = FieldVisitor {
            redactor: &self.redactor,
            fields: Vec::new(),
        };
        event.record(&mut visitor);
        for (k, v) in visitor.fields {
            fields.retain(|(existing, _)| *existing != k);
            fields.push((k, v));
        }

        let meta = event.metadata();
        let now = chrono::Utc::now();
        let line = match self.format {
            LogFormat::Json => json_line(now, *meta.level(), meta.target(), fields),
            LogFormat::Pretty => {
                pretty_line(now, *meta.level(), meta.target(), fields, self.colour)
            }
        };
        self.write_line(&line);
    }
}

fn json_line(
    now: chrono::DateTime<chrono::Utc>,
    level: Level,
    target: &str,
    fields: Vec<(String, Value)>,
) -> String {
    // Written by hand so every line starts `ts, level, msg, target`: the
    // order a human scanning raw lines reads in.
    let mut message = Value::String(String::new());
    let mut rest = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        if k == "msg" {
            message = v;
        } else if matches!(k.as_str(), "ts" | "level" | "target") {
            // Never let a field shadow the envelope.
            rest.push((format!("field_{k}"), v));
        } else {
            rest.push((k, v));
        }
    }
    let mut line = String::with_capacity(128);
    line.push_str("{\"ts\":");
    line.push_str(
        &Value::String(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).to_string(),
    );
    line.push_str(",\"level\":\"");
    line.push_str(&level.as_str().to_ascii_lowercase());
    line.push_str("\",\"msg\":");
    line.push_str(&message.to_string());
    line.push_str(",\"target\":");
    line.push_str(&Value::String(target.to_owned()).to_string());
    for (k, v) in rest {
        line.push(',');
        line.push_str(&Value::String(k).to_string());
        line.push(':');
        line.push_str(&v.to_string());
    }
    line.push_str("}\n");
    line
}

fn pretty_line(
    now: chrono::DateTime<chrono::Utc>,
    level: Level,
    target: &str,
    fields: Vec<(String, Value)>,
    colour: bool,
) -> String {
    let (start, end) = match (colour, level) {
        (false, _) => ("", ""),
        (true, Level::ERROR) => ("\x1b[31m", "\x1b[0m"),
        (true, Level::WARN) => ("\x1b[33m", "\x1b[0m"),
        (true, Level::INFO) => ("\x1b[32m", "\x1b[0m"),
        (true, _) => ("\x1b[2m", "\x1b[0m"),
    };
    let mut message = String::new();
    let mut rest = String::new();
    for (k, v) in fields {
        if k == "msg" {
            message = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else {
            let shown = match v {
                Value::String(s) if s.contains(' ') || s.is_empty() => format!("{s:?}"),
                Value::String(s) => s,
                other => other.to_string(),
            };
            rest.push(' ');
            rest.push_str(&k);
            rest.push('=');
            rest.push_str(&shown);
        }
    }
    format!(
        "{} {start}{:>5}{end} {target}: {message}{rest}\n",
        now.format("%H:%M:%S%.3f"),
        level.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(format: LogFormat, f: impl FnOnce()) -> String {
        let buffer: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let layer = LogLayer::to_writer(format, Redactor::new(), buffer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_lines_carry_span_fields_and_redact() {
        let out = capture(LogFormat::Json, || {
            let span = tracing::info_span!("request", request_id = "req-1");
            let _entered = span.enter();
            tracing::info!(status = 200, password = "hunter2hunter2", "handled");
            tracing::warn!(headers = ?[("authorization", "Bearer s3cr3tv4lue")], "odd");
        });
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0]["msg"], "handled");
        assert_eq!(lines[0]["request_id"], "req-1");
        assert_eq!(lines[0]["status"], 200);
        assert_eq!(lines[0]["password"], REDACTED);
        assert_eq!(lines[1]["level"], "warn");
        assert!(out.starts_with(r#"{"ts":"#), "{out}");
        assert!(
            out.lines()
                .all(|l| l.contains(r#","level":"#) && l.find("\"msg\"") < l.find("\"target\""))
        );
        assert_eq!(lines[1]["request_id"], "req-1");
        assert!(
            !out.contains("hunter2") && !out.contains("s3cr3tv4lue"),
            "{out}"
        );
    }

    #[test]
    fn pretty_lines_are_readable() {
        let out = capture(LogFormat::Pretty, || {
            tracing::info!(route = "/healthz", status = 200, "request");
        });
        assert!(out.contains(" INFO "), "{out}");
        assert!(out.contains(": request route=/healthz status=200"), "{out}");
    }
}
