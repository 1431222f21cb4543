//! `solo tokens`: create, list, revoke.

use serde::Serialize;
use solo_access::TokenInfo;

use crate::cli::{GlobalArgs, TokensCommand};
use crate::commands::local;
use crate::commands::users::access_error;
use crate::exit::CliError;
use crate::output;

#[derive(Serialize)]
struct Revoked<'a> {
    revoked: &'a str,
}

pub async fn run(global: &GlobalArgs, command: TokensCommand) -> Result<(), CliError> {
    let (access, db) = local::access(global).await?;
    let (actor, meta) = (local::actor(), local::meta());
    let result = match command {
        TokensCommand::Create {
            name,
            role,
            expires,
        } => {
            let token = access
                .create_token(&actor, &name, role, expires.map(|d| d.as_std()), &meta)
                .await
                .map_err(access_error)?;
            output::emit(global.json, &token, || {
                let expiry = token
                    .info
                    .expires_at
                    .map_or_else(|| "never expires".to_owned(), |at| format!("expires {at}"));
                format!(
                    "{}\n\ntoken `{}` ({}, {expiry}), id {}.\nThis is the only time it is shown: store it now.",
                    token.token, token.info.name, token.info.role, token.info.id
                )
            });
            Ok(())
        }
        TokensCommand::List => {
            let tokens = access.list_tokens().await.map_err(access_error)?;
            output::emit(global.json, &tokens, || table(&tokens));
            Ok(())
        }
        TokensCommand::Revoke { id } => {
            access
                .revoke_token(&actor, &id, &meta)
                .await
                .map_err(access_error)?;
            output::emit(global.json, &Revoked { revoked: &id }, || {
                format!("revoked token {id}")
            });
            Ok(())
        }
    };
    db.close().await;
    result
}

fn table(tokens: &[TokenInfo]) -> String {
    if tokens.is_empty() {
        return "no tokens: create one with `solo tokens create --name ci --role operator`".into();
    }
    let mut out = format!(
        "{:<32} {:<20} {:<9} {:<22} {}\n",
        "ID", "NAME", "ROLE", "LAST USED", "STATE"
    );
    for token in tokens {
        let state = if token.revoked {
            "revoked".to_owned()
        } else {
            token.expires_at.map_or_else(
                || "active".to_owned(),
                |at| format!("expires {}", at.format("%Y-%m-%d")),
            )
        };
        out.push_str(&format!(
            "{:<32} {:<20} {:<9} {:<22} {}\n",
            token.id,
            token.name,
            token.role,
            token.last_used_at.map_or_else(
                || "never".to_owned(),
                |at| at.format("%Y-%m-%d %H:%M").to_string()
            ),
            state
        ));
    }
    out.trim_end().to_owned()
}
