//! Commands that work on the database directly (`solo users`, `solo
//! tokens`): they need the machine and the data directory, not a running
//! node, so an operator can always get back in.

use solo_access::{Access, Actor, RequestMeta};
use solo_store::{Db, Migrator};

use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::node::VERSION;
use crate::{migrations, settings};

/// This stack's database as it is, refused unless its schema is current:
/// for reading and checking (`solo audit`), which must not change it.
pub async fn existing_db(global: &GlobalArgs) -> Result<Db, CliError> {
    let (path, stack) = settings::load_stack(global)?;
    let node = settings::resolve(global, path, stack)?;
    let db = Db::open(&node.db).await?;
    let status = Migrator::new(migrations::ALL, VERSION)?.status(&db).await?;
    if !status.is_current() {
        db.close().await;
        return Err(CliError::new(
            crate::exit::Exit::Schema,
            "schema_not_current",
            anyhow::anyhow!(
                "the database's schema is not current ({} migration(s) pending): start the node \
                 once (`solo up`) so it migrates, then try again",
                status.pending.len()
            ),
        ));
    }
    Ok(db)
}

/// The access service on this stack's database, migrated.
pub async fn access(global: &GlobalArgs) -> Result<(Access, Db), CliError> {
    let (path, stack) = settings::load_stack(global)?;
    let node = settings::resolve(global, path, stack)?;
    let db = Db::open(&node.db).await?;
    Migrator::new(migrations::ALL, VERSION)?.run(&db).await?;
    let settings = crate::node::access_settings(&node.stack.access);
    Ok((Access::new(db.clone(), settings), db))
}

/// This stack's settings and database, migrated: for commands that change
/// things (`solo jobs enqueue`).
pub async fn migrated_db(
    global: &GlobalArgs,
) -> Result<(crate::settings::NodeSettings, Db), CliError> {
    let (path, stack) = settings::load_stack(global)?;
    let node = settings::resolve(global, path, stack)?;
    let db = Db::open(&node.db).await?;
    Migrator::new(migrations::ALL, VERSION)?.run(&db).await?;
    Ok((node, db))
}

/// Who the audit log names for a CLI change: the OS user at the keyboard.
pub fn actor() -> Actor {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_owned());
    Actor::System {
        name: format!("cli:{user}"),
    }
}

pub fn meta() -> RequestMeta {
    RequestMeta {
        request_id: None,
        client: Some("local".to_owned()),
        user_agent: Some(format!("solo-cli/{VERSION}")),
    }
}
