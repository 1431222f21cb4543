//! [`ConfigError`]: one problem with a `solo.toml`, rendered like a compiler diagnostic.

use std::fmt::Write as _;
use std::io;
use std::ops::Range;

use crate::redact::{MASK, map_offset, redact_secrets, secret_ranges};

/// What kind of problem a [`ConfigError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not valid TOML.
    Syntax,
    /// The file is valid TOML, but a key or value is not what solo expects.
    Invalid,
    /// `version` is missing, or not one this solo understands.
    Version,
}

/// One problem with a `solo.toml`.
///
/// `Display` renders the whole report, rustc-style:
///
/// ```text
/// error: unknown key `lisen` in [node]
///  --> solo.toml:4:1
///   |
/// 4 | lisen = "127.0.0.1:7070"
///   | ^^^^^
///   = help: did you mean `listen`?
/// ```
///
/// Nothing in a report ever shows a password: the quoted source line is masked too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError(Box<Details>);

/// Boxed, so `Result<_, ConfigError>` stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    kind: ConfigErrorKind,
    origin: String,
    message: String,
    help: Option<String>,
    position: Option<Position>,
    io_kind: Option<io::ErrorKind>,
}

/// Where in the file, and what to quote.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    line: usize,
    column: usize,
    /// The source line as shown: secrets masked, tabs expanded.
    text: String,
    caret_start: usize,
    caret_len: usize,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, origin: &str, message: impl AsRef<str>) -> Self {
        Self(Box::new(Details {
            kind,
            origin: origin.to_owned(),
            message: redact_secrets(message.as_ref()),
            help: None,
            position: None,
            io_kind: None,
        }))
    }

    pub(crate) fn with_help(mut self, help: Option<impl AsRef<str>>) -> Self {
        self.0.help = help.map(|help| redact_secrets(help.as_ref()));
        self
    }

    /// Points the error at `span` (byte offsets into `source`).
    pub(crate) fn at(mut self, source: &str, span: Range<usize>) -> Self {
        self.0.position = Some(Position::new(source, span));
        self
    }

    pub(crate) fn io(origin: &str, err: &io::Error) -> Self {
        let (message, help) = match err.kind() {
            io::ErrorKind::NotFound => (
                format!("cannot read `{origin}`: no such file"),
                Some("check the path, or create a starter file with `solo init`"),
            ),
            io::ErrorKind::PermissionDenied => {
                (format!("cannot read `{origin}`: permission denied"), None)
            }
            io::ErrorKind::InvalidData => (
                format!("cannot read `{origin}`: it is not UTF-8 text"),
                Some("save the file as UTF-8"),
            ),
            io::ErrorKind::IsADirectory => (
                format!("cannot read `{origin}`: it is a directory"),
                Some("point at the solo.toml file inside it"),
            ),
            _ => (format!("cannot read `{origin}`: {err}"), None),
        };
        let mut error = Self::new(ConfigErrorKind::Io, origin, message).with_help(help);
        error.0.io_kind = Some(err.kind());
        error
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.0.kind
    }

    /// What the file is called in the report, e.g. `solo.toml`.
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// The 1-based line of the problem, if it has a place in the file.
    pub fn line(&self) -> Option<usize> {
        self.0.position.as_ref().map(|p| p.line)
    }

    /// The 1-based column of the problem, counted in characters.
    pub fn column(&self) -> Option<usize> {
        self.0.position.as_ref().map(|p| p.column)
    }

    /// What is wrong, in one line, without the position.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// How to fix it, when there is something useful to say.
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// For [`ConfigErrorKind::Io`]: what the operating system said went wrong.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        self.0.io_kind
    }

    fn render(&self) -> String {
        let mut out = format!("error: {}", self.0.message);
        let pad = match &self.0.position {
            Some(p) => {
                let number = p.line.to_string();
                let pad = " ".repeat(number.len());
                let _ = write!(
                    out,
                    "\n{pad}--> {}:{}:{}\n{pad} |\n{}",
                    self.0.origin,
                    p.line,
                    p.column,
                    format!("{number} | {}", p.text).trim_end(),
                );
                let _ = write!(
                    out,
                    "\n{pad} | {}{}",
                    " ".repeat(p.caret_start),
                    "^".repeat(p.caret_len)
                );
                pad
            }
            None => " ".to_owned(),
        };
        if let Some(help) = &self.0.help {
            let _ = write!(out, "\n{pad} = help: {help}");
        }
        out
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Display width: tabs are shown as four spaces.
fn width(text: &str) -> usize {
    text.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

impl Position {
    fn new(source: &str, span: Range<usize>) -> Self {
        let len = source.len();
        let mut start = floor_char_boundary(source, span.start);
        // A problem at the very end of a file that ends with a newline is shown at the end of
        // the last line, not on an empty line after it.
        if start == len && source.ends_with('\n') {
            start -= 1;
            if source[..start].ends_with('\r') {
                start -= 1;
            }
        }
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let mut line_end = source[start..].find('\n').map_or(len, |i| start + i);
        if source[line_start..line_end].ends_with('\r') {
            line_end -= 1;
        }
        let start = start.min(line_end);
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let line = source[..line_start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;

        // Mask secrets in the quoted line, keeping the caret on the same text.
        let original = &source[line_start..line_end];
        let secrets = secret_ranges(original);
        let mut text = String::with_capacity(original.len());
        let mut last = 0;
        for range in &secrets {
            text.push_str(&original[last..range.start]);
            text.push_str(MASK);
            last = range.end;
        }
        text.push_str(&original[last..]);
        let caret_from = map_offset(&secrets, start - line_start, false);
        let caret_to = map_offset(&secrets, end - line_start, true).max(caret_from);

        Self {
            line,
            column,
            caret_start: width(&text[..caret_from]),
            caret_len: width(&text[caret_from..caret_to]).max(1),
            text: text.replace('\t', "    "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, span: Range<usize>) -> ConfigError {
        ConfigError::new(ConfigErrorKind::Invalid, "solo.toml", "boom").at(source, span)
    }

    #[test]
    fn renders_like_rustc() {
        let source = "version = 1\n[node]\n\nlisen = \"127.0.0.1:7070\"\n";
        let err = at(source, 20..25).with_help(Some("did you mean `listen`?"));
        assert_eq!(
            err.to_string(),
            "error: boom\n --> solo.toml:4:1\n  |\n4 | lisen = \"127.0.0.1:7070\"\n  | ^^^^^\n  = help: did you mean `listen`?"
        );
        assert_eq!((err.line(), err.column()), (Some(4), Some(1)));
    }

    #[test]
    fn gutter_grows_with_the_line_number() {
        let source = format!("{}x = 1\n", "\n".repeat(11));
        let err = at(&source, 15..16);
        assert_eq!(
            err.to_string(),
            "error: boom\n  --> solo.toml:12:5\n   |\n12 | x = 1\n   |     ^"
        );
    }

    #[test]
    fn caret_is_clamped_and_never_empty() {
        // Span running past the end of the line.
        let err = at("a = \"\"\"x\ny\"\"\"\n", 4..14);
        assert!(err.to_string().ends_with("1 | a = \"\"\"x\n  |     ^^^^"));
        // Empty span at the end of the file.
        let err = at("a = \n", 5..5);
        assert_eq!((err.line(), err.column()), (Some(1), Some(5)));
        assert!(err.to_string().ends_with("1 | a =\n  |     ^"));
        // Empty file.
        let err = at("", 0..0);
        assert_eq!((err.line(), err.column()), (Some(1), Some(1)));
        assert!(err.to_string().ends_with("1 |\n  | ^"));
        // Span past the end.
        let err = at("ab", 5..9);
        assert_eq!((err.line(), err.column()), (Some(1), Some(3)));
    }

    #[test]
    fn tabs_and_wide_characters() {
        let err = at("\tkey\t= 1\r\n", 5..8);
        assert_eq!(err.column(), Some(6));
        assert!(
            err.to_string()
                .ends_with("1 |     key    = 1\n  |            ^^^")
        );
        let err = at("é = \"ü\"\n", 5..9);
        assert_eq!(err.column(), Some(5));
        assert!(err.to_string().ends_with("1 | é = \"ü\"\n  |     ^^^"));
    }

    #[test]
    fn masks_secrets_in_the_quoted_line() {
        let source = "url = \"postgres://solo:hunter2@db/solo\"\n";
        let err = at(source, 6..39);
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.ends_with(
            "1 | url = \"postgres://solo:****@db/solo\"\n  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
        ));
        // A caret inside the secret stays on the mask.
        let err = at(source, 25..27);
        assert!(
            err.to_string().ends_with("  |                        ^^^^"),
            "{err}"
        );
    }

    #[test]
    fn io_errors_have_no_position() {
        let err = ConfigError::io("x.toml", &io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(err.kind(), ConfigErrorKind::Io);
        assert_eq!(err.line(), None);
        assert_eq!(err.io_error_kind(), Some(io::ErrorKind::NotFound));
        assert_eq!(
            err.to_string(),
            "error: cannot read `x.toml`: no such file\n  = help: check the path, or create a starter file with `solo init`"
        );
    }
}
