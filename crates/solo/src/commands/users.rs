//! `solo users`: add, list, set-role, disable, enable, reset-password.

use serde::Serialize;
use solo_access::{AccessError, UserInfo};

use crate::cli::{GlobalArgs, UsersCommand};
use crate::commands::{local, prompt};
use crate::exit::{CliError, Exit};
use crate::output;

pub async fn run(global: &GlobalArgs, command: UsersCommand) -> Result<(), CliError> {
    let (access, db) = local::access(global).await?;
    let (actor, meta) = (local::actor(), local::meta());
    let result = match command {
        UsersCommand::Add { name, role } => {
            let password = prompt::new_password(&name)?;
            let user = access
                .create_user(&actor, &name, role, &password, &meta)
                .await
                .map_err(access_error)?;
            output::emit(global.json, &user, || {
                format!("added {} ({})", user.name, user.role)
            });
            Ok(())
        }
        UsersCommand::List => {
            let users = access.list_users().await.map_err(access_error)?;
            output::emit(global.json, &users, || table(&users));
            Ok(())
        }
        UsersCommand::SetRole { name, role } => {
            let user = access
                .set_role(&actor, &name, role, &meta)
                .await
                .map_err(access_error)?;
            output::emit(global.json, &user, || {
                format!("{} is now {}", user.name, user.role)
            });
            Ok(())
        }
        UsersCommand::Disable { name } => set_disabled(global, &access, &name, true).await,
        UsersCommand::Enable { name } => set_disabled(global, &access, &name, false).await,
        UsersCommand::ResetPassword { name } => {
            let user = access.find_user(&name).await.map_err(access_error)?;
            let password = prompt::new_password(&user.name)?;
            access
                .reset_password(&actor, &user.id, &password, &meta)
                .await
                .map_err(access_error)?;
            output::emit(global.json, &Done { user: &user.name }, || {
                format!("new password set for {}; their sessions ended", user.name)
            });
            Ok(())
        }
    };
    db.close().await;
    result
}

#[derive(Serialize)]
struct Done<'a> {
    user: &'a str,
}

async fn set_disabled(
    global: &GlobalArgs,
    access: &solo_access::Access,
    name: &str,
    disabled: bool,
) -> Result<(), CliError> {
    let user = access
        .set_disabled(&local::actor(), name, disabled, &local::meta())
        .await
        .map_err(access_error)?;
    output::emit(global.json, &user, || {
        if disabled {
            format!("disabled {}; their sessions ended", user.name)
        } else {
            format!("enabled {}", user.name)
        }
    });
    Ok(())
}

fn table(users: &[UserInfo]) -> String {
    if users.is_empty() {
        return "no users yet: add an admin with `solo users add NAME --role admin`".into();
    }
    let mut out = format!("{:<24} {:<9} {:<4} {}\n", "NAME", "ROLE", "MFA", "STATE");
    for user in users {
        out.push_str(&format!(
            "{:<24} {:<9} {:<4} {}\n",
            user.name,
            user.role,
            if user.mfa { "yes" } else { "no" },
            if user.disabled { "disabled" } else { "active" }
        ));
    }
    out.trim_end().to_owned()
}

/// Access errors as CLI errors: bad input is a usage error (2).
pub fn access_error(error: AccessError) -> CliError {
    let exit = if error.is_callers() {
        Exit::Usage
    } else {
        Exit::Failure
    };
    let code = match &error {
        AccessError::NotFound { .. } => "not_found",
        AccessError::Conflict(_) => "conflict",
        AccessError::Password(_) => "password_rejected",
        AccessError::Invalid { .. } => "invalid",
        _ => "access_failed",
    };
    CliError::new(exit, code, anyhow::Error::new(error))
}
