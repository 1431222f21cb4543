//! Turns toml/serde errors into [`ConfigError`]s in solo's voice: which key, in which table,
//! and what to do about it.

use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::error::{ConfigError, ConfigErrorKind};
use crate::suggest::{did_you_mean, list};
use crate::values::show;

/// A message from our own `Deserialize` code, carried through serde's string-only custom
/// errors: the message, an optional help, and optionally a key (in the table the error is
/// reported on) that the caret should point at instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    message: String,
    help: Option<String>,
    key: Option<String>,
}

/// Starts an encoded [`Note`] and separates its parts. serde's own messages never start with it.
const SEPARATOR: char = '\u{1f}';

impl Note {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
            key: None,
        }
    }

    pub(crate) fn help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub(crate) fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    fn decode(raw: &str) -> Option<Self> {
        let mut parts = raw.strip_prefix(SEPARATOR)?.split(SEPARATOR);
        let mut note = Note::new(parts.next().unwrap_or_default());
        for part in parts {
            if let Some(help) = part.strip_prefix("help=") {
                note.help = Some(help.to_owned());
            } else if let Some(key) = part.strip_prefix("key=") {
                note.key = Some(key.to_owned());
            }
        }
        Some(note)
    }
}

/// The encoded form, for `serde::de::Error::custom`.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SEPARATOR}{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "{SEPARATOR}help={help}")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{SEPARATOR}key={key}")?;
        }
        Ok(())
    }
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A key in the document: the table it sits in, its name and where it is written.
#[derive(Debug, Clone)]
struct Place<'t, 'i> {
    table: Vec<Segment>,
    key: String,
    value: &'t DeValue<'i>,
}

impl Place<'_, '_> {
    /// "`listen` in [node]"
    fn describe(&self) -> String {
        format!("`{}` {}", show(&self.key), where_in(&self.table))
    }

    /// The path of the value itself, for errors about a whole table.
    fn value_path(&self) -> Vec<Segment> {
        let mut path = self.table.clone();
        path.push(Segment::Key(self.key.clone()));
        path
    }
}

/// "in [node]", "in [[queue]] #2", or "at the top level".
fn where_in(table: &[Segment]) -> String {
    if table.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in {}", section_name(table))
    }
}

/// "[node]", or "[[queue]] #2" inside an array of tables.
fn section_name(table: &[Segment]) -> String {
    let mut name = String::new();
    let mut index = None;
    for segment in table {
        match segment {
            Segment::Key(key) => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&show(key));
            }
            Segment::Index(i) => index = Some(*i),
        }
    }
    match index {
        Some(i) => format!("[[{name}]] #{}", i + 1),
        None => format!("[{name}]"),
    }
}

/// What the document holds at an error's span.
#[derive(Default)]
struct Found<'t, 'i> {
    /// The key written exactly at the span (unknown keys are reported on their name).
    key: Option<Place<'t, 'i>>,
    /// The innermost key whose value contains the span.
    value: Option<(usize, Place<'t, 'i>)>,
}

fn locate<'t, 'i>(root: &'t DeTable<'i>, span: &Range<usize>) -> Found<'t, 'i> {
    let mut found = Found::default();
    walk(root, &mut Vec::new(), span, &mut found);
    found
}

fn walk<'t, 'i>(
    table: &'t DeTable<'i>,
    path: &mut Vec<Segment>,
    span: &Range<usize>,
    found: &mut Found<'t, 'i>,
) {
    for (key, value) in table.iter() {
        let place = || Place {
            table: path.clone(),
            key: key.get_ref().to_string(),
            value: value.get_ref(),
        };
        if key.span() == *span {
            found.key = Some(place());
        }
        let value_span = value.span();
        let contains = value_span.start <= span.start && span.end <= value_span.end;
        // Parents are visited before their children: on a tie, the deeper key wins.
        if contains
            && found
                .value
                .as_ref()
                .is_none_or(|(len, _)| value_span.len() <= *len)
        {
            found.value = Some((value_span.len(), place()));
        }
        match value.get_ref() {
            DeValue::Table(child) => {
                path.push(Segment::Key(key.get_ref().to_string()));
                walk(child, path, span, found);
                path.pop();
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    // An entry of `[[array]]` contains the span too: its table is where a
                    // note's key is looked up.
                    let item_span = item.span();
                    if item_span.start <= span.start
                        && span.end <= item_span.end
                        && found
                            .value
                            .as_ref()
                            .is_none_or(|(len, _)| item_span.len() <= *len)
                    {
                        found.value = Some((
                            item_span.len(),
                            Place {
                                table: path.clone(),
                                key: key.get_ref().to_string(),
                                value: item.get_ref(),
                            },
                        ));
                    }
                    if let DeValue::Table(child) = item.get_ref() {
                        path.push(Segment::Key(key.get_ref().to_string()));
                        path.push(Segment::Index(i));
                        walk(child, path, span, found);
                        path.pop();
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }
}

/// The last `[header]` above `offset`, read from the text: for syntax errors, which have no
/// parsed document to look things up in.
fn header_above(source: &str, offset: usize) -> Vec<Segment> {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    for line in source[..line_start].lines().rev() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('[') {
            // `[[queue]]` too: the text alone cannot tell which entry, so name the table only.
            let name = rest.trim_start_matches('[');
            let name = name.split(']').next().unwrap_or_default().trim();
            return name
                .split('.')
                .map(|key| Segment::Key(key.trim().trim_matches(['"', '\'']).to_owned()))
                .collect();
        }
    }
    Vec::new()
}

/// Backquoted names in a serde message: "expected one of `a`, `b`" → ["a", "b"].
fn backquoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Broad kinds of value, to phrase messages and pick hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Integer,
    Float,
    Str,
    Array,
    Table,
    Other,
}

/// serde's "expected …" in plain words.
fn expected(text: &str) -> (String, Kind) {
    let kind = match text {
        "a boolean" => Kind::Bool,
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => return ("a whole number".to_owned(), Kind::Integer),
        "f32" | "f64" => return ("a number".to_owned(), Kind::Float),
        "a string" | "a borrowed string" | "path string" | "a char" | "a character" => {
            return ("a string".to_owned(), Kind::Str);
        }
        "a sequence" => return ("an array".to_owned(), Kind::Array),
        "a map" | "a table" => return ("a table".to_owned(), Kind::Table),
        t if t.starts_with("struct ") => return ("a table".to_owned(), Kind::Table),
        // Our own value types all read strings.
        t if t.starts_with("a ") || t.starts_with("an ") => Kind::Str,
        _ => Kind::Other,
    };
    (text.to_owned(), kind)
}

/// serde's `Unexpected` in plain words. Strings are never quoted back: they may be secrets.
fn found(text: &str, with_value: bool) -> (String, Kind) {
    let value = || backquoted(text).first().map(|v| format!("`{}`", show(v)));
    let (noun, kind) = if text.starts_with("string ") {
        ("a string", Kind::Str)
    } else if text.starts_with("integer ") {
        ("an integer", Kind::Integer)
    } else if text.starts_with("floating point ") {
        ("a float", Kind::Float)
    } else if text.starts_with("boolean ") {
        ("a boolean", Kind::Bool)
    } else if text == "sequence" {
        ("an array", Kind::Array)
    } else if text == "map" {
        ("a table", Kind::Table)
    } else {
        return (text.to_owned(), Kind::Other);
    };
    match (with_value, kind) {
        (true, Kind::Integer | Kind::Float | Kind::Bool) => {
            (value().unwrap_or_else(|| noun.to_owned()), kind)
        }
        _ => (noun.to_owned(), kind),
    }
}

fn type_help(want: Kind, got: Kind, key: Option<&str>) -> Option<String> {
    let key = key.map(show);
    Some(match (want, got) {
        (Kind::Bool, Kind::Str) => "write `true` or `false`, without quotes".to_owned(),
        (Kind::Integer | Kind::Float, Kind::Str) => "write the number without quotes".to_owned(),
        (Kind::Str, Kind::Integer | Kind::Float | Kind::Bool) => {
            "put the value in quotes".to_owned()
        }
        (Kind::Array, Kind::Str) => match key {
            Some(key) => format!("write a list, like `{key} = [\"…\"]`"),
            None => "write a list, like `[\"…\"]`".to_owned(),
        },
        (Kind::Table, _) => match key {
            Some(key) => format!(
                "`{key}` is a section: write `[{key}]` on a line of its own, with its keys below it"
            ),
            None => return None,
        },
        _ => return None,
    })
}

/// A typo'd name: "did you mean `x`?", else the valid choices.
fn name_help(name: &str, choices: &[&str], noun: &str) -> String {
    match did_you_mean(name, choices.iter().copied()) {
        Some(choice) => format!("did you mean `{choice}`?"),
        None if choices.is_empty() => format!("no {noun} are allowed here"),
        None => format!("valid {noun} here: {}", list(choices)),
    }
}

/// An error from the typed parse of a document that is valid TOML.
pub(crate) fn typed_error(
    err: &toml::de::Error,
    source: &str,
    origin: &str,
    root: &DeTable<'_>,
) -> ConfigError {
    let raw = err.message();
    let span = err.span();
    let found_here = span
        .as_ref()
        .map(|span| locate(root, span))
        .unwrap_or_default();
    let value_place = found_here.value.as_ref().map(|(_, place)| place);
    let original_span = span.clone();
    let table_of_span = || match (&found_here.key, &original_span) {
        (Some(place), _) => place.table.clone(),
        (None, Some(span)) => header_above(source, span.start),
        (None, None) => Vec::new(),
    };
    let mut span = span;

    let (message, help) = if let Some(note) = Note::decode(raw) {
        // Point at the key the note names, inside the table the error was reported on.
        if let (Some(key), Some(place)) = (&note.key, value_place)
            && let DeValue::Table(table) = place.value
            && let Some((child, _)) = table.iter().find(|(k, _)| k.get_ref() == key)
        {
            span = Some(child.span());
        }
        (note.message, note.help)
    } else if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let choices = backquoted(tail);
        match &found_here.key {
            // `[nodes]`, or `nodes.listen = …`: a whole unknown section.
            Some(place) if matches!(place.value, DeValue::Table(_)) => {
                let help = match did_you_mean(name, choices.iter().copied()) {
                    Some(choice) => {
                        let mut path = place.table.clone();
                        path.push(Segment::Key(choice.to_owned()));
                        format!("did you mean {}?", section_name(&path))
                    }
                    None => name_help(name, &choices, "keys"),
                };
                (
                    format!("unknown section {}", section_name(&place.value_path())),
                    Some(help),
                )
            }
            _ => (
                format!(
                    "unknown key `{}` {}",
                    show(name),
                    where_in(&table_of_span())
                ),
                Some(name_help(name, &choices, "keys")),
            ),
        }
    } else if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let choices = backquoted(tail);
        let target = value_place.map_or(String::new(), |p| format!(" for {}", p.describe()));
        (
            format!("unknown value `{}`{target}", show(name)),
            Some(name_help(name, &choices, "values")),
        )
    } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
        let (got, want) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        let (want, want_kind) = expected(want);
        let (got, got_kind) = found(got, false);
        let key = value_place.map(|p| p.key.as_str());
        let message = match value_place {
            Some(place) => format!(
                "wrong type for {}: expected {want}, found {got}",
                place.describe()
            ),
            None => format!("expected {want}, found {got}"),
        };
        (message, type_help(want_kind, got_kind, key))
    } else if let Some(rest) = raw.strip_prefix("invalid value: ") {
        let (got, want) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        let (want, _) = expected(want);
        let (got, _) = found(got, true);
        let message = match value_place {
            Some(place) => format!(
                "invalid value for {}: expected {want}, found {got}",
                place.describe()
            ),
            None => format!("invalid value: expected {want}, found {got}"),
        };
        (message, None)
    } else if let Some(rest) = raw.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let table = value_place.map(Place::value_path).unwrap_or_default();
        (
            format!("missing key `{}` {}", show(name), where_in(&table)),
            None,
        )
    } else {
        let message = match value_place {
            Some(place) => format!("{}: {raw}", place.describe()),
            None => raw.to_owned(),
        };
        (message, None)
    };

    let error = ConfigError::new(ConfigErrorKind::Invalid, origin, message).with_help(help);
    match span {
        Some(span) => error.at(source, span),
        None => error,
    }
}

/// An error from parsing the TOML itself.
pub(crate) fn syntax_error(err: &toml::de::Error, source: &str, origin: &str) -> ConfigError {
    let raw = err.message();
    let span = err.span();
    let text = span
        .as_ref()
        .and_then(|span| source.get(span.clone()))
        .unwrap_or_default();
    let line_of_span = span.as_ref().map_or("", |span| {
        let start = span.start.min(source.len());
        let before = source.get(..start).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        source[line_start..].lines().next().unwrap_or_default()
    });
    let table = || header_above(source, span.as_ref().map_or(0, |span| span.start));

    let (message, help): (String, Option<String>) = if raw.starts_with("invalid basic string") {
        (
            "unterminated string".to_owned(),
            Some("close the string with `\"` on the same line".to_owned()),
        )
    } else if raw.starts_with("invalid literal string") {
        (
            "unterminated string".to_owned(),
            Some("close the string with `'` on the same line".to_owned()),
        )
    } else if raw.starts_with("invalid multi-line basic string") {
        (
            "unterminated multi-line string".to_owned(),
            Some("close the string with `\"\"\"`".to_owned()),
        )
    } else if raw.starts_with("invalid multi-line literal string") {
        (
            "unterminated multi-line string".to_owned(),
            Some("close the string with `'''`".to_owned()),
        )
    } else if raw.starts_with("unclosed array table") {
        (
            "unclosed table header".to_owned(),
            Some("end the header with `]]`, like `[[name]]`".to_owned()),
        )
    } else if raw.starts_with("unclosed table") {
        (
            "unclosed table header".to_owned(),
            Some("end the header with `]`, like `[node]`".to_owned()),
        )
    } else if raw.starts_with("string values must be quoted") {
        if text.trim().is_empty() {
            (
                "missing value after `=`".to_owned(),
                Some("write a value, like `key = \"value\"`, or remove the line".to_owned()),
            )
        } else {
            (
                "string values must be quoted".to_owned(),
                Some(format!("write `\"{}\"`", show(text))),
            )
        }
    } else if raw == "duplicate key" {
        if line_of_span.trim_start().starts_with('[') {
            let header = line_of_span.trim();
            (
                format!("duplicate table {}", show(header)),
                Some(format!(
                    "each table may appear only once: merge the two {} sections",
                    show(header)
                )),
            )
        } else {
            (
                format!("duplicate key `{}` {}", show(text), where_in(&table())),
                Some("each key may appear only once in a table: remove one of them".to_owned()),
            )
        }
    } else if raw.ends_with(", expected newline, `#`") {
        (
            "unexpected text after the value".to_owned(),
            Some("write one `key = value` per line; comments start with `#`".to_owned()),
        )
    } else {
        (raw.to_owned(), None)
    };

    let error = ConfigError::new(ConfigErrorKind::Syntax, origin, message).with_help(help);
    match span {
        Some(span) => error.at(source, span),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip() {
        let note = Note::new("boom").help(Some("fix it".to_owned())).key("k");
        assert_eq!(Note::decode(&note.to_string()), Some(note));
        assert_eq!(Note::decode("unknown field `x`"), None);
    }

    #[test]
    fn names_tables() {
        assert_eq!(where_in(&[]), "at the top level");
        assert_eq!(where_in(&[Segment::Key("node".into())]), "in [node]");
        assert_eq!(
            where_in(&[Segment::Key("queue".into()), Segment::Index(1)]),
            "in [[queue]] #2"
        );
    }

    #[test]
    fn finds_the_header_above() {
        let source = "a = 1\n[http]\nx = 1\n[ \"log\" ]\ny = 2\n";
        let offset = |s: &str| source.find(s).unwrap_or_default();
        assert_eq!(header_above(source, offset("a")), vec![]);
        assert_eq!(
            header_above(source, offset("x")),
            vec![Segment::Key("http".into())]
        );
        assert_eq!(
            header_above(source, offset("y")),
            vec![Segment::Key("log".into())]
        );
    }
}
