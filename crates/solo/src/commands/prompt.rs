//! Reading a password: a hidden prompt (asked twice) at a terminal, the
//! first line of standard input otherwise. Never from arguments.

use std::io::{BufRead, IsTerminal};

use crate::exit::{CliError, Exit};

pub fn new_password(for_whom: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {for_whom}: "))
            .map_err(read_error)?;
        let second = rpassword::prompt_password("Again: ").map_err(read_error)?;
        if first != second {
            return Err(CliError::new(
                Exit::Usage,
                "password_mismatch",
                anyhow::anyhow!("the two passwords differ; nothing was changed"),
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(read_error)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(CliError::new(
            Exit::Usage,
            "no_password",
            anyhow::anyhow!(
                "no password on standard input; pipe one in (`printf '%s\\n' \"$PW\" | solo …`) or run at a terminal"
            ),
        ));
    }
    Ok(password)
}

fn read_error(error: std::io::Error) -> CliError {
    CliError::failure(anyhow::Error::new(error).context("cannot read the password"))
}
