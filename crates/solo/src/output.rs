//! Printing: human text by default, JSON with `--json`. Errors are printed
//! here and nowhere else.

use serde::Serialize;

use crate::exit::CliError;

/// Prints a command's result: `human` as text, or `value` as JSON.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: cannot encode the result as JSON: {e}"),
        }
    } else {
        let text = human();
        if text.ends_with('\n') {
            print!("{text}");
        } else {
            println!("{text}");
        }
    }
}

pub fn print_error(error: &CliError, json: bool) {
    if json {
        let mut detail = serde_json::json!({
            "code": error.code,
            "message": format!("{:#}", error.report),
            "exit_code": error.exit as u8,
        });
        if let (Some(fields), Some(extra)) = (
            detail.as_object_mut(),
            error.details.as_ref().and_then(|d| d.as_object()),
        ) {
            for (k, v) in extra {
                fields.insert(k.clone(), v.clone());
            }
        }
        let body = serde_json::json!({ "error": detail });
        println!("{body}");
        return;
    }
    match &error.rendered {
        Some(rendered) => eprintln!("{rendered}"),
        None => eprintln!("error: {:#}", error.report),
    }
}
