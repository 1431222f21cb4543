pub mod check;
pub mod init;
pub mod status;
pub mod up;
