//! Checks between entries, after the typed parse: names that must be unique, and queues
//! that `[[cron]]` and `[[subscriptions]]` name. The errors point at the offending value.

use std::collections::HashSet;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::StackFile;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::suggest::{did_you_mean, list};
use crate::values::show;

pub(crate) fn check(
    stack: &StackFile,
    source: &str,
    origin: &str,
    root: &DeTable<'_>,
) -> Result<(), ConfigError> {
    let error = |array: &str, index: usize, key: &str, message: String, help: String| {
        let error =
            ConfigError::new(ConfigErrorKind::Invalid, origin, message).with_help(Some(help));
        match span_of(root, array, index, key) {
            Some(span) => error.at(source, span),
            None => error,
        }
    };
    unique(stack.queues.iter().map(|q| q.name.as_str())).map_err(|index| {
        error(
            "queues",
            index,
            "name",
            format!("two queues are named `{}`", show(&stack.queues[index].name)),
            "give each [[queues]] entry its own name".to_owned(),
        )
    })?;
    unique(stack.cron.iter().map(|c| c.name.as_str())).map_err(|index| {
        error(
            "cron",
            index,
            "name",
            format!(
                "two [[cron]] entries are named `{}`",
                show(&stack.cron[index].name)
            ),
            "give each [[cron]] entry its own name: it keys the entry's ticks".to_owned(),
        )
    })?;
    let queues: Vec<&str> = stack.queues.iter().map(|q| q.name.as_str()).collect();
    let unknown = |name: &str| {
        let help = match did_you_mean(name, queues.iter().copied()) {
            Some(choice) => format!("did you mean `{choice}`?"),
            None if queues.is_empty() => "declare the queue in a [[queues]] entry first".to_owned(),
            None => format!("declared queues: {}", list(&queues)),
        };
        (format!("no queue is named `{}`", show(name)), help)
    };
    for (index, cron) in stack.cron.iter().enumerate() {
        if !queues.contains(&cron.queue.as_str()) {
            let (message, help) = unknown(&cron.queue);
            return Err(error("cron", index, "queue", message, help));
        }
    }
    for (index, subscription) in stack.subscriptions.iter().enumerate() {
        if !queues.contains(&subscription.queue.as_str()) {
            let (message, help) = unknown(&subscription.queue);
            return Err(error("subscriptions", index, "queue", message, help));
        }
    }
    Ok(())
}

/// The index of the first name seen twice.
fn unique<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), usize> {
    let mut seen = HashSet::new();
    for (index, name) in names.enumerate() {
        if !seen.insert(name) {
            return Err(index);
        }
    }
    Ok(())
}

/// Where `array[index].key`'s value is written.
fn span_of(root: &DeTable<'_>, array: &str, index: usize, key: &str) -> Option<Range<usize>> {
    let (_, items) = root.iter().find(|(k, _)| k.get_ref() == array)?;
    let DeValue::Array(items) = items.get_ref() else {
        return None;
    };
    let DeValue::Table(table) = items.get(index)?.get_ref() else {
        return None;
    };
    let (_, value) = table.iter().find(|(k, _)| k.get_ref() == key)?;
    Some(value.span())
}
