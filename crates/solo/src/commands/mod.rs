pub mod audit;
pub mod check;
pub mod init;
mod local;
mod prompt;
pub mod status;
pub mod tokens;
pub mod up;
pub mod users;
